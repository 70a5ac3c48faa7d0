"""The client against a hostile fake server: typed errors, bounded memory, never a hang.

A fake server only for what a real beanstalkd cannot be made to send.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from stalkview.client import Client
from stalkview.client.errors import (
    BodyDecodeError,
    CommandTimeoutError,
    ConnectionLostError,
    Error,
    MalformedReplyError,
    ProtocolError,
    ReplyTooLargeError,
    UnknownResponseError,
)
from stalkview.client.protocol import JOB_SIZE_SLACK, ReplyParser
from tests.hostile import (
    HostileServer,
    Script,
    answering,
    closing_after,
    ok,
    silent,
    split_writes,
    stats_body,
    streaming,
    trickling,
    trickling_replies,
)

Hostile = Callable[[Script], HostileServer]

STATS_JOB = (
    b"---\nid: 7\ntube: default\nstate: ready\npri: 5\nage: 3\ndelay: 0\nttr: 60\n"
    b"time-left: 0\nfile: 0\nreserves: 1\ntimeouts: 0\nreleases: 2\nburies: 0\nkicks: 0\n"
)


async def test_a_declared_4_gib_reply_is_refused_from_its_header(hostile: Hostile) -> None:
    server = hostile(streaming(b"OK 4294967296\r\n"))
    async with Client(server.address, command_timeout=5) as client:
        with pytest.raises(ReplyTooLargeError, match="4,294,967,296 bytes"):
            await client.stats()
        assert not client.connected  # the stream is in doubt: that connection is gone


async def test_the_cap_is_a_client_argument(hostile: Hostile) -> None:
    body = stats_body(hostname="x" * 5000)
    server = hostile(answering({b"stats": ok(body)}))
    async with Client(server.address, max_reply=len(body) + 1, command_timeout=5) as client:
        assert (await client.stats())["hostname"] == "x" * 5000
    async with Client(server.address, max_reply=len(body) - 1, command_timeout=5) as client:
        with pytest.raises(ReplyTooLargeError):
            await client.stats()


def test_max_reply_must_be_a_positive_size() -> None:
    with pytest.raises(ValueError, match="max_reply"):
        Client("127.0.0.1:1", max_reply=0)


async def test_job_bodies_are_capped_at_max_job_size_once_stats_is_seen(hostile: Hostile) -> None:
    big = b"y" * (100 + JOB_SIZE_SLACK + 1)
    server = hostile(
        answering(
            {
                b"stats": ok(stats_body(max_job_size="100")),
                b"peek": b"FOUND 5 %d\r\n%b\r\n" % (len(big), big),
                b"list-tubes": ok(b"---\n" + b"- t\n" * 40000),
            }
        )
    )
    async with Client(server.address, encoding=None, command_timeout=5) as client:
        assert (await client.peek(5)).body == big  # max-job-size not known yet
        await client.stats()
        assert client.max_job_body == 100 + JOB_SIZE_SLACK
        # Lists are not job bodies: only max_reply caps them.
        assert len(await client.tubes()) == 40000
        with pytest.raises(ReplyTooLargeError, match="max-job-size"):
            await client.peek(5)
        # The cap survives the reconnect.
        await client.reconnect()
        with pytest.raises(ReplyTooLargeError):
            await client.peek(5)


def test_the_buffer_grows_with_bytes_received_not_with_the_declared_size() -> None:
    parser = ReplyParser()
    start = parser.capacity
    assert parser.feed(b"OK 60000000\r\n" + b"z" * 100) == []
    assert parser.capacity == start  # nothing allocated for the 60 MB merely declared
    chunk = b"z" * 1_000_000
    for _ in range(3):
        parser.feed(chunk)
    assert parser.capacity < 8 * len(chunk)


def test_a_reply_within_the_cap_still_arrives_whole() -> None:
    parser = ReplyParser(max_reply=3_000_000)
    body = bytes(range(256)) * 10_000
    replies = []
    for i in range(0, len(body) + 20, 65536):
        replies += parser.feed((b"FOUND 1 %d\r\n" % len(body) + body + b"\r\n")[i : i + 65536])
    assert [r.body for r in replies] == [body]
    assert parser.capacity <= 3_000_000 * 2


async def test_a_reply_split_across_many_writes(hostile: Hostile) -> None:
    server = hostile(split_writes(ok(stats_body(total_jobs="42")), pieces=40))
    async with Client(server.address, command_timeout=5) as client:
        assert (await client.stats())["total-jobs"] == 42


async def test_silence_is_a_timeout_that_names_the_address(hostile: Hostile) -> None:
    server = hostile(silent)
    async with Client(server.address, command_timeout=0.2) as client:
        with pytest.raises(CommandTimeoutError, match=server.address):
            await client.stats()


async def test_a_close_in_the_middle_of_a_reply(hostile: Hostile) -> None:
    server = hostile(closing_after(b"OK 100\r\n---\nabc"))
    async with Client(server.address, command_timeout=5) as client:
        with pytest.raises(ConnectionLostError, match=server.address):
            await client.stats()


@pytest.mark.parametrize(
    "reply, error",
    [
        (b"\x1b[31m\x00garbage\r\n", UnknownResponseError),
        (b"x" * 5000, ProtocolError),
        (b"OK -5\r\n", ProtocolError),
        (b"OK 1_0\r\n0123456789\r\n", ProtocolError),
        (ok(stats_body(total_jobs="[1, 2]")), MalformedReplyError),
        (ok(stats_body(total_jobs="9" * 5000)), MalformedReplyError),
    ],
)
async def test_garbage_and_odd_yaml_are_typed_errors(
    hostile: Hostile, reply: bytes, error: type[Error]
) -> None:
    server = hostile(answering({b"stats": reply}))
    async with Client(server.address, command_timeout=5) as client:
        with pytest.raises(error):
            await client.stats()


@pytest.mark.parametrize(
    "body",
    [
        STATS_JOB.replace(b"id: 7", b"id: x"),
        STATS_JOB.replace(b"pri: 5", b"pri: [1, 2]"),
        STATS_JOB.replace(b"age: 3", b"age: " + b"1" * 5000),
        b"---\nnonsense\n",
        b"\xff\xfe",
    ],
)
async def test_stats_job_on_an_odd_body_raises_the_clients_own_error(
    hostile: Hostile, body: bytes
) -> None:
    server = hostile(answering({b"stats-job": ok(body)}))
    async with Client(server.address, command_timeout=5) as client:
        with pytest.raises(MalformedReplyError):
            await client.stats_job(7)
        # The bulk path gives the same error, in the id's slot.
        [result] = await client.stats_job_fields([7])
        assert isinstance(result, MalformedReplyError)


@pytest.mark.parametrize(
    "command, reply",
    [
        (b"put", b"INSERTED abc\r\n"),
        (b"put", b"BURIED \xff\r\n"),
        (b"kick", b"KICKED 99999999999999999999999999\r\n"),
        (b"peek", b"FOUND x 1\r\na\r\n"),
    ],
)
async def test_non_numeric_ids_and_counts_are_malformed_replies(
    hostile: Hostile, command: bytes, reply: bytes
) -> None:
    server = hostile(answering({command: reply}))
    async with Client(server.address, command_timeout=5) as client:
        call = {b"put": client.put("a"), b"kick": client.kick(1), b"peek": client.peek(1)}
        with pytest.raises(MalformedReplyError):
            await call.pop(command)
        for coro in call.values():
            coro.close()


async def test_a_body_that_is_not_text_is_a_typed_error(hostile: Hostile) -> None:
    server = hostile(answering({b"peek": b"FOUND 3 2\r\n\xff\xfe\r\n"}))
    async with Client(server.address, command_timeout=5) as client:
        with pytest.raises(BodyDecodeError, match="encoding=None"):
            await client.peek(3)


async def test_a_trickle_is_a_stall_and_the_error_names_the_command(hostile: Hostile) -> None:
    server = hostile(trickling(ok(stats_body()), every=0.05))
    async with Client(server.address, command_timeout=0.3) as client:
        with pytest.raises(CommandTimeoutError, match=rf"{server.address}: no reply to stats"):
            await client.stats()


async def test_a_long_batch_whose_replies_keep_coming_is_not_a_stall(hostile: Hostile) -> None:
    # 40 replies, one every 0.02 s: 0.8 s in all, never 0.3 s without a reply.
    server = hostile(trickling_replies([b"NOT_FOUND\r\n"] * 40, every=0.02))
    async with Client(server.address, command_timeout=0.3) as client:
        replies = await client.peek_sizes(list(range(1, 41)))
        assert replies == [None] * 40
