"""The beanstalkd protocol without I/O: encode commands, parse replies from bytes.

Nothing here touches a socket, so every piece is testable by feeding bytes,
one at a time if need be. The reply parser does not need to know which command
was sent: the reply word alone says whether a body follows (``RESERVED``,
``FOUND`` and ``OK`` carry one, every other word does not).
"""

from __future__ import annotations

import re
from typing import Any, NamedTuple

from stalkview.client.errors import ProtocolError

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

_TUBE_NAME = re.compile(rb"[A-Za-z0-9\-+/;.$_()]+")


class Reply(NamedTuple):
    """One complete reply: the word, its arguments, and the body if it has one."""

    status: bytes
    args: list[bytes]
    body: bytes | None = None


class ReplyParser:
    """Incremental reply parser: feed it bytes, get back the complete replies.

    Raises :class:`ProtocolError` on bytes that cannot be a reply; after that the
    stream has no recoverable boundary and the connection must be closed.
    """

    __slots__ = ("_buf", "_need")

    def __init__(self) -> None:
        self._buf = bytearray()
        # While waiting for a body, the (status, args, size) of its header.
        self._need: tuple[bytes, list[bytes], int] | None = None

    @property
    def pending(self) -> int:
        """Bytes received but not yet part of a complete reply."""
        return len(self._buf)

    def feed(self, data: bytes) -> list[Reply]:
        buf = self._buf
        buf += data
        replies: list[Reply] = []
        pos = 0
        end = len(buf)
        while pos < end:
            need = self._need
            if need is not None:
                status, args, size = need
                stop = pos + size
                if end < stop + 2:
                    break
                if buf[stop : stop + 2] != b"\r\n":
                    raise ProtocolError(
                        f"{status.decode()} body of {size} bytes is not followed by CRLF"
                    )
                replies.append(Reply(status, args, bytes(buf[pos:stop])))
                pos = stop + 2
                self._need = None
                continue
            eol = buf.find(b"\r\n", pos)
            if eol < 0:
                if end - pos > MAX_REPLY_LINE:
                    raise ProtocolError(
                        f"reply line longer than {MAX_REPLY_LINE} bytes without CRLF"
                    )
                break
            line = bytes(buf[pos:eol])
            pos = eol + 2
            parts = line.split(b" ")
            status = parts[0]
            if not status:
                raise ProtocolError(f"malformed reply line {line!r}")
            if status in BODY_REPLIES:
                try:
                    size = int(parts[-1])
                except ValueError:
                    size = -1
                if len(parts) < 2 or size < 0:
                    raise ProtocolError(f"malformed reply line {line!r}: no body size")
                self._need = (status, parts[1:-1], size)
            else:
                replies.append(Reply(status, parts[1:]))
        if pos:
            del buf[:pos]
        return replies


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


def encode_line(*words: bytes | str | int) -> bytes:
    """A command line from its words; ints and strs are written as ASCII."""
    parts = [
        w if isinstance(w, bytes) else (str(w).encode("ascii")) for w in words
    ]
    return b" ".join(parts) + b"\r\n"


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


def parse_stats(body: bytes, *, string_keys: frozenset[str] = STRING_STATS) -> dict[str, Any]:
    """Parse the YAML-ish dict beanstalkd sends for stats, stats-job, stats-tube.

    Split by hand at the first ``": "``: a YAML library trips on 1.12's unquoted
    ``os`` value (``#1 SMP ...`` reads as a comment) and would turn a tube
    named ``123`` into a number.
    """
    stats: dict[str, Any] = {}
    for line in body.decode("utf-8", "replace").splitlines():
        key, sep, value = line.partition(": ")
        if not sep:
            continue
        if len(value) >= 2 and value[0] == value[-1] == '"':
            value = value[1:-1]
        if key not in string_keys:
            try:
                stats[key] = int(value)
                continue
            except ValueError:
                pass
        stats[key] = value
    return stats


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
