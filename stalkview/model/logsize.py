"""The binlog's size against the live data, what writes it, and which jobs keep its oldest files.

beanstalkd (``-b DIR``) appends a record for every put, delete, bury, kick and release with a
delay. A file ``binlog.N`` is unlinked only when no live job's full record (the put, or a copy
made by compaction) is in it: the ``file`` field of ``stats-job`` names that file. Compaction
copies the jobs of the oldest file forward only while the log is at least 3x the bytes the
server counts as alive, and it counts every update record of a live job as alive: a job
released with a delay over and over (beanstalkd#622) grows the log with no limit, and the jobs
whose records sit in the oldest files keep those files (#43, #359, #570).

Measured on beanstalkd 1.12 with ``-s 65536``: a buried job in ``binlog.1`` and 1,000 jobs
released with ``delay=1`` grew the log to 14 files in 7.5 s; ``kick-job`` of the buried job
freed nothing (a kick writes a short record, the job's full record stays in ``binlog.1``);
deleting it freed ``binlog.1`` at once.

Pure logic, no I/O: :class:`LogWatch` is fed ``stats``, ``stats-tube`` and the inventory's jobs.
"""

from __future__ import annotations

import itertools
from collections import deque
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from stalkview import format as fmt
from stalkview.model.health import Hint
from stalkview.model.joblike import JobLike
from stalkview.model.rates import format_rate

#: A record that updates a job named earlier: ``int namelen`` (0) and the Jobrec (x86-64).
SHORT_RECORD = 4 + 80
#: A full record without its tube name and body.
FULL_RECORD = 4 + 80
#: beanstalkd compacts (copies the oldest file's jobs forward) only while the log is at
#: least this many times the bytes it counts as alive.
COMPACTION_RATIO = 3
#: The log runs away at this many files and this many times the live data...
RUNAWAY_FILES = 10
RUNAWAY_FACTOR = 10.0
#: ...or when it outgrows the live data for this long.
GROWTH_SECONDS = 300.0
#: Samples older than this are dropped (the growth window and some slack).
HISTORY_SECONDS = GROWTH_SECONDS * 1.5
#: Rates are over this many seconds of samples (or what there is).
RATE_WINDOW = 10.0
#: Jobs whose tube names give the average name length (for the bytes of a full record).
NAME_SAMPLE = 1000
#: Jobs named per pinned file and writers shown.
TOP = 5

ISSUES = {
    "43": "https://github.com/beanstalkd/beanstalkd/issues/43",
    "359": "https://github.com/beanstalkd/beanstalkd/issues/359",
    "570": "https://github.com/beanstalkd/beanstalkd/issues/570",
    "622": "https://github.com/beanstalkd/beanstalkd/issues/622",
}

HELP = """\
What to do about a binlog that runs away
- A binlog file is deleted by the server only when no live job has its full record in it
  (the job's `file` in stats-job). Delete the jobs that keep the oldest file (or move them:
  the re-put writes a new record, the delete frees the old one), and the server unlinks the
  file at once. Kicking alone frees nothing: a kick writes a new small record and the job's
  full record stays where it was; the file goes when a worker deletes the kicked job.
- Every release with a delay writes a record that counts as live until the job is deleted
  (beanstalkd#622), so the server's compaction never catches up with a job retried with a
  delay for ever. Delete or bury such jobs, or retry them with a fresh put.
- Upstream reports: #43 and #359 (binlogs not removed), #570 (265 GB for 10k delayed jobs),
  #622 (release with delay).
"""


def enabled(stats: Mapping[str, Any]) -> bool:
    """True when the server writes a binlog (``-b``): its current file index is not 0."""
    return _int(stats, "binlog-current-index") > 0


def _int(stats: Mapping[str, Any], key: str) -> int:
    try:
        return int(stats.get(key, 0))
    except (TypeError, ValueError):
        return 0


@dataclass(frozen=True)
class Pinner:
    """A live job whose full record is in one of the oldest binlog files."""

    id: int
    tube: str
    state: str
    age: int
    file: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "tube": self.tube,
            "state": self.state,
            "age": self.age,
            "file": self.file,
        }


@dataclass(frozen=True)
class Writer:
    """A tube and the binlog records/s its jobs cause, by kind."""

    tube: str
    records: float
    delayed_releases: float
    puts: float
    deletes: float
    others: float
    jobs: tuple[tuple[int, float], ...] = ()
    """The tube's jobs released with a delay the most: (id, releases/s)."""

    def to_dict(self) -> dict[str, Any]:
        return {
            "tube": self.tube,
            "records_per_s": round(self.records, 2),
            "delayed_releases_per_s": round(self.delayed_releases, 2),
            "puts_per_s": round(self.puts, 2),
            "deletes_per_s": round(self.deletes, 2),
            "buries_kicks_per_s": round(self.others, 2),
            "jobs": [{"id": j, "releases_per_s": round(r, 2)} for j, r in self.jobs],
        }


@dataclass(frozen=True)
class LogReport:
    """The binlog at one moment: span, size, live data, rates, pinners and writers."""

    oldest: int
    current: int
    max_size: int
    bytes: int
    bytes_exact: bool
    """True when ``bytes`` was read from the directory; else files x max size."""
    live_bytes: int | None
    live_jobs: int
    written: int
    migrated: int
    live_exact: bool = True
    """False when ``live_bytes`` is extrapolated from a sample of the bodies."""
    live_record_bytes: int | None = None
    """What the live jobs' own records take in the log: bodies, names and record headers
    (the least the log can be; the amplification is against this)."""
    records_per_s: float | None = None
    migrated_per_s: float | None = None
    bytes_per_s: float | None = None
    window: float = 0.0
    bytes_rate_exact: bool = False
    """True when ``bytes_per_s`` comes from the directory; else estimated from record counts."""
    pinners: tuple[Pinner, ...] = ()
    """Jobs in the oldest file, oldest first (at most :data:`TOP`)."""
    pinner_count: int = 0
    """How many live jobs have their full record in the oldest file."""
    pinners_known: bool = False
    """True when the inventory was complete enough to say who holds the oldest file."""
    writers: tuple[Writer, ...] = ()
    growing_for: float = 0.0
    """Seconds the log has been outgrowing the live data (0: it is not)."""

    @property
    def files(self) -> int:
        return max(0, self.current - self.oldest + 1)

    @property
    def amplification(self) -> float | None:
        """The log's size over the live jobs' records (bodies when only those are known).

        Against the records, not the bodies alone: a million 10-byte jobs need ~100 bytes
        each in any log, and that is not a log running away."""
        live = self.live_record_bytes or self.live_bytes
        if not live:
            return None
        return self.bytes / live

    @property
    def too_big(self) -> bool:
        amp = self.amplification
        if self.files < RUNAWAY_FILES:
            return False
        # No live data at all and still >= 10 files: that is runaway too.
        return amp is None or amp >= RUNAWAY_FACTOR

    @property
    def growing(self) -> bool:
        return self.growing_for >= GROWTH_SECONDS

    @property
    def runaway(self) -> bool:
        return self.too_big or self.growing_for >= GROWTH_SECONDS

    def to_dict(self) -> dict[str, Any]:
        amp = self.amplification
        return {
            "oldest_index": self.oldest,
            "current_index": self.current,
            "files": self.files,
            "max_size": self.max_size,
            "bytes": self.bytes,
            "bytes_exact": self.bytes_exact,
            "live_bytes": self.live_bytes,
            "live_bytes_exact": self.live_exact,
            "live_record_bytes": self.live_record_bytes,
            "live_jobs": self.live_jobs,
            "amplification": None if amp is None else round(amp, 2),
            "records_written": self.written,
            "records_migrated": self.migrated,
            "window_s": round(self.window, 3),
            "records_per_s": _round(self.records_per_s),
            "migrated_per_s": _round(self.migrated_per_s),
            "bytes_per_s": _round(self.bytes_per_s),
            "bytes_per_s_exact": self.bytes_rate_exact,
            "runaway": self.runaway,
            "oldest_file_jobs": self.pinner_count if self.pinners_known else None,
            "pinning": [p.to_dict() for p in self.pinners],
            "writers": [w.to_dict() for w in self.writers],
        }


def _round(x: float | None) -> float | None:
    return None if x is None else round(x, 2)


def size_text(report: LogReport) -> str:
    """``"14 files, 918 KiB"`` or ``"14 files, ≤ 896 KiB"`` when only ``stats`` is known."""
    files = f"{report.files:,} file" + ("" if report.files == 1 else "s")
    if report.bytes_exact:
        return f"{files}, {fmt.size(report.bytes)}"
    return f"{files} x {fmt.size(report.max_size)}"


def glance(report: LogReport) -> str:
    """One line for the server bar: files, size, live data, amplification, write rate."""
    if report.bytes_exact:
        size = f"{fmt.size(report.bytes)}"
    else:
        size = f"{report.files:,} x {fmt.size(report.max_size)} = {fmt.size(report.bytes)}"
    parts = [f"files {report.oldest}..{report.current} ({size})"]
    if report.live_bytes is not None:
        approx = "" if report.live_exact else "~"
        parts.append(f"live {report.live_jobs:,} jobs, {approx}{fmt.size(report.live_bytes)}")
        amp = report.amplification
        if amp is not None:
            parts.append(f"log {_times(amp)} their records")
    if report.records_per_s is not None:
        rate = f"writes {per_second(report.records_per_s)} records/s"
        if report.bytes_per_s is not None:
            rate += (
                f" {'' if report.bytes_rate_exact else '~'}{fmt.size(int(report.bytes_per_s))}/s"
            )
        parts.append(rate)
    return "  ".join(parts)


def _times(amp: float) -> str:
    return f"{amp:,.0f}x" if amp >= 10 else f"{amp:.1f}x"


def per_second(x: float) -> str:
    """``1.2k`` for 1,200 per second (format_rate without its unit)."""
    return format_rate(x).removesuffix("/s")


def _age(seconds: int) -> str:
    return fmt.duration_words(seconds)


def pinning_text(report: LogReport) -> str | None:
    """ "binlog.1 (of 14 files) is kept by job 42 in emails, buried 21d" or None."""
    if not report.pinners_known or not report.pinners:
        return None
    first = report.pinners[0]
    text = (
        f"binlog.{report.oldest} (of {report.files:,} files) is kept by job {first.id} "
        f"in {first.tube}, {first.state} {_age(first.age)}"
    )
    more = report.pinner_count - 1
    if more > 0:
        tubes = sorted({p.tube for p in report.pinners[1:]})
        text += f" and {more:,} more job" + ("" if more == 1 else "s")
        if tubes:
            text += f" ({', '.join(tubes)}{', …' if more > len(report.pinners) - 1 else ''})"
    return text


def churn_text(report: LogReport) -> str | None:
    """ "retry writes 1.2k records/s: jobs released with a delay (#622)" or None."""
    writer = _churner(report)
    if writer is None:
        return None
    return (
        f"{writer.tube} writes {per_second(writer.records)} records/s: "
        "jobs released with a delay (#622)"
    )


def known_text(report: LogReport) -> str:
    """What is known when no cause is visible: span, size, rate."""
    text = f"binlog {size_text(report)}"
    if report.amplification is not None:
        text += f", {_times(report.amplification)} the live jobs' records"
    if report.records_per_s is not None:
        text += f", {per_second(report.records_per_s)} records/s"
    if report.growing_for >= GROWTH_SECONDS:
        text += f", outgrowing the live data for {fmt.duration_words(report.growing_for)}"
    return text


def _churner(report: LogReport) -> Writer | None:
    return next(
        (
            w
            for w in report.writers
            if w.delayed_releases > 0 and w.delayed_releases * 2 >= w.records
        ),
        None,
    )


def log_hints(report: LogReport | None) -> list[Hint]:
    """Hints when the log runs away, naming the causes that can be seen.

    The pinning hint is about the oldest job of the oldest file (``job``, ``state``: choosing
    it opens that job); the churn hint about the tube whose delayed releases write the most.
    """
    if report is None or not report.runaway:
        return []
    hints = []
    pinning = pinning_text(report)
    if pinning:
        first = report.pinners[0]
        short = f"binlog kept by job {first.id}"
        hints.append(Hint("warning", None, pinning, short, first.id, first.state, "binlog-pinned"))
    writer = _churner(report)
    if writer is not None:
        # The hint is the tube's: lists show "retry: writes ...".
        job = writer.jobs[0][0] if writer.jobs else None
        text = (
            f"writes {per_second(writer.records)} binlog records/s: "
            "jobs released with a delay (#622)"
        )
        hints.append(
            Hint("warning", writer.tube, text, "binlog churn (#622)", job, None, "binlog-churn")
        )
    if not hints:
        hints.append(Hint("warning", None, known_text(report), "binlog runs away", kind="binlog"))
    return hints


@dataclass
class _Sample:
    at: float
    written: int
    migrated: int
    puts: int
    bytes: int
    live: int | None
    written_bytes: int | None = None


@dataclass
class LogWatch:
    """Follows one server's binlog across refreshes and builds :class:`LogReport`s."""

    samples: deque[_Sample] = field(default_factory=deque)
    #: Per job that may write update records: (releases, buries + kicks) last seen.
    _jobs: dict[int, tuple[int, int]] = field(default_factory=dict)
    #: When the release counting started (or the window start, once it slid).
    _jobs_since: float | None = None
    #: (when, per tube: delayed releases, buries + kicks, {job: delayed releases}) a call.
    _job_counts: deque[tuple[float, dict[str, tuple[int, int, dict[int, int]]]]] = field(
        default_factory=deque
    )
    #: (when, per tube: (total-jobs, cmd-delete)) from stats-tube, over the rate window.
    _tube_samples: deque[tuple[float, dict[str, tuple[int, int]]]] = field(default_factory=deque)
    #: Per tube: (delayed releases, buries+kicks, {job: releases}) per second, last measured.
    _server_id: str | None = None
    _holders: set[int] = field(default_factory=set)
    _holders_of: int | None = None

    def clear(self) -> None:
        self.samples.clear()
        self._jobs.clear()
        self._tube_samples.clear()
        self._job_counts.clear()
        self._holders.clear()
        self._holders_of = None
        self._jobs_since = None

    def note_tubes(self, tube_stats: Iterable[Mapping[str, Any]], now: float) -> None:
        """Per tube puts and deletes (each writes one record) from ``stats-tube``."""
        current = {
            str(t.get("name")): (_int(t, "total-jobs"), _int(t, "cmd-delete")) for t in tube_stats
        }
        samples = self._tube_samples
        if samples and now <= samples[-1][0]:
            return  # the same snapshot again
        samples.append((now, current))
        while len(samples) > 2 and now - samples[1][0] >= RATE_WINDOW:
            samples.popleft()

    def note_jobs(
        self, jobs: Mapping[int, JobLike], now: float, touched: Iterable[int] | None = None
    ) -> None:
        """Release, bury and kick counters of the known jobs: who writes update records.

        A release writes a record only with a delay; the job's ``delay`` is that of its
        last put or release, so a rise in ``releases`` of a job with a delay counts as
        that many delayed releases. ``touched`` are the ids added, changed or removed since
        the last call (the inventory's change); None compares every job. What each call
        finds is kept for :data:`RATE_WINDOW` seconds: one inventory pass may re-read none
        of the busy jobs, and the rates must not blink.
        """
        marks = self._jobs
        found: dict[str, tuple[int, int, dict[int, int]]] = {}
        if touched is None:
            for gone in [i for i in marks if i not in jobs]:
                del marks[gone]
            ids: Iterable[int] = jobs
        else:
            ids = touched
        for jid in ids:
            job = jobs.get(jid)
            if job is None:
                marks.pop(jid, None)
                continue
            if job.delay <= 0 and job.state != "reserved" and not (job.buries or job.kicks):
                # Cannot have written an update record since it was put (a release with a
                # delay, a bury or a kick would show): left out, so a million quiet jobs
                # cost no memory here. Its first such write is missed, not the rest.
                marks.pop(jid, None)
                continue
            releases, others = job.releases, job.buries + job.kicks
            before = marks.get(jid)
            marks[jid] = (releases, others)
            if before is None:
                continue
            released = max(0, releases - before[0]) if job.delay > 0 else 0
            other = max(0, others - before[1])
            if not (released or other):
                continue
            rel, oth, top = found.get(job.tube, (0, 0, {}))
            if released:
                top[jid] = released
            found[job.tube] = (rel + released, oth + other, top)
        if self._jobs_since is None:
            self._jobs_since = now  # counting starts here: the first call only sets marks
        else:
            self._job_counts.append((now, found))
        while self._job_counts and now - self._job_counts[0][0] > RATE_WINDOW:
            self._job_counts.popleft()
            self._jobs_since = max(self._jobs_since, now - RATE_WINDOW)

    def update(
        self,
        stats: Mapping[str, Any],
        now: float,
        *,
        tubes: Iterable[Mapping[str, Any]] | None = None,
        tubes_at: float | None = None,
        jobs: Mapping[int, JobLike] | None = None,
        touched: Iterable[int] | None = None,
        jobs_complete: bool = False,
        live_bytes: int | None = None,
        live_exact: bool = True,
        disk_bytes: int | None = None,
        written_bytes: int | None = None,
    ) -> LogReport | None:
        """Take in one refresh and return the report (None when the server keeps no binlog).

        ``tubes`` are the ``stats-tube`` dicts (puts and deletes per tube), read at
        ``tubes_at`` (default ``now``); ``touched`` the ids changed since the last call (see
        :meth:`note_jobs`); ``jobs`` the live
        jobs known (the inventory), ``jobs_complete`` True when they are all of them (a
        finished scan), so the holders of the oldest file can be named. ``disk_bytes`` is
        the directory's real size when it can be read, ``written_bytes`` a running total of
        the bytes appended to its files (they are preallocated, so their size does not
        grow byte by byte): the exact bytes/s.
        """
        if not enabled(stats):
            self.clear()
            self._server_id = None
            return None
        server_id = str(stats.get("id", ""))
        if server_id != self._server_id:
            self.clear()
            self._server_id = server_id
        if tubes is not None:
            self.note_tubes(tubes, now if tubes_at is None else tubes_at)
        if jobs is None:
            jobs = {}
        self.note_jobs(jobs, now, touched)
        return self._report(
            stats,
            now,
            jobs=jobs,
            touched=touched,
            jobs_complete=jobs_complete,
            live_bytes=live_bytes,
            live_exact=live_exact,
            disk_bytes=disk_bytes,
            written_bytes=written_bytes,
        )

    def _report(
        self,
        stats: Mapping[str, Any],
        now: float,
        *,
        jobs: Mapping[int, JobLike],
        touched: Iterable[int] | None,
        jobs_complete: bool,
        live_bytes: int | None,
        live_exact: bool,
        disk_bytes: int | None,
        written_bytes: int | None,
    ) -> LogReport:
        oldest = _int(stats, "binlog-oldest-index")
        current = _int(stats, "binlog-current-index")
        max_size = _int(stats, "binlog-max-size")
        written = _int(stats, "binlog-records-written")
        migrated = _int(stats, "binlog-records-migrated")
        exact = disk_bytes is not None
        size = disk_bytes if disk_bytes is not None else max(0, current - oldest + 1) * max_size
        pinners, count, live, names = self._pinners(jobs, oldest, touched)
        # A job's full record: int namelen, the name, the Jobrec, the body and its CRLF.
        records = None if live_bytes is None else live_bytes + live * (FULL_RECORD + 2) + names
        sample = _Sample(
            now, written, migrated, _int(stats, "cmd-put"), size, records, written_bytes
        )
        if self.samples and (written < self.samples[-1].written):
            self.samples.clear()  # a restart: the counters began again
        self.samples.append(sample)
        while self.samples and now - self.samples[0].at > HISTORY_SECONDS:
            self.samples.popleft()
        full = (records or 0) / live if live else FULL_RECORD + 2.0
        rps, mps, bps, window = self._rates(sample, full)
        return LogReport(
            oldest=oldest,
            current=current,
            max_size=max_size,
            bytes=size,
            bytes_exact=exact,
            live_bytes=live_bytes,
            live_jobs=live,
            live_exact=live_exact,
            live_record_bytes=records,
            written=written,
            migrated=migrated,
            records_per_s=rps,
            migrated_per_s=mps,
            bytes_per_s=bps,
            window=window,
            bytes_rate_exact=written_bytes is not None,
            pinners=pinners,
            pinner_count=count,
            pinners_known=jobs_complete,
            writers=self._writers(now),
            growing_for=self._growing_for(max_size),
        )

    def _rates(
        self, last: _Sample, full: float
    ) -> tuple[float | None, float | None, float | None, float]:
        """Records, migrated records and bytes per second over the rate window.

        Without the directory the bytes are estimated: puts and migrations write full
        records (``full`` bytes on average, from the live jobs), everything else writes
        a :data:`SHORT_RECORD`.
        """
        first = next((s for s in self.samples if last.at - s.at <= RATE_WINDOW), last)
        if first is last:
            # Fewer than two samples inside the window: the newest older one, if any.
            older = [s for s in self.samples if s.at < last.at]
            if not older:
                return None, None, None, 0.0
            first = older[-1]
        dt = last.at - first.at
        if dt <= 0:
            return None, None, None, 0.0
        records = (last.written - first.written) / dt
        migrated = (last.migrated - first.migrated) / dt
        if last.written_bytes is not None and first.written_bytes is not None:
            written_bytes = max(0, last.written_bytes - first.written_bytes) / dt
        else:
            fulls = max(0, last.puts - first.puts) + max(0, last.migrated - first.migrated)
            shorts = max(0, last.written - first.written - fulls)
            written_bytes = (fulls * full + shorts * SHORT_RECORD) / dt
        return records, migrated, written_bytes, dt

    def _pinners(
        self, jobs: Mapping[int, JobLike], oldest: int, touched: Iterable[int] | None
    ) -> tuple[tuple[Pinner, ...], int, int, int]:
        """(the oldest file's jobs, oldest first, up to TOP; how many; live jobs; the bytes
        of their tube names, from a sample).

        The holders are kept from one call to the next: with the same oldest file only the
        ``touched`` jobs can have joined or left (a job's ``file`` changes only with a
        record, which the inventory reports as a change).
        """
        if touched is None or oldest != self._holders_of:
            self._holders = {j.id for j in jobs.values() if j.file == oldest}
            self._holders_of = oldest
        else:
            held = self._holders
            for jid in touched:
                job = jobs.get(jid)
                if job is not None and job.file == oldest:
                    held.add(jid)
                else:
                    held.discard(jid)
        holders = [jobs[i] for i in self._holders if i in jobs]
        holders.sort(key=lambda j: (-j.age, j.id))
        top = tuple(Pinner(j.id, j.tube, j.state, j.age, j.file) for j in holders[:TOP])
        sample = list(itertools.islice(jobs.values(), NAME_SAMPLE))
        names = sum(len(j.tube) for j in sample) * len(jobs) // max(len(sample), 1)
        return top, len(holders), len(jobs), names

    def _tube_rates(self) -> dict[str, tuple[float, float]]:
        """Puts and deletes per second per tube, over the rate window."""
        samples = self._tube_samples
        if len(samples) < 2:
            return {}
        (t0, first), (t1, last) = samples[0], samples[-1]
        dt = t1 - t0
        rates = {}
        for name, (puts, deletes) in last.items():
            before = first.get(name)
            if before is not None and dt > 0:
                rates[name] = (max(0, puts - before[0]) / dt, max(0, deletes - before[1]) / dt)
        return rates

    def _job_rates(self, now: float) -> dict[str, tuple[float, float, dict[int, float]]]:
        """Delayed releases, buries + kicks and the busiest jobs per second per tube."""
        if self._jobs_since is None or now <= self._jobs_since:
            return {}
        dt = now - self._jobs_since
        totals: dict[str, tuple[int, int, dict[int, int]]] = {}
        for _at, found in self._job_counts:
            for tube, (rel, oth, top) in found.items():
                r, o, jobs = totals.get(tube, (0, 0, {}))
                for jid, n in top.items():
                    jobs[jid] = jobs.get(jid, 0) + n
                totals[tube] = (r + rel, o + oth, jobs)
        return {
            tube: (r / dt, o / dt, {j: n / dt for j, n in jobs.items()})
            for tube, (r, o, jobs) in totals.items()
        }

    def _writers(self, now: float) -> tuple[Writer, ...]:
        tube_rates = self._tube_rates()
        job_rates = self._job_rates(now)
        tubes = set(tube_rates) | set(job_rates)
        writers = []
        for tube in tubes:
            puts, deletes = tube_rates.get(tube, (0.0, 0.0))
            rel, oth, jobs = job_rates.get(tube, (0.0, 0.0, {}))
            total = puts + deletes + rel + oth
            if total <= 0:
                continue
            top = tuple(sorted(jobs.items(), key=lambda kv: (-kv[1], kv[0]))[:TOP])
            writers.append(Writer(tube, total, rel, puts, deletes, oth, top))
        writers.sort(key=lambda w: (-w.records, w.tube))
        return tuple(writers[:TOP])

    def _growing_for(self, max_size: int) -> float:
        """How long (s) the log has grown faster than the live data, up to now.

        Each step between samples must not shrink the log, and over the whole stretch the
        log must have grown by at least one file, and by more than 3x the live records.
        """
        samples = list(self.samples)
        if len(samples) < 2:
            return 0.0
        start = len(samples) - 1
        while start > 0 and samples[start - 1].bytes <= samples[start].bytes:
            start -= 1
        first, last = samples[start], samples[-1]
        log_growth = last.bytes - first.bytes
        if first.live is None or last.live is None:
            return 0.0
        live_growth = last.live - first.live
        # The server lets its log reach 3x the live records before it compacts.
        if log_growth < max(max_size, 1) or log_growth <= COMPACTION_RATIO * live_growth:
            return 0.0
        return last.at - first.at


def report_lines(report: LogReport) -> list[str]:
    """The report as text lines for the command line."""
    lines = [
        f"span        binlog.{report.oldest} .. binlog.{report.current} ({report.files:,} files)",
        "size        "
        + (
            f"{fmt.size(report.bytes)} ({report.bytes:,} bytes, read from the directory)"
            if report.bytes_exact
            else f"{fmt.size(report.bytes)} ({report.files:,} files x "
            f"{fmt.size(report.max_size)} max size; the directory was not read)"
        ),
    ]
    if report.live_bytes is None:
        lines.append(f"live data   unknown ({report.live_jobs:,} live jobs)")
    else:
        how = "" if report.live_exact else ", estimated from a sample of bodies"
        records = ""
        if report.live_record_bytes is not None:
            records = f" (their records: {fmt.size(report.live_record_bytes)})"
        lines.append(
            f"live data   {fmt.size(report.live_bytes)} in {report.live_jobs:,} jobs{how}{records}"
        )
    amp = report.amplification
    lines.append(
        "amplif.     " + ("-" if amp is None else f"{amp:,.1f}x what the live jobs' records take")
    )
    rate = ""
    if report.records_per_s is not None:
        rate = f"  ({per_second(report.records_per_s)}/s over {report.window:.1f}s)"
    lines.append(f"written     {report.written:,} records{rate}")
    mrate = ""
    if report.migrated_per_s is not None:
        mrate = f"  ({per_second(report.migrated_per_s)}/s)"
    lines.append(f"migrated    {report.migrated:,} records{mrate}")
    if report.bytes_per_s is not None:
        how = "" if report.bytes_rate_exact else " (estimated from the record counts)"
        lines.append(f"bytes/s     {fmt.size(int(report.bytes_per_s))}/s{how}")
    status = "ok"
    if report.runaway:
        status = "RUNAWAY: " + "; ".join(
            f"{h.tube} {h.text}" if h.tube is not None else h.text for h in log_hints(report)
        )
    lines.append(f"status      {status}")
    lines.append("")
    if not report.pinners_known:
        lines.append(f"jobs in binlog.{report.oldest}: unknown (the job scan did not finish)")
    elif not report.pinners:
        lines.append(f"jobs in binlog.{report.oldest}: none (the server can free it)")
    else:
        lines.append(f"jobs in binlog.{report.oldest} ({report.pinner_count:,}), oldest first:")
        rows = [
            [str(p.id), fmt.printable(p.tube), p.state, fmt.duration(p.age), str(p.file)]
            for p in report.pinners
        ]
        table = fmt.table(["id", "tube", "state", "age", "file"], rows)
        lines += ["  " + line for line in table]
    lines.append("")
    if not report.writers:
        lines.append("writers: none seen in the sampling window")
    else:
        lines.append("writers (records/s):")
        rows = []
        for w in report.writers:
            rows.append(
                [
                    fmt.printable(w.tube),
                    per_second(w.records),
                    f"{w.delayed_releases:.1f}",
                    f"{w.puts:.1f}",
                    f"{w.deletes:.1f}",
                    f"{w.others:.1f}",
                    " ".join(str(j) for j, _r in w.jobs[:3]),
                ]
            )
        headers = ["tube", "records/s", "delayed releases", "puts", "deletes", "bury/kick", "jobs"]
        lines += ["  " + line for line in fmt.table(headers, rows)]
    return lines


# --- the files themselves (beanstalkd -b DIR read with stalkview.binlog) --------------------


class LogFileLike(Protocol):
    """What the report reads of one ``binlog.N`` (``stalkview.binlog.LogFile``)."""

    @property
    def seq(self) -> int: ...
    @property
    def size(self) -> int: ...
    @property
    def end(self) -> int: ...
    @property
    def put_records(self) -> int: ...
    @property
    def state_records(self) -> int: ...
    @property
    def holds(self) -> set[int]: ...


class LogJobLike(Protocol):
    """What the report reads of one live job in the files (``stalkview.binlog.LogJob``)."""

    @property
    def id(self) -> int: ...
    @property
    def tube(self) -> str: ...
    @property
    def body_size(self) -> int: ...
    @property
    def file(self) -> int: ...
    @property
    def created_at_ns(self) -> int: ...

    def state_at(self, now_ns: int) -> str: ...


@dataclass(frozen=True)
class FileFacts:
    """One ``binlog.N``: its size, what fills it, which live jobs keep it, and why it stays."""

    seq: int
    size: int
    written: int
    put_records: int
    state_records: int
    holders: int
    holder_bytes: int
    """Body bytes of the live jobs whose full record is here."""
    top: tuple[Pinner, ...]
    why: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "file": f"binlog.{self.seq}",
            "index": self.seq,
            "bytes": self.size,
            "written_bytes": self.written,
            "put_records": self.put_records,
            "state_records": self.state_records,
            "live_jobs": self.holders,
            "live_body_bytes": self.holder_bytes,
            "jobs": [p.to_dict() for p in self.top],
            "why_kept": self.why,
        }


def file_facts(
    files: Mapping[int, LogFileLike], jobs: Mapping[int, LogJobLike], now_ns: int
) -> list[FileFacts]:
    """Each file, oldest first, with the live jobs it holds and why the server keeps it.

    beanstalkd deletes files oldest first, each once no live job's full record is in it
    (``walgc``): a file nobody holds stays while an older file is held.
    """
    out: list[FileFacts] = []
    written = [seq for seq, f in files.items() if f.put_records or f.state_records]
    current = max(written, default=0)
    last_held: int | None = None
    for seq in sorted(files):
        f = files[seq]
        holders = [jobs[i] for i in f.holds if i in jobs and jobs[i].file == seq]
        holders.sort(key=lambda j: (j.created_at_ns, j.id))
        top = tuple(
            Pinner(
                j.id,
                j.tube,
                j.state_at(now_ns),
                max(0, (now_ns - j.created_at_ns) // 1_000_000_000),
                seq,
            )
            for j in holders[:TOP]
        )
        if holders:
            first = top[0]
            why = (
                f"kept by {len(holders):,} live job{'s' if len(holders) != 1 else ''} "
                f"whose full record is here, oldest job {first.id} in {first.tube}, "
                f"{first.state} {fmt.duration_words(first.age)}"
            )
            last_held = seq
        elif seq == current:
            why = "the file the server writes to now"
        elif seq > current:
            why = "made ready for the next records (preallocated, nothing written yet)"
        elif last_held is not None:
            why = f"no live job needs it; it goes after binlog.{last_held} (oldest first)"
        else:
            why = "no live job needs it: the server deletes it"
        out.append(
            FileFacts(
                seq,
                f.size,
                f.end,
                f.put_records,
                f.state_records,
                len(holders),
                sum(j.body_size for j in holders),
                top,
                why,
            )
        )
    return out


def _runs(facts: Sequence[FileFacts]) -> list[tuple[str, list[FileFacts]]]:
    """Files in rows: consecutive files no job holds, kept for the same reason, in one."""
    runs: list[list[FileFacts]] = []
    for f in facts:
        last = runs[-1][-1] if runs else None
        if last is not None and not f.holders and not last.holders and f.why == last.why:
            runs[-1].append(f)
        else:
            runs.append([f])
    out = []
    for run in runs:
        name = f"binlog.{run[0].seq}"
        if len(run) > 1:
            name += f"..{run[-1].seq} ({len(run):,} files)"
        out.append((name, run))
    return out


def files_lines(
    facts: Sequence[FileFacts], jobs: int, live_bytes: int, live_records: int = 0
) -> list[str]:
    """The offline report: totals, then one block a file."""
    size = sum(f.size for f in facts)
    written = sum(f.written for f in facts)
    lines = []
    if facts:
        lines.append(
            f"span        binlog.{facts[0].seq} .. binlog.{facts[-1].seq} ({len(facts):,} files)"
        )
    else:
        lines.append("span        no binlog files")
    lines.append(
        f"size        {fmt.size(size)} on disk ({size:,} bytes), {fmt.size(written)} written"
    )
    theirs = f" (their records: {fmt.size(live_records)})" if live_records else ""
    lines.append(f"live data   {fmt.size(live_bytes)} in {jobs:,} jobs{theirs}")
    if live_records or live_bytes:
        lines.append(
            f"amplif.     {size / (live_records or live_bytes):,.1f}x what the live jobs' "
            "records take"
        )
    records = sum(f.put_records + f.state_records for f in facts)
    lines.append(f"records     {records:,} ({sum(f.put_records for f in facts):,} full)")
    lines.append("")
    rows = [
        [
            name,
            fmt.size(sum(f.size for f in run)),
            f"{sum(f.put_records for f in run):,}",
            f"{sum(f.state_records for f in run):,}",
            f"{sum(f.holders for f in run):,}",
            fmt.printable(run[0].why),
        ]
        for name, run in _runs(facts)
    ]
    headers = ["file", "size", "full", "updates", "live jobs", "why it stays"]
    lines += fmt.table(headers, rows, align="<>>>><")
    oldest = next((f for f in facts if f.top), None)
    if oldest is not None:
        lines.append("")
        lines.append(f"jobs in binlog.{oldest.seq} ({oldest.holders:,}), oldest first:")
        job_rows = [
            [str(p.id), fmt.printable(p.tube), p.state, fmt.duration(p.age), str(p.file)]
            for p in oldest.top
        ]
        lines += [
            "  " + line for line in fmt.table(["id", "tube", "state", "age", "file"], job_rows)
        ]
    return lines
