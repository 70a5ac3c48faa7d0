"""Hypothesis strategies shared by the property tests (parser, search, fault injection).

- :func:`reply_streams`: valid beanstalkd reply streams with the replies they must parse to.
- :func:`splits`: the same bytes cut into random reads.
- :func:`jobs`: random jobs (``tests.factories.FakeJob``) for the search language.

:data:`PROPERTY` is the settings every property test here uses: 200 examples, no deadline (the
machine is shared), and only 20 under mutation testing, where each mutant reruns the tests.
"""

from __future__ import annotations

import itertools
import os

from hypothesis import settings
from hypothesis import strategies as st

from stalkview.client.protocol import Reply
from stalkview.model.joblike import JOB_STATES
from tests.factories import FakeJob

PROPERTY = settings(
    max_examples=20 if "MUTANT_UNDER_TEST" in os.environ else 200,
    deadline=None,
)

#: Job ids as the server may send them: small, around a byte's edges, up to 2^64 - 1.
job_ids = st.one_of(st.integers(1, 300), st.sampled_from([127, 128, 255, 256, 2**63, 2**64 - 1]))
#: Tube names: the server's alphabet, 1-200 bytes, not starting with '-'.
tube_names = st.from_regex(r"[A-Za-z0-9+/;.$_()][A-Za-z0-9\-+/;.$_()]{0,30}", fullmatch=True)
#: Bodies: any bytes, often ones that look like protocol (CRLF, reply words), sometimes
#: bigger than a parser's smallest buffer (16 KiB).
bodies = st.one_of(
    st.binary(max_size=300),
    st.lists(st.sampled_from([b"\r\n", b"\r", b"\n", b"OK 3", b"FOUND 1 2", b" ", b"x"])).map(
        b"".join
    ),
    st.builds(
        lambda n, tail: b"ab\r\n" * n + tail, st.integers(4_000, 12_000), st.binary(max_size=3)
    ),
)


def _line(status: bytes, *args: bytes) -> bytes:
    return b" ".join((status, *args)) + b"\r\n"


@st.composite
def replies(draw: st.DrawFn) -> tuple[bytes, Reply]:
    """One valid reply: its bytes on the wire and the :class:`Reply` it parses to."""
    kind = draw(st.sampled_from(["id", "tube", "count", "word", "reserved", "found", "ok"]))
    if kind == "id":
        status = draw(st.sampled_from([b"INSERTED", b"BURIED", b"KICKED"]))
        arg = b"%d" % draw(job_ids)
        return _line(status, arg), Reply(status, [arg])
    if kind == "tube":
        status = draw(st.sampled_from([b"USING", b"WATCHING"]))
        arg = draw(tube_names).encode("ascii")
        return _line(status, arg), Reply(status, [arg])
    if kind == "count":
        arg = b"%d" % draw(st.integers(0, 2**32 - 1))
        return _line(b"KICKED", arg), Reply(b"KICKED", [arg])
    if kind == "word":
        status = draw(
            st.sampled_from(
                [b"DELETED", b"RELEASED", b"TOUCHED", b"PAUSED", b"NOT_FOUND", b"TIMED_OUT",
                 b"DEADLINE_SOON", b"OUT_OF_MEMORY", b"INTERNAL_ERROR", b"BAD_FORMAT",
                 b"UNKNOWN_COMMAND", b"JOB_TOO_BIG", b"DRAINING", b"NOT_IGNORED"]
            )
        )  # fmt: skip
        return _line(status), Reply(status, [])
    body = draw(bodies)
    size = b"%d" % len(body)
    if kind == "ok":
        return _line(b"OK", size) + body + b"\r\n", Reply(b"OK", [], body)
    status = b"RESERVED" if kind == "reserved" else b"FOUND"
    arg = b"%d" % draw(job_ids)
    return _line(status, arg, size) + body + b"\r\n", Reply(status, [arg], body)


@st.composite
def reply_streams(draw: st.DrawFn, max_replies: int = 30) -> tuple[bytes, list[Reply]]:
    """Several replies back to back: (the stream, the replies it must parse to, in order)."""
    pairs = draw(st.lists(replies(), min_size=1, max_size=max_replies))
    return b"".join(wire for wire, _ in pairs), [reply for _, reply in pairs]


@st.composite
def splits(draw: st.DrawFn, data: bytes) -> list[bytes]:
    """``data`` cut at random points (empty pieces included): the reads a socket may return."""
    cuts = sorted(draw(st.lists(st.integers(0, len(data)), max_size=20)))
    edges = [0, *cuts, len(data)]
    return [data[a:b] for a, b in itertools.pairwise(edges)]


#: Values that sit on the edges the search language compares against.
_small = st.sampled_from([0, 1, 2, 3, 4, 5, 6, 59, 60, 61, 100, 1024, 3600])


@st.composite
def jobs(draw: st.DrawFn) -> FakeJob:
    """A job with stats in the ranges where search operators and thresholds bite."""
    return FakeJob(
        id=draw(st.integers(1, 2**20)),
        tube=draw(st.sampled_from(["default", "emails", "mail-out", "mail-in", "x", "Emails"])),
        state=draw(st.sampled_from(JOB_STATES)),
        pri=draw(_small),
        age=draw(_small),
        delay=draw(_small),
        ttr=draw(_small),
        time_left=draw(_small),
        file=draw(_small),
        reserves=draw(_small),
        timeouts=draw(_small),
        releases=draw(_small),
        buries=draw(_small),
        kicks=draw(_small),
    )
