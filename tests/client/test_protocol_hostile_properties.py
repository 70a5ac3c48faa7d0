"""Property: any byte stream gives replies or the client's own errors, in bounded memory.

The parser and every decoder are fed what a hostile server could send: valid
replies, garbage, huge declared sizes, odd numbers, cut anywhere.
"""

from __future__ import annotations

import contextlib
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from stalkview.client import commands as cmd
from stalkview.client.errors import Error, ProtocolError
from stalkview.client.protocol import (
    MAX_REPLY_LINE,
    MIN_READ,
    Reply,
    ReplyParser,
    read_peek_sizes,
    read_stats_job_fields,
    read_stats_tubes,
)

CAP = 4096

WORDS = [
    b"OK", b"FOUND", b"RESERVED", b"INSERTED", b"BURIED", b"KICKED", b"USING",
    b"WATCHING", b"DELETED", b"NOT_FOUND", b"TIMED_OUT", b"JOB_TOO_BIG", b"", b"\x1b[2J",
]  # fmt: skip
NUMBERS = st.one_of(
    st.integers(0, 300).map(b"%d".__mod__),
    st.sampled_from([b"-1", b"+5", b"1_0", b"x", b"", b"4294967296", b"9" * 30, b"\xff"]),
    st.integers(CAP - 2, CAP + 2).map(b"%d".__mod__),
)
BODY_TEXT = st.one_of(
    st.binary(max_size=200),
    st.sampled_from(
        [
            b"---\nid: 7\ntube: default\nstate: ready\npri: [1, 2]\n",
            b"---\ntotal-jobs: [1, 2]\nmax-job-size: 65535\n",
            b"---\nname: default\ncurrent-jobs-ready: 1\n",
            b"---\n- default\n- \x1b]0;pwned\x07\n",
            b"\xc2\x9b31m",
        ]
    ),
)


@st.composite
def pieces(draw: st.DrawFn) -> bytes:
    kind = draw(st.sampled_from(["line", "body", "garbage", "crlf"]))
    if kind == "garbage":
        return draw(st.binary(max_size=64))
    if kind == "crlf":
        return b"\r\n"
    word = draw(st.sampled_from(WORDS))
    args = draw(st.lists(NUMBERS, max_size=3))
    line = b" ".join([word, *args]) + b"\r\n"
    if kind == "line":
        return line
    body = draw(BODY_TEXT)
    return b"%b %d\r\n%b\r\n" % (word, len(body), body)


streams = st.lists(pieces(), max_size=25).map(b"".join)


def _feed(parser: ReplyParser, data: bytes, cuts: list[int]) -> list[Reply]:
    replies: list[Reply] = []
    start = 0
    for cut in [*sorted(c % (len(data) + 1) for c in cuts), len(data)]:
        replies += parser.feed(data[start:cut])
        start = max(start, cut)
    return replies


# Ceiling of the parser's buffer: one incomplete reply (line + capped body) and a read's room.
BOUND = max(CAP + 2 * MAX_REPLY_LINE + MIN_READ, MIN_READ)

SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(streams, st.lists(st.integers(0, 10_000), max_size=8))
def test_any_stream_gives_replies_or_protocol_errors(data: bytes, cuts: list[int]) -> None:
    parser = ReplyParser(size=0, max_reply=CAP)
    try:
        replies = _feed(parser, data, cuts)
    except ProtocolError:
        replies = []
    assert parser.capacity <= BOUND
    for reply in replies:
        assert reply.body is None or len(reply.body) <= CAP
        _decode_with_every_command(reply)


@SETTINGS
@given(st.binary(max_size=3000), st.lists(st.integers(0, 10_000), max_size=8))
def test_random_bytes_too(data: bytes, cuts: list[int]) -> None:
    parser = ReplyParser(size=0, max_reply=CAP)
    try:
        replies = _feed(parser, data, cuts)
    except ProtocolError:
        replies = []
    assert parser.capacity <= BOUND
    for reply in replies:
        _decode_with_every_command(reply)


@SETTINGS
@given(streams, st.sampled_from([read_stats_job_fields, read_stats_tubes, read_peek_sizes]))
def test_bulk_readers_give_items_or_protocol_errors(data: bytes, read: Any) -> None:
    parser = ReplyParser(size=0, max_reply=CAP)
    items: list[Any] = []
    try:
        for i in range(0, len(data), 7):
            parser.received(len(_into(parser, data[i : i + 7])))
            items += read(parser, 1000)
    except ProtocolError:
        return
    assert parser.capacity <= BOUND
    for item in items:
        if item.__class__ is Reply:
            _decode_with_every_command(item)


def _into(parser: ReplyParser, data: bytes) -> bytes:
    room = parser.get_buffer(len(data))
    room[: len(data)] = data
    return data


CALLS: list[cmd.Call[Any]] = [
    cmd.put(b"x", 0, 0, 1),
    cmd.use("t"),
    cmd.reserve(None),
    cmd.reserve_job(1),
    cmd.delete(1),
    cmd.release(1, 0, 0),
    cmd.bury(1, 0),
    cmd.touch(1),
    cmd.watch("t"),
    cmd.ignore("t"),
    cmd.peek(1),
    cmd.kick(1),
    cmd.kick_job(1),
    cmd.stats_job(1),
    cmd.stats_tube("t"),
    cmd.STATS,
    cmd.LIST_TUBES,
    cmd.LIST_TUBE_USED,
    cmd.pause_tube("t", 1),
]


def _decode_with_every_command(reply: Reply) -> None:
    """Each command's decoder gives a result or raises the client's own error."""
    for call in CALLS:
        for encoding in ("utf-8", None):
            with contextlib.suppress(Error):
                call.decode(reply, encoding)
