"""The job inventory: every live job on a server, found by scanning ids with `stats-job`.

beanstalkd has no "list jobs" command. Job ids are issued in sequence, and
``stats`` says how many ids were issued (``total-jobs``) and how many jobs are
alive (``current-jobs-*``), so a scan from the newest id downwards can stop as
soon as every announced job has been found.

A scan starts with the head of every tube and state (``peek-ready``,
``peek-delayed``, ``peek-buried``): what a person looks at first, and often the
oldest jobs, which an id scan reaches last. It is polite: a :class:`LoadMeter`
measures the server's own CPU (``rusage-*`` in ``stats``) around every batch
and pauses so stalkview's share stays under a budget.

Side-effect free by construction: this module only sends ``stats``,
``stats-tube``, ``list-tubes``, ``stats-job``, the peeks, and ``use`` of a tube
``list-tubes`` just named, on the inventory's own connection, switched back to
``default`` at once, so no tube is kept alive (a tube that vanishes between
the two exists again only for those few commands). It never ``watch``es.

Never imports textual: the UI renders :meth:`Inventory.select` results.
"""

from __future__ import annotations

import asyncio
import bisect
import itertools
import operator
import re
import time
from collections import deque
from collections.abc import AsyncGenerator, Awaitable, Callable, Iterable, Sequence
from contextlib import aclosing
from dataclasses import dataclass
from functools import partial
from typing import Any, Protocol, TypeVar

from stalkview.client import commands as cmd
from stalkview.client.client import Client
from stalkview.client.commands import Call, Job
from stalkview.client.errors import Error, NotFoundError
from stalkview.client.protocol import Reply, parse_stats
from stalkview.format import duration_words

STATES = ("ready", "delayed", "reserved", "buried")

#: Stats-job fields under the server's names, in the order the server sends them.
STATS_JOB_FIELDS = (
    "id",
    "tube",
    "state",
    "pri",
    "age",
    "delay",
    "ttr",
    "time-left",
    "file",
    "reserves",
    "timeouts",
    "releases",
    "buries",
    "kicks",
)

#: Fields whose change means the job really changed (age and time-left move by themselves).
_IDENTITY_FIELDS = ("tube", "state", "pri", "delay", "ttr", "counters")

#: The existence check peeks this many ids first, to learn how big bodies are
#: before asking for thousands of them.
_FIRST_PEEK_BATCH = 200
#: Average body bytes above which a peek costs more than a stats-job (~200 bytes).
_PEEK_BODY_LIMIT = 256

#: A delayed/reserved deadline that moved by more than this was reset (touch, release).
_DEADLINE_SLACK = 1.5


#: Interned counter tuples (file, reserves, timeouts, releases, buries, kicks): most
#: jobs share a handful, so a job holds one reference instead of six numbers.
_COUNTERS: dict[tuple[int, ...], tuple[int, ...]] = {}
_COUNTERS_LIMIT = 100_000


def _counters(values: tuple[int, ...]) -> tuple[int, ...]:
    shared = _COUNTERS.get(values)
    if shared is None:
        if len(_COUNTERS) >= _COUNTERS_LIMIT:
            _COUNTERS.clear()  # bounded: a long-lived inventory may see many
        shared = _COUNTERS[values] = values
    return shared


def _counter(index: int, name: str) -> property:
    def get(self: JobInfo) -> int:
        return self.counters[index]

    def set_(self: JobInfo, value: int) -> None:
        values = list(self.counters)
        values[index] = value
        self.counters = _counters(tuple(values))

    return property(get, set_, doc=f"stats-job ``{name}``")


class JobInfo:
    """One job's ``stats-job``, read at ``seen`` (``time.monotonic()``).

    The inventory updates these objects in place on refresh, so a list from
    :meth:`Inventory.select` shows fresh ages and time-lefts. A million of them
    are held at once, so the six rarely-moving counters share one interned tuple
    (``counters``), read through properties of their own names.
    """

    __slots__ = (
        "age",
        "counters",
        "delay",
        "id",
        "pri",
        "seen",
        "state",
        "time_left",
        "ttr",
        "tube",
    )

    def __init__(
        self,
        id: int,
        tube: str,
        state: str,
        pri: int,
        age: int,
        delay: int,
        ttr: int,
        time_left: int,
        file: int,
        reserves: int,
        timeouts: int,
        releases: int,
        buries: int,
        kicks: int,
        seen: float = 0.0,
    ) -> None:
        self.id = id
        self.tube = tube
        self.state = state
        self.pri = pri
        self.age = age
        self.delay = delay
        self.ttr = ttr
        self.time_left = time_left
        self.counters = _counters((file, reserves, timeouts, releases, buries, kicks))
        self.seen = seen

    file = _counter(0, "file")
    reserves = _counter(1, "reserves")
    timeouts = _counter(2, "timeouts")
    releases = _counter(3, "releases")
    buries = _counter(4, "buries")
    kicks = _counter(5, "kicks")

    def replace(self, **changes: Any) -> JobInfo:
        """A copy with some fields changed (``dataclasses.replace`` for this class)."""
        values = {name: getattr(self, name) for name in _FIELD_NAMES}
        unknown = set(changes) - set(values)
        if unknown:
            raise TypeError(f"JobInfo has no field {', '.join(sorted(unknown))}")
        values.update(changes)
        return JobInfo(**values)

    def __repr__(self) -> str:
        shown = ", ".join(f"{name}={getattr(self, name)!r}" for name in _FIELD_NAMES)
        return f"JobInfo({shown})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, JobInfo):
            return NotImplemented
        return all(getattr(self, n) == getattr(other, n) for n in _ALL_FIELDS)

    __hash__ = None  # type: ignore[assignment]  # mutable, compared by value

    @classmethod
    def from_stats(cls, stats: dict[str, Any], seen: float) -> JobInfo:
        return cls(
            int(stats["id"]),
            str(stats["tube"]),
            str(stats["state"]),
            int(stats["pri"]),
            int(stats["age"]),
            int(stats["delay"]),
            int(stats["ttr"]),
            int(stats["time-left"]),
            int(stats["file"]),
            int(stats["reserves"]),
            int(stats["timeouts"]),
            int(stats["releases"]),
            int(stats["buries"]),
            int(stats["kicks"]),
            seen,
        )

    def to_stats(self) -> dict[str, Any]:
        """The stats-job fields under the server's names (``time-left``, ...)."""
        return {name: getattr(self, name.replace("-", "_")) for name in STATS_JOB_FIELDS}

    @property
    def deadline(self) -> float:
        """``time.monotonic()`` at which a delayed job becomes ready / a reservation expires."""
        return self.seen + self.time_left

    def time_left_now(self, now: float | None = None) -> int:
        """time-left as it is now, aged since the stats were read (0 for ready/buried)."""
        if self.state not in ("delayed", "reserved"):
            return self.time_left
        now = time.monotonic() if now is None else now
        return max(0, int(self.deadline - now + 0.5))

    def age_now(self, now: float | None = None) -> int:
        now = time.monotonic() if now is None else now
        return self.age + max(0, int(now - self.seen))

    def _differs(self, other: JobInfo) -> bool:
        if _identity(self) != _identity(other):
            return True
        if self.state in ("delayed", "reserved"):
            return abs(self.deadline - other.deadline) > _DEADLINE_SLACK
        return False

    def _assign(self, other: JobInfo) -> None:
        for f in _ALL_FIELDS:
            setattr(self, f, getattr(other, f))


#: The constructor's fields, in order (what repr shows).
_FIELD_NAMES = (*(name.replace("-", "_") for name in STATS_JOB_FIELDS), "seen")
#: The slots: what a copy in place assigns.
_ALL_FIELDS = JobInfo.__slots__
FLOW_FIELDS = ("reserves", "releases", "timeouts", "buries", "kicks")
_identity = operator.attrgetter(*_IDENTITY_FIELDS)


@dataclass(frozen=True, slots=True)
class Missing:
    """Jobs of one tube and state the counters announce but the scan has not found yet."""

    tube: str
    state: str
    count: int
    below: int  #: every id above this one has been scanned (the jobs are older)

    def __str__(self) -> str:
        jobs = "job" if self.count == 1 else "jobs"
        return (
            f"{self.count:,} {self.state} {jobs} in {self.tube} not found yet: "
            f"older than id {self.below + 1:,}"
        )


@dataclass(frozen=True, slots=True)
class ScanProgress:
    scanned: int  #: ids probed so far
    found: int  #: live jobs found so far
    expected: int  #: live jobs the server's counters announce (sum of current-jobs-*)
    done: bool
    #: Every id above this one has been probed (0: none yet, or done).
    lowest: int = 0
    #: Ids probed per second at the current pace (0.0: not measured yet).
    rate: float = 0.0
    #: stalkview's measured share of one server CPU so far (None: not measured).
    share: float | None = None
    #: Per tube and state, the announced jobs not found yet (largest first).
    missing: tuple[Missing, ...] = ()

    @property
    def fraction(self) -> float:
        """Progress in 0..1 for a bar (found of expected; 1.0 when done)."""
        if self.done:
            return 1.0
        if self.expected <= 0:
            return 0.0
        return min(1.0, self.found / self.expected)

    def summary(self) -> str:
        """One line: "1,204 of 100,000 jobs · 5,000,000 ids scanned · 180,000 ids/s ·
        at most 2m 3s left · server 24% of a CPU"."""
        parts = [f"{self.found:,} of {self.expected:,} jobs", f"{self.scanned:,} ids scanned"]
        if self.rate > 0 and not self.done:
            parts.append(f"{self.rate:,.0f} ids/s")
        eta = self.eta
        if eta is not None:
            parts.append(f"at most {duration_words(eta)} left")
        if self.share is not None:
            parts.append(f"server {self.share * 100:.0f}% of a CPU")
        return " · ".join(parts)

    @property
    def eta(self) -> float | None:
        """Seconds until the scan reaches id 1 at the current pace: the most it can
        still take (it stops sooner once every announced job is found)."""
        if self.done or self.rate <= 0 or self.lowest <= 0:
            return None
        return self.lowest / self.rate


@dataclass(frozen=True, slots=True)
class InventoryChange:
    added: frozenset[int]
    changed: frozenset[int]
    removed: frozenset[int]

    def __bool__(self) -> bool:
        return bool(self.added or self.changed or self.removed)


ProgressCallback = Callable[[ScanProgress], None]
JobsCallback = Callable[[list["JobInfo"]], None]

_STATE_ORDER = {state: n for n, state in enumerate(STATES)}
_PEEKS = {"ready": cmd.PEEK_READY, "delayed": cmd.PEEK_DELAYED, "buried": cmd.PEEK_BURIED}
#: Tubes whose heads are peeked in one write (each head's body comes along, up to 64 KiB).
_HEAD_TUBES = 32


class CandidateSource(Protocol):
    """Where the ids of jobs that may be live come from, instead of the id range.

    A binlog (:class:`stalkview.binlog.BinlogSource`) names every job the server
    logged, so the inventory reads those ids only: O(live jobs), not O(ids issued).
    Reading may block on files: the inventory calls it in a thread.
    """

    #: What the server bar calls it: ``binlog /var/lib/beanstalkd``.
    label: str

    def mismatch(self, stats: dict[str, Any]) -> str | None:
        """Why the source cannot belong to the server whose ``stats`` these are."""
        ...

    def candidates(self, everything: bool) -> tuple[set[int], set[int]]:
        """(ids that may be live, ids known deleted) since the previous call, or
        every id that may be live when ``everything``. Raises ``OSError`` or the
        source's own error (with a one-line message) when it cannot be read."""
        ...

    def counts(self) -> tuple[int, int, int]:
        """As of the source's last read: the jobs it holds live, and how many puts
        and deletes it has read so far (counting a job put and deleted between two
        reads, which neither read names)."""
        ...


# --- the fast stats-job decoder ---------------------------------------------------------

# One regex match beats a generic YAML-ish parse by ~5x, and the scan's speed is
# mostly this decoding. Anything unexpected falls back to the generic parser.
_STATS_JOB_RE = re.compile(
    rb"---\nid: (\d+)\ntube: \"?([^\"\n]*)\"?\nstate: \"?(\w+)\"?\npri: (\d+)\nage: (\d+)\n"
    rb"delay: (\d+)\nttr: (\d+)\ntime-left: (\d+)\nfile: (\d+)\nreserves: (\d+)\n"
    rb"timeouts: (\d+)\nreleases: (\d+)\nburies: (\d+)\nkicks: (\d+)\n"
)
_names: dict[bytes, str] = {}


def _text(raw: bytes) -> str:
    # Tube and state names repeat: share one str per name.
    name = _names.get(raw)
    if name is None:
        name = _names[raw] = raw.decode("utf-8", "replace")
    return name


def _decode_stats_job(reply: Reply, encoding: str | None) -> JobInfo | None:
    """A stats-job reply as a JobInfo (seen=0), or None for NOT_FOUND."""
    body = reply.body
    if reply.status != b"OK" or body is None:
        if reply.status == b"NOT_FOUND":
            return None
        cmd.raise_for(reply)
    m = _STATS_JOB_RE.match(body)  # type: ignore[arg-type]
    if m is None:
        return JobInfo.from_stats(parse_stats(body, string_keys=frozenset({"tube", "state"})), 0.0)  # type: ignore[arg-type]
    g = m.groups()
    names = _names
    tube = names.get(g[1]) or _text(g[1])
    state = names.get(g[2]) or _text(g[2])
    return JobInfo(int(g[0]), tube, state, *map(int, g[3:]))


class _Numbers(dict[bytes, int]):
    """bytes -> int, remembered: int(b"...") costs ~4x a dict hit, and stats-job
    values repeat (pri, ttr, delay, counters are mostly 0, ages cluster)."""

    __slots__ = ()
    LIMIT = 100_000

    def __missing__(self, raw: bytes) -> int:
        if len(self) >= self.LIMIT:
            self.clear()  # bounded: a long-lived inventory sees ever new ages
        value = self[raw] = int(raw)
        return value


_numbers = _Numbers()


def _jobs_from_fields(rows: list[Any], seen: float) -> list[JobInfo | None]:
    """Bulk stats-job rows as JobInfo (in place); None stays None, other errors raise."""
    names = _names
    num = _numbers
    new = JobInfo
    for n, g in enumerate(rows):
        if g is None:
            continue
        if g.__class__ is not tuple:
            if isinstance(g, NotFoundError):
                rows[n] = None
                continue
            raise g
        tube = names.get(g[1]) or _text(g[1])
        state = names.get(g[2]) or _text(g[2])
        rows[n] = new(
            int(g[0]), tube, state, num[g[3]], num[g[4]], num[g[5]], num[g[6]], num[g[7]],
            num[g[8]], num[g[9]], num[g[10]], num[g[11]], num[g[12]], num[g[13]], seen,
        )  # fmt: skip
    return rows


R = TypeVar("R")


async def _read_ahead(
    read: Callable[[Sequence[int]], Awaitable[R]],
    batches: Iterable[Sequence[int]],
    depth: int = 2,
) -> AsyncGenerator[tuple[Sequence[int], R], None]:
    """``(batch, await read(batch))`` for each batch, with ``depth`` reads in flight."""
    it = iter(batches)
    pending: deque[tuple[Sequence[int], asyncio.Future[R]]] = deque()
    try:
        for batch in itertools.islice(it, depth):
            pending.append((batch, asyncio.ensure_future(read(batch))))
        while pending:
            ids, task = pending.popleft()
            following = next(it, None)
            if following is not None:
                pending.append((following, asyncio.ensure_future(read(following))))
            yield ids, await task
    finally:
        for _ids, task in pending:
            task.cancel()


async def _one_by_one(
    read: Callable[[Sequence[int]], Awaitable[R]], batches: Iterable[Sequence[int]]
) -> AsyncGenerator[tuple[Sequence[int], R], None]:
    """``(batch, await read(batch))`` for each batch, one read at a time."""
    for batch in batches:
        yield batch, await read(batch)


def _stats_job_call(job_id: int) -> Call[JobInfo | None]:
    return Call(b"stats-job %d\r\n" % job_id, _decode_stats_job)


def _decode_peek(reply: Reply, encoding: str | None) -> bytes | None:
    if reply.status == b"FOUND" and reply.body is not None:
        return reply.body
    if reply.status == b"NOT_FOUND":
        return None
    cmd.raise_for(reply)
    return None


def _peek_call(job_id: int) -> Call[bytes | None]:
    return Call(b"peek %d\r\n" % job_id, _decode_peek)


def _found_or_none(results: list[Any], seen: float) -> list[JobInfo | None]:
    """Replace NOT_FOUND slots with None (in place), stamp the rest; other errors raise."""
    for n, item in enumerate(results):
        if isinstance(item, JobInfo):
            item.seen = seen
        elif item is None or isinstance(item, NotFoundError):
            results[n] = None
        elif isinstance(item, Error):
            raise item
    return results


def _body_or_none(item: Any) -> bytes | None:
    if isinstance(item, NotFoundError) or item is None:
        return None
    if isinstance(item, Error):
        raise item
    return item  # type: ignore[no-any-return]


def live_count(stats: dict[str, Any]) -> int:
    """Live jobs a ``stats`` or ``stats-tube`` reply announces."""
    return sum(int(stats.get(f"current-jobs-{state}", 0)) for state in STATES)


def _sort_key(state: str) -> Callable[[JobInfo], Any]:
    if state == "ready":
        return lambda j: (j.pri, j.id)  # the order reserve takes them
    if state == "buried":
        return lambda j: j.id  # the order kick takes them
    return lambda j: (j.seen + j.time_left, j.id)  # delayed / reserved: soonest first


_SORT_KEYS = {state: _sort_key(state) for state in STATES}


class _Tally:
    """Change sets gathered while a scan or refresh applies results."""

    __slots__ = ("added", "changed", "removed")

    def __init__(self) -> None:
        self.added: set[int] = set()
        self.changed: set[int] = set()
        self.removed: set[int] = set()

    def freeze(self) -> InventoryChange:
        added = self.added - self.removed
        removed = self.removed - self.added
        changed = (self.changed - self.removed) - added
        # A job that vanished and came back under the same id cannot happen (ids
        # only grow), but one removed then re-read in the same pass is "changed".
        changed |= self.added & self.removed
        return InventoryChange(frozenset(added), frozenset(changed), frozenset(removed))


def _merge(tally: _Tally, later: InventoryChange) -> InventoryChange:
    """The changes of two passes over one inventory, as one."""
    tally.added |= later.added
    tally.changed |= later.changed
    tally.removed |= later.removed
    return tally.freeze()


def server_cpu(stats: dict[str, Any]) -> float:
    """Seconds of CPU the server has used since it started (user + system)."""
    return float(stats.get("rusage-utime", 0) or 0) + float(stats.get("rusage-stime", 0) or 0)


#: Default share of one server CPU (percent) a scan may take.
DEFAULT_BUDGET = 25.0
#: Share (percent) refreshes may take once the inventory is complete.
STEADY_BUDGET = 5.0
#: Ids of a busy tube one refresh re-reads when workers explain its disagreement.
SWEEP_SLICE = 2000
#: The stats counters that count a change to some job.
_CHANGE_COUNTERS = (
    "cmd-put",
    "cmd-reserve",
    "cmd-reserve-with-timeout",
    "cmd-delete",
    "cmd-release",
    "cmd-bury",
    "cmd-kick",
    "cmd-touch",
    "job-timeouts",
)


def _activity(stats: dict[str, Any]) -> int:
    return sum(int(stats.get(key, 0)) for key in _CHANGE_COUNTERS)


#: Ids per batch while pacing. A batch is answered in ~1-2 ms of server time,
#: so a worker's command waits at most that long behind one.
PACED_BATCH = 500


class LoadMeter:
    """Keeps the server CPU that our commands cost under ``budget`` percent of one core.

    Every burst of commands is sent between two ``stats`` and timed. The CPU the
    server used between them, minus its baseline (the rate it burns while we
    are idle: measured between our bursts), is our cost; the pause after the
    burst is what brings cost / (burst + pause) down to the budget. With a
    budget of 100 or more there is no measuring and no pause: full speed.
    """

    __slots__ = ("_last", "_next", "baseline", "budget", "busy", "longest", "spent", "started")

    def __init__(self, budget: float = DEFAULT_BUDGET) -> None:
        if not 0 < budget <= 100:
            raise ValueError(
                f"scan budget {budget:g}% is out of range: use a percentage of one server "
                "CPU, more than 0 and at most 100 (100 is full speed)"
            )
        self.budget = budget
        #: Server CPU seconds per second while we send nothing (None: not measured yet).
        self.baseline: float | None = None
        #: Server CPU seconds our commands cost so far.
        self.spent = 0.0
        #: Seconds our bursts took (round trips included).
        self.busy = 0.0
        #: The most server CPU one burst cost: about the longest another client's
        #: command could wait behind us.
        self.longest = 0.0
        self.started = time.monotonic()
        self._last: tuple[float, float] | None = None  # (monotonic, server cpu) after a burst
        self._next = 0.0  # monotonic time the next burst may start

    @property
    def full_speed(self) -> bool:
        return self.budget >= 100

    @property
    def share(self) -> float | None:
        """Our share of one server CPU since the meter started (None: not measured)."""
        elapsed = time.monotonic() - self.started
        if self.full_speed or elapsed <= 0 or self._last is None:
            return None
        return self.spent / elapsed

    async def run(self, client: Client, work: Callable[[], Awaitable[R]]) -> R:
        """``await work()`` bracketed by ``stats``, then pause as the budget asks."""
        if self.full_speed:
            return await work()
        # The pause is taken before the next burst, so the time we spend between
        # bursts (decoding, applying) counts towards it.
        wait = self._next - time.monotonic()
        if wait > 0:
            await asyncio.sleep(wait)
        t0 = time.monotonic()
        # Tasks start in order and each sends before its first wait, so the three
        # requests go out in this order on the one connection.
        before, result, after = await asyncio.gather(
            client.run_many([cmd.STATS], raise_on_error=True),
            work(),
            client.run_many([cmd.STATS], raise_on_error=True),
        )
        t1 = time.monotonic()
        cpu0, cpu1 = server_cpu(before[0]), server_cpu(after[0])
        last = self._last
        if last is not None and t0 - last[0] > 0.001:
            idle = max(0.0, cpu0 - last[1]) / (t0 - last[0])
            self.baseline = idle if self.baseline is None else 0.7 * self.baseline + 0.3 * idle
        burst = t1 - t0
        ours = max(0.0, cpu1 - cpu0 - (self.baseline or 0.0) * burst)
        self.spent += ours
        self.busy += burst
        self.longest = max(self.longest, ours)
        self._last = (t1, cpu1)
        self._next = t0 + min(ours * 100 / self.budget, burst + 5.0)
        return result  # type: ignore[no-any-return]


class _Pace:
    """A scan's progress reports: found jobs streamed, ids/s over the last batches,
    and which announced jobs are still missing."""

    def __init__(
        self,
        inventory: Inventory,
        expected: int,
        on_progress: ProgressCallback | None,
        on_jobs: JobsCallback | None,
    ) -> None:
        self.inventory = inventory
        self.expected = expected
        self.on_progress = on_progress
        self.on_jobs = on_jobs
        self.announced: dict[tuple[str, str], int] = {}
        #: Jobs found since the last report (None: nobody listens).
        self.sink: list[JobInfo] | None = [] if on_jobs is not None else None
        self._points: deque[tuple[float, int]] = deque(maxlen=32)

    def rate(self) -> float:
        points = self._points
        if len(points) < 2:
            return 0.0
        (t0, n0), (t1, n1) = points[0], points[-1]
        return (n1 - n0) / (t1 - t0) if t1 > t0 else 0.0

    def report(self, scanned: int, found: int, lowest: int, tally: _Tally) -> None:
        self._points.append((time.monotonic(), scanned))
        if self.sink:
            assert self.on_jobs is not None
            jobs, self.sink = self.sink, []
            self.on_jobs(jobs)
        if self.on_progress is None:
            return
        inventory = self.inventory
        missing = []
        for (tube, state), count in self.announced.items():
            short = count - len(inventory._buckets.get((tube, state), ()))
            if short > 0:
                missing.append(Missing(tube, state, short, lowest))
        missing.sort(key=lambda m: (-m.count, m.tube, m.state))
        self.on_progress(
            ScanProgress(
                scanned,
                found,
                self.expected,
                False,
                lowest,
                self.rate(),
                inventory.meter.share,
                tuple(missing),
            )
        )


class Inventory:
    """Every live job of one server, by id, kept current by :meth:`scan` and :meth:`refresh`.

    The client must be dedicated to the inventory or at least not blocked in a
    ``reserve``; ``encoding=None`` is expected (bodies are bytes).
    """

    def __init__(
        self,
        client: Client,
        *,
        batch_size: int = 5000,
        gap_limit: int = 100_000,
        depth: int = 3,
        budget: float = DEFAULT_BUDGET,
        source: CandidateSource | None = None,
    ) -> None:
        if batch_size < 1:
            raise ValueError(f"batch_size {batch_size} must be at least 1")
        if depth < 1:
            raise ValueError(f"depth {depth} must be at least 1")
        self.client = client
        self.batch_size = batch_size
        #: Batches in flight at once: the server works on the next while this side
        #: decodes. 3 x 5000 measured best of 2000..10000 x 2..3 on two pinned cores.
        self.depth = depth
        #: How many consecutive missing ids past the highest job found end an
        #: upward probe (the restart-with-binlog trap): the bound that makes every scan end.
        self.gap_limit = gap_limit
        #: Percent of one server CPU a scan may take (100: full speed); refreshes
        #: take at most STEADY_BUDGET of it.
        self.budget = budget
        LoadMeter(budget)  # the range check, before anything starts
        #: The meter of the pass running now (scan or refresh).
        self.meter = LoadMeter(100)
        self._refresh_meter = LoadMeter(100 if budget >= 100 else min(budget, STEADY_BUDGET))
        #: Ids re-read by every refresh (the rows a person is looking at).
        self.shown: tuple[int, ...] = ()
        self.jobs: dict[int, JobInfo] = {}
        self.scanned = False
        #: Server ``stats`` from the last scan or refresh.
        self.server_stats: dict[str, Any] = {}
        #: Every id up to this one has been probed.
        self._top = 0
        #: How far job ids run ahead of ``total-jobs`` (after a restart with a binlog,
        #: or puts that failed after taking an id).
        self._offset = 0
        self._server_id: str | None = None
        self._buckets: dict[tuple[str, str], dict[int, JobInfo]] = {}
        self._cache: dict[tuple[str | None, str | None], list[JobInfo]] = {}
        #: Per tube, the last id the rolling sweep of a busy tube re-read.
        self._sweep: dict[str, int] = {}
        #: Per tube, the sums of the jobs' history counters as they grew between reads
        #: (``FLOW_FIELDS``): rates of reserves, releases, timeouts... per tube, which
        #: ``stats-tube`` does not have. Estimates: a job reserved and deleted between two
        #: reads leaves no trace. Counters of jobs found by the first scan are the baseline.
        self.flows: dict[str, dict[str, int]] = {}
        #: Job id -> when (``seen``) its ``timeouts`` counter was last seen to grow.
        self.timeouts_rose: dict[int, float] = {}
        #: False while a full scan runs: what it finds is the baseline, not a flow.
        self._counting = False
        #: Where candidate ids come from instead of the id range (a binlog), if anywhere.
        self.source = source
        #: How the last scan found the jobs, for the server bar: ``id scan``,
        #: ``binlog DIR``, or the binlog plus why an id scan was still needed.
        self.found_by = "id scan" if source is None else source.label

    # --- queries ---------------------------------------------------------------------------

    @property
    def tubes(self) -> list[str]:
        """Tubes that hold at least one known job, sorted."""
        return sorted({tube for tube, _state in self._buckets})

    def parked(self) -> list[JobInfo]:
        """Delayed jobs with a put delay of ~10 years or more: left parked by an
        interrupted import, move or restore (see :data:`stalkview.ops.PARKED_DELAY`)."""
        from stalkview.ops import is_parked

        return [
            job
            for (_tube, state), bucket in self._buckets.items()
            if state == "delayed"
            for job in bucket.values()
            if is_parked(state, job.delay)
        ]

    def select(self, tube: str | None = None, state: str | None = None) -> list[JobInfo]:
        """Jobs in server order: ready by (pri, id), delayed and reserved by time-left,
        buried by id; with ``state=None`` ready, delayed, reserved, then buried."""
        if state is not None and state not in STATES:
            raise ValueError(f"unknown job state {state!r}: use one of {', '.join(STATES)}")
        key = (tube, state)
        cached = self._cache.get(key)
        if cached is None:
            cached = self._cache[key] = self._build(tube, state)
        return list(cached)

    def _build(self, tube: str | None, state: str | None) -> list[JobInfo]:
        if state is None:
            out: list[JobInfo] = []
            for s in STATES:
                out += self.select(tube, s)
            return out
        if tube is not None:
            return sorted(self._buckets.get((tube, state), {}).values(), key=_SORT_KEYS[state])
        merged: list[JobInfo] = []
        for (_t, s), bucket in self._buckets.items():
            if s == state:
                merged += bucket.values()
        merged.sort(key=_SORT_KEYS[state])
        return merged

    def counts(self, tube: str | None = None) -> dict[str, int]:
        """Known jobs per state (all tubes, or one)."""
        out = dict.fromkeys(STATES, 0)
        for (t, s), bucket in self._buckets.items():
            if tube is None or t == tube:
                out[s] = out.get(s, 0) + len(bucket)
        return out

    def __len__(self) -> int:
        return len(self.jobs)

    def __contains__(self, job_id: object) -> bool:
        return job_id in self.jobs

    # --- bodies ----------------------------------------------------------------------------

    async def peek_body(self, job_id: int, limit: int | None = None) -> bytes | None:
        """The job's body (first ``limit`` bytes), or None if the job is gone."""
        (reply,) = await self.client.run_many([_peek_call(job_id)])
        body = _body_or_none(reply)
        if body is None:
            return None
        return bytes(body[:limit]) if limit is not None else bytes(body)

    async def peek_bodies(self, ids: Iterable[int], limit: int | None = None) -> dict[int, bytes]:
        """Bodies of the jobs still alive, pipelined; gone jobs are left out."""
        wanted = list(ids)
        out: dict[int, bytes] = {}
        # Bodies may be 64 KiB each: smaller batches bound the memory in flight.
        step = max(1, min(self.batch_size, 256))
        for start in range(0, len(wanted), step):
            chunk = wanted[start : start + step]
            replies = await self.client.run_many([_peek_call(j) for j in chunk])
            for jid, reply in zip(chunk, replies, strict=True):
                body = _body_or_none(reply)
                if body is not None:
                    out[jid] = body[:limit] if limit is not None else body
        return out

    # --- low level: reading ids ------------------------------------------------------------

    async def _read(self, ids: Sequence[int]) -> list[JobInfo | None]:
        """stats-job for each id, in one write, paced by the meter; None where the
        job does not exist."""
        rows = await self.meter.run(self.client, lambda: self.client.stats_job_fields(ids))
        return _jobs_from_fields(rows, time.monotonic())

    @property
    def _step(self) -> int:
        """Ids per batch: small while paced, so other clients never wait long."""
        return self.batch_size if self.meter.full_speed else min(self.batch_size, PACED_BATCH)

    def _pipelined(
        self, batches: Iterable[Sequence[int]]
    ) -> AsyncGenerator[tuple[Sequence[int], list[JobInfo | None]], None]:
        """Read batches with the next one already in flight.

        While this side decodes one batch the server works on the next: on two
        cores that overlap is most of the scan's speed. Use inside
        ``contextlib.aclosing`` so a consumer that stops early cancels the read
        ahead (its replies are then dropped by the connection).
        """
        if not self.meter.full_speed:
            # Paced: one batch at a time, or the pause after one would not delay the next.
            return _one_by_one(self._read, batches)
        return _read_ahead(self._read, batches, self.depth)

    async def _read_many(self, ids: Sequence[int], tally: _Tally) -> int:
        """Re-read known ids in batches; apply; return how many are alive."""
        alive = 0
        step = self._step
        chunks = (ids[start : start + step] for start in range(0, len(ids), step))
        async with aclosing(self._pipelined(chunks)) as reads:
            async for chunk, results in reads:
                alive += self._apply(chunk, results, tally)
        return alive

    def _apply(
        self,
        ids: Sequence[int],
        results: list[JobInfo | None],
        tally: _Tally,
        sink: list[JobInfo] | None = None,
    ) -> int:
        """Store what was found, drop what was not; return how many were found.
        Jobs new to the inventory are also appended to ``sink``."""
        alive = 0
        jobs = self.jobs
        buckets = self._buckets
        added = tally.added
        touched: set[tuple[str, str]] = set()
        for jid, info in zip(ids, results, strict=True):
            if info is None:
                if jid in jobs:
                    self._remove(jid, tally)
                continue
            alive += 1
            if jid in jobs:
                self._store(info, tally)
                continue
            # A new job (every job of a first scan): _store and _bucket_add inlined.
            # Keyed by the job's own id object: one int per job, not two.
            jid = info.id
            jobs[jid] = info
            key = (info.tube, info.state)
            bucket = buckets.get(key)
            if bucket is None:
                bucket = buckets[key] = {}
            bucket[jid] = info
            touched.add(key)
            added.add(jid)
            if sink is not None:
                sink.append(info)
            if self._counting:
                self._count_flows(None, info)
        for tube, state in touched:
            self._invalidate(tube, state)
        return alive

    async def _stats(self) -> dict[str, Any]:
        (stats,) = await self.client.run_many([cmd.STATS], raise_on_error=True)
        self._note_server(stats)
        return stats  # type: ignore[no-any-return]

    def _note_server(self, stats: dict[str, Any]) -> None:
        self.server_stats = stats
        self._server_id = str(stats.get("id", ""))

    # --- low level: applying results -------------------------------------------------------

    def _store(self, info: JobInfo, tally: _Tally) -> None:
        old = self.jobs.get(info.id)
        if old is None:
            self.jobs[info.id] = info
            self._bucket_add(info)
            tally.added.add(info.id)
            if self._counting:
                self._count_flows(None, info)
            return
        if old._differs(info):
            if self._counting:
                self._count_flows(old, info)
            moved = old.tube != info.tube or old.state != info.state
            if moved:
                self._bucket_remove(old)
            else:
                self._invalidate(old.tube, old.state)
            old._assign(info)
            if moved:
                self._bucket_add(old)
            tally.changed.add(info.id)
        else:
            # Unchanged: only the clock-driven fields move (the hot path of a re-read).
            old.age = info.age
            old.time_left = info.time_left
            old.seen = info.seen

    def _count_flows(self, old: JobInfo | None, new: JobInfo) -> None:
        """Add what ``new``'s history counters grew by since ``old`` (all of them for a job
        that is new since the first scan) to its tube's flows."""
        flows = self.flows.get(new.tube)
        if flows is None:
            flows = self.flows[new.tube] = dict.fromkeys(FLOW_FIELDS, 0)
        for name in FLOW_FIELDS:
            grew = getattr(new, name) - (getattr(old, name) if old is not None else 0)
            if grew > 0:
                flows[name] += grew
        if new.timeouts > (old.timeouts if old is not None else 0):
            self.timeouts_rose[new.id] = new.seen

    def _remove(self, job_id: int, tally: _Tally) -> None:
        self.timeouts_rose.pop(job_id, None)
        old = self.jobs.pop(job_id, None)
        if old is not None:
            self._bucket_remove(old)
            tally.removed.add(job_id)

    def _bucket_add(self, info: JobInfo) -> None:
        key = (info.tube, info.state)
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = self._buckets[key] = {}
        bucket[info.id] = info
        self._invalidate(info.tube, info.state)

    def _bucket_remove(self, info: JobInfo) -> None:
        key = (info.tube, info.state)
        bucket = self._buckets.get(key)
        if bucket is not None:
            bucket.pop(info.id, None)
            if not bucket:
                del self._buckets[key]
        self._invalidate(info.tube, info.state)

    def _invalidate(self, tube: str, state: str) -> None:
        cache = self._cache
        if cache:
            for key in ((tube, state), (tube, None), (None, state), (None, None)):
                cache.pop(key, None)

    # --- full scan -------------------------------------------------------------------------

    async def scan(
        self,
        on_progress: ProgressCallback | None = None,
        on_jobs: JobsCallback | None = None,
    ) -> InventoryChange:
        """Find every live job: the head of every tube and state first, then ids
        from the newest downwards until the counters are satisfied.

        ``on_jobs`` gets each batch of jobs new to the inventory as it arrives
        (heads first), ``on_progress`` a :class:`ScanProgress` after each batch.
        Paced by :attr:`budget`. Cancellable at any batch boundary: what was
        read so far is applied (ids scanned are exact, ids not reached keep
        their previous state).
        """
        self._counting = False
        try:
            if self.source is not None:
                return await self._scan_candidates(on_progress, on_jobs)
            return await self._scan(on_progress, on_jobs)
        finally:
            self._counting = self.scanned
            for tube in self.tubes:
                self.flows.setdefault(tube, dict.fromkeys(FLOW_FIELDS, 0))

    async def _scan(
        self, on_progress: ProgressCallback | None, on_jobs: JobsCallback | None
    ) -> InventoryChange:
        tally = _Tally()
        self.meter = LoadMeter(self.budget)
        previous_id = self._server_id
        stats = await self._stats()
        if previous_id is not None and self._server_id != previous_id:
            self._offset = 0  # a restarted server: what we learned about its ids is void
        total = int(stats.get("total-jobs", 0))
        expected = live_count(stats)
        deletes0 = int(stats.get("cmd-delete", 0))
        top = total + self._offset
        pace = _Pace(self, expected, on_progress, on_jobs)
        announced: dict[tuple[str, str], int] = {}
        heads: set[int] = set()
        if expected:
            tube_counts = await self._tube_counts()
            announced = {(t, s): n for t, c in tube_counts.items() for s, n in c.items() if n}
            heads = await self._read_heads(tube_counts, tally, pace)
        pace.announced = announced
        found = 0
        scanned = 0
        highest = 0
        hi = top
        step = self._step
        batches = (range(h, max(0, h - step), -1) for h in range(top, 0, -step))
        pace.report(0, len(heads), hi, tally)
        if len(heads) < expected:
            async with aclosing(self._pipelined(batches)) as reads:
                async for ids, results in reads:
                    found += self._apply(ids, results, tally, pace.sink)
                    if highest == 0:
                        highest = next((j for j, r in zip(ids, results, strict=True) if r), 0)
                    scanned += len(ids)
                    hi = ids[-1] - 1
                    # Heads below the ids reached are live jobs the scan has yet to meet.
                    ahead = sum(1 for h in heads if h <= hi and h in self.jobs)
                    pace.report(scanned, found + ahead, hi, tally)
                    if found + ahead >= expected:
                        break
            found += sum(1 for h in heads if h <= hi and h in self.jobs)
        else:
            found = len(heads)  # the heads are all there is (or nothing is)
        probed = top
        if found < expected:
            streamed = set(tally.added)
            found, scanned, highest, probed = await self._probe_upwards(
                top, found, scanned, highest, expected, deletes0, tally, on_progress
            )
            if on_jobs is not None:
                on_jobs([self.jobs[j] for j in tally.added - streamed if j in self.jobs])
        # Every announced job is accounted for: what we remember below the
        # stopping point or above the last id probed is gone (the heads just read are not).
        # A head can sit above every id probed: after a restart with a binlog ids
        # run ahead of total-jobs, and the heads alone may satisfy the counters.
        for jid in [j for j in self.jobs if j not in heads and (j <= hi or j > probed)]:
            self._remove(jid, tally)
        self._top = max(top, highest, *heads)
        self.scanned = True
        if on_progress is not None:
            on_progress(
                ScanProgress(scanned, found, expected, True, 0, pace.rate(), self.meter.share)
            )
        return tally.freeze()

    async def _read_heads(
        self, tube_counts: dict[str, dict[str, int]], tally: _Tally, pace: _Pace
    ) -> set[int]:
        """The first job of every tube and state (the job a worker or ``kick``
        takes next), read with stats-job; return their ids.

        ``use`` only of tubes ``list-tubes`` just named and that hold jobs, on the
        inventory's own connection, then ``use default`` in the same write: no
        tube is kept alive.
        """
        plan = [
            (tube, [state for state in _PEEKS if counts.get(state)])
            for tube, counts in tube_counts.items()
        ]
        plan = [(tube, states) for tube, states in plan if states]
        ids: list[int] = []
        # Peeks carry whole bodies: a few tubes per write bound the bytes in flight.
        for start in range(0, len(plan), _HEAD_TUBES):
            calls: list[Call[Any]] = []
            for tube, states in plan[start : start + _HEAD_TUBES]:
                calls.append(cmd.use(tube))
                calls += [_PEEKS[state] for state in states]
            calls.append(cmd.use("default"))
            replies = await self.meter.run(self.client, partial(self.client.run_many, calls))
            ids += [r.id for r in replies if isinstance(r, Job)]
        wanted = sorted(set(ids), reverse=True)
        if wanted:
            self._apply(wanted, await self._read(wanted), tally, pace.sink)
        if pace.sink:
            # Shown in the order workers meet them: ready, delayed, then buried.
            pace.sink.sort(key=lambda j: (_STATE_ORDER[j.state], j.tube, j.id))
        return {j for j in wanted if j in self.jobs}

    async def _probe_upwards(
        self,
        top: int,
        found: int,
        scanned: int,
        highest: int,
        expected: int,
        deletes0: int,
        tally: _Tally,
        on_progress: ProgressCallback | None,
    ) -> tuple[int, int, int, int]:
        """Look past ``top`` for jobs the counters announce but ids up to ``top`` lack.

        After a restart with a binlog ``total-jobs`` counts from 0 while ids
        continue; puts that fail after taking an id (EXPECTED_CRLF, DRAINING)
        also push ids ahead of the counter. Stops once the counters are
        satisfied, or after ``gap_limit`` missing ids in a row past the highest
        job found, so it always ends.
        """
        stats = await self._stats()
        # Deleted jobs explain a shortfall; cmd-delete counts every delete command,
        # so this may excuse too much, never too little, under concurrent deletes.
        if found + int(stats.get("cmd-delete", 0)) - deletes0 >= expected:
            return found, scanned, highest, top
        start = top + 1
        last_found = max(top, highest)
        pos = start
        while pos - last_found <= self.gap_limit:
            ids = range(pos, pos + self._step)
            calls: list[Call[Any]] = [*(_stats_job_call(j) for j in ids), cmd.STATS]
            replies = await self.meter.run(self.client, partial(self.client.run_many, calls))
            stats = replies.pop()
            if isinstance(stats, Error):
                raise stats
            results = _found_or_none(replies, time.monotonic())
            for jid, info in zip(ids, results, strict=True):
                if info is not None:
                    self._store(info, tally)
                    found += 1
                    last_found = highest = max(highest, jid)
                else:
                    self._remove(jid, tally)
            scanned += len(ids)
            pos += len(ids)
            if on_progress is not None:
                on_progress(ScanProgress(scanned, found, expected, False))
            if found + int(stats.get("cmd-delete", 0)) - deletes0 >= expected:
                break
        self._note_server(stats)
        if highest > top:
            self._offset = max(self._offset, highest - int(stats.get("total-jobs", 0)))
        return found, scanned, highest, pos - 1

    # --- incremental refresh ---------------------------------------------------------------

    async def refresh(self, on_progress: ProgressCallback | None = None) -> InventoryChange:
        """Bring the inventory up to date at a fraction of a full scan's cost.

        Reads the ids issued since the last pass, every reserved job, every
        delayed job due by now, then uses each tube's counters to find which
        other jobs moved: a tube/state holding more known jobs than the server
        counts is probed from its head (reserve and kick take jobs from the
        head), and a tube whose counts still disagree is re-read whole. A full
        scan runs instead if there was none yet or the server restarted.
        """
        previous_id = self._server_id
        stats = await self._stats()
        if not self.scanned or (previous_id and self._server_id != previous_id):
            return await self.scan(on_progress)
        self.meter = self._refresh_meter
        if self.source is not None:
            return await self._refresh_candidates(stats, on_progress)
        tally = _Tally()
        expected = live_count(stats)
        deletes0 = int(stats.get("cmd-delete", 0))
        tube_counts = await self._tube_counts()
        scanned = 0

        # 1. New ids, reserved jobs and delayed jobs that are due.
        top = int(stats.get("total-jobs", 0)) + self._offset
        new_ids = list(range(self._top + 1, top + 1))
        now = time.monotonic()
        suspects = [
            j.id
            for (_t, s), bucket in self._buckets.items()
            if s in ("reserved", "delayed")
            for j in bucket.values()
            if s == "reserved" or j.deadline <= now + _DEADLINE_SLACK
        ]
        # Tubes gone from the server took their jobs with them.
        for (t, _s), bucket in list(self._buckets.items()):
            if t not in tube_counts:
                suspects += bucket
        # The rows a person is looking at, so what is shown is never stale.
        suspects += [j for j in self.shown if j in self.jobs]
        suspects = list(dict.fromkeys(suspects))
        await self._read_many(suspects + new_ids, tally)
        scanned += len(suspects) + len(new_ids)
        self._top = max(self._top, top)
        self._report(on_progress, scanned, expected, False)

        # 2. Buckets with more known jobs than the server counts: probe from the head.
        scanned += await self._probe_heads(tube_counts, tally)
        self._report(on_progress, scanned, expected, False)

        # 3. Tubes whose counts still disagree. Deletes leave no clue but the
        # counts: drop the known jobs that are gone (peek, cheaper than stats-job),
        # then re-read tubes that still disagree (moves), oldest first, until they agree.
        tubes = self._mismatched_tubes(tube_counts)
        if tubes:
            scanned += await self._drop_gone(tubes, tube_counts, tally)
            self._report(on_progress, scanned, expected, False)
        tubes = self._mismatched_tubes(tube_counts)
        activity = 0
        if tubes:
            # What workers did while this refresh ran: counts read at its start may
            # disagree by that much without anything being missed.
            activity = _activity(await self._stats()) - _activity(stats)
        for tube in tubes:
            ids = sorted(j for s in STATES for j in self._buckets.get((tube, s), ()))
            if activity and self._disagreement(tube, tube_counts) <= activity:
                # Busy workers explain the difference: re-reading the whole tube would
                # still disagree by the next refresh. Read the next slice of a rolling
                # sweep instead (it settles what the heads and new ids do not catch).
                ids = self._sweep_slice(tube, ids)
            scanned += await self._read_until_agreed(tube, ids, tube_counts, tally)
            self._report(on_progress, scanned, expected, False)
        # 4. Still short of the announced total: jobs above every id we know.
        if len(self.jobs) < expected:
            _found, scanned, highest, _end = await self._probe_upwards(
                self._top, len(self.jobs), scanned, 0, expected, deletes0, tally, on_progress
            )
            self._top = max(self._top, highest)
        self._report(on_progress, scanned, expected, True)
        return tally.freeze()

    # --- candidates from a source (a binlog) instead of the id range ------------------------

    async def _candidates(self, everything: bool) -> tuple[set[int], set[int]] | None:
        """The source's candidates, or None when it failed: the inventory then goes
        on with id scans and ``found_by`` says why."""
        source = self.source
        assert source is not None
        try:
            return await asyncio.to_thread(source.candidates, everything)
        except Exception as exc:  # the source's own error: one line, never fatal here
            self.source = None
            self.found_by = f"id scan ({source.label} unreadable: {exc})"
            return None

    async def _scan_candidates(
        self, on_progress: ProgressCallback | None, on_jobs: JobsCallback | None
    ) -> InventoryChange:
        """A scan that reads the source's ids only; it falls back to the id scan
        when the server counts jobs the source does not name (put before ``-b``,
        or while the server could not write its log)."""
        tally = _Tally()
        # Polite like the id scan: one stats-job per live job, paced by the budget.
        self.meter = LoadMeter(self.budget)
        previous_id = self._server_id
        stats = await self._stats()
        if previous_id is not None and self._server_id != previous_id:
            self._offset = 0
        assert self.source is not None
        wrong = self.source.mismatch(stats)
        if wrong is not None:
            self.found_by = f"id scan ({wrong})"
            self.source = None
            return await self._scan(on_progress, on_jobs)
        candidates = await self._candidates(everything=True)
        if candidates is None:
            return await self._scan(on_progress, on_jobs)
        named, _gone = candidates
        expected = live_count(stats)
        ids = sorted(named, reverse=True)
        await self._read_many(ids, tally)
        for jid in [j for j in self.jobs if j not in named]:
            self._remove(jid, tally)
        # Does the server hold jobs the log does not name? Its count is read between
        # two reads of what the log appended: the puts and deletes in that window
        # (a few ms) bound the answer, however busy the server is.
        scanned = len(ids)
        missing = 0
        for _attempt in range(5):
            more = await self._candidates(everything=False)
            if more is None:
                return await self._scan(on_progress, on_jobs)
            named, gone = more
            for jid in gone:
                self._remove(jid, tally)
            await self._read_many(sorted(named), tally)
            scanned += len(named)
            logged, puts0, deletes0 = self.source.counts()
            stats = await self._stats()
            expected = live_count(stats)
            after = await self._candidates(everything=False)
            if after is None:
                return await self._scan(on_progress, on_jobs)
            named, gone = after
            for jid in gone:
                self._remove(jid, tally)
            await self._read_many(sorted(named), tally)
            scanned += len(named)
            _logged, puts1, deletes1 = self.source.counts()
            at_least = expected - logged - (puts1 - puts0)
            at_most = expected - logged + (deletes1 - deletes0)
            if at_least > 0 or at_most <= 0:
                missing = max(0, at_least)
                break
        assert self.source is not None
        total = int(stats.get("total-jobs", 0))
        self._top = max([total + self._offset, *self.jobs])
        self.scanned = True
        if missing > 0:
            # Jobs the log does not have: only the id range can find them.
            self.found_by = f"{self.source.label} + id scan ({missing} jobs not in the log)"
            if on_jobs is not None:
                on_jobs(list(self.jobs.values()))
            change = await self._scan(on_progress, on_jobs)
            return _merge(tally, change)
        self.found_by = self.source.label
        if on_jobs is not None:
            on_jobs(list(self.jobs.values()))
        if on_progress is not None:
            on_progress(ScanProgress(scanned, len(self.jobs), expected, True))
        return tally.freeze()

    async def _refresh_candidates(
        self, stats: dict[str, Any], on_progress: ProgressCallback | None
    ) -> InventoryChange:
        """A refresh that reads only the ids the source named since the last pass
        (new jobs, logged changes; its deletes are dropped unread), plus what the
        log cannot say: reserves and TTR timeouts are not logged, so reserved
        jobs and due delayed jobs are re-read, and tubes whose counts disagree
        are probed from their heads as the id-scan refresh does."""
        tally = _Tally()
        expected = live_count(stats)
        candidates = await self._candidates(everything=False)
        if candidates is None:
            return await self.refresh(on_progress)
        named, gone = candidates
        for jid in gone:
            self._remove(jid, tally)
        now = time.monotonic()
        suspects = {
            j.id
            for (_t, s), bucket in self._buckets.items()
            if s in ("reserved", "delayed")
            for j in bucket.values()
            if s == "reserved" or j.deadline <= now + _DEADLINE_SLACK
        }
        ids = sorted(named | suspects)
        await self._read_many(ids, tally)
        scanned = len(ids)
        tube_counts = await self._tube_counts()
        for (t, _s), bucket in list(self._buckets.items()):
            if t not in tube_counts:
                for jid in list(bucket):
                    self._remove(jid, tally)
        if self._mismatched_tubes(tube_counts):
            scanned += await self._probe_heads(tube_counts, tally)
        for tube in self._mismatched_tubes(tube_counts):
            ids = sorted(j for s in STATES for j in self._buckets.get((tube, s), ()))
            scanned += await self._read_until_agreed(tube, ids, tube_counts, tally)
        self._top = max([self._top, *named])
        self._report(on_progress, scanned, expected, True)
        return tally.freeze()

    def _report(
        self, on_progress: ProgressCallback | None, scanned: int, expected: int, done: bool
    ) -> None:
        if on_progress is not None:
            on_progress(ScanProgress(scanned, len(self.jobs), expected, done))

    async def _read_until_agreed(
        self, tube: str, ids: list[int], tube_counts: dict[str, dict[str, int]], tally: _Tally
    ) -> int:
        """Re-read ``ids`` of ``tube`` in batches until its known counts match the
        server's; return how many ids were read."""
        read = 0
        step = self._step
        chunks = (ids[start : start + step] for start in range(0, len(ids), step))
        async with aclosing(self._pipelined(chunks)) as reads:
            async for chunk, results in reads:
                self._apply(chunk, results, tally)
                read += len(chunk)
                if not self._tube_disagrees(tube, tube_counts):
                    break
        return read

    async def _drop_gone(
        self, tubes: list[str], tube_counts: dict[str, dict[str, int]], tally: _Tally
    ) -> int:
        """Peek the known jobs of ``tubes``, oldest first, and forget the missing ones,
        until each tube holds as many known jobs as the server counts (what is left
        is moves between states). Peeks carry bodies: stop at the first batch whose
        bodies average more than a stats-job reply, and leave the rest to stats-job.
        Return how many ids were peeked."""
        ids = sorted(j for t in tubes for s in STATES for j in self._buckets.get((t, s), ()))
        if not ids:
            return 0
        # The first batch alone: its body sizes decide whether peeking goes on.
        first = ids[:_FIRST_PEEK_BATCH]
        peeked = len(first)
        found = await self._peek_sizes(first)
        if self._apply_peeks(first, found, tubes, tube_counts, tally):
            return peeked
        step = self._step
        chunks = (ids[a : a + step] for a in range(len(first), len(ids), step))
        reads_of = (
            _read_ahead(self._peek_sizes, chunks, self.depth)
            if self.meter.full_speed
            else _one_by_one(self._peek_sizes, chunks)
        )
        async with aclosing(reads_of) as reads:
            async for chunk, sizes in reads:
                peeked += len(chunk)
                if self._apply_peeks(chunk, sizes, tubes, tube_counts, tally):
                    break
        return peeked

    async def _peek_sizes(self, ids: Sequence[int]) -> list[int | Error | None]:
        return await self.meter.run(self.client, partial(self.client.peek_sizes, ids))

    def _apply_peeks(
        self,
        ids: Sequence[int],
        sizes: list[int | Error | None],
        tubes: list[str],
        tube_counts: dict[str, dict[str, int]],
        tally: _Tally,
    ) -> bool:
        """Forget the jobs not found; True when peeking should stop (the tubes' totals
        agree, or bodies are too big for peeks to pay)."""
        body_bytes = 0
        for jid, size in zip(ids, sizes, strict=True):
            if size is None or isinstance(size, NotFoundError):
                self._remove(jid, tally)
            elif isinstance(size, Error):
                raise size
            else:
                body_bytes += size
        if body_bytes > _PEEK_BODY_LIMIT * len(ids):
            return True
        return all(self._tube_total(t) <= sum(tube_counts.get(t, {}).values()) for t in tubes)

    def _tube_total(self, tube: str) -> int:
        return sum(len(self._buckets.get((tube, s), ())) for s in STATES)

    def _disagreement(self, tube: str, tube_counts: dict[str, dict[str, int]]) -> int:
        """Jobs of ``tube`` in the wrong state or missing, by the counts (summed per state)."""
        counts = tube_counts.get(tube, {})
        return sum(abs(len(self._buckets.get((tube, s), ())) - counts.get(s, 0)) for s in STATES)

    def _sweep_slice(self, tube: str, ids: list[int]) -> list[int]:
        """The next :data:`SWEEP_SLICE` of ``ids`` (sorted) after where the last slice
        of ``tube`` ended, wrapping around to the oldest."""
        if len(ids) <= SWEEP_SLICE:
            self._sweep.pop(tube, None)
            return ids
        start = bisect.bisect_right(ids, self._sweep.get(tube, 0))
        part = ids[start : start + SWEEP_SLICE]
        if len(part) < SWEEP_SLICE:
            part += ids[: SWEEP_SLICE - len(part)]
        self._sweep[tube] = part[-1]
        return part

    def _tube_disagrees(self, tube: str, tube_counts: dict[str, dict[str, int]]) -> bool:
        counts = tube_counts.get(tube, {})
        return any(len(self._buckets.get((tube, s), ())) != counts.get(s, 0) for s in STATES)

    async def _tube_counts(self) -> dict[str, dict[str, int]]:
        """Per tube, the server's live-job count per state (vanished tubes left out)."""
        (names,) = await self.client.run_many([cmd.LIST_TUBES], raise_on_error=True)
        calls = [cmd.stats_tube(t) for t in names]
        replies = await self.meter.run(self.client, partial(self.client.run_many, calls))
        out: dict[str, dict[str, int]] = {}
        for name, reply in zip(names, replies, strict=True):
            if isinstance(reply, NotFoundError):
                continue  # the tube went away between list-tubes and stats-tube
            if isinstance(reply, Error):
                raise reply
            out[name] = {s: int(reply.get(f"current-jobs-{s}", 0)) for s in STATES}
        return out

    async def _probe_heads(self, tube_counts: dict[str, dict[str, int]], tally: _Tally) -> int:
        """Re-read the first jobs of over-full buckets, widening a few times."""
        scanned = 0
        for attempt in range(4):
            ids: list[int] = []
            for (tube, state), bucket in list(self._buckets.items()):
                excess = len(bucket) - tube_counts.get(tube, {}).get(state, 0)
                if excess > 0:
                    width = excess * (4**attempt) + 8
                    ids += [j.id for j in self.select(tube, state)[:width]]
            if not ids:
                break
            before = len(tally.removed) + len(tally.changed)
            await self._read_many(ids, tally)
            scanned += len(ids)
            hits = len(tally.removed) + len(tally.changed) - before
            if hits * 4 < len(ids):
                # Few changes at the heads: not a queue consumed from its head
                # (random deletes, say); widening would only re-read the tube twice.
                break
        return scanned

    def _mismatched_tubes(self, tube_counts: dict[str, dict[str, int]]) -> list[str]:
        tubes = set(tube_counts) | {t for t, _s in self._buckets}
        return sorted(t for t in tubes if self._tube_disagrees(t, tube_counts))
