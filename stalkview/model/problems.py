"""Every current problem on a server in one list, worst first, each naming its tube and job.

``tube_hints`` and ``server_hints`` (health.py) read the ``stats``/``stats-tube`` counters;
``job_hints`` here reads the inventory's jobs: held jobs that stalled, reservations about to
expire, delayed jobs about to flood a tube, and jobs timing out again and again right now.
``problems`` merges them into the one list the first screen shows.

Severity is one scale everywhere (``LEVELS``): error (the server refuses work or loses it),
warning (work is not getting done), info (worth knowing, nothing is wrong).
"""

from __future__ import annotations

import bisect
import statistics
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from stalkview.format import duration_words
from stalkview.model.health import LEVELS, Hint
from stalkview.model.joblike import JobLike
from stalkview.model.rates import TubeRates, format_rate

STALL_SECONDS = 300.0
"""A job held this long, with jobs waiting in its tube, is stalled (whatever its TTR)."""
STALL_FACTOR = 10.0
STALL_MIN_SECONDS = 60.0
"""Or held this many times longer than the tube's other reservations (and at least a minute)."""
DEADLINE_SOON_SECONDS = 1.0
"""A reservation with this little TTR left is about to time out (beanstalkd's DEADLINE_SOON)."""
DEADLINE_SOON_FRESH = 3.0
"""...when the job was read at most this long ago: an older read may be of a job long done."""
STORM_WINDOW = 60.0
STORM_MIN_JOBS = 100
STORM_FACTOR = 2.0
"""A delayed storm: at least STORM_MIN_JOBS delayed jobs due within STORM_WINDOW seconds, more
than STORM_FACTOR times what the tube handled in that time at its recent rate."""
POISON_RISE_WINDOW = 120.0
POISON_MIN_TIMEOUTS = 2
"""Poison in progress: a job whose timeouts grew in the last POISON_RISE_WINDOW seconds and
reached POISON_MIN_TIMEOUTS, not buried yet."""

#: Within a level, the order problems are listed in: what loses work first.
KIND_ORDER = (
    "draining",
    "deadline-soon",
    "poison",
    "stalled",
    "no-consumers",
    "no-workers",
    "not-draining",
    "paused",
    "delayed-storm",
    "binlog-pinned",
    "binlog-churn",
    "binlog",
    "buried",
    "growing",
    "timeouts",
)


def _rank(hint: Hint) -> tuple[int, int, str, int]:
    kind = KIND_ORDER.index(hint.kind) if hint.kind in KIND_ORDER else len(KIND_ORDER)
    return (LEVELS.index(hint.level), kind, hint.tube or "", hint.job or 0)


def _held(job: JobLike, now: float) -> tuple[float, float]:
    """(seconds held, seconds of TTR left) of a reserved job, aged to ``now``."""
    left = max(0.0, job.seen + job.time_left - now)
    return max(0.0, job.ttr - left), left


def _waiting(tubes: Mapping[str, Mapping[str, Any]], tube: str) -> int:
    try:
        return int(tubes.get(tube, {}).get("current-jobs-ready", 0))
    except (TypeError, ValueError):
        return 0


def _dur(seconds: float) -> str:
    return duration_words(seconds)


def held_hints(
    reserved: Iterable[JobLike], tubes: Mapping[str, Mapping[str, Any]], now: float
) -> list[Hint]:
    """Stalled held jobs and reservations about to expire (DEADLINE_SOON)."""
    by_tube: dict[str, list[tuple[JobLike, float, float]]] = {}
    for job in reserved:
        if job.state == "reserved":
            held, left = _held(job, now)
            by_tube.setdefault(job.tube, []).append((job, held, left))
    hints: list[Hint] = []
    for tube, jobs in by_tube.items():
        waiting = _waiting(tubes, tube)
        helds = [held for _job, held, _left in jobs]
        for job, held, left in jobs:
            fresh = now - job.seen <= DEADLINE_SOON_FRESH
            if left <= DEADLINE_SOON_SECONDS and held >= 1 and fresh:
                text = (
                    f"job {job.id}: {left:.0f}s of its {_dur(job.ttr)} TTR left (DEADLINE_SOON), "
                    f"held {_dur(held)}"
                )
                short = f"job {job.id}: TTR ends"
                hints.append(
                    Hint("warning", tube, text, short, job.id, "reserved", "deadline-soon")
                )
                continue
            others = list(helds)
            others.remove(held)
            typical = statistics.median(others) if len(others) >= 2 else None
            long_hold = held >= STALL_SECONDS and waiting > 0
            unusual = typical is not None and held >= max(STALL_MIN_SECONDS, STALL_FACTOR * typical)
            if long_hold or unusual:
                behind = f", {waiting:,} waiting behind it" if waiting else ""
                usual = f" (others ~{_dur(typical)})" if unusual and typical is not None else ""
                text = f"job {job.id} held {_dur(held)} of a {_dur(job.ttr)} TTR{usual}{behind}"
                short = f"job {job.id} held {_dur(held)}"
                hints.append(Hint("warning", tube, text, short, job.id, "reserved", "stalled"))
    return hints


def storm_hints(
    delayed: Mapping[str, Sequence[JobLike]],
    now: float,
    rates: Callable[[str], TubeRates | None],
) -> list[Hint]:
    """Delayed storms: many delayed jobs due within a minute, against the tube's recent rate.

    ``delayed`` holds each tube's delayed jobs ordered by deadline (the inventory's order):
    a binary search counts the due ones, so a tube with a million delayed jobs costs little.
    """
    hints: list[Hint] = []
    horizon = now + STORM_WINDOW
    for tube, jobs in delayed.items():
        count = bisect.bisect_right(jobs, horizon, key=lambda job: job.seen + job.time_left)
        if count < STORM_MIN_JOBS:
            continue
        tube_rates = rates(tube)
        handled = 0.0
        if tube_rates is not None:
            handled = max(tube_rates.deletes or 0.0, tube_rates.reserves or 0.0)
        if count <= STORM_FACTOR * handled * STORM_WINDOW:
            continue
        pace = f"the tube handles {format_rate(handled)}" if handled else "the tube is idle"
        text = f"delayed storm: {count:,} delayed jobs become ready within 1m; {pace}"
        short = f"{count:,} delayed due in 1m"
        hints.append(Hint("warning", tube, text, short, None, "delayed", "delayed-storm"))
    return hints


def poison_hints(jobs: Iterable[JobLike], rose: Mapping[int, float], now: float) -> list[Hint]:
    """Jobs timing out again and again right now, not buried yet: named."""
    hints: list[Hint] = []
    for job in jobs:
        when = rose.get(job.id)
        if when is None or now - when > POISON_RISE_WINDOW or job.state == "buried":
            continue
        if job.timeouts < POISON_MIN_TIMEOUTS:
            continue
        text = (
            f"job {job.id} keeps timing out: {job.timeouts}x its {_dur(job.ttr)} TTR, "
            f"last {_dur(now - when)} ago, not buried"
        )
        short = f"job {job.id} timed out {job.timeouts}x"
        hints.append(Hint("warning", job.tube, text, short, job.id, None, "poison"))
    return hints


def problems(by_tube: Mapping[str | None, Iterable[Hint]]) -> list[Hint]:
    """Every warning and error, worst first. Server-wide hints that only add up what a tube's
    hint already says (buried jobs, ready jobs nobody takes) are left out when a tube names it."""
    tube_kinds = {h.kind for tube, hints in by_tube.items() if tube is not None for h in hints}
    covered = {"buried": {"buried"}, "no-workers": {"no-consumers", "paused", "not-draining"}}
    out: list[Hint] = []
    for tube, hints in by_tube.items():
        for hint in hints:
            if hint.level == "info":
                continue
            if tube is None and covered.get(hint.kind, set()) & tube_kinds:
                continue
            out.append(hint)
    return sorted(out, key=_rank)


def summary_hint(found: list[Hint]) -> list[Hint]:
    """The (all tubes) row's hint: the worst problem, naming its tube; none when all is well."""
    if not found:
        return []
    worst = found[0]
    where = f"{worst.tube}: " if worst.tube is not None else ""
    text = f"{len(found):,} problems, worst: {where}{worst.text}"
    if len(found) == 1:
        text = f"{where}{worst.text}"
    short = f"{len(found):,} problems" if len(found) > 1 else f"{where}{worst.headline}"
    return [Hint(worst.level, None, text, short, worst.job, worst.state, "summary")]


@dataclass
class ProblemBook:
    """When each current problem was first seen, so the summary can say "for 12m"."""

    since: dict[tuple[str, str | None, int | None], float] = field(default_factory=dict)

    def note(self, found: Iterable[Hint], now: float) -> None:
        current = {h.key for h in found}
        self.since = {k: t for k, t in self.since.items() if k in current}
        for key in current:
            self.since.setdefault(key, now)

    def age(self, hint: Hint, now: float) -> float | None:
        first = self.since.get(hint.key)
        return None if first is None else now - first
