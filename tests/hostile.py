"""A hostile fake beanstalkd: only for faults a real server cannot produce.

Garbage, huge declared sizes, replies split across writes, silence, a close in
the middle of a reply, odd stats YAML. It runs in a thread of its own so that
both async client tests and CLI tests (``main()`` runs its own event loop)
can point at it. Every connection runs the same *script*: a function given the
connected socket and a reader of the command lines the client sent.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import suppress

#: A script: talks to one client over ``sock``; ``lines`` yields its command lines.
Script = Callable[[socket.socket, Iterator[bytes]], None]


def _lines(sock: socket.socket) -> Iterator[bytes]:
    """The command lines the client sends (``put`` bodies are read with their line)."""
    buf = b""
    while True:
        while b"\r\n" not in buf:
            data = sock.recv(65536)
            if not data:
                return
            buf += data
        line, buf = buf.split(b"\r\n", 1)
        if line.startswith(b"put "):
            size = int(line.split()[-1])
            while len(buf) < size + 2:
                data = sock.recv(65536)
                if not data:
                    return
                buf += data
            buf = buf[size + 2 :]
        yield line


class HostileServer:
    """A loopback TCP server whose every connection runs ``script``. Stop with :meth:`stop`."""

    def __init__(self, script: Script) -> None:
        self.script = script
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self._listener.getsockname()[1]
        self._conns: list[socket.socket] = []
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def _accept(self) -> None:
        while not self._stopping.is_set():
            try:
                conn, _peer = self._listener.accept()
            except OSError:
                return
            self._conns.append(conn)
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        # The client going away mid-script is the point of most scripts.
        with suppress(OSError):
            self.script(conn, _lines(conn))
        with suppress(OSError):
            conn.close()

    def stop(self) -> None:
        self._stopping.set()
        # shutdown, not just close: on Linux only that wakes a blocked accept().
        with suppress(OSError):
            self._listener.shutdown(socket.SHUT_RDWR)
        with suppress(OSError):
            self._listener.close()
        for conn in self._conns:
            with suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
            with suppress(OSError):
                conn.close()
        self._thread.join(5)


# --- scripts --------------------------------------------------------------------------


def answering(replies: Mapping[bytes, bytes | Callable[[bytes], bytes]]) -> Script:
    """Answer each command by its first word; unknown commands get ``UNKNOWN_COMMAND``.

    A value may be a function of the whole command line (e.g. to echo an id).
    """

    def script(sock: socket.socket, lines: Iterator[bytes]) -> None:
        for line in lines:
            reply = replies.get(line.split(b" ", 1)[0], b"UNKNOWN_COMMAND\r\n")
            sock.sendall(reply(line) if callable(reply) else reply)

    return script


def silent(sock: socket.socket, lines: Iterator[bytes]) -> None:
    """Accept, read every command, never answer."""
    for _line in lines:
        pass


def trickling(reply: bytes, every: float) -> Script:
    """Answer the first command one byte every ``every`` seconds (a stall, not a silence)."""

    def script(sock: socket.socket, lines: Iterator[bytes]) -> None:
        next(lines, None)
        for i in range(len(reply)):
            sock.sendall(reply[i : i + 1])
            time.sleep(every)
        for _line in lines:
            pass

    return script


def trickling_replies(replies: list[bytes], every: float) -> Script:
    """Read one command, then send ``replies`` one at a time, ``every`` seconds apart."""

    def script(sock: socket.socket, lines: Iterator[bytes]) -> None:
        next(lines, None)
        for reply in replies:
            sock.sendall(reply)
            time.sleep(every)
        for _line in lines:
            pass

    return script


def streaming(header: bytes, chunk: int = 65536) -> Script:
    """Answer the first command with ``header``, then zeros for as long as the client reads."""

    def script(sock: socket.socket, lines: Iterator[bytes]) -> None:
        next(lines, None)
        sock.sendall(header)
        zeros = bytes(chunk)
        while True:
            sock.sendall(zeros)

    return script


def closing_after(data: bytes) -> Script:
    """Answer the first command with ``data`` (e.g. half a reply), then close."""

    def script(sock: socket.socket, lines: Iterator[bytes]) -> None:
        next(lines, None)
        sock.sendall(data)
        sock.shutdown(socket.SHUT_RDWR)

    return script


def split_writes(data: bytes, pieces: int) -> Script:
    """Answer the first command with ``data`` in ``pieces`` separate writes."""

    def script(sock: socket.socket, lines: Iterator[bytes]) -> None:
        next(lines, None)
        step = max(1, len(data) // pieces)
        for i in range(0, len(data), step):
            sock.sendall(data[i : i + step])
            time.sleep(0.001)  # separate TCP segments, so separate reads
        for _line in lines:
            pass

    return script


def ok(body: bytes) -> bytes:
    """An ``OK`` reply carrying ``body``."""
    return b"OK %d\r\n%b\r\n" % (len(body), body)


#: A plausible 1.12 ``stats`` body with the given lines appended (later keys win).
def stats_body(**extra: str) -> bytes:
    base = {
        "current-jobs-ready": "0",
        "total-jobs": "0",
        "max-job-size": "65535",
        "current-tubes": "1",
        "current-connections": "1",
        "pid": "1",
        "version": '"1.12"',
        "uptime": "5",
        "hostname": "fake",
    }
    base.update({k.replace("_", "-"): v for k, v in extra.items()})
    return b"---\n" + "".join(f"{k}: {v}\n" for k, v in base.items()).encode()
