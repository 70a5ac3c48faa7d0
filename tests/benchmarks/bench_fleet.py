"""Fleet refresh: 20 servers with 200 tubes each, all polled vs a sequential greenstalk poll.

    .venv/bin/python -m tests.benchmarks.bench_fleet [--servers 20] [--tubes 200] [--reps 7]

One refresh of the fleet = on every server ``stats`` + ``list-tubes`` + every
``stats-tube``. "stalkview" is what :class:`stalkview.fleet.Fleet` does each
tick: every server's pipelined :func:`fetch_snapshot` concurrently, on
connections kept open. "stalkview_cold" is :func:`stalkview.fleet.poll_all`
(the CLI's one-shot poll, connecting to each server first). "greenstalk" asks
the same servers one command at a time, one server after another, on
connections kept open. All servers are pinned to core 0, this process to core 1;
cases are interleaved, medians reported.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import time
from collections.abc import Iterator
from typing import Any

import greenstalk

from stalkview.client import Client
from stalkview.client import commands as cmd
from stalkview.config import Target
from stalkview.fleet import ServerState, poll_all, poll_once, sum_tubes
from tests.beanstalkd import Beanstalkd
from tests.benchmarks.common import emit, environment, interleave, median, pin_process, ratio


@contextlib.contextmanager
def _servers(count: int) -> Iterator[list[Beanstalkd]]:
    started: list[Beanstalkd] = []
    try:
        for _ in range(count):
            started.append(Beanstalkd(cpu=0).start())
        yield started
    finally:
        for server in started:
            server.stop()


async def _fill(address: str, tubes: int) -> None:
    # A tube exists while it holds a job: one job in each keeps all of them alive.
    async with Client(address, encoding=None) as c:
        calls: list[cmd.Call[Any]] = []
        for n in range(tubes):
            calls += [cmd.use(f"tube-{n:03d}"), cmd.put(b"x", 1024, 0, 60)]
        await c.run_many(calls, raise_on_error=True)


def _host_port(address: str) -> tuple[str, int]:
    host, _, port = address.rpartition(":")
    return host, int(port)


class _Ours:
    """Persistent clients on one event loop, polled the way Fleet polls them each tick."""

    def __init__(self, addresses: list[str]) -> None:
        self.loop = asyncio.new_event_loop()
        self.states = [ServerState(Target(None, a)) for a in addresses]
        self.clients = [Client(a, encoding=None, command_timeout=10.0) for a in addresses]
        self.loop.run_until_complete(self._gather(*(c.open() for c in self.clients)))
        self.tubes_seen = 0

    @staticmethod
    async def _gather(*coros: Any) -> None:
        await asyncio.gather(*coros)

    def refresh(self) -> float:
        async def tick() -> float:
            start = time.perf_counter()
            pairs = zip(self.clients, self.states, strict=True)
            await asyncio.gather(*(poll_once(c, s) for c, s in pairs))
            return time.perf_counter() - start

        seconds = self.loop.run_until_complete(tick())
        self.tubes_seen = sum(len(s.tubes) for s in self.states)
        return seconds

    def cold(self, targets: list[Target]) -> float:
        start = time.perf_counter()
        states = self.loop.run_until_complete(poll_all(targets))
        elapsed = time.perf_counter() - start
        assert all(s.up for s in states)
        return elapsed

    def close(self) -> None:
        self.loop.run_until_complete(self._gather(*(c.close() for c in self.clients)))
        self.loop.close()


def _greenstalk_refresh(clients: list[greenstalk.Client[Any]]) -> tuple[float, int]:
    start = time.perf_counter()
    seen = 0
    for gs in clients:
        gs.stats()
        for name in gs.tubes():
            gs.stats_tube(name)
            seen += 1
    return time.perf_counter() - start, seen


def run(servers: int = 20, tubes: int = 200, reps: int = 7) -> dict[str, Any]:
    with _servers(servers) as fleet:
        addresses = [s.address for s in fleet]

        async def fill_all() -> None:
            await asyncio.gather(*(_fill(a, tubes) for a in addresses))

        asyncio.run(fill_all())
        pinned = pin_process(1)
        ours = _Ours(addresses)
        targets = [Target(None, a) for a in addresses]
        gs_clients = [greenstalk.Client(_host_port(a)) for a in addresses]
        gs_seen = 0

        def theirs() -> float:
            nonlocal gs_seen
            seconds, gs_seen = _greenstalk_refresh(gs_clients)
            return seconds

        try:
            ours.refresh()  # warm: the first tick learns the tube names (two round trips)
            samples = interleave(
                reps,
                {
                    "stalkview": ours.refresh,
                    "stalkview_cold": lambda: ours.cold(targets),
                    "greenstalk": theirs,
                },
            )
            expected = servers * (tubes + 1)  # + default
            assert ours.tubes_seen == expected == gs_seen, (ours.tubes_seen, gs_seen)
            summed = sum_tubes(ours.states)
            assert summed["tube-000"]["current-jobs-ready"] == servers
        finally:
            ours.close()
            for gs in gs_clients:
                gs.close()
    ms = {name: round(median(values) * 1000, 2) for name, values in samples.items()}
    return {
        "benchmark": "fleet refresh",
        "servers": servers,
        "tubes_per_server": tubes,
        "stats_tube_calls_per_refresh": servers * (tubes + 1),
        "reps": reps,
        "client_pinned": pinned,
        "stalkview_ms": ms["stalkview"],
        "stalkview_cold_ms": ms["stalkview_cold"],
        "greenstalk_sequential_ms": ms["greenstalk"],
        "speedup": ratio(ms["greenstalk"], ms["stalkview"]),
        "speedup_cold": ratio(ms["greenstalk"], ms["stalkview_cold"]),
        "refresh_budget_used_at_1s": round(ms["stalkview"] / 1000, 3),
        "environment": environment(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--servers", type=int, default=20)
    parser.add_argument("--tubes", type=int, default=200)
    parser.add_argument("--reps", type=int, default=7)
    parser.add_argument("--out", help="also write the JSON to this file")
    args = parser.parse_args()
    emit(run(args.servers, args.tubes, args.reps), args.out)


if __name__ == "__main__":
    main()
