"""The sans-I/O core: reply parsing from bytes alone, encoding, validation, stats parsing."""

from __future__ import annotations

import bisect
import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from stalkview.client import commands as cmd
from stalkview.client.errors import (
    BuriedError,
    DeadlineSoonError,
    NotFoundError,
    ProtocolError,
    UnknownResponseError,
)
from stalkview.client.protocol import (
    MAX_REPLY_LINE,
    MIN_READ,
    STATS_JOB_KEYS,
    STATS_JOB_REPLY,
    Reply,
    ReplyParser,
    check_job_id,
    check_tube,
    encode_peeks,
    encode_stats_jobs,
    parse_list,
    parse_stats,
    parse_stats_job,
    parse_stats_tube,
    read_peek_sizes,
    read_stats_job_fields,
    read_stats_tubes,
    stats_job_fields,
)
from tests.strategies import PROPERTY, replies, reply_streams, splits

STATS_JOB = (
    b"---\nid: 7\ntube: default\nstate: ready\npri: 5\nage: 3\ndelay: 0\nttr: 60\n"
    b"time-left: 0\nfile: 0\nreserves: 1\ntimeouts: 0\nreleases: 2\nburies: 0\nkicks: 0\n"
)
STREAM = (
    b"INSERTED 1\r\n"
    b"RESERVED 1 4\r\nab\r\n\r\n"
    b"NOT_FOUND\r\n"
    b"OK %d\r\n" % len(STATS_JOB) + STATS_JOB + b"\r\n"
    b"FOUND 9 0\r\n\r\n"
    b"USING foo\r\n"
)
EXPECTED = [
    Reply(b"INSERTED", [b"1"]),
    Reply(b"RESERVED", [b"1"], b"ab\r\n"),
    Reply(b"NOT_FOUND", []),
    Reply(b"OK", [], STATS_JOB),
    Reply(b"FOUND", [b"9"], b""),
    Reply(b"USING", [b"foo"]),
]


def test_one_byte_at_a_time() -> None:
    parser = ReplyParser()
    replies: list[Reply] = []
    for i in range(len(STREAM)):
        replies += parser.feed(STREAM[i : i + 1])
    assert replies == EXPECTED
    assert parser.pending == 0


def test_many_replies_in_one_chunk() -> None:
    parser = ReplyParser()
    assert parser.feed(STREAM * 500) == EXPECTED * 500


@pytest.mark.parametrize("cut", [1, 5, 12, 13, 20, 27, 40, len(STREAM) - 1])
def test_any_split_point(cut: int) -> None:
    parser = ReplyParser()
    first = parser.feed(STREAM[:cut])
    assert first + parser.feed(STREAM[cut:]) == EXPECTED


def test_body_larger_than_the_buffer() -> None:
    parser = ReplyParser(size=16 * 1024)
    body = bytes(range(256)) * 1000  # 256,000 bytes with CRLFs inside
    data = b"FOUND 3 %d\r\n" % len(body) + body + b"\r\nDELETED\r\n"
    replies: list[Reply] = []
    for i in range(0, len(data), 7000):
        replies += parser.feed(data[i : i + 7000])
    assert replies == [Reply(b"FOUND", [b"3"], body), Reply(b"DELETED", [])]


def test_buffer_protocol_path_matches_feed() -> None:
    parser = ReplyParser(size=16 * 1024)
    replies: list[Reply] = []
    data = STREAM * 300
    pos = 0
    while pos < len(data):
        room = parser.get_buffer(-1)
        n = min(len(room), 1000, len(data) - pos)
        room[:n] = data[pos : pos + n]
        pos += n
        replies += parser.buffer_updated(n)
    assert replies == EXPECTED * 300


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"OK abc\r\n", "no body size"),
        (b"FOUND 1 -3\r\n", "no body size"),
        (b"OK\r\n", "no body size"),
        (b"RESERVED 1 2\r\nabXY", "not followed by CRLF"),
        (b"X" * (MAX_REPLY_LINE + 1), "longer than"),
        (b"Y" * (MAX_REPLY_LINE + 5) + b"\r\n", "longer than"),
        (b"\r\n", "malformed reply line"),
    ],
)
def test_malformed_input_raises_protocol_error(data: bytes, message: str) -> None:
    with pytest.raises(ProtocolError, match=message):
        ReplyParser().feed(data)


def test_stats_1_12_style() -> None:
    body = (
        b'---\ncurrent-jobs-urgent: 0\nversion: "1.12"\nid: 1234\nhostname: box\n'
        b"os: #1 SMP PREEMPT_DYNAMIC Debian\nrusage-utime: 0.012000\ndraining: false\n"
        b"uptime: 12\n"
    )
    stats = cmd.STATS.decode(Reply(b"OK", [], body), None)
    assert stats["current-jobs-urgent"] == 0
    assert stats["uptime"] == 12
    assert stats["version"] == "1.12"
    assert stats["id"] == "1234"  # the server's random id is text
    assert stats["os"] == "#1 SMP PREEMPT_DYNAMIC Debian"
    assert stats["rusage-utime"] == "0.012000"
    assert stats["draining"] == "false"


def test_stats_1_13_style_quotes_strings() -> None:
    body = b'---\nversion: "1.13"\nhostname: "box"\nos: "#1 SMP"\nplatform: "x86_64"\npid: 9\n'
    stats = parse_stats(body)
    assert stats == {"version": "1.13", "hostname": "box", "os": "#1 SMP",
                     "platform": "x86_64", "pid": 9}  # fmt: skip


def test_tube_named_123_stays_a_string() -> None:
    reply = Reply(b"OK", [], b"---\nname: 123\ncurrent-jobs-ready: 4\n")
    tube = cmd.stats_tube("123").decode(reply, None)
    assert tube == {"name": "123", "current-jobs-ready": 4}
    job = parse_stats_job(STATS_JOB.replace(b"tube: default", b"tube: 123"))
    assert job["tube"] == "123"


def test_parse_stats_job_fast_path_matches_general_parser() -> None:
    expected = parse_stats(STATS_JOB, string_keys=frozenset({"tube", "state"}))
    assert parse_stats_job(STATS_JOB) == expected
    assert expected["pri"] == 5 and expected["releases"] == 2 and expected["state"] == "ready"
    quoted = parse_stats_job(STATS_JOB.replace(b"tube: default", b'tube: "default"'))
    assert quoted["tube"] == "default"
    # An unexpected layout (a future key) falls back to the general parser.
    extra = parse_stats_job(STATS_JOB + b"new-key: 3\n")
    assert extra["new-key"] == 3 and extra["id"] == 7


def test_parse_list() -> None:
    assert parse_list(b'---\n- default\n- 123\n- "q"\n') == ["default", "123", "q"]


def test_decoders_map_error_words_to_exceptions() -> None:
    with pytest.raises(NotFoundError):
        cmd.stats_job(1).decode(Reply(b"NOT_FOUND", []), None)
    with pytest.raises(DeadlineSoonError):
        cmd.reserve(None).decode(Reply(b"DEADLINE_SOON", []), None)
    # BURIED on release (the server ran out of memory) carries the job id.
    with pytest.raises(BuriedError) as info:
        cmd.release(42, 0, 0).decode(Reply(b"BURIED", []), None)
    assert info.value.id == 42 and "42" in str(info.value)
    with pytest.raises(BuriedError) as info:
        cmd.put(b"x", 0, 0, 1).decode(Reply(b"BURIED", [b"17"]), None)
    assert info.value.id == 17
    with pytest.raises(UnknownResponseError, match="WHAT 1"):
        cmd.delete(1).decode(Reply(b"WHAT", [b"1"]), None)
    assert cmd.bury(1, 0).decode(Reply(b"BURIED", []), None) is None


def test_error_messages_say_what_the_reply_means() -> None:
    assert str(NotFoundError()).startswith("NOT_FOUND: no such job or tube")
    assert str(NotFoundError("job 5")) == "job 5"


def test_encoding() -> None:
    assert cmd.put(b"a\r\nb", 1, 2, 3).line == b"put 1 2 3 4\r\na\r\nb\r\n"
    assert cmd.reserve(None).line == b"reserve\r\n"
    assert cmd.reserve(0).line == b"reserve-with-timeout 0\r\n"
    assert cmd.release(cmd.Job(5, "x"), 1, 2).line == b"release 5 1 2\r\n"
    assert cmd.pause_tube("t", 9).line == b"pause-tube t 9\r\n"
    assert cmd.use("a+b").state == ("use", "a+b")


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("", "tube name is empty"),
        ("-x", "may not start with '-'"),
        ("a b", "' ' not allowed"),
        ("é", "only A-Z a-z 0-9"),
        ("x" * 201, "the limit is 200"),
    ],
)
def test_invalid_tube_names(name: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        check_tube(name)


def test_valid_tube_names() -> None:
    assert check_tube("x" * 200) == b"x" * 200
    assert check_tube("A-z0+/;.$_()") == b"A-z0+/;.$_()"
    with pytest.raises(TypeError, match="must be a str"):
        check_tube(b"bytes")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("make", "error", "message"),
    [
        (lambda: cmd.put(b"", -1, 0, 1), ValueError, "priority -1 is out of range: use 0 to"),
        (lambda: cmd.put(b"", 2**32, 0, 1), ValueError, "priority 4294967296 is out of range"),
        (lambda: cmd.put(b"", 0, -1, 1), ValueError, "delay -1 is out of range"),
        (lambda: cmd.put(b"", 0, 0, 2**32), ValueError, "ttr 4294967296 is out of range"),
        (lambda: cmd.put(b"", 0, 1.5, 1), TypeError, "delay must be an int, not float"),  # type: ignore[arg-type]
        (lambda: cmd.put(b"", True, 0, 1), TypeError, "priority must be an int, not bool"),
        (lambda: cmd.reserve(-1), ValueError, "timeout -1 is out of range"),
        (lambda: cmd.delete(-5), ValueError, "job id -5 is out of range"),
        (lambda: cmd.peek("7"), TypeError, "job id must be an int, not str"),  # type: ignore[arg-type]
        (lambda: cmd.kick(-1), ValueError, "kick bound -1 is out of range"),
        (lambda: cmd.pause_tube("t", -1), ValueError, "pause delay -1 is out of range"),
        (lambda: cmd.encode_body("text", None), TypeError, "encoding=None: pass bytes"),
        (lambda: cmd.encode_body(3, "utf-8"), TypeError, "must be str or bytes, not int"),  # type: ignore[arg-type]
    ],
)
def test_validation_messages(make: object, error: type[Exception], message: str) -> None:
    with pytest.raises(error, match=message.replace("(", r"\(")):
        make()  # type: ignore[operator]


def test_every_error_word_has_its_exception() -> None:
    from stalkview.client.errors import ERROR_REPLIES

    assert len(ERROR_REPLIES) == 12
    for word, cls in ERROR_REPLIES.items():
        if word == b"BURIED":
            continue
        with pytest.raises(cls) as info:
            cmd.stats_job(1).decode(Reply(word, []), None)
        assert str(info.value).startswith(word.decode())


# --- the bulk path: replies read by a pattern ------------------------------------

STATS_FIELDS = (
    b"7", b"default", b"ready", b"5", b"3", b"0", b"60", b"0", b"0", b"1", b"0", b"2", b"0", b"0",
)  # fmt: skip
#: A stats-job layout the pattern does not know (an extra key): read the slow way.
ODD_STATS_JOB = STATS_JOB.replace(b"kicks: 0\n", b"kicks: 0\nnew-key: 1\n")
BULK_STREAM = (
    b"NOT_FOUND\r\n"
    + b"OK %d\r\n" % len(STATS_JOB)
    + STATS_JOB
    + b"\r\n"
    + b"INTERNAL_ERROR\r\n"
    + b"OK %d\r\n" % len(ODD_STATS_JOB)
    + ODD_STATS_JOB
    + b"\r\n"
    + b"OK %d\r\n" % len(STATS_JOB)
    + STATS_JOB
    + b"\r\n"
)


def _normalise(items: list[object]) -> list[object]:
    """Bulk items with Replies of stats-job bodies turned into field tuples."""
    out: list[object] = []
    for item in items:
        if isinstance(item, Reply) and item.status == b"OK" and item.body is not None:
            item = stats_job_fields(item.body)
        elif isinstance(item, Reply) and item.status == b"NOT_FOUND":
            item = None
        out.append(item)
    return out


BULK_EXPECTED = [None, STATS_FIELDS, Reply(b"INTERNAL_ERROR", []), STATS_FIELDS, STATS_FIELDS]


def test_parse_matching_reads_known_layouts_and_leaves_the_rest_to_the_parser() -> None:
    parser = ReplyParser()
    parser.feed(b"")
    room = parser.get_buffer()
    room[: len(BULK_STREAM)] = BULK_STREAM
    parser.received(len(BULK_STREAM))
    items = parser.parse_matching(STATS_JOB_REPLY, 5)
    assert items[0] is None and items[1] == STATS_FIELDS and items[4] == STATS_FIELDS
    assert items[2] == Reply(b"INTERNAL_ERROR", [])
    assert isinstance(items[3], Reply) and items[3].body == ODD_STATS_JOB
    assert _normalise(items) == BULK_EXPECTED
    assert parser.pending == 0


def _bulk_in_pieces(data: bytes, piece: int, limit: int) -> tuple[list[object], ReplyParser]:
    parser = ReplyParser(size=16 * 1024)
    items: list[object] = []
    for start in range(0, len(data), piece):
        chunk = data[start : start + piece]
        room = parser.get_buffer(len(chunk))
        room[: len(chunk)] = chunk
        parser.received(len(chunk))
        items += parser.parse_matching(STATS_JOB_REPLY, limit - len(items))
    return items, parser


@pytest.mark.parametrize("piece", [1, 2, 7, 64, 1000])
def test_parse_matching_with_fragmented_input(piece: int) -> None:
    items, parser = _bulk_in_pieces(BULK_STREAM * 20, piece, 100)
    assert _normalise(items) == BULK_EXPECTED * 20
    assert parser.pending == 0


def test_parse_matching_stops_at_its_limit_and_leaves_the_rest() -> None:
    tail = b"INSERTED 3\r\nFOUND 2 1\r\nx\r\n"
    items, parser = _bulk_in_pieces(BULK_STREAM + tail, 3, 5)
    assert _normalise(items) == BULK_EXPECTED
    assert parser.parse() == [Reply(b"INSERTED", [b"3"]), Reply(b"FOUND", [b"2"], b"x")]
    assert parser.parse_matching(STATS_JOB_REPLY, 0) == []


def test_parse_matching_on_malformed_input_raises() -> None:
    parser = ReplyParser()
    parser.feed(b"")
    data = b"NOT_FOUND\r\nOK 5\r\nabcdeXY"
    room = parser.get_buffer()
    room[: len(data)] = data
    parser.received(len(data))
    with pytest.raises(ProtocolError, match="not followed by CRLF"):
        parser.parse_matching(STATS_JOB_REPLY, 10)


def test_stats_job_fields_of_any_layout() -> None:
    assert stats_job_fields(ODD_STATS_JOB) == STATS_FIELDS
    quoted = STATS_JOB.replace(b"tube: default", b'tube: "default"')
    m = STATS_JOB_REPLY.match(b"OK %d\r\n%b\r\n" % (len(quoted), quoted))
    assert m is not None and m.groups() == STATS_FIELDS
    assert len(STATS_JOB_KEYS) == len(STATS_FIELDS)
    with pytest.raises(ProtocolError, match="lacks kicks"):
        stats_job_fields(STATS_JOB.replace(b"kicks: 0\n", b""))


def test_encode_stats_jobs() -> None:
    assert encode_stats_jobs(range(3, 0, -1)) == b"stats-job 3\r\nstats-job 2\r\nstats-job 1\r\n"
    assert encode_stats_jobs([]) == b""


PEEK_STREAM = (
    b"NOT_FOUND\r\nFOUND 4 3\r\nabc\r\nFOUND 5 0\r\n\r\nINTERNAL_ERROR\r\n"
    b"FOUND 6 20\r\n" + b"z" * 20 + b"\r\n"
)


@pytest.mark.parametrize("piece", [1, 3, 16, 1000])
def test_parse_peek_sizes_with_fragmented_input(piece: int) -> None:
    parser = ReplyParser(size=16 * 1024)
    items: list[object] = []
    data = PEEK_STREAM * 10
    for start in range(0, len(data), piece):
        chunk = data[start : start + piece]
        room = parser.get_buffer(len(chunk))
        room[: len(chunk)] = chunk
        parser.received(len(chunk))
        items += parser.parse_peek_sizes(50 - len(items))
    # A body split across reads comes back from the general parser as a Reply.
    sizes = [len(i.body) if isinstance(i, Reply) and i.body is not None else i for i in items]
    assert sizes == [None, 3, 0, Reply(b"INTERNAL_ERROR", []), 20] * 10
    assert parser.pending == 0


def test_parse_peek_sizes_on_malformed_input_raises() -> None:
    parser = ReplyParser()
    parser.feed(b"")
    data = b"FOUND 1 3\r\nabcd\r\n"
    room = parser.get_buffer()
    room[: len(data)] = data
    parser.received(len(data))
    with pytest.raises(ProtocolError, match="FOUND body of 3 bytes"):
        parser.parse_peek_sizes(5)


def test_encode_peeks() -> None:
    assert encode_peeks([7, 8]) == b"peek 7\r\npeek 8\r\n"


# --- stats-tube fast path ----------------------------------------------------

STATS_TUBE = (
    b"---\nname: emails\ncurrent-jobs-urgent: 1\ncurrent-jobs-ready: 22\n"
    b"current-jobs-reserved: 3\ncurrent-jobs-delayed: 4\ncurrent-jobs-buried: 5\n"
    b"total-jobs: 66\ncurrent-using: 7\ncurrent-watching: 8\ncurrent-waiting: 9\n"
    b"cmd-delete: 10\ncmd-pause-tube: 11\npause: 12\npause-time-left: 13\n"
)


def _general_tube(body: bytes) -> dict[str, object]:
    return parse_stats(body, string_keys=frozenset({"name"}))


@pytest.mark.parametrize(
    "body",
    [
        STATS_TUBE,
        STATS_TUBE.replace(b"name: emails", b"name: 123"),  # stays the string "123"
        STATS_TUBE.replace(b"name: emails", b'name: "a-b+c/d;e.f$g_h(i)"'),  # 1.13 quotes
        STATS_TUBE.replace(b"name: emails", b'name: "lone'),  # not a pair: kept as sent
        STATS_TUBE.replace(b"pause: 12\n", b"pause: 12\nnew-key: x\n"),  # a newer server
        STATS_TUBE.replace(b"total-jobs: 66\n", b""),  # a key missing
        STATS_TUBE.replace(b"current-waiting: 9", b"current-waiting: -9"),  # not \d+
        STATS_TUBE + b"\n",
    ],
)
def test_parse_stats_tube_equals_the_general_parser(body: bytes) -> None:
    fast = parse_stats_tube(body)
    assert fast == _general_tube(body)
    assert list(fast) == list(_general_tube(body))


def test_parse_stats_tube_values() -> None:
    stats = parse_stats_tube(STATS_TUBE)
    assert stats["name"] == "emails" and stats["current-jobs-ready"] == 22
    assert stats["pause-time-left"] == 13 and len(stats) == 14
    assert parse_stats_tube(STATS_TUBE.replace(b"emails", b"123"))["name"] == "123"


def test_stats_tube_decoder_uses_the_fast_path_and_raises_for_errors() -> None:
    reply = Reply(b"OK", [b"%d" % len(STATS_TUBE)], STATS_TUBE)
    assert cmd.stats_tube("emails").decode(reply, None) == _general_tube(STATS_TUBE)
    with pytest.raises(NotFoundError):
        cmd.stats_tube("emails").decode(Reply(b"NOT_FOUND", []), None)
    assert cmd.stats_tube("emails").line == b"stats-tube emails\r\n"
    with pytest.raises(ValueError, match="may not start with '-'"):
        cmd.stats_tube("-x")
    with pytest.raises(TypeError, match="must be a str"):
        cmd.stats_tube(b"x")  # type: ignore[arg-type]


ODD_TUBE = STATS_TUBE.replace(b"pause: 12\n", b"pause: 12\nnew-key: x\n")
TUBE_STREAM = b"".join(
    [
        b"NOT_FOUND\r\n",
        b"OK %d\r\n%b\r\n" % (len(STATS_TUBE), STATS_TUBE),
        b"INTERNAL_ERROR\r\n",
        b"OK %d\r\n%b\r\n" % (len(ODD_TUBE), ODD_TUBE),
    ]
)


def _tubes_in_pieces(data: bytes, piece: int, limit: int) -> tuple[list[object], ReplyParser]:
    parser = ReplyParser(size=16 * 1024)
    items: list[object] = []
    for start in range(0, len(data), piece):
        chunk = data[start : start + piece]
        room = parser.get_buffer(len(chunk))
        room[: len(chunk)] = chunk
        parser.received(len(chunk))
        items += read_stats_tubes(parser, limit - len(items))
    return items, parser


@pytest.mark.parametrize("piece", [1, 3, 50, 4096])
def test_read_stats_tubes_with_fragmented_input(piece: int) -> None:
    items, parser = _tubes_in_pieces(TUBE_STREAM * 10, piece, 40)
    assert len(items) == 40 and parser.pending == 0
    for n in range(0, 40, 4):
        none, fast, error, odd = items[n : n + 4]
        # Split across reads, a reply may come back the general way: same meaning.
        assert none is None or none == Reply(b"NOT_FOUND", [])
        if isinstance(fast, Reply):
            assert fast.body == STATS_TUBE
        else:
            assert fast == _general_tube(STATS_TUBE)
        assert error == Reply(b"INTERNAL_ERROR", [])
        assert isinstance(odd, Reply) and odd.body == ODD_TUBE


def test_read_stats_tubes_whole_stream_is_read_fast() -> None:
    items, _ = _tubes_in_pieces(TUBE_STREAM, len(TUBE_STREAM), 4)
    assert items[0] is None and items[1] == _general_tube(STATS_TUBE)


def test_read_stats_tubes_stops_at_its_limit() -> None:
    items, parser = _tubes_in_pieces(TUBE_STREAM + b"INSERTED 3\r\n", 7, 4)
    assert len(items) == 4
    assert parser.parse() == [Reply(b"INSERTED", [b"3"])]


def test_read_stats_tubes_on_malformed_input_raises() -> None:
    parser = ReplyParser()
    data = b"OK 5\r\nabcdeXY"
    room = parser.get_buffer()
    room[: len(data)] = data
    parser.received(len(data))
    with pytest.raises(ProtocolError, match="not followed by CRLF"):
        read_stats_tubes(parser, 3)


# --- behaviour at the edges (what the parser promises, whatever its buffering) -----------------


def _feed_pieces(parser: ReplyParser, pieces: list[bytes]) -> list[list[Reply]]:
    return [parser.feed(piece) for piece in pieces]


@pytest.mark.parametrize(
    ("wire", "reply"),
    [
        (b"OK 3\r\nabc\r\n", Reply(b"OK", [], b"abc")),
        (b"RESERVED 128 2\r\n\r\n\r\n", Reply(b"RESERVED", [b"128"], b"\r\n")),
        (b"FOUND 255 0\r\n\r\n", Reply(b"FOUND", [b"255"], b"")),
        (b"INSERTED 256\r\n", Reply(b"INSERTED", [b"256"])),
    ],
)
def test_a_reply_comes_out_with_its_last_byte(wire: bytes, reply: Reply) -> None:
    parser = ReplyParser()
    got = _feed_pieces(parser, [wire[i : i + 1] for i in range(len(wire))])
    assert got == [[]] * (len(wire) - 1) + [[reply]]
    assert parser.pending == 0


def test_a_body_reply_completed_by_its_final_crlf_alone() -> None:
    parser = ReplyParser()
    assert parser.feed(b"OK 3\r\nabc") == []
    assert parser.feed(b"\r") == []
    assert parser.pending == 4
    assert parser.feed(b"\n") == [Reply(b"OK", [], b"abc")]
    assert parser.pending == 0


@pytest.mark.parametrize("size", [16 * 1024, 256 * 1024])
def test_one_feed_larger_than_the_buffer_keeps_every_reply(size: int) -> None:
    parser = ReplyParser(size=size)
    one = b"OK 3\r\nabc\r\nINSERTED 4096\r\nFOUND 300 5\r\nhello\r\n"
    count = 3 * size // len(one)  # three buffers' worth in one call
    replies = parser.feed(one * count)
    assert len(replies) == 3 * count
    assert replies[-3:] == [
        Reply(b"OK", [], b"abc"),
        Reply(b"INSERTED", [b"4096"]),
        Reply(b"FOUND", [b"300"], b"hello"),
    ]
    assert parser.pending == 0


def test_one_feed_with_a_body_larger_than_the_buffer_and_replies_after_it() -> None:
    parser = ReplyParser(size=16 * 1024)
    body = b"\r\n" * 40_000
    data = b"FOUND 7 %d\r\n%b\r\n" % (len(body), body) + b"DELETED\r\n" * 3000
    replies = parser.feed(data)
    assert replies == [Reply(b"FOUND", [b"7"], body)] + [Reply(b"DELETED", [])] * 3000


def test_the_socket_is_always_offered_room_for_a_read() -> None:
    parser = ReplyParser(size=16 * 1024)
    pieces = (b"OK 70000\r\n", b"x" * 30_000, b"x" * 40_000 + b"\r\nINSERTED 1\r\nKICK", b"ED 3")
    for piece in pieces:
        parser.feed(piece)
        assert len(parser.get_buffer()) >= MIN_READ


def test_a_reply_line_of_the_limit_is_read_however_it_arrives() -> None:
    line = b"USING " + b"t" * (MAX_REPLY_LINE - 6)
    assert len(line) == MAX_REPLY_LINE
    expected = [Reply(b"USING", [line[6:]])]
    assert ReplyParser().feed(line + b"\r\n") == expected
    parser = ReplyParser()
    assert parser.feed(line) == []  # the limit without its CRLF: still waiting
    assert parser.feed(b"\r") == []
    assert parser.feed(b"\n") == expected


def test_a_reply_line_over_the_limit_is_refused_before_its_end_arrives() -> None:
    parser = ReplyParser()
    with pytest.raises(ProtocolError, match="longer than 1024 bytes"):
        parser.feed(b"U" * (MAX_REPLY_LINE + 2))
    with pytest.raises(ProtocolError, match="longer than 1024 bytes"):
        ReplyParser().feed(b"U" * (MAX_REPLY_LINE + 1) + b"\r\n")
    with pytest.raises(ProtocolError, match="longer than 1024 bytes"):
        ReplyParser().feed(b"U" * (MAX_REPLY_LINE + 1) + b"\r")  # its LF cannot save it


def test_parse_with_a_limit_leaves_the_rest_for_later() -> None:
    parser = ReplyParser()
    data = b"INSERTED 1\r\nOK 2\r\nab\r\nDELETED\r\n"
    room = parser.get_buffer()
    room[: len(data)] = data
    parser.received(len(data))
    assert parser.parse(0) == []
    assert parser.parse(1) == [Reply(b"INSERTED", [b"1"])]
    assert parser.parse(1) == [Reply(b"OK", [], b"ab")]
    assert parser.pending == len(b"DELETED\r\n")
    assert parser.parse() == [Reply(b"DELETED", [])]
    assert parser.parse() == []


@pytest.mark.parametrize(
    "job_id", [0, 1, 127, 128, 255, 256, 65_535, 65_536, 2**32, 2**63, 2**64 - 1]
)
def test_job_ids_up_to_2_64_minus_1_are_sent_and_read_back(job_id: int) -> None:
    assert cmd.peek(job_id).line == b"peek %d\r\n" % job_id
    assert cmd.delete(job_id).line == b"delete %d\r\n" % job_id
    assert encode_stats_jobs([job_id]) == b"stats-job %d\r\n" % job_id
    assert encode_peeks([job_id]) == b"peek %d\r\n" % job_id
    wire = b"INSERTED %d\r\nFOUND %d 1\r\nx\r\n" % (job_id, job_id)
    inserted, found = ReplyParser().feed(wire)
    assert cmd.put(b"x", 0, 0, 1).decode(inserted, None) == job_id
    assert cmd.peek(job_id).decode(found, None).id == job_id


@pytest.mark.parametrize("job_id", [0, 1, 127, 128, 2**64 - 2, 2**64 - 1])
def test_check_job_id_accepts_every_64_bit_id(job_id: int) -> None:
    assert check_job_id(job_id) == job_id
    assert cmd.peek(cmd.Job(job_id, b"")).line == b"peek %d\r\n" % job_id


@pytest.mark.parametrize("job_id", [-1, 2**64, 2**65])
def test_job_ids_outside_64_bits_are_refused(job_id: int) -> None:
    with pytest.raises(ValueError, match=f"job id {job_id} is out of range"):
        cmd.peek(job_id)
    with pytest.raises(ValueError, match=f"job id {job_id} is out of range"):
        check_job_id(job_id)


@pytest.mark.parametrize(
    ("make", "line"),
    [
        (lambda: cmd.put(b"", 2**32 - 1, 2**32 - 1, 1), b"put 4294967295 4294967295 1 0\r\n\r\n"),
        (lambda: cmd.put(b"", 0, 0, 2**32 - 1), b"put 0 0 4294967295 0\r\n\r\n"),
        (lambda: cmd.reserve(2**32 - 1), b"reserve-with-timeout 4294967295\r\n"),
        (lambda: cmd.pause_tube("t", 2**32 - 1), b"pause-tube t 4294967295\r\n"),
        (lambda: cmd.release(1, 0, 0), b"release 1 0 0\r\n"),
    ],
)  # fmt: skip
def test_32_bit_values_at_their_edges_are_sent(make: object, line: bytes) -> None:
    assert make().line == line  # type: ignore[operator]


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("", "tube name is empty: names are 1-200 characters"),
        ("x" * 201, "tube name 'xxxxxxxxxxxxxxxxxxxx'... is 201 characters long: the limit is 200"),
        ("a b!c", "tube name 'a b!c' is invalid: ' !' not allowed; "
                  "use only A-Z a-z 0-9 and - + / ; . $ _ ( )"),
        ("é", "tube name 'é' is invalid: only A-Z a-z 0-9 and - + / ; . $ _ ( ) are allowed"),
    ],
)  # fmt: skip
def test_tube_name_errors_in_full(name: str, message: str) -> None:
    with pytest.raises(ValueError) as info:
        check_tube(name)
    assert str(info.value) == message


def test_tube_name_type_error_names_the_type() -> None:
    with pytest.raises(TypeError, match=r"^tube name must be a str, not bytes$"):
        check_tube(b"x")  # type: ignore[arg-type]


#: Every stats-job field with its own non-zero value: a field read from the wrong key shows.
DISTINCT_JOB = (
    b"---\nid: 300\ntube: emails\nstate: delayed\npri: 1024\nage: 11\ndelay: 12\nttr: 13\n"
    b"time-left: 14\nfile: 15\nreserves: 16\ntimeouts: 17\nreleases: 18\nburies: 19\nkicks: 20\n"
)
DISTINCT_DICT = {
    "id": 300, "tube": "emails", "state": "delayed", "pri": 1024, "age": 11, "delay": 12,
    "ttr": 13, "time-left": 14, "file": 15, "reserves": 16, "timeouts": 17, "releases": 18,
    "buries": 19, "kicks": 20,
}  # fmt: skip


@pytest.mark.parametrize(
    "body",
    [
        DISTINCT_JOB,
        DISTINCT_JOB.replace(b"tube: emails", b'tube: "emails"'),  # 1.13 quotes strings
        DISTINCT_JOB + b"new-key: x\n",  # a newer server: the general parser
    ],
)
def test_parse_stats_job_reads_every_field_from_its_own_key(body: bytes) -> None:
    stats = parse_stats_job(body)
    assert {k: stats[k] for k in DISTINCT_DICT} == DISTINCT_DICT
    assert list(stats)[:14] == list(DISTINCT_DICT)


def test_stats_job_fields_in_key_order() -> None:
    values = tuple(str(v).encode() for v in DISTINCT_DICT.values())
    wire = b"OK %d\r\n%b\r\n" % (len(DISTINCT_JOB), DISTINCT_JOB)
    m = STATS_JOB_REPLY.match(wire)
    assert m is not None and m.groups() == values
    assert stats_job_fields(DISTINCT_JOB + b"new-key: 1\n") == values
    assert tuple(DISTINCT_DICT) == STATS_JOB_KEYS
    with pytest.raises(ProtocolError, match=r"^stats-job reply lacks buries, kicks: not a"):
        stats_job_fields(DISTINCT_JOB.replace(b"buries: 19\nkicks: 20\n", b""))


def test_untrusted_stats_bytes_never_crash_the_parsers() -> None:
    bad = b"\xff\xfe"
    job = parse_stats_job(DISTINCT_JOB.replace(b"emails", b"em" + bad))
    assert job["tube"] == "em\ufffd\ufffd" and job["kicks"] == 20
    job = parse_stats_job(DISTINCT_JOB.replace(b"delayed", b"del" + bad))
    assert job["state"] == "del\ufffd\ufffd"
    assert parse_stats(b"---\nhostname: h" + bad + b"\n") == {"hostname": "h\ufffd\ufffd"}
    assert parse_list(b"---\n- t" + bad + b"\n") == ["t\ufffd\ufffd"]


def test_stats_values_holding_the_separator_and_empty_quotes() -> None:
    stats = parse_stats(b'---\nos: Linux: 6.1 #1 SMP\nversion: ""\nx: "\n')
    assert stats == {"os": "Linux: 6.1 #1 SMP", "version": "", "x": '"'}
    assert parse_list(b'---\n- ""\n- "\n- a\n') == ["", '"', "a"]


# --- the bulk readers' limit: never more replies than asked, the rest left in order ------------


def _loaded(data: bytes) -> ReplyParser:
    parser = ReplyParser()
    room = parser.get_buffer(len(data))
    room[: len(data)] = data
    parser.received(len(data))
    return parser


WIRE_JOB = b"OK %d\r\n%b\r\n" % (len(DISTINCT_JOB), DISTINCT_JOB)
FIELDS_300 = tuple(str(v).encode() for v in DISTINCT_DICT.values())


@pytest.mark.parametrize("limit", [1, 2, 3, 4, 5])
def test_read_stats_job_fields_returns_at_most_its_limit(limit: int) -> None:
    stream = [
        (WIRE_JOB, FIELDS_300),
        (b"NOT_FOUND\r\n", None),
        (b"INTERNAL_ERROR\r\n", Reply(b"INTERNAL_ERROR", [])),
        (b"OUT_OF_MEMORY\r\n", Reply(b"OUT_OF_MEMORY", [])),
        (WIRE_JOB, FIELDS_300),
    ]
    parser = _loaded(b"".join(wire for wire, _ in stream) + b"DELETED\r\n")
    expected = [item for _, item in stream]
    items = read_stats_job_fields(parser, limit)
    assert items == expected[:limit]
    assert read_stats_job_fields(parser, 5 - limit) == expected[limit:]
    assert parser.parse() == [Reply(b"DELETED", [])]


@pytest.mark.parametrize("limit", [1, 2, 3, 4, 5])
def test_read_peek_sizes_returns_at_most_its_limit(limit: int) -> None:
    stream = [
        (b"FOUND 128 3\r\nabc\r\n", 3),
        (b"NOT_FOUND\r\n", None),
        (b"INTERNAL_ERROR\r\n", Reply(b"INTERNAL_ERROR", [])),
        (b"UNKNOWN_COMMAND\r\n", Reply(b"UNKNOWN_COMMAND", [])),
        (b"FOUND 129 0\r\n\r\n", 0),
    ]
    parser = _loaded(b"".join(wire for wire, _ in stream) + b"DELETED\r\n")
    expected = [item for _, item in stream]
    assert read_peek_sizes(parser, 0) == []
    assert read_peek_sizes(parser, limit) == expected[:limit]
    assert read_peek_sizes(parser, 5 - limit) == expected[limit:]
    assert parser.parse() == [Reply(b"DELETED", [])]


@pytest.mark.parametrize("limit", [1, 2, 3])
def test_read_stats_tubes_returns_at_most_its_limit(limit: int) -> None:
    parser = _loaded(TUBE_STREAM[: -len(b"OK %d\r\n%b\r\n" % (len(ODD_TUBE), ODD_TUBE))] * 2)
    expected = [None, _general_tube(STATS_TUBE), Reply(b"INTERNAL_ERROR", [])] * 2
    assert read_stats_tubes(parser, limit) == expected[:limit]
    assert read_stats_tubes(parser, 6 - limit) == expected[limit:]
    assert parser.pending == 0


def test_complete_peek_replies_come_back_as_sizes() -> None:
    # Whole in the buffer, a FOUND is always its size (the last one too): no body is kept.
    parser = _loaded(b"FOUND 1 5\r\nhello\r\nFOUND 2 3\r\nabc\r\n")
    assert read_peek_sizes(parser, 10) == [5, 3]
    assert parser.pending == 0


def test_a_bulk_read_waits_for_a_body_still_arriving() -> None:
    parser = _loaded(b"NOT_FOUND\r\nFOUND 9 10\r\n01234")
    assert read_peek_sizes(parser, 5) == [None]
    assert read_peek_sizes(parser, 5) == []
    room = parser.get_buffer()
    room[:7] = b"56789\r\n"
    parser.received(7)
    items = read_peek_sizes(parser, 5)
    assert items in ([10], [Reply(b"FOUND", [b"9"], b"0123456789")])
    parser = _loaded(b"OK %d\r\n%b" % (len(DISTINCT_JOB), DISTINCT_JOB[:20]))
    assert read_stats_job_fields(parser, 3) == []
    assert parser.pending > 0


# --- properties: any valid stream, cut anywhere ---------------------------------------------------


@PROPERTY
@given(st.data())
def test_any_split_of_valid_replies_parses_to_exactly_those_replies(data: st.DataObject) -> None:
    pairs = data.draw(st.lists(replies(), min_size=1, max_size=30))
    stream = b"".join(wire for wire, _ in pairs)
    pieces = data.draw(splits(stream))
    parser = ReplyParser(size=16 * 1024)
    received = 0
    got: list[Reply] = []
    ends = list(itertools.accumulate(len(wire) for wire, _ in pairs))
    for piece in pieces:
        got += parser.feed(piece)
        received += len(piece)
        # Every reply whose last byte has arrived is out, and no other.
        assert len(got) == bisect.bisect_right(ends, received)
    assert got == [reply for _, reply in pairs]
    assert parser.pending == 0


@PROPERTY
@given(st.data())
def test_reads_into_the_parsers_buffer_give_the_same_replies(data: st.DataObject) -> None:
    stream, expected = data.draw(reply_streams())
    reads = data.draw(st.lists(st.integers(1, 40_000), min_size=1))
    parser = ReplyParser(size=16 * 1024)
    got: list[Reply] = []
    pos = 0
    while pos < len(stream):
        room = parser.get_buffer(-1)
        n = min(len(room), reads[pos % len(reads)], len(stream) - pos)
        room[:n] = stream[pos : pos + n]
        pos += n
        got += parser.buffer_updated(n)
    assert got == expected


@PROPERTY
@given(st.data())
def test_peek_sizes_over_any_split_mean_the_same_replies(data: st.DataObject) -> None:
    stream, expected = data.draw(reply_streams())
    pieces = data.draw(splits(stream))
    parser = ReplyParser(size=16 * 1024)
    items: list[object] = []
    for piece in pieces:
        while piece:  # a read is at most the room the parser offers
            room = parser.get_buffer(len(piece))
            n = min(len(room), len(piece))
            room[:n] = piece[:n]
            parser.received(n)
            piece = piece[n:]
            items += read_peek_sizes(parser, len(expected) - len(items))
    # A FOUND whole in the buffer is its body size; one that arrived in parts may be the
    # Reply itself. Every other reply is what the general parser reads.
    assert len(items) == len(expected)
    for item, reply in zip(items, expected, strict=True):
        if reply.status == b"FOUND" and not isinstance(item, Reply):
            assert item == len(reply.body or b"")
        elif reply.status == b"NOT_FOUND":
            assert item is None
        else:
            assert item == reply
    assert parser.pending == 0
