"""Every beanstalkd command as a :class:`Call`: the bytes to send and how to read the reply.

The client's methods and its pipelines are built from these, so a command is
encoded and decoded in exactly one place whichever way it is sent.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Generic, TypeVar, Union

from stalkview.client.errors import ERROR_REPLIES, BuriedError, UnknownResponseError
from stalkview.client.protocol import (
    STRING_STATS,
    Reply,
    check_job_id,
    check_priority,
    check_seconds,
    check_tube,
    encode_line,
    encode_put,
    parse_list,
    parse_stats,
)

T = TypeVar("T")
Body = Union[str, bytes]


@dataclass(frozen=True, slots=True)
class Job:
    """A job as the server handed it out: its id and its body (str, or bytes with encoding=None)."""

    id: int
    body: Any


JobOrID = Union[Job, int]

#: A reply decoder: takes the reply and the client's encoding.
Decoder = Callable[[Reply, Union[str, None]], T]


@dataclass(frozen=True, slots=True)
class Call(Generic[T]):
    """One command ready to send. ``state`` records use/watch/ignore for reconnects."""

    line: bytes
    decode: Decoder[T]
    state: tuple[str, str] | None = None


def job_id(job: JobOrID) -> int:
    return check_job_id(job.id if isinstance(job, Job) else job)


def raise_for(reply: Reply, job: int | None = None) -> None:
    """Raise the exception a reply word stands for."""
    cls = ERROR_REPLIES.get(reply.status)
    if cls is BuriedError:
        raise BuriedError(int(reply.args[0]) if reply.args else job)
    if cls is not None:
        raise cls()
    raise UnknownResponseError(
        reply.status.decode("ascii", "replace"),
        [a.decode("ascii", "replace") for a in reply.args],
    )


def _expect(word: bytes) -> Decoder[None]:
    def decode(reply: Reply, encoding: str | None) -> None:
        if reply.status != word:
            raise_for(reply)

    return decode


def _expect_int(word: bytes) -> Decoder[int]:
    def decode(reply: Reply, encoding: str | None) -> int:
        if reply.status != word or not reply.args:
            raise_for(reply)
        return int(reply.args[0])

    return decode


def _expect_job(word: bytes) -> Decoder[Job]:
    def decode(reply: Reply, encoding: str | None) -> Job:
        if reply.status != word or reply.body is None:
            raise_for(reply)
        body: Any = reply.body
        if encoding is not None:
            body = body.decode(encoding)
        return Job(int(reply.args[0]), body)

    return decode


def _expect_stats(keys: frozenset[str]) -> Decoder[dict[str, Any]]:
    def decode(reply: Reply, encoding: str | None) -> dict[str, Any]:
        if reply.status != b"OK" or reply.body is None:
            raise_for(reply)
        return parse_stats(reply.body, string_keys=keys)

    return decode


def _decode_list(reply: Reply, encoding: str | None) -> list[str]:
    if reply.status != b"OK" or reply.body is None:
        raise_for(reply)
    return parse_list(reply.body)


def _decode_using(reply: Reply, encoding: str | None) -> str:
    if reply.status != b"USING" or not reply.args:
        raise_for(reply)
    return reply.args[0].decode("ascii")


_OK = {
    word: _expect(word)
    for word in (b"DELETED", b"RELEASED", b"BURIED", b"TOUCHED", b"KICKED", b"PAUSED")
}
_WATCHING = _expect_int(b"WATCHING")
_INSERTED = _expect_int(b"INSERTED")
_KICKED_N = _expect_int(b"KICKED")
_RESERVED = _expect_job(b"RESERVED")
_FOUND = _expect_job(b"FOUND")
_STATS_JOB = _expect_stats(frozenset({"tube", "state"}))
_STATS_TUBE = _expect_stats(frozenset({"name"}))
#: In `stats`, "id" is the server's random id: text, even when it happens to be all digits.
_STATS = _expect_stats(STRING_STATS | {"id"})


def encode_body(body: Body, encoding: str | None) -> bytes:
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
    check_priority(priority)
    check_seconds("delay", delay)
    check_seconds("ttr", ttr)
    return Call(encode_put(body, priority, delay, ttr), _INSERTED)


def use(tube: str) -> Call[str]:
    return Call(encode_line(b"use", check_tube(tube)), _decode_using, ("use", tube))


def reserve(timeout: int | None) -> Call[Job]:
    if timeout is None:
        return Call(b"reserve\r\n", _RESERVED)
    return Call(encode_line(b"reserve-with-timeout", check_seconds("timeout", timeout)), _RESERVED)


def reserve_job(job: JobOrID) -> Call[Job]:
    return Call(encode_line(b"reserve-job", job_id(job)), _RESERVED)


def delete(job: JobOrID) -> Call[None]:
    return Call(encode_line(b"delete", job_id(job)), _OK[b"DELETED"])


def release(job: JobOrID, priority: int, delay: int) -> Call[None]:
    jid = job_id(job)
    check_priority(priority)
    check_seconds("delay", delay)

    def decode(reply: Reply, encoding: str | None) -> None:
        if reply.status != b"RELEASED":
            raise_for(reply, jid)

    return Call(encode_line(b"release", jid, priority, delay), decode)


def bury(job: JobOrID, priority: int) -> Call[None]:
    check_priority(priority)
    return Call(encode_line(b"bury", job_id(job), priority), _OK[b"BURIED"])


def touch(job: JobOrID) -> Call[None]:
    return Call(encode_line(b"touch", job_id(job)), _OK[b"TOUCHED"])


def watch(tube: str) -> Call[int]:
    return Call(encode_line(b"watch", check_tube(tube)), _WATCHING, ("watch", tube))


def ignore(tube: str) -> Call[int]:
    return Call(encode_line(b"ignore", check_tube(tube)), _WATCHING, ("ignore", tube))


def peek(job: JobOrID) -> Call[Job]:
    return Call(encode_line(b"peek", job_id(job)), _FOUND)


PEEK_READY: Call[Job] = Call(b"peek-ready\r\n", _FOUND)
PEEK_DELAYED: Call[Job] = Call(b"peek-delayed\r\n", _FOUND)
PEEK_BURIED: Call[Job] = Call(b"peek-buried\r\n", _FOUND)
STATS: Call[dict[str, Any]] = Call(b"stats\r\n", _STATS)
LIST_TUBES: Call[list[str]] = Call(b"list-tubes\r\n", _decode_list)
LIST_TUBE_USED: Call[str] = Call(b"list-tube-used\r\n", _decode_using)
LIST_TUBES_WATCHED: Call[list[str]] = Call(b"list-tubes-watched\r\n", _decode_list)


def kick(bound: int) -> Call[int]:
    return Call(encode_line(b"kick", check_seconds("kick bound", bound)), _KICKED_N)


def kick_job(job: JobOrID) -> Call[None]:
    return Call(encode_line(b"kick-job", job_id(job)), _OK[b"KICKED"])


def stats_job(job: JobOrID) -> Call[dict[str, Any]]:
    return Call(encode_line(b"stats-job", job_id(job)), _STATS_JOB)


def stats_tube(tube: str) -> Call[dict[str, Any]]:
    return Call(encode_line(b"stats-tube", check_tube(tube)), _STATS_TUBE)


def pause_tube(tube: str, delay: int) -> Call[None]:
    return Call(
        encode_line(b"pause-tube", check_tube(tube), check_seconds("pause delay", delay)),
        _OK[b"PAUSED"],
    )
