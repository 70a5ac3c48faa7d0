"""The sans-I/O core: reply parsing from bytes alone, encoding, validation, stats parsing."""

from __future__ import annotations

import pytest

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
    STATS_JOB_KEYS,
    STATS_JOB_REPLY,
    Reply,
    ReplyParser,
    check_tube,
    encode_peeks,
    encode_stats_jobs,
    parse_list,
    parse_stats,
    parse_stats_job,
    parse_stats_tube,
    read_stats_tubes,
    stats_job_fields,
)

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
        (lambda: cmd.put(b"", 0, 1.5, 1), TypeError, "delay must be an int, not float"),
        (lambda: cmd.put(b"", True, 0, 1), TypeError, "priority must be an int, not bool"),
        (lambda: cmd.reserve(-1), ValueError, "timeout -1 is out of range"),
        (lambda: cmd.delete(-5), ValueError, "job id -5 is out of range"),
        (lambda: cmd.peek("7"), TypeError, "job id must be an int, not str"),
        (lambda: cmd.kick(-1), ValueError, "kick bound -1 is out of range"),
        (lambda: cmd.pause_tube("t", -1), ValueError, "pause delay -1 is out of range"),
        (lambda: cmd.encode_body("text", None), TypeError, "encoding=None: pass bytes"),
        (lambda: cmd.encode_body(3, "utf-8"), TypeError, "must be str or bytes, not int"),
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
