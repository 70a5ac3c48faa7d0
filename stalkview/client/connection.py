"""The asyncio transport: one socket, a FIFO of waiting calls, replies matched in order.

beanstalkd answers commands strictly in the order it receives them, so a
connection needs no request ids: every command sent appends a waiter to a
queue and every complete reply resolves the oldest waiter. Many commands can
be in flight at once (pipelining). A waiter whose caller gave up (cancelled
or timed out) stays in the queue and its reply is dropped when it arrives, so
the queue never shifts against the stream.

On anything that leaves the stream in doubt (EOF, reset, malformed bytes) the
connection is closed and every waiter fails: a half-read reply is never left
on a connection that would be used again.
"""

from __future__ import annotations

import asyncio
import errno
import socket
from collections import deque
from collections.abc import Callable

from stalkview.client.address import Address, UnixAddress
from stalkview.client.errors import (
    BeanstalkConnectionError,
    CommandTimeoutError,
    ConnectionFailedError,
    ConnectionLostError,
    Error,
    ProtocolError,
)
from stalkview.client.protocol import Reply, ReplyParser

DEFAULT_CONNECT_TIMEOUT = 10.0


class _Waiter:
    """A future for one command, or for a batch of ``count`` commands."""

    __slots__ = ("future", "remaining", "replies")

    def __init__(self, future: asyncio.Future[object], count: int | None) -> None:
        self.future = future
        self.remaining = count or 1
        self.replies: list[Reply] | None = [] if count is not None else None


def _describe(exc: BaseException, address: Address) -> str:
    """Say in plain words why a connection attempt failed."""
    if isinstance(exc, (asyncio.TimeoutError, TimeoutError)):
        return "no answer (connect timed out)"
    if isinstance(exc, ConnectionRefusedError):
        if isinstance(address, UnixAddress):
            return "connection refused: nothing is listening on this socket"
        return "connection refused: is beanstalkd running and listening on that port?"
    if isinstance(exc, FileNotFoundError):
        return "no such socket file: is beanstalkd running with -l unix:PATH?"
    if isinstance(exc, PermissionError):
        return "permission denied opening the socket"
    if isinstance(exc, socket.gaierror):
        return f"cannot resolve host name {getattr(address, 'host', address)!r}"
    if isinstance(exc, OSError) and exc.errno in (errno.ENETUNREACH, errno.EHOSTUNREACH):
        return "network unreachable"
    return exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc) or type(
        exc
    ).__name__


class Connection(asyncio.Protocol):
    """A beanstalkd connection. Create it with :meth:`open`."""

    def __init__(self, address: Address) -> None:
        self.address = address
        self._loop = asyncio.get_running_loop()
        self._transport: asyncio.Transport | None = None
        self._parser = ReplyParser()
        self._waiters: deque[_Waiter] = deque()
        self._wbuf: list[bytes] = []
        self._flush_scheduled = False
        self._closed_exc: BeanstalkConnectionError | None = None
        self._closed = self._loop.create_future()
        #: Called with a reply whose caller gave up waiting (cancelled), so the
        #: owner can undo what the command did (a reserve that still got a job).
        self.on_orphan: Callable[[Reply], None] | None = None

    # --- opening and closing -------------------------------------------------

    @classmethod
    async def open(
        cls, address: Address, *, connect_timeout: float | None = DEFAULT_CONNECT_TIMEOUT
    ) -> Connection:
        loop = asyncio.get_running_loop()
        conn = cls(address)
        try:
            if isinstance(address, UnixAddress):
                coro = loop.create_unix_connection(lambda: conn, address.path)
            else:
                coro = loop.create_connection(lambda: conn, address.host, address.port)
            await asyncio.wait_for(coro, connect_timeout)
        except (OSError, asyncio.TimeoutError) as exc:
            raise ConnectionFailedError(str(address), _describe(exc, address)) from exc
        return conn

    @property
    def is_closed(self) -> bool:
        return self._closed_exc is not None

    @property
    def in_flight(self) -> int:
        """How many replies are still awaited."""
        return sum(w.remaining for w in self._waiters)

    def close(self) -> None:
        """Close now; waiting calls fail with :class:`ConnectionLostError`."""
        self._fail(ConnectionLostError(str(self.address), "connection closed by the client"))

    async def wait_closed(self) -> None:
        await asyncio.shield(self._closed)

    # --- asyncio.Protocol ----------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._transport = transport

    def data_received(self, data: bytes) -> None:
        try:
            replies = self._parser.feed(data)
        except ProtocolError as exc:
            self._fail(exc)
            return
        waiters = self._waiters
        for reply in replies:
            if not waiters:
                self._fail(ProtocolError(f"unsolicited reply from the server: {reply.status!r}"))
                return
            waiter = waiters[0]
            if waiter.replies is None:
                waiters.popleft()
                if not waiter.future.done():
                    waiter.future.set_result(reply)
                elif self.on_orphan is not None:
                    self.on_orphan(reply)
                continue
            waiter.replies.append(reply)
            waiter.remaining -= 1
            if waiter.remaining == 0:
                waiters.popleft()
                if not waiter.future.done():
                    waiter.future.set_result(waiter.replies)

    def eof_received(self) -> bool:
        self._fail(ConnectionLostError(str(self.address), "the server closed the connection"))
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        reason = "connection lost"
        if exc is not None:
            reason = f"connection lost: {exc.strerror if isinstance(exc, OSError) and exc.strerror else exc}"
        self._fail(ConnectionLostError(str(self.address), reason))

    # --- sending -------------------------------------------------------------

    def _check_open(self) -> None:
        if self._closed_exc is not None:
            raise ConnectionLostError(
                str(self.address), f"connection is closed ({self._closed_exc.reason})"
            )

    def _write(self, data: bytes) -> None:
        # With nothing in flight this is a sequential caller: send at once.
        # Otherwise collect what every task writes in this loop iteration and
        # send it in one syscall, which is what makes gather() pipelining fast.
        if not self._waiters and not self._wbuf:
            assert self._transport is not None
            self._transport.write(data)
            return
        self._wbuf.append(data)
        if not self._flush_scheduled:
            self._flush_scheduled = True
            self._loop.call_soon(self._flush)

    def _flush(self) -> None:
        self._flush_scheduled = False
        if self._wbuf and self._transport is not None and self._closed_exc is None:
            self._transport.write(b"".join(self._wbuf))
        self._wbuf.clear()

    def send(self, data: bytes) -> asyncio.Future[Reply]:
        """Send one command; the future resolves to its reply."""
        self._check_open()
        fut: asyncio.Future[Reply] = self._loop.create_future()
        self._write(data)
        self._waiters.append(_Waiter(fut, None))  # type: ignore[arg-type]
        return fut

    def send_many(self, commands: list[bytes]) -> asyncio.Future[list[Reply]]:
        """Send commands in one write; the future resolves to their replies, in order."""
        self._check_open()
        fut: asyncio.Future[list[Reply]] = self._loop.create_future()
        if not commands:
            fut.set_result([])
            return fut
        self._write(b"".join(commands))
        self._waiters.append(_Waiter(fut, len(commands)))  # type: ignore[arg-type]
        return fut

    async def request(self, data: bytes, *, timeout: float | None = None) -> Reply:
        return await self._await(self.send(data), timeout)

    async def request_many(
        self, commands: list[bytes], *, timeout: float | None = None
    ) -> list[Reply]:
        return await self._await(self.send_many(commands), timeout)

    async def _await(self, fut: asyncio.Future[Reply] | asyncio.Future[list[Reply]], timeout: float | None):  # type: ignore[no-untyped-def]
        if timeout is None:
            return await fut
        try:
            return await asyncio.wait_for(fut, timeout)
        except asyncio.TimeoutError:
            # The server is not answering: the stream can no longer be trusted.
            err = CommandTimeoutError(str(self.address), f"no reply within {timeout:g}s")
            self._fail(err)
            raise err from None

    # --- failure -------------------------------------------------------------

    def _fail(self, exc: Error) -> None:
        if self._closed_exc is not None:
            return
        if isinstance(exc, BeanstalkConnectionError):
            self._closed_exc = exc
        else:
            self._closed_exc = ConnectionLostError(str(self.address), str(exc))
        self._wbuf.clear()
        waiters, self._waiters = self._waiters, deque()
        for waiter in waiters:
            if not waiter.future.done():
                waiter.future.set_exception(exc)
                # Retrieve it so a waiter nobody awaits any more does not log
                # "exception was never retrieved".
                waiter.future.exception()
        if self._transport is not None:
            self._transport.abort()
        if not self._closed.done():
            self._closed.set_result(None)

