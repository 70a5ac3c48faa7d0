"""The greenstalk-shaped asyncio API, plus pipelines, timeouts and reconnects."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine, Iterable, Sequence
from types import TracebackType
from typing import Any, Concatenate, Generic, ParamSpec, TypeVar, overload

from stalkview.client import commands as cmd
from stalkview.client.address import AddressLike, parse_address
from stalkview.client.commands import Body, Call, Job, JobOrID
from stalkview.client.connection import DEFAULT_CONNECT_TIMEOUT, BulkReader, Connection
from stalkview.client.errors import ALWAYS_ERRORS, ConnectionLostError, Error
from stalkview.client.protocol import (
    DEFAULT_DELAY,
    DEFAULT_MAX_REPLY,
    DEFAULT_PRIORITY,
    DEFAULT_TTR,
    JOB_SIZE_SLACK,
    Reply,
    check_tube,
    encode_peeks,
    encode_stats_jobs,
    read_peek_sizes,
    read_stats_job_fields,
    read_stats_tubes,
    stats_job_fields,
)

T = TypeVar("T")
A = TypeVar("A")
P = ParamSpec("P")
TubeOrTubes = str | Iterable[str]


def _what(lines: Sequence[bytes], count: int | None = None) -> str:
    """What a timeout says it waited for: ``stats`` or ``500 commands (stats-job, ...)``."""
    count = len(lines) if count is None else count
    if not lines:
        return ""
    word = lines[0].split(b"\r\n", 1)[0]
    if count > 1:
        word = word.split(b" ", 1)[0]
    shown = word.decode("ascii", "replace")
    return f"{count:,} commands ({shown}, ...)" if count > 1 else shown


def _tube_list(tubes: TubeOrTubes) -> list[str]:
    names = [tubes] if isinstance(tubes, str) else list(tubes)
    for name in names:
        check_tube(name)
    return names


def _fields_or_error(reply: Reply) -> tuple[bytes, ...] | Error | None:
    """A stats-job reply the bulk pattern did not read, read the general way."""
    if reply.status == b"NOT_FOUND":
        return None
    try:
        if reply.status == b"OK" and reply.body is not None:
            return stats_job_fields(reply.body)
        cmd.raise_for(reply)
    except Error as exc:
        return exc


def _tube_stats_or_error(item: Any) -> dict[str, Any] | Error | None:
    """A stats-tube reply the bulk pattern did not read (or None), read the general way."""
    if item is None or item.status == b"NOT_FOUND":
        return None
    try:
        return cmd.STATS_TUBE_DECODER(item, None)
    except Error as exc:
        return exc


def _size_or_error(reply: Reply) -> int | Error | None:
    if reply.status == b"FOUND" and reply.body is not None:
        return len(reply.body)
    if reply.status == b"NOT_FOUND":
        return None
    try:
        cmd.raise_for(reply)
    except Error as exc:
        return exc


# --- every command once -------------------------------------------------------------


class Command(Generic[P, T]):
    """One command of the table: on a :class:`Client` an ``async`` method returning
    the reply, on a :class:`Pipeline` a method queueing it and returning the pipeline.

    ``build(encoding, *args)`` makes the :class:`Call`; ``encoding`` is the client's
    (only bodies put need it).
    """

    def __init__(self, build: Callable[Concatenate[str | None, P], Call[T]]) -> None:
        self.build = build
        self.__doc__ = build.__doc__

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    @overload
    def __get__(self, obj: None, owner: type) -> Command[P, T]: ...
    @overload
    def __get__(self, obj: Client, owner: type) -> Callable[P, Coroutine[Any, Any, T]]: ...
    @overload
    def __get__(self, obj: Pipeline, owner: type) -> Callable[P, Pipeline]: ...
    def __get__(self, obj: object, owner: type) -> object:
        if obj is None:
            return self
        build = self.build
        if isinstance(obj, Pipeline):
            pipeline = obj

            def queue(*args: P.args, **kwargs: P.kwargs) -> Pipeline:
                return pipeline.add(build(pipeline._client.encoding, *args, **kwargs))

            return queue
        assert isinstance(obj, Client)
        client = obj

        async def run(*args: P.args, **kwargs: P.kwargs) -> T:
            return await client._run(build(client.encoding, *args, **kwargs))

        return run


def _put(
    encoding: str | None,
    body: Body,
    *,
    priority: int = DEFAULT_PRIORITY,
    delay: int = DEFAULT_DELAY,
    ttr: int = DEFAULT_TTR,
) -> Call[int]:
    """Put a job into the used tube; its id is the reply."""
    return cmd.put(cmd.encode_body(body, encoding), priority, delay, ttr)


def _release(
    encoding: str | None,
    job: JobOrID,
    *,
    priority: int = DEFAULT_PRIORITY,
    delay: int = DEFAULT_DELAY,
) -> Call[None]:
    return cmd.release(job, priority, delay)


def _bury(encoding: str | None, job: JobOrID, *, priority: int = DEFAULT_PRIORITY) -> Call[None]:
    return cmd.bury(job, priority)


def _pause_tube(encoding: str | None, tube: str, delay: int) -> Call[None]:
    return cmd.pause_tube(tube, delay)


def _fixed(call: Call[T]) -> Callable[[str | None], Call[T]]:
    """A command without arguments."""
    return lambda encoding: call


def _of(builder: Callable[[A], Call[T]]) -> Callable[[str | None, A], Call[T]]:
    """A command with one argument (a job, a tube or a number)."""
    return lambda encoding, value: builder(value)


class _Commands:
    """The commands :class:`Client` and :class:`Pipeline` share: a new command is
    added here once, and both have it."""

    put = Command(_put)
    use = Command(_of(cmd.use))
    reserve_job = Command(_of(cmd.reserve_job))
    delete = Command(_of(cmd.delete))
    release = Command(_release)
    bury = Command(_bury)
    touch = Command(_of(cmd.touch))
    watch = Command(_of(cmd.watch))
    ignore = Command(_of(cmd.ignore))
    peek = Command(_of(cmd.peek))
    peek_ready = Command(_fixed(cmd.PEEK_READY))
    peek_delayed = Command(_fixed(cmd.PEEK_DELAYED))
    peek_buried = Command(_fixed(cmd.PEEK_BURIED))
    kick = Command(_of(cmd.kick))
    kick_job = Command(_of(cmd.kick_job))
    stats_job = Command(_of(cmd.stats_job))
    stats_tube = Command(_of(cmd.stats_tube))
    stats = Command(_fixed(cmd.STATS))
    tubes = Command(_fixed(cmd.LIST_TUBES))
    using = Command(_fixed(cmd.LIST_TUBE_USED))
    watching = Command(_fixed(cmd.LIST_TUBES_WATCHED))
    pause_tube = Command(_pause_tube)


class Client(_Commands):
    """An asyncio beanstalkd client with greenstalk's API.

    ``Client(address)`` does not connect; use ``async with Client(address) as c``
    or ``c = await Client.connect(address)``.

    Calls made concurrently (``asyncio.gather``) are pipelined on the one
    connection and matched to their replies in order. A blocking ``reserve``
    occupies the connection until it returns, as the protocol says: commands
    sent meanwhile wait behind it, so reserve on a client of its own.
    """

    def __init__(
        self,
        address: AddressLike,
        *,
        encoding: str | None = "utf-8",
        use: str = "default",
        watch: TubeOrTubes = "default",
        connect_timeout: float | None = DEFAULT_CONNECT_TIMEOUT,
        command_timeout: float | None = None,
        auto_reconnect: bool = False,
        max_reply: int = DEFAULT_MAX_REPLY,
    ) -> None:
        self.address = parse_address(address)
        if isinstance(max_reply, bool) or not isinstance(max_reply, int) or max_reply < 1:
            raise ValueError(f"max_reply {max_reply!r} is invalid: give a positive number of bytes")
        #: The largest reply body accepted (bytes). A larger one fails the call
        #: with ReplyTooLargeError and closes the connection.
        self.max_reply = max_reply
        #: Job bodies (peek, reserve) are capped tighter once ``stats`` has told
        #: the server's max-job-size: no honest server sends a bigger one.
        self.max_job_body: int | None = None
        self.encoding = encoding
        self.connect_timeout = connect_timeout
        #: Seconds to wait for any non-blocking reply before the connection is
        #: declared dead (None: wait forever). Blocking reserves get their own
        #: timeout on top of this.
        self.command_timeout = command_timeout
        #: Reopen a lost connection on the next call. A call that was in flight
        #: when the connection died still fails: it is never sent twice.
        self.auto_reconnect = auto_reconnect
        check_tube(use)
        self._using = use
        self._watching = _tube_list(watch)
        if not self._watching:
            raise ValueError("watch list is empty: watch at least one tube")
        self._conn: Connection | None = None
        self._lock = asyncio.Lock()

    def __repr__(self) -> str:
        state = "connected" if self.connected else "not connected"
        return f"<Client {self.address} {state}>"

    # --- lifecycle -----------------------------------------------------------

    @classmethod
    async def connect(cls, address: AddressLike, **kwargs: Any) -> Client:
        client = cls(address, **kwargs)
        await client.open()
        return client

    @property
    def connected(self) -> bool:
        return self._conn is not None and not self._conn.is_closed

    async def open(self) -> None:
        """Connect, then restore the used tube and the watch list."""
        async with self._lock:
            if not self.connected:
                await self._open()

    async def _open(self) -> None:
        conn = await Connection.open(
            self.address,
            connect_timeout=self.connect_timeout,
            max_reply=self.max_reply,
            max_job_body=self.max_job_body,
        )
        conn.on_orphan = self._give_back
        calls: list[Call[Any]] = []
        if self._using != "default":
            calls.append(cmd.use(self._using))
        calls += [cmd.watch(t) for t in self._watching if t != "default"]
        if "default" not in self._watching:
            calls.append(cmd.ignore("default"))
        if calls:
            replies = await conn.request_many([c.line for c in calls], timeout=self.command_timeout)
            for call, reply in zip(calls, replies):  # noqa: B905 - same length by construction
                call.decode(reply, self.encoding)
        self._conn = conn

    async def reconnect(self) -> None:
        """Drop the connection (if any) and open a new one with the same use/watch state."""
        async with self._lock:
            if self._conn is not None:
                self._conn.close()
            await self._open()

    async def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            await self._conn.wait_closed()

    async def wait_closed(self) -> None:
        """Return once the current connection is closed (by either side); at once if none."""
        if self._conn is not None:
            await self._conn.wait_closed()

    async def __aenter__(self) -> Client:
        await self.open()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def _connection(self) -> Connection:
        conn = self._conn
        if conn is not None and not conn.is_closed:
            return conn
        if conn is None:
            raise ConnectionLostError(
                str(self.address), "not connected: use 'async with Client(...)' or Client.connect()"
            )
        if not self.auto_reconnect:
            conn._check_open()
        await self.open()
        assert self._conn is not None
        return self._conn

    # --- running calls -------------------------------------------------------

    def _track(self, call: Call[Any]) -> None:
        if call.state is None:
            return
        verb, tube = call.state
        if verb == "use":
            self._using = tube
        elif verb == "watch":
            if tube not in self._watching:
                self._watching.append(tube)
        elif tube in self._watching:
            self._watching.remove(tube)

    async def _run(self, call: Call[T], *, timeout: float | None = None) -> T:
        # The hot path of every method: no extra coroutine layers when connected.
        conn = self._conn
        if conn is None or conn._closed_exc is not None:
            conn = await self._connection()
        fut = conn.send(call.line)
        timeout = timeout or self.command_timeout
        reply = await fut if timeout is None else await conn.wait(fut, timeout, call.line)
        result = call.decode(reply, self.encoding)
        if call.state is not None:
            self._track(call)
        elif call is cmd.STATS:
            self._learn(result)  # type: ignore[arg-type]  # STATS decodes to a dict
        return result

    def _learn(self, stats: dict[str, Any]) -> None:
        """Cap job bodies at the server's max-job-size (plus slack) from now on."""
        size = stats.get("max-job-size")
        if type(size) is not int or size < 0:
            return
        cap = size + JOB_SIZE_SLACK
        self.max_job_body = cap
        if self._conn is not None:
            self._conn.cap_job_bodies(cap)

    async def run_many(
        self, calls: Sequence[Call[Any]], *, raise_on_error: bool = False
    ) -> list[Any]:
        """Send calls in one write and return their results in order.

        A server error for one call does not stop the others: its place in the
        list holds the exception (or it is raised, with ``raise_on_error``).
        Connection failures always raise.
        """
        conn = self._conn
        if conn is None or conn._closed_exc is not None:
            conn = await self._connection()
        lines = [c.line for c in calls]
        fut = conn.send_many(lines)
        replies = await conn.wait(fut, self.command_timeout, _what(lines))
        return self._decode_all(calls, replies, raise_on_error)

    async def stats_job_fields(self, ids: Sequence[int]) -> list[tuple[bytes, ...] | Error | None]:
        """``stats-job`` for every id in one write: the id scan's bulk path.

        Each result is the job's 14 field values as bytes, in the server's order
        (:data:`~stalkview.client.protocol.STATS_JOB_KEYS`), ``None`` for
        NOT_FOUND, or the exception object of any other server error. About
        five times cheaper per id than :meth:`run_many` of ``stats_job`` calls:
        replies are read by one pattern, with no per-reply objects but the tuple.
        """
        return await self._bulk(
            encode_stats_jobs(ids), len(ids), read_stats_job_fields, _fields_or_error
        )

    async def stats_tubes(
        self, tubes: Sequence[str], *, first: Sequence[Call[Any]] = ()
    ) -> list[Any]:
        """``stats-tube`` for every tube in one write: a refresh's bulk path.

        Each tube's result is its stats dict (as :meth:`stats_tube` returns it),
        ``None`` for NOT_FOUND (a tube that vanished), or the exception object of
        any other server error. The ``first`` calls are sent just before, without
        waiting (one round trip for all), and their results, as :meth:`run_many`
        gives them, come first in the list. About twice as cheap per tube as
        :meth:`run_many` of ``stats_tube`` calls: no per-reply tuple or decoder call.
        """
        conn = self._conn
        if conn is None or conn._closed_exc is not None:
            conn = await self._connection()
        head = conn.send_many([c.line for c in first]) if first else None
        lines = b"".join([cmd.stats_tube_line(t) for t in tubes])
        fut = conn.send_bulk(lines, len(tubes), read_stats_tubes)
        results: list[Any] = []
        if head is not None:
            replies = await conn.wait(head, self.command_timeout, _what([c.line for c in first]))
            results = self._decode_all(first, replies, False)
        items: list[Any] = await conn.wait(fut, self.command_timeout, _what([lines], len(tubes)))
        results += [i if i.__class__ is dict else _tube_stats_or_error(i) for i in items]
        return results

    async def peek_sizes(self, ids: Sequence[int]) -> list[int | Error | None]:
        """``peek`` every id in one write; keep only each body's size.

        An existence check: the size where the job exists, ``None`` for
        NOT_FOUND, the exception object of any other server error. For small
        bodies a peek costs the server a third of a stats-job; every body is
        still sent in full, so check sizes before sending many of these.
        """
        return await self._bulk(encode_peeks(ids), len(ids), read_peek_sizes, _size_or_error)

    async def _bulk(
        self,
        lines: bytes,
        count: int,
        reader: BulkReader,
        unusual: Callable[[Reply], Any],
    ) -> list[Any]:
        """Send ``count`` commands in one write and read their replies with ``reader``.

        Replies the reader's fast pattern did not take come back as plain
        :class:`Reply` objects; ``unusual`` turns each into its result.
        """
        conn = self._conn
        if conn is None or conn._closed_exc is not None:
            conn = await self._connection()
        fut = conn.send_bulk(lines, count, reader)
        items: list[Any] = await conn.wait(fut, self.command_timeout, _what([lines], count))
        for n, item in enumerate(items):
            if item.__class__ is Reply:
                items[n] = unusual(item)
        return items

    def _decode_all(
        self, calls: Sequence[Call[Any]], replies: list[Reply], raise_on_error: bool
    ) -> list[Any]:
        results: list[Any] = []
        append = results.append
        encoding = self.encoding
        errors = ALWAYS_ERRORS
        for call, reply in zip(calls, replies):  # noqa: B905 - same length by construction
            # Error words are made into exception objects without raising:
            # an inventory batch can hold thousands of NOT_FOUND.
            cls = errors.get(reply[0])
            if cls is not None:
                if raise_on_error:
                    raise cls()
                append(cls())
                continue
            try:
                append(call.decode(reply, encoding))
            except Error as exc:
                if raise_on_error:
                    raise
                append(exc)
                continue
            if call.state is not None:
                self._track(call)
            elif call is cmd.STATS:
                self._learn(results[-1])
        return results

    def pipeline(self) -> Pipeline:
        """Queue commands and send them together: ``async with client.pipeline() as p:``."""
        return Pipeline(self)

    def _give_back(self, reply: Reply) -> None:
        # A reserve whose caller was cancelled still gets its job from the
        # server. Release it with its own priority so it is not held until TTR.
        if reply.status == b"RESERVED" and reply.args and reply.args[0].isdigit():
            asyncio.get_running_loop().create_task(self._release_orphan(int(reply.args[0])))

    async def _release_orphan(self, jid: int) -> None:
        try:
            stats = await self.stats_job(jid)
            await self.release(jid, priority=stats["pri"], delay=0)
        except Error:
            pass  # gone, or the connection went: the server releases it then

    # --- greenstalk's API: the commands of _Commands, and reserve ---------------------

    async def reserve(self, timeout: int | None = None) -> Job:
        """Reserve a job from the watched tubes; wait at most ``timeout`` seconds if given.

        Raises TimedOutError when the timeout passes, DeadlineSoonError when a
        job this connection holds is about to pass its TTR.
        """
        call = cmd.reserve(timeout)
        wait = None
        if timeout is not None and self.command_timeout is not None:
            wait = timeout + self.command_timeout
        conn = self._conn
        if conn is None or conn._closed_exc is not None:
            conn = await self._connection()
        reply = await conn.wait(conn.send(call.line), wait, call.line)
        return call.decode(reply, self.encoding)


class Pipeline(_Commands):
    """Commands queued on one client and sent in a single write.

    Each method queues a command and returns the pipeline; ``await p.execute()``
    sends them and returns their results in order (a server error in its slot
    as an exception object unless ``raise_on_error``). Used as ``async with``,
    the queue is executed on exit and the results kept in ``p.results``.
    """

    def __init__(self, client: Client) -> None:
        self._client = client
        self._calls: list[Call[Any]] = []
        self.results: list[Any] = []

    def __len__(self) -> int:
        return len(self._calls)

    def add(self, call: Call[Any]) -> Pipeline:
        self._calls.append(call)
        return self

    async def execute(self, *, raise_on_error: bool = False) -> list[Any]:
        calls, self._calls = self._calls, []
        self.results = await self._client.run_many(calls, raise_on_error=raise_on_error)
        return self.results

    async def __aenter__(self) -> Pipeline:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc_type is None:
            await self.execute()
