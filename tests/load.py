"""Load on a real beanstalkd, measured from outside stalkview (tests and benchmarks).

- :func:`churn` issues many ids fast (pipelined put + delete of tiny jobs);
- :class:`Worker` is a separate process doing put/reserve/delete round trips at
  a fixed rate and recording each one (:func:`round_trips` gives p50/p99);
- :class:`ServerClock` reads the server's own CPU seconds (``rusage-*`` in
  ``stats``) on a connection of its own: :func:`baseline` and :func:`share_over`
  turn it into a share of one core, the server's baseline load subtracted.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

from stalkview.inventory import server_cpu


def split_address(address: str) -> tuple[str, int]:
    host, _, port = address.rpartition(":")
    return host, int(port)


def churn(address: str, ids: int, batch: int = 10_000, tube: str = "churn") -> float:
    """Issue ``ids`` ids by putting and deleting tiny jobs, pipelined: one thread
    writes batches (each a run of puts, then the deletes of the same ids), another
    counts the replies. Ids are consecutive: nobody else puts meanwhile.
    Return the ids/s it reached."""
    sock = socket.create_connection(split_address(address))
    sock.sendall(b"use " + tube.encode() + b"\r\n")
    assert sock.recv(100).startswith(b"USING")
    sock.sendall(b"stats\r\n")
    head = b""
    while b"\r\n" not in head or len(head) < int(head.split(b" ")[1].split(b"\r\n")[0]) + 10:
        head += sock.recv(65536)
    first = int(head.split(b"total-jobs: ")[1].split(b"\n")[0]) + 1
    put = b"put 0 0 60 1\r\nx\r\n"
    total = 2 * ids  # reply lines: one INSERTED and one DELETED per id
    read_lines = [0]
    errors: list[bytes] = []

    def read() -> None:
        tail = b""
        while read_lines[0] < total:
            data = sock.recv(1 << 20)
            if not data:
                errors.append(b"connection closed")
                return
            chunk = tail + data
            cut = chunk.rfind(b"\r\n") + 2
            complete, tail = chunk[:cut], chunk[cut:]
            lines = complete.count(b"\r\n")
            if complete.count(b"INSERTED") + complete.count(b"DELETED") != lines:
                errors.append(complete[:200])
                return
            read_lines[0] += lines

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    start = time.perf_counter()
    next_id, end, sent = first, first + ids, 0
    while next_id < end and not errors:
        n = min(batch, end - next_id)
        data = put * n + b"".join(b"delete %d\r\n" % j for j in range(next_id, next_id + n))
        while sent - read_lines[0] > 6 * batch and not errors:  # three batches in flight
            time.sleep(0.0005)
        sock.sendall(data)
        sent += 2 * n
        next_id += n
    reader.join()
    elapsed = time.perf_counter() - start
    sock.close()
    if errors:
        raise RuntimeError(f"churn got unexpected replies: {errors[0]!r}")
    return ids / elapsed


WORKER = r"""
import json, signal, socket, sys, time
host, port, rate = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
stop = False
def on_term(*_):
    global stop
    stop = True
signal.signal(signal.SIGTERM, on_term)
s = socket.create_connection((host, port))
s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
f = s.makefile("rb")
tube, pri = sys.argv[4].encode(), int(sys.argv[5])
s.sendall(b"use %b\r\nwatch %b\r\nignore default\r\n" % (tube, tube))
for _ in range(3):
    f.readline()
samples = []
interval = 3.0 / rate  # three commands per round trip
next_at = time.monotonic()
print("ready", flush=True)
while not stop:
    t0 = time.monotonic()
    s.sendall(b"put %d 0 60 5\r\nhello\r\n" % pri)
    f.readline()
    s.sendall(b"reserve-with-timeout 1\r\n")
    line = f.readline()
    if line.startswith(b"RESERVED"):
        jid = int(line.split()[1])
        f.readline()
        s.sendall(b"delete %d\r\n" % jid)
        f.readline()
    t1 = time.monotonic()
    samples.append((t0, t1 - t0))
    next_at += interval
    pause = next_at - time.monotonic()
    if pause > 0:
        time.sleep(pause)
    else:
        next_at = time.monotonic()
json.dump(samples, sys.stdout)
"""


def _raise_priority() -> None:
    # The worker stands for a production worker on a machine of its own: a higher
    # scheduling priority (when allowed) keeps this machine's CPU contention (the
    # scanning client shares its cores) out of the server round trips it measures.
    with contextlib.suppress(OSError):
        os.setpriority(os.PRIO_PROCESS, 0, -10)


class Worker:
    """A worker process doing put/reserve/delete round trips at ``rate`` commands/s."""

    def __init__(
        self,
        address: str,
        rate: float,
        cpu: int | None = None,
        tube: str = "load-worker",
        priority: int = 0,
    ) -> None:
        """``priority`` of the jobs it puts: one above a backlog's makes the worker
        consume the backlog from its head while its own jobs queue behind."""
        host, port = split_address(address)
        argv = [sys.executable, "-c", WORKER, host, str(port), str(rate), tube, str(priority)]
        if cpu is not None and cpu < (os.cpu_count() or 1):
            argv = ["taskset", "-c", str(cpu), *argv]
        self.proc = subprocess.Popen(
            argv, stdout=subprocess.PIPE, text=True, preexec_fn=_raise_priority
        )
        assert self.proc.stdout is not None
        if self.proc.stdout.readline().strip() != "ready":
            raise RuntimeError("the worker did not start")
        self.samples: list[tuple[float, float]] = []

    def stop(self) -> list[tuple[float, float]]:
        self.proc.send_signal(signal.SIGTERM)
        out, _ = self.proc.communicate(timeout=30)
        self.samples = [tuple(x) for x in json.loads(out)]  # type: ignore[misc]
        return self.samples


def round_trips(samples: list[tuple[float, float]], start: float, end: float) -> dict[str, Any]:
    """p50/p99 (ms) of the round trips that started in [start, end]."""
    values = sorted(rtt for t, rtt in samples if start <= t <= end)
    if not values:
        return {"count": 0}
    p99 = values[min(len(values) - 1, int(len(values) * 0.99))]
    return {
        "count": len(values),
        "p50_ms": round(statistics.median(values) * 1000, 2),
        "p99_ms": round(p99 * 1000, 2),
    }


class ServerClock:
    """The server's CPU seconds, read with ``stats`` on a connection of its own."""

    def __init__(self, address: str) -> None:
        self.sock = socket.create_connection(split_address(address))
        self.file = self.sock.makefile("rb")

    def read(self) -> tuple[float, float]:
        """(time.monotonic(), server CPU seconds)."""
        self.sock.sendall(b"stats\r\n")
        size = int(self.file.readline().split()[1])
        body = self.file.read(size + 2)
        stats: dict[str, Any] = {}
        for line in body.decode().splitlines():
            key, _, value = line.partition(": ")
            stats[key] = value
        return time.monotonic(), server_cpu(stats)

    def close(self) -> None:
        self.sock.close()


def baseline(clock: ServerClock, seconds: float) -> float:
    """Server CPU seconds per second over ``seconds`` with stalkview idle."""
    t0, c0 = clock.read()
    time.sleep(seconds)
    t1, c1 = clock.read()
    return (c1 - c0) / (t1 - t0)


def share_over(clock: ServerClock, base: float, fn: Callable[[], Any]) -> tuple[Any, float, float]:
    """Run ``fn``; return its result, its seconds and the server CPU share above ``base``."""
    t0, c0 = clock.read()
    result = fn()
    t1, c1 = clock.read()
    wall = t1 - t0
    return result, wall, max(0.0, (c1 - c0) / wall - base)
