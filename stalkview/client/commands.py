"""Every beanstalkd command as a :class:`Call`: the bytes to send and how to read the reply.

The client's methods and its pipelines are built from these, so a command is
encoded and decoded in exactly one place whichever way it is sent.
A decoder returns the result or raises the error the reply stands for.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Generic, NoReturn, TypeVar, Union

from stalkview.client.errors import (
    ERROR_REPLIES,
    BodyDecodeError,
    BuriedError,
    MalformedReplyError,
    UnknownResponseError,
)
from stalkview.client.protocol import (
    MAX_PRIORITY,
    MAX_SECONDS,
    SERVER_NUMERIC_STATS,
    STRING_STATS,
    Reply,
    check_job_id,
    check_priority,
    check_seconds,
    check_tube,
    encode_put,
    parse_list,
    parse_stats,
    parse_stats_job,
    parse_stats_tube,
)

T = TypeVar("T")
Body = Union[str, bytes]  # noqa: UP007 - a runtime alias; must work on 3.10 without __future__


@dataclass(frozen=True, slots=True)
class Job:
    """A job as the server handed it out: its id and its body (str, or bytes with encoding=None)."""

    id: int
    body: Any


JobOrID = Union[Job, int]  # noqa: UP007

#: A reply decoder: takes the reply and the client's encoding.
Decoder = Callable[[Reply, Union[str, None]], T]  # noqa: UP007


class Call(Generic[T]):
    """One command ready to send. ``state`` records use/watch/ignore for reconnects.

    A plain slotted class rather than a frozen dataclass: one is built per
    command, and a frozen dataclass's ``__init__`` costs several times more.
    """

    __slots__ = ("decode", "line", "state")

    def __init__(
        self, line: bytes, decode: Decoder[T], state: tuple[str, str] | None = None
    ) -> None:
        self.line = line
        self.decode = decode
        self.state = state

    def __repr__(self) -> str:
        return f"Call({self.line!r})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Call):
            return NotImplemented
        return (self.line, self.decode, self.state) == (other.line, other.decode, other.state)

    def __hash__(self) -> int:
        return hash((self.line, self.state))


def job_id(job: JobOrID) -> int:
    if type(job) is int and 0 < job < 2**64:
        return job
    return check_job_id(job.id if isinstance(job, Job) else job)


def reply_int(reply: Reply, word: bytes) -> int:
    """A number a reply carries (an id, a count), or MalformedReplyError."""
    if word.isdigit() and len(word) <= 20:
        return int(word)
    raise MalformedReplyError(
        f"{reply.status.decode('ascii', 'replace')} reply carries {word[:40]!r} "
        "where a number belongs (a broken or hostile server?)"
    )


def raise_for(reply: Reply, job: int | None = None) -> NoReturn:
    """Raise the exception a reply word stands for."""
    cls = ERROR_REPLIES.get(reply.status)
    if cls is BuriedError:
        raise BuriedError(reply_int(reply, reply.args[0]) if reply.args else job)
    if cls is not None:
        raise cls()
    raise UnknownResponseError(
        reply.status.decode("ascii", "replace"),
        [a.decode("ascii", "replace") for a in reply.args],
    )


def _expect(word: bytes) -> Decoder[None]:
    def decode(reply: Reply, encoding: str | None) -> None:
        if reply[0] != word:
            raise_for(reply)

    return decode


def _expect_int(word: bytes) -> Decoder[int]:
    def decode(reply: Reply, encoding: str | None) -> int:
        if reply[0] != word or not reply[1]:
            raise_for(reply)
        return reply_int(reply, reply[1][0])

    return decode


def _expect_job(word: bytes) -> Decoder[Job]:
    def decode(reply: Reply, encoding: str | None) -> Job:
        body: Any = reply[2]
        if reply[0] != word or body is None or not reply[1]:
            raise_for(reply)
        jid = reply_int(reply, reply[1][0])
        if encoding is not None:
            try:
                body = body.decode(encoding)
            except UnicodeDecodeError as exc:
                raise BodyDecodeError(
                    f"job {jid}'s body is not {encoding} text ({exc.reason} at byte "
                    f"{exc.start}): read it with encoding=None"
                ) from None
        return Job(jid, body)

    return decode


def _expect_stats(keys: frozenset[str], numeric: frozenset[str]) -> Decoder[dict[str, Any]]:
    def decode(reply: Reply, encoding: str | None) -> dict[str, Any]:
        if reply.status != b"OK" or reply.body is None:
            raise_for(reply)
        return parse_stats(reply.body, string_keys=keys, numeric_keys=numeric)

    return decode


def _decode_list(reply: Reply, encoding: str | None) -> list[str]:
    if reply.status != b"OK" or reply.body is None:
        raise_for(reply)
    names = parse_list(reply.body)
    for name in names:
        # Every later command about a tube needs a valid name; a server that
        # lists another (control characters, 5,000 bytes) is broken or hostile.
        try:
            check_tube(name)
        except ValueError:
            raise MalformedReplyError(
                f"the server listed a tube name that is not valid: {name[:60]!r}"
            ) from None
    return names


def _decode_using(reply: Reply, encoding: str | None) -> str:
    if reply.status != b"USING" or not reply.args:
        raise_for(reply)
    return reply.args[0].decode("ascii", "replace")


_OK = {
    word: _expect(word)
    for word in (b"DELETED", b"RELEASED", b"BURIED", b"TOUCHED", b"KICKED", b"PAUSED")
}
_DELETED = _OK[b"DELETED"]
_WATCHING = _expect_int(b"WATCHING")
_INSERTED = _expect_int(b"INSERTED")
_KICKED_N = _expect_int(b"KICKED")
_RESERVED = _expect_job(b"RESERVED")
_FOUND = _expect_job(b"FOUND")


def _decode_stats_job(reply: Reply, encoding: str | None) -> dict[str, Any]:
    body = reply[2]
    if body is None or reply[0] != b"OK":
        raise_for(reply)
    return parse_stats_job(body)


_STATS_JOB = _decode_stats_job


def _decode_stats_tube(reply: Reply, encoding: str | None) -> dict[str, Any]:
    body = reply[2]
    if body is None or reply[0] != b"OK":
        raise_for(reply)
    return parse_stats_tube(body)


_STATS_TUBE = _decode_stats_tube
#: Public for the client's bulk stats-tube path.
STATS_TUBE_DECODER = _decode_stats_tube
#: In `stats`, "id" is the server's random id: text, even when it happens to be all digits.
_STATS = _expect_stats(STRING_STATS | {"id"}, SERVER_NUMERIC_STATS)


def encode_body(body: Body, encoding: str | None) -> bytes:
    """The body as bytes, or TypeError when its type does not match the encoding."""
    if type(body) is bytes:
        return body
    if type(body) is str and encoding is not None:
        return body.encode(encoding)
    if isinstance(body, (bytes, bytearray, memoryview)):
        return bytes(body)
    if isinstance(body, str):
        if encoding is None:
            raise TypeError(
                "job body is a str but the client has encoding=None: pass bytes, "
                "or create the client with an encoding"
            )
        return body.encode(encoding)
    raise TypeError(f"job body must be str or bytes, not {type(body).__name__}")


def put(body: bytes, priority: int, delay: int, ttr: int) -> Call[int]:
    # Inline range checks: put is the hot path; the checkers give the messages.
    if not (type(priority) is int and 0 <= priority <= MAX_PRIORITY):
        check_priority(priority)
    if not (type(delay) is int and 0 <= delay <= MAX_SECONDS):
        check_seconds("delay", delay)
    if not (type(ttr) is int and 0 <= ttr <= MAX_SECONDS):
        check_seconds("ttr", ttr)
    return Call(encode_put(body, priority, delay, ttr), _INSERTED)


def use(tube: str) -> Call[str]:
    return Call(b"use %b\r\n" % check_tube(tube), _decode_using, ("use", tube))


def reserve(timeout: int | None) -> Call[Job]:
    if timeout is None:
        return Call(b"reserve\r\n", _RESERVED)
    return Call(b"reserve-with-timeout %d\r\n" % check_seconds("timeout", timeout), _RESERVED)


def reserve_job(job: JobOrID) -> Call[Job]:
    return Call(b"reserve-job %d\r\n" % job_id(job), _RESERVED)


def delete(job: JobOrID) -> Call[None]:
    return Call(b"delete %d\r\n" % job_id(job), _DELETED)


def release(job: JobOrID, priority: int, delay: int) -> Call[None]:
    jid = job_id(job)
    check_priority(priority)
    check_seconds("delay", delay)

    def decode(reply: Reply, encoding: str | None) -> None:
        if reply.status != b"RELEASED":
            raise_for(reply, jid)

    return Call(b"release %d %d %d\r\n" % (jid, priority, delay), decode)


def bury(job: JobOrID, priority: int) -> Call[None]:
    check_priority(priority)
    return Call(b"bury %d %d\r\n" % (job_id(job), priority), _OK[b"BURIED"])


def touch(job: JobOrID) -> Call[None]:
    return Call(b"touch %d\r\n" % job_id(job), _OK[b"TOUCHED"])


def watch(tube: str) -> Call[int]:
    return Call(b"watch %b\r\n" % check_tube(tube), _WATCHING, ("watch", tube))


def ignore(tube: str) -> Call[int]:
    return Call(b"ignore %b\r\n" % check_tube(tube), _WATCHING, ("ignore", tube))


def peek(job: JobOrID) -> Call[Job]:
    return Call(b"peek %d\r\n" % job_id(job), _FOUND)


PEEK_READY: Call[Job] = Call(b"peek-ready\r\n", _FOUND)
PEEK_DELAYED: Call[Job] = Call(b"peek-delayed\r\n", _FOUND)
PEEK_BURIED: Call[Job] = Call(b"peek-buried\r\n", _FOUND)
STATS: Call[dict[str, Any]] = Call(b"stats\r\n", _STATS)
LIST_TUBES: Call[list[str]] = Call(b"list-tubes\r\n", _decode_list)
LIST_TUBE_USED: Call[str] = Call(b"list-tube-used\r\n", _decode_using)
LIST_TUBES_WATCHED: Call[list[str]] = Call(b"list-tubes-watched\r\n", _decode_list)


def kick(bound: int) -> Call[int]:
    return Call(b"kick %d\r\n" % check_seconds("kick bound", bound), _KICKED_N)


def kick_job(job: JobOrID) -> Call[None]:
    return Call(b"kick-job %d\r\n" % job_id(job), _OK[b"KICKED"])


def stats_job(job: JobOrID) -> Call[dict[str, Any]]:
    if type(job) is int and 0 < job < 2**64:  # the inventory's hot path
        return Call(b"stats-job %d\r\n" % job, _STATS_JOB)
    return Call(b"stats-job %d\r\n" % job_id(job), _STATS_JOB)


@lru_cache(maxsize=4096)
def _stats_tube_line(tube: str) -> bytes:
    return b"stats-tube %b\r\n" % check_tube(tube)


def stats_tube_line(tube: str) -> bytes:
    """The command line; cached, since a refresh asks every tube every second."""
    if type(tube) is str:
        return _stats_tube_line(tube)
    return b"stats-tube %b\r\n" % check_tube(tube)  # raises TypeError naming the type


def stats_tube(tube: str) -> Call[dict[str, Any]]:
    return Call(stats_tube_line(tube), _STATS_TUBE)


def pause_tube(tube: str, delay: int) -> Call[None]:
    line = b"pause-tube %b %d\r\n" % (check_tube(tube), check_seconds("pause delay", delay))
    return Call(line, _OK[b"PAUSED"])
