"""The beanstalkd protocol without I/O: encode commands, parse replies from bytes.

Nothing here touches a socket, so every piece is testable by feeding bytes,
one at a time if need be. The reply parser does not need to know which command
was sent: the reply word alone says whether a body follows (``RESERVED``,
``FOUND`` and ``OK`` carry one, every other word does not).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any, NamedTuple

from stalkview.client.errors import MalformedReplyError, ProtocolError, ReplyTooLargeError

#: Reply words followed by ``<bytes>\r\n<data>\r\n``.
BODY_REPLIES = frozenset({b"RESERVED", b"FOUND", b"OK"})

DEFAULT_PRIORITY = 2**16
DEFAULT_DELAY = 0
DEFAULT_TTR = 60
MAX_PRIORITY = 2**32 - 1
#: delay, ttr and timeouts are unsigned 32-bit on the server.
MAX_SECONDS = 2**32 - 1
MAX_TUBE_NAME = 200
#: The server rejects command lines longer than this (including the CRLF).
MAX_COMMAND_LINE = 224
#: A reply line longer than this is not something beanstalkd sends; the
#: parser stops looking for its end rather than buffering without bound.
MAX_REPLY_LINE = 1024

_FOUND_LINE = re.compile(rb"FOUND \d+ (\d+)\r\n")
_TUBE_NAME = re.compile(rb"[A-Za-z0-9\-+/;.$_()]+")


class Reply(NamedTuple):
    """One complete reply: the word, its arguments, and the body if it has one."""

    status: bytes
    args: list[bytes]
    body: bytes | None = None


# NamedTuple's generated __new__ is a Python function; building the tuple
# directly skips a frame per reply, which shows when parsing 100,000 replies/s.
_new_reply = tuple.__new__

#: Start with a buffer this big: one read can take a whole pipelined burst.
BUFFER_SIZE = 256 * 1024
#: Never offer the socket less room than this for one read.
MIN_READ = 16 * 1024
#: The largest reply body accepted unless the client says otherwise. A server
#: is untrusted: without a cap, ``OK 4294967296`` and a stream of bytes would
#: take all the memory there is.
DEFAULT_MAX_REPLY = 64 * 1024 * 1024
#: Added to the server's ``max-job-size`` to cap job bodies (peek, reserve)
#: once ``stats`` has told it: room for a server that counts a little differently.
JOB_SIZE_SLACK = 64 * 1024
#: Replies that carry a job body (capped by ``max-job-size`` once it is known).
JOB_REPLIES = frozenset({b"RESERVED", b"FOUND"})


class ReplyParser:
    """Incremental reply parser: give it bytes, get back the complete replies.

    Two ways in: :meth:`feed` takes bytes (tests, any transport), and
    :meth:`get_buffer` / :meth:`buffer_updated` let the socket read straight
    into the parser's own buffer (``asyncio.BufferedProtocol``), so no bytes
    object is allocated per read.

    Raises :class:`ProtocolError` on bytes that cannot be a reply; after that the
    stream has no recoverable boundary and the connection must be closed.
    """

    __slots__ = ("_buf", "_end", "_need", "_start", "_view", "max_job_body", "max_reply")

    def __init__(
        self,
        size: int = BUFFER_SIZE,
        *,
        max_reply: int = DEFAULT_MAX_REPLY,
        max_job_body: int | None = None,
    ) -> None:
        #: The largest body any reply may declare; a larger one is a
        #: :class:`ReplyTooLargeError` before a byte of it is stored.
        self.max_reply = max_reply
        #: The largest job body (``FOUND``/``RESERVED``), when smaller than
        #: ``max_reply``: the server's ``max-job-size`` plus slack, once known.
        self.max_job_body = max_job_body
        self._buf = bytearray(max(min(size, max_reply + MAX_REPLY_LINE + MIN_READ), MIN_READ))
        # A persistent view for slicing without copies. It pins the bytearray's
        # size, so the buffer is replaced, never resized.
        self._view = memoryview(self._buf)
        self._start = 0  # first unparsed byte
        self._end = 0  # end of received bytes
        # While waiting for a body, the (status, args, size) of its header.
        self._need: tuple[bytes, list[bytes], int] | None = None

    @property
    def capacity(self) -> int:
        """Bytes the buffer holds room for (what the parser costs in memory)."""
        return len(self._buf)

    @property
    def pending(self) -> int:
        """Bytes received but not yet part of a complete reply."""
        return self._end - self._start

    def feed(self, data: bytes | bytearray | memoryview) -> list[Reply]:
        """Add received bytes; return the replies they complete, in order."""
        replies: list[Reply] = []
        src = memoryview(data).cast("B")
        while src:
            room = self.get_buffer(len(src))
            n = min(len(room), len(src))
            room[:n] = src[:n]
            replies += self.buffer_updated(n)
            src = src[n:]
        return replies

    def get_buffer(self, sizehint: int = -1) -> memoryview:
        """Writable room for the next read (``BufferedProtocol.get_buffer``)."""
        if len(self._buf) - self._end < MIN_READ:
            self._make_room()
        return self._view[self._end :]

    def buffer_updated(self, nbytes: int) -> list[Reply]:
        """``nbytes`` were written into the last :meth:`get_buffer`; parse them."""
        self._end += nbytes
        return self._parse(-1)

    def _make_room(self) -> None:
        # The buffer grows with the bytes that actually arrived, never with a
        # size a reply declares: a server that declares 4 GiB and sends
        # nothing costs nothing. Doubling keeps the copies amortised; the
        # ceiling keeps the doubling from overshooting the cap.
        live = self._end - self._start
        want = live + MIN_READ
        if want <= len(self._buf):
            # Equal-size slice assignment: allowed even while views exist.
            self._buf[:live] = bytes(self._view[self._start : self._end])
        else:
            ceiling = self.max_reply + 2 * MAX_REPLY_LINE + MIN_READ
            buf = bytearray(max(want, min(2 * len(self._buf), ceiling)))
            buf[:live] = self._view[self._start : self._end]
            self._buf = buf
            self._view = memoryview(buf)
        self._start = 0
        self._end = live

    def received(self, nbytes: int) -> None:
        """``nbytes`` were written into the last :meth:`get_buffer`; parse them later."""
        self._end += nbytes

    def parse(self, limit: int = -1) -> list[Reply]:
        """The complete replies received so far, at most ``limit`` of them (-1: all)."""
        return self._parse(limit)

    def parse_matching(self, pattern: re.Pattern[bytes], limit: int) -> list[Any]:
        """Up to ``limit`` complete replies, each read by ``pattern`` where it can be.

        The bulk path for thousands of small, same-shaped replies (an id scan's
        stats-job): no Reply tuple, no body slice, no per-reply decoder call.
        ``pattern`` must match one whole reply (status line, body and CRLF).
        Each reply becomes, in order:

        - ``m.groups()`` when the pattern matched and captured something;
        - ``None`` when it matched without capturing (e.g. ``NOT_FOUND``);
        - a :class:`Reply` from the general parser otherwise (an error word, a
          body in a layout the pattern does not know, a reply split across reads),
          so an unexpected reply is never misread, only read the slow way.
        """
        out: list[Any] = []
        if limit == 0:
            return out
        start = self._start
        end = self._end
        if self._need is not None and end - start < self._need[2] + 2:
            return out
        data = bytes(self._view[start:end])
        size = len(data)
        append = out.append
        match = pattern.match
        i = 0
        left = limit
        while left and i < size:
            if self._need is None:
                m = match(data, i)
                if m is not None:
                    append(m.groups() if m.lastindex else None)
                    i = m.end()
                    left -= 1
                    continue
            before = len(out)
            i = self._parse_data(data, i, 1, out)
            if len(out) == before:
                break  # an incomplete reply: wait for more bytes
            left -= 1
        self._consumed(start, i, size)
        return out

    def parse_peek_sizes(self, limit: int) -> list[Any]:
        """Up to ``limit`` complete peek replies as body sizes, the bodies skipped.

        An existence check's bulk path: ``FOUND`` becomes the body's size,
        ``NOT_FOUND`` becomes ``None``, any other reply a :class:`Reply`.
        """
        out: list[Any] = []
        start = self._start
        end = self._end
        if limit == 0 or (self._need is not None and end - start < self._need[2] + 2):
            return out
        data = bytes(self._view[start:end])
        size = len(data)
        append = out.append
        found = _FOUND_LINE.match
        i = 0
        left = limit
        while left and i < size:
            if self._need is None:
                if data.startswith(b"NOT_FOUND\r\n", i):
                    append(None)
                    i += 11
                    left -= 1
                    continue
                m = found(data, i)
                if m is not None:
                    body = m.end()
                    stop = body + int(m[1])
                    if stop + 2 <= size:
                        if data[stop : stop + 2] != b"\r\n":
                            raise ProtocolError(
                                f"FOUND body of {stop - body} bytes is not followed by CRLF"
                            )
                        append(stop - body)
                        i = stop + 2
                        left -= 1
                        continue
                    # A body still arriving: the general parser waits for it
                    # without copying it again on every read.
            before = len(out)
            i = self._parse_data(data, i, 1, out)
            if len(out) == before:
                break
            left -= 1
        self._consumed(start, i, size)
        return out

    def _check_size(self, status: bytes, length: int) -> None:
        cap = self.max_reply
        job_cap = self.max_job_body
        if job_cap is not None and length > job_cap and job_cap < cap and status in JOB_REPLIES:
            raise ReplyTooLargeError(
                f"{status.decode()} reply declares a {length:,}-byte job body, more "
                f"than the server's max-job-size allows ({job_cap:,} bytes with slack)"
            )
        if length > cap:
            raise ReplyTooLargeError(
                f"{status.decode()} reply declares {length:,} bytes, more than the "
                f"{cap:,}-byte limit (raise the client's max_reply if the server is trusted)"
            )

    def _consumed(self, start: int, i: int, size: int) -> None:
        if i == size and self._need is None:
            self._start = self._end = 0
        else:
            self._start = start + i

    def _parse(self, limit: int = -1) -> list[Reply]:
        pos = self._start
        end = self._end
        if self._need is not None and end - pos < self._need[2] + 2:
            return []  # a big body still arriving: do not copy it on every read
        # One copy of the unparsed bytes into an immutable bytes object: slices
        # of it are bytes at once (hashable words, bodies) with no view objects.
        data = bytes(self._view[pos:end])
        replies: list[Reply] = []
        i = self._parse_data(data, 0, limit, replies)
        self._consumed(pos, i, len(data))
        return replies

    def _parse_data(self, data: bytes, i: int, limit: int, replies: list[Any]) -> int:
        """Append up to ``limit`` replies parsed from ``data[i:]``; return where parsing stopped."""
        append = replies.append
        size = len(data)
        stop_at = len(replies) + limit if limit >= 0 else -1
        while i < size and len(replies) != stop_at:
            need = self._need
            if need is not None:
                status, args, length = need
                stop = i + length
                if size < stop + 2:
                    break
                if data[stop : stop + 2] != b"\r\n":
                    raise ProtocolError(
                        f"{status.decode()} body of {length} bytes is not followed by CRLF"
                    )
                append(_new_reply(Reply, (status, args, data[i:stop])))
                i = stop + 2
                self._need = None
                continue
            eol = data.find(b"\r\n", i)
            if eol < 0 or eol - i > MAX_REPLY_LINE:
                # A line at the limit may have its CR here and its LF still on the way.
                longest = MAX_REPLY_LINE + 1 if data.endswith(b"\r") else MAX_REPLY_LINE
                if eol >= 0 or size - i > longest:
                    raise ProtocolError(
                        f"reply line longer than {MAX_REPLY_LINE} bytes without CRLF"
                    )
                break
            parts = data[i:eol].split(b" ")
            status = parts[0]
            if status not in BODY_REPLIES:
                if not status:
                    raise ProtocolError(f"malformed reply line {data[i:eol]!r}")
                append(_new_reply(Reply, (status, parts[1:], None)))
                i = eol + 2
                continue
            size_word = parts[-1] if len(parts) > 1 else b""
            # isdigit, not int(): int() also takes "+5", "1_0" and " 5".
            if not size_word.isdigit():
                raise ProtocolError(f"malformed reply line {data[i:eol]!r}: no body size")
            length = int(size_word)
            self._check_size(status, length)
            i = eol + 2
            stop = i + length
            if stop + 2 <= size and data[stop : stop + 2] == b"\r\n":
                # Fast path: the whole body is here.
                append(_new_reply(Reply, (status, parts[1:-1], data[i:stop])))
                i = stop + 2
            else:
                self._need = (status, parts[1:-1], length)
        return i


# --- validation -------------------------------------------------------------


def check_tube(name: str) -> bytes:
    """Return the tube name as bytes, or raise ValueError saying what is wrong."""
    if not isinstance(name, str):
        raise TypeError(f"tube name must be a str, not {type(name).__name__}")
    if not name:
        raise ValueError("tube name is empty: names are 1-200 characters")
    try:
        raw = name.encode("ascii")
    except UnicodeEncodeError:
        raise ValueError(
            f"tube name {name!r} is invalid: only A-Z a-z 0-9 and - + / ; . $ _ ( ) are allowed"
        ) from None
    if len(raw) > MAX_TUBE_NAME:
        raise ValueError(
            f"tube name {name[:20]!r}... is {len(raw)} characters long: the limit is 200"
        )
    if not _TUBE_NAME.fullmatch(raw):
        bad = sorted({chr(c) for c in raw if not _TUBE_NAME.fullmatch(bytes([c]))})
        raise ValueError(
            f"tube name {name!r} is invalid: {''.join(bad)!r} not allowed; "
            "use only A-Z a-z 0-9 and - + / ; . $ _ ( )"
        )
    if raw.startswith(b"-"):
        raise ValueError(f"tube name {name!r} is invalid: names may not start with '-'")
    return raw


def _check_uint(what: str, value: int, limit: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{what} must be an int, not {type(value).__name__}")
    if not 0 <= value <= limit:
        raise ValueError(f"{what} {value} is out of range: use 0 to {limit}")
    return value


def check_priority(priority: int) -> int:
    return _check_uint("priority", priority, MAX_PRIORITY)


def check_seconds(what: str, value: int) -> int:
    return _check_uint(what, value, MAX_SECONDS)


def check_job_id(job_id: int) -> int:
    if isinstance(job_id, bool) or not isinstance(job_id, int):
        raise TypeError(f"job id must be an int, not {type(job_id).__name__}")
    if job_id < 0 or job_id > 2**64 - 1:
        raise ValueError(f"job id {job_id} is out of range: ids are positive integers")
    return job_id


# --- encoding ---------------------------------------------------------------


def encode_put(body: bytes, priority: int, delay: int, ttr: int) -> bytes:
    return b"put %d %d %d %d\r\n%b\r\n" % (priority, delay, ttr, len(body), body)


# --- reply bodies -----------------------------------------------------------

#: Keys of `stats` / `stats-tube` whose values are text even when they look numeric.
STRING_STATS = frozenset(
    {
        "name",
        "tube",
        "state",
        "version",
        "hostname",
        "os",
        "platform",
        "draining",
        "rusage-utime",
        "rusage-stime",
    }
)


#: Keys of `stats` that hold counts in every beanstalkd since 1.10: a value
#: that is not a number there is a malformed reply, not a new kind of value.
SERVER_NUMERIC_STATS = frozenset(
    {
        "current-jobs-urgent", "current-jobs-ready", "current-jobs-reserved",
        "current-jobs-delayed", "current-jobs-buried", "cmd-put", "cmd-peek",
        "cmd-peek-ready", "cmd-peek-delayed", "cmd-peek-buried", "cmd-reserve",
        "cmd-reserve-with-timeout", "cmd-delete", "cmd-release", "cmd-use", "cmd-watch",
        "cmd-ignore", "cmd-bury", "cmd-kick", "cmd-touch", "cmd-stats", "cmd-stats-job",
        "cmd-stats-tube", "cmd-list-tubes", "cmd-list-tube-used", "cmd-list-tubes-watched",
        "cmd-pause-tube", "job-timeouts", "total-jobs", "max-job-size", "current-tubes",
        "current-connections", "current-producers", "current-workers", "current-waiting",
        "total-connections", "pid", "uptime", "binlog-oldest-index", "binlog-current-index",
        "binlog-records-migrated", "binlog-records-written", "binlog-max-size",
    }
)  # fmt: skip


def parse_stats(
    body: bytes,
    *,
    string_keys: frozenset[str] = STRING_STATS,
    numeric_keys: frozenset[str] = frozenset(),
) -> dict[str, Any]:
    """Parse the YAML-ish dict beanstalkd sends for stats, stats-job, stats-tube.

    Split by hand at the first ``": "``: a YAML library trips on 1.12's unquoted
    ``os`` value (``#1 SMP ...`` reads as a comment) and would turn a tube
    named ``123`` into a number. A key of ``numeric_keys`` whose value is not
    a plain number raises :class:`MalformedReplyError`: callers do arithmetic
    with those, and a server is not trusted to send what it should.
    """
    stats: dict[str, Any] = {}
    for line in body.decode("utf-8", "replace").splitlines():
        key, sep, value = line.partition(": ")
        if not sep:
            continue
        if len(value) >= 2 and value[0] == value[-1] == '"':
            value = value[1:-1]
        if key not in string_keys:
            number = _stat_int(value)
            if number is not None:
                stats[key] = number
                continue
            if key in numeric_keys:
                raise MalformedReplyError(
                    f"stats reply has {key}: {value[:40]!r}, not a number "
                    "(a broken or hostile server?)"
                )
        stats[key] = value
    return stats


def _stat_int(value: str) -> int | None:
    # Only plain ASCII digits (an optional minus): int() alone would also take
    # "1_000", " 5" and Arabic-Indic digits, and raise on 5,000-digit values.
    digits = value[1:] if value.startswith("-") else value
    if not digits.isascii() or not digits.isdigit() or len(digits) > 30:
        return None
    return int(value)


def parse_list(body: bytes) -> list[str]:
    """Parse the YAML list of list-tubes / list-tubes-watched."""
    items = []
    for line in body.decode("utf-8", "replace").splitlines():
        if line.startswith("- "):
            item = line[2:]
            if len(item) >= 2 and item[0] == item[-1] == '"':
                item = item[1:-1]
            items.append(item)
    return items


#: The keys of a stats-job reply, in the order beanstalkd (1.10-1.13) sends them.
_JOB_STATS_KEYS = [
    b"id", b"tube", b"state", b"pri", b"age", b"delay", b"ttr", b"time-left",
    b"file", b"reserves", b"timeouts", b"releases", b"buries", b"kicks",
]  # fmt: skip
_JOB_STRING_KEYS = frozenset({"tube", "state"})
_JOB_NUMERIC_KEYS = frozenset(k.decode("ascii") for k in _JOB_STATS_KEYS) - _JOB_STRING_KEYS


def parse_stats_job(body: bytes) -> dict[str, Any]:
    """Parse a stats-job body; same result as :func:`parse_stats`, about twice as fast.

    The inventory stat's every job id, so this is the hot path: with the
    server's usual layout (known keys in a known order) the dict is built in
    one expression; anything else goes through the general parser.
    """
    parts = body.replace(b": ", b"\n").split(b"\n")
    if parts[1:-1:2] != _JOB_STATS_KEYS or b'"' in body:
        return _parse_stats_job_slowly(body)
    v = parts[2::2]
    try:
        return _stats_job_dict(v)
    except ValueError:  # a value that is not a number: say which one
        return _parse_stats_job_slowly(body)


def _parse_stats_job_slowly(body: bytes) -> dict[str, Any]:
    stats = parse_stats(body, string_keys=_JOB_STRING_KEYS, numeric_keys=_JOB_NUMERIC_KEYS)
    if "id" not in stats or "state" not in stats:
        raise MalformedReplyError(
            f"stats-job reply lacks {'id' if 'id' not in stats else 'state'}: "
            "not a beanstalkd job stats body"
        )
    return stats


def _stats_job_dict(v: list[bytes]) -> dict[str, Any]:
    return {
        "id": int(v[0]),
        "tube": v[1].decode("utf-8", "replace"),
        "state": v[2].decode("utf-8", "replace"),
        "pri": int(v[3]),
        "age": int(v[4]),
        "delay": int(v[5]),
        "ttr": int(v[6]),
        "time-left": int(v[7]),
        "file": int(v[8]),
        "reserves": int(v[9]),
        "timeouts": int(v[10]),
        "releases": int(v[11]),
        "buries": int(v[12]),
        "kicks": int(v[13]),
    }


#: The numeric keys of a stats-tube reply, in the order beanstalkd (1.10-1.13) sends them.
STATS_TUBE_KEYS = (
    "current-jobs-urgent", "current-jobs-ready", "current-jobs-reserved",
    "current-jobs-delayed", "current-jobs-buried", "total-jobs", "current-using",
    "current-watching", "current-waiting", "cmd-delete", "cmd-pause-tube", "pause",
    "pause-time-left",
)  # fmt: skip
_TUBE_STRING_KEYS = frozenset({"name"})

#: A whole stats-tube body in the server's usual layout. The name may be quoted
#: (1.13 quotes strings), but only on both sides: the backreference keeps a
#: lone quote for the general parser, which keeps it as part of the value.
STATS_TUBE_BODY = re.compile(
    rb'---\nname: ("?)([A-Za-z0-9\-+/;.$_()]+)\1\n'
    + b"".join(b"%b: (\\d+)\\n" % k.encode("ascii") for k in STATS_TUBE_KEYS)
)


def parse_stats_tube(body: bytes) -> dict[str, Any]:
    """Parse a stats-tube body; same result as :func:`parse_stats`, about three times faster.

    A refresh reads one of these per tube (1,000 tubes a second is a target),
    so the server's usual layout is read by one compiled pattern; any other
    layout (a new key, a missing one, another order) goes through the general parser.
    """
    m = STATS_TUBE_BODY.fullmatch(body)
    if m is None:
        return parse_stats(
            body, string_keys=_TUBE_STRING_KEYS, numeric_keys=frozenset(STATS_TUBE_KEYS)
        )
    return stats_tube_dict(m.groups())


def stats_tube_dict(v: Sequence[bytes]) -> dict[str, Any]:
    """The stats-tube dict from the groups of :data:`STATS_TUBE_BODY` (or ``_REPLY``)."""
    # A dict display: several times cheaper than update(zip(...)) for 14 keys.
    return {
        "name": v[1].decode("ascii"),
        "current-jobs-urgent": int(v[2]),
        "current-jobs-ready": int(v[3]),
        "current-jobs-reserved": int(v[4]),
        "current-jobs-delayed": int(v[5]),
        "current-jobs-buried": int(v[6]),
        "total-jobs": int(v[7]),
        "current-using": int(v[8]),
        "current-watching": int(v[9]),
        "current-waiting": int(v[10]),
        "cmd-delete": int(v[11]),
        "cmd-pause-tube": int(v[12]),
        "pause": int(v[13]),
        "pause-time-left": int(v[14]),
    }


#: One whole stats-tube reply in the server's usual layout, for
#: :meth:`ReplyParser.parse_matching`: ``NOT_FOUND`` captures nothing; ``OK``
#: captures what :func:`stats_tube_dict` takes. Anything else goes to the general parser.
STATS_TUBE_REPLY = re.compile(rb"NOT_FOUND\r\n|OK \d+\r\n" + STATS_TUBE_BODY.pattern + rb"\r\n")


def read_stats_tubes(parser: ReplyParser, limit: int) -> list[Any]:
    """A bulk reader (``Connection.send_bulk``): stats-tube replies by :data:`STATS_TUBE_REPLY`.

    Each becomes its stats dict, ``None`` (NOT_FOUND) or a :class:`Reply` (anything
    else). The dicts are built here, as the replies arrive, so that work overlaps
    the server's writing the rest instead of following the last reply.
    """
    items = parser.parse_matching(STATS_TUBE_REPLY, limit)
    return [stats_tube_dict(i) if i.__class__ is tuple else i for i in items]


#: One whole stats-job reply in the server's usual layout, for
#: :meth:`ReplyParser.parse_matching`: ``NOT_FOUND`` captures nothing; ``OK``
#: captures the 14 field values (bytes) in :data:`STATS_JOB_KEYS` order. Tube
#: and state may be quoted (1.13 quotes strings). Any other layout, and any
#: other reply, fails to match and goes to the general parser.
STATS_JOB_REPLY = re.compile(
    (
        rb"NOT_FOUND\r\n"
        rb"|OK \d+\r\n---\nid: (\d+)\ntube: \"?([^\"\n]*)\"?\nstate: \"?(\w+)\"?\npri: (\d+)\n"
        rb"age: (\d+)\ndelay: (\d+)\nttr: (\d+)\ntime-left: (\d+)\nfile: (\d+)\nreserves: (\d+)\n"
        rb"timeouts: (\d+)\nreleases: (\d+)\nburies: (\d+)\nkicks: (\d+)\n\r\n"
    )
    # At most 20 digits (a 64-bit number): a longer run is not a server's
    # counter, and the general parser says so instead of int() choking on it.
    .replace(rb"(\d+)", rb"(\d{1,20})")
)


def read_stats_job_fields(parser: ReplyParser, limit: int) -> list[Any]:
    """A bulk reader (``Connection.send_bulk``): stats-job replies by :data:`STATS_JOB_REPLY`."""
    return parser.parse_matching(STATS_JOB_REPLY, limit)


def read_peek_sizes(parser: ReplyParser, limit: int) -> list[Any]:
    """A bulk reader (``Connection.send_bulk``): peek replies as body sizes."""
    return parser.parse_peek_sizes(limit)


#: The stats-job keys, in the order of :data:`STATS_JOB_REPLY`'s groups.
STATS_JOB_KEYS = tuple(k.decode("ascii") for k in _JOB_STATS_KEYS)


def stats_job_fields(body: bytes) -> tuple[bytes, ...]:
    """A stats-job body in any layout as the field tuple :data:`STATS_JOB_REPLY` captures.

    The slow path of a bulk read, for bodies the pattern does not know.
    """
    stats = parse_stats(body, string_keys=_JOB_STRING_KEYS, numeric_keys=_JOB_NUMERIC_KEYS)
    missing = [k for k in STATS_JOB_KEYS if k not in stats]
    if missing:
        raise MalformedReplyError(
            f"stats-job reply lacks {', '.join(missing)}: not a beanstalkd 1.10+ job stats body"
        )
    return tuple(str(stats[k]).encode("utf-8") for k in STATS_JOB_KEYS)


def encode_stats_jobs(ids: Sequence[int]) -> bytes:
    """``stats-job`` for every id, as one byte string (one % for the whole batch)."""
    return (b"stats-job %d\r\n" * len(ids)) % tuple(ids)


def encode_peeks(ids: Sequence[int]) -> bytes:
    """``peek`` for every id, as one byte string."""
    return (b"peek %d\r\n" * len(ids)) % tuple(ids)
