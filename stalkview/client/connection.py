"""The asyncio transport: one socket, a FIFO of waiting calls, replies matched in order.

beanstalkd answers commands strictly in the order it receives them, so a
connection needs no request ids: every command sent appends a waiter to a
queue and every complete reply resolves the oldest waiter. Many commands can
be in flight at once (pipelining). A waiter whose caller gave up (cancelled
or timed out) stays in the queue and its reply is dropped when it arrives, so
the queue never shifts against the stream.

A bulk batch (:meth:`Connection.send_bulk`) brings its own reader: while one
is queued, replies are parsed waiter by waiter, so thousands of same-shaped
replies (an id scan) are read in one pass with no Reply object each.

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
from typing import Any, TypeVar, Union, cast

from stalkview.client.address import Address, UnixAddress
from stalkview.client.errors import (
    BeanstalkConnectionError,
    CommandTimeoutError,
    ConnectionFailedError,
    ConnectionLostError,
    Error,
    ProtocolError,
)
from stalkview.client.protocol import DEFAULT_MAX_REPLY, Reply, ReplyParser

DEFAULT_CONNECT_TIMEOUT = 10.0


class _Batch:
    """The future of a batch of ``count`` commands and the replies collected so far."""

    __slots__ = ("count", "future", "replies")

    def __init__(self, future: asyncio.Future[list[Reply]], count: int) -> None:
        self.future = future
        self.count = count
        self.replies: list[Reply] = []


#: Reads up to ``limit`` replies of a bulk batch from the parser, its own way.
BulkReader = Callable[[ReplyParser, int], "list[Any]"]


class _Bulk:
    """A batch whose replies a :data:`BulkReader` reads (no Reply object per reply)."""

    __slots__ = ("count", "future", "items", "read")

    def __init__(self, future: asyncio.Future[list[Any]], count: int, read: BulkReader) -> None:
        self.future = future
        self.count = count
        self.read = read
        self.items: list[Any] = []


# A single command waits on its bare future, a batch on a _Batch or a _Bulk.
_Waiter = Union["asyncio.Future[Reply]", _Batch, _Bulk]


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
    return (
        exc.strerror
        if isinstance(exc, OSError) and exc.strerror
        else str(exc) or type(exc).__name__
    )


R = TypeVar("R")


def _awaited(what: bytes | str) -> str:
    """`` to stats`` from a command line: what a timeout says it waited for."""
    if isinstance(what, bytes):
        what = what.split(b"\r\n", 1)[0].decode("ascii", "replace")
    return f" to {what}" if what else ""


class _StallWatch:
    """Times a wait out after ``timeout`` seconds in which no reply completed."""

    __slots__ = ("conn", "fut", "handle", "start", "timeout", "what")

    def __init__(
        self, conn: Connection, fut: asyncio.Future[Any], timeout: float, what: bytes | str
    ) -> None:
        self.conn = conn
        self.fut = fut
        self.timeout = timeout
        self.what = what
        self.start = conn._loop.time()
        self.handle = conn._loop.call_later(timeout, self._check)

    def _check(self) -> None:
        conn = self.conn
        left = max(self.start, conn._progress_at) + self.timeout - conn._loop.time()
        if left > 0 and not self.fut.done():
            self.handle = conn._loop.call_later(left, self._check)
            return
        conn._time_out(self.fut, self.timeout, self.what)

    def cancel(self) -> None:
        self.handle.cancel()


class Connection(asyncio.BufferedProtocol):
    """A beanstalkd connection. Create it with :meth:`open`.

    A ``BufferedProtocol``: the socket reads straight into the reply parser's
    buffer. (A plain Protocol gets a fresh 256 KiB bytes object per read,
    which costs an mmap/mremap/munmap per reply on the sequential path.)
    """

    def __init__(
        self,
        address: Address,
        *,
        max_reply: int = DEFAULT_MAX_REPLY,
        max_job_body: int | None = None,
    ) -> None:
        self.address = address
        self._loop = asyncio.get_running_loop()
        self._transport: asyncio.Transport | None = None
        self._parser = ReplyParser(max_reply=max_reply, max_job_body=max_job_body)
        self._waiters: deque[_Waiter] = deque()
        #: How many _Bulk waiters are queued: with none, replies are parsed in one go.
        self._bulks = 0
        self._wbuf: list[bytes] = []
        self._flush_scheduled = False
        self._closed_exc: BeanstalkConnectionError | None = None
        self._closed = self._loop.create_future()
        #: When a reply last completed: a timed wait stalls from this or its own start.
        self._progress_at = 0.0
        #: Called with a reply whose caller gave up waiting (cancelled), so the
        #: owner can undo what the command did (a reserve that still got a job).
        self.on_orphan: Callable[[Reply], None] | None = None

    # --- opening and closing -------------------------------------------------

    @classmethod
    async def open(
        cls,
        address: Address,
        *,
        connect_timeout: float | None = DEFAULT_CONNECT_TIMEOUT,
        max_reply: int = DEFAULT_MAX_REPLY,
        max_job_body: int | None = None,
    ) -> Connection:
        loop = asyncio.get_running_loop()
        conn = cls(address, max_reply=max_reply, max_job_body=max_job_body)
        try:
            if isinstance(address, UnixAddress):
                coro = loop.create_unix_connection(lambda: conn, address.path)
            else:
                coro = loop.create_connection(lambda: conn, address.host, address.port)
            await asyncio.wait_for(coro, connect_timeout)
        except (OSError, asyncio.TimeoutError) as exc:
            raise ConnectionFailedError(str(address), _describe(exc, address)) from exc
        return conn

    def cap_job_bodies(self, max_job_body: int | None) -> None:
        """Cap the bodies of later job replies (peek, reserve); None: only ``max_reply``."""
        self._parser.max_job_body = max_job_body

    @property
    def is_closed(self) -> bool:
        return self._closed_exc is not None

    @property
    def in_flight(self) -> int:
        """How many replies are still awaited."""
        return sum(
            w.count - len(w.replies)
            if isinstance(w, _Batch)
            else w.count - len(w.items)
            if isinstance(w, _Bulk)
            else 1
            for w in self._waiters
        )

    def close(self) -> None:
        """Close now; waiting calls fail with :class:`ConnectionLostError`."""
        self._fail(ConnectionLostError(str(self.address), "connection closed by the client"))

    async def wait_closed(self) -> None:
        await asyncio.shield(self._closed)

    # --- asyncio.BufferedProtocol --------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # Not an isinstance check: uvloop's transports do not subclass asyncio's.
        self._transport = cast(asyncio.Transport, transport)

    def get_buffer(self, sizehint: int) -> memoryview:
        return self._parser.get_buffer(sizehint)

    def buffer_updated(self, nbytes: int) -> None:
        try:
            if self._bulks:
                self._parser.received(nbytes)
                self._drain()
                return
            replies = self._parser.buffer_updated(nbytes)
        except ProtocolError as exc:
            self._fail(exc)
            return
        if replies:
            self._dispatch(replies)

    def data_received(self, data: bytes) -> None:
        """Bytes from a transport that does not support buffered reads."""
        src = memoryview(data)
        while src and self._closed_exc is None:
            room = self._parser.get_buffer(len(src))
            n = min(len(room), len(src))
            room[:n] = src[:n]
            self.buffer_updated(n)
            src = src[n:]

    def _drain(self) -> None:
        """Hand out parsed replies while a bulk waiter is queued: each waiter's replies
        are parsed its own way, so the plain parser never reads past a bulk's start."""
        parser = self._parser
        waiters = self._waiters
        while waiters and self._closed_exc is None:
            head = waiters[0]
            if head.__class__ is _Bulk:
                assert isinstance(head, _Bulk)
                items = head.read(parser, head.count - len(head.items))
                if not items:
                    return
                self._progress_at = self._loop.time()
                head.items += items
                if len(head.items) == head.count:
                    waiters.popleft()
                    self._bulks -= 1
                    if not head.future.done():
                        head.future.set_result(head.items)
                continue
            replies = parser.parse(self._plain_run())
            if not replies:
                return
            self._dispatch(replies)
        if not waiters and parser.pending:
            replies = parser.parse()
            if replies:
                self._dispatch(replies)  # unsolicited: fails the connection

    def _plain_run(self) -> int:
        """Replies the waiters ahead of the first bulk one expect."""
        run = 0
        for w in self._waiters:
            if w.__class__ is _Bulk:
                break
            run += w.count - len(w.replies) if isinstance(w, _Batch) else 1
        return run

    def _dispatch(self, replies: list[Reply]) -> None:
        self._progress_at = self._loop.time()
        waiters = self._waiters
        i = 0
        count = len(replies)
        while i < count:
            if not waiters:
                self._fail(ProtocolError(f"unsolicited reply from the server: {replies[i][0]!r}"))
                return
            waiter = waiters[0]
            assert waiter.__class__ is not _Bulk
            if waiter.__class__ is _Batch:
                assert isinstance(waiter, _Batch)
                got = waiter.replies
                # Hand a batch its replies a slice at a time, not one by one.
                take = min(count - i, waiter.count - len(got))
                got += replies[i : i + take] if take != count else replies
                i += take
                if len(got) == waiter.count:
                    waiters.popleft()
                    if not waiter.future.done():
                        waiter.future.set_result(got)
                continue
            assert not isinstance(waiter, (_Batch, _Bulk))
            waiters.popleft()
            reply = replies[i]
            i += 1
            if not waiter.done():
                waiter.set_result(reply)
            elif self.on_orphan is not None:
                self.on_orphan(reply)

    def eof_received(self) -> bool:
        self._fail(ConnectionLostError(str(self.address), "the server closed the connection"))
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        reason = "connection lost"
        if exc is not None:
            detail = exc.strerror if isinstance(exc, OSError) and exc.strerror else exc
            reason = f"connection lost: {detail}"
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
            self._transport.write(data)  # type: ignore[union-attr]
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
        if self._closed_exc is not None:
            self._check_open()
        fut: asyncio.Future[Reply] = self._loop.create_future()
        self._write(data)
        self._waiters.append(fut)
        return fut

    def send_many(self, commands: list[bytes]) -> asyncio.Future[list[Reply]]:
        """Send commands in one write; the future resolves to their replies, in order."""
        self._check_open()
        fut: asyncio.Future[list[Reply]] = self._loop.create_future()
        if not commands:
            fut.set_result([])
            return fut
        self._write(b"".join(commands))
        self._waiters.append(_Batch(fut, len(commands)))
        return fut

    def send_bulk(self, data: bytes, count: int, read: BulkReader) -> asyncio.Future[list[Any]]:
        """Send ``count`` commands already joined into ``data``; the future resolves to
        their replies as ``read`` takes them from the parser (e.g.
        :func:`~stalkview.client.protocol.read_stats_job_fields`)."""
        self._check_open()
        fut: asyncio.Future[list[Any]] = self._loop.create_future()
        if count <= 0:
            fut.set_result([])
            return fut
        self._write(data)
        self._waiters.append(_Bulk(fut, count, read))
        self._bulks += 1
        return fut

    async def request(self, data: bytes, *, timeout: float | None = None) -> Reply:
        return await self.wait(self.send(data), timeout, data)

    async def request_many(
        self, commands: list[bytes], *, timeout: float | None = None
    ) -> list[Reply]:
        return await self.wait(self.send_many(commands), timeout)

    async def wait(
        self, fut: asyncio.Future[R], timeout: float | None, what: bytes | str = b""
    ) -> R:
        """Await a future from :meth:`send`; after ``timeout`` seconds of stall, close.

        A stall is no reply completing on this connection: a long batch whose
        replies keep arriving never times out, a server that trickles one byte
        a second does. No progress in time means the server (or the network)
        is stuck and the stream can no longer be trusted, so every waiter
        fails, not just this one. ``what`` (a command line, or a description)
        names what was awaited in the error.
        """
        if timeout is None:
            return await fut
        watch = _StallWatch(self, fut, timeout, what)
        try:
            return await fut
        finally:
            watch.cancel()

    def _time_out(self, fut: asyncio.Future[R], timeout: float, what: bytes | str) -> None:
        if fut.done():
            return
        awaited = _awaited(what)
        # The late call learns it timed out; the others that the closing
        # takes down with it learn why the connection went.
        fut.set_exception(
            CommandTimeoutError(str(self.address), f"no reply{awaited} for {timeout:g}s")
        )
        self._fail(
            ConnectionLostError(
                str(self.address), f"closed after waiting {timeout:g}s for a reply{awaited}"
            )
        )

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
        self._bulks = 0
        for waiter in waiters:
            fut = waiter.future if isinstance(waiter, (_Batch, _Bulk)) else waiter
            if not fut.done():
                fut.set_exception(exc)
                # Retrieve it so a waiter nobody awaits any more does not log
                # "exception was never retrieved".
                fut.exception()
        if self._transport is not None:
            self._transport.abort()
        if not self._closed.done():
            self._closed.set_result(None)
