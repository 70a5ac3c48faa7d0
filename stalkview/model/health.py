"""Health hints and poison jobs: what an on-call engineer should notice first.

Poison jobs (from the ``stats-job`` history counters), with the default ``threshold`` of 3:
- timed out 2 or more times (``timeouts >= max(2, threshold - 1)``): the job keeps outliving its
  TTR, which usually means it hangs or kills its worker;
- buried 2 or more times (``buries >= max(2, threshold - 1)``): buried, kicked, and buried again;
- released 3 or more times (``releases >= threshold``): retried over and over;
- reserved 5 or more times (``reserves >= threshold + 2``): handed out again and again without ever
  being finished, whatever the reason.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from stalkview.model.joblike import JobLike
from stalkview.model.rates import ServerRates, TubeRates, eta, format_duration, format_rate

LEVELS: tuple[str, ...] = ("error", "warning", "info")
POISON_THRESHOLD = 3
URGENT_PRI = 1024
TIMEOUT_SPIKE_MIN_RATE = 0.2
"""Timeouts per second below which no spike is reported, whatever the baseline."""
TIMEOUT_SPIKE_FACTOR = 3.0
"""A spike: the short-window timeout rate is this many times the 5-minute rate."""
GROWTH_MIN_RATE = 0.1
NOT_DRAINING_SECONDS = 30.0
"""Watchers, ready jobs, and neither a reserve nor a delete in the tube for this long."""


@dataclass(frozen=True)
class Hint:
    """One health hint: ``level`` is "error", "warning" or "info"; ``tube`` None for the server.

    ``short`` is a few words for a narrow table cell (the full ``text`` goes in the problems
    summary); ``job`` names the job it is about, ``state`` which of the tube's jobs it concerns
    (what "show me" filters on), ``kind`` a stable name ("buried", "stalled", ...).
    They do not take part in equality: two hints saying the same thing are the same hint.
    """

    level: str
    tube: str | None
    text: str
    short: str = field(default="", compare=False)
    job: int | None = field(default=None, compare=False)
    state: str | None = field(default=None, compare=False)
    kind: str = field(default="", compare=False)

    @property
    def key(self) -> tuple[str, str | None, int | None]:
        """What identifies the problem across refreshes (its numbers change, it does not)."""
        return (self.kind or self.text, self.tube, self.job)

    @property
    def headline(self) -> str:
        """The few words a table cell shows: ``short``, else the text up to its first colon."""
        return self.short or self.text.split(": ", 1)[0]


def poison_reasons(job: JobLike, threshold: int = POISON_THRESHOLD) -> list[str]:
    """Why ``job`` looks poisonous ("timed out 3x", "buried 2x", ...); empty when it does not."""
    repeated = max(2, threshold - 1)
    reasons = []
    if job.timeouts >= repeated:
        reasons.append(f"timed out {job.timeouts}x")
    if job.buries >= repeated:
        reasons.append(f"buried {job.buries}x")
    if job.releases >= threshold:
        reasons.append(f"released {job.releases}x")
    if job.reserves >= threshold + 2:
        reasons.append(f"reserved {job.reserves}x")
    return reasons


def is_poison(job: JobLike, threshold: int = POISON_THRESHOLD) -> bool:
    """True when the job's history counters say it keeps failing (see the module docstring)."""
    return bool(poison_reasons(job, threshold))


def _count(stats: Mapping[str, Any], key: str) -> int:
    try:
        return int(stats.get(key, 0))
    except (TypeError, ValueError):
        return 0


def _jobs(n: int, what: str = "job") -> str:
    return f"{n:,} {what}" + ("" if n == 1 else "s")


def _sorted(hints: list[Hint]) -> list[Hint]:
    return sorted(hints, key=lambda h: LEVELS.index(h.level))


def tube_hints(
    tube_stats: Mapping[str, Any], rates: TubeRates | None = None, *, own_watchers: int = 0
) -> list[Hint]:
    """Hints for one tube from its ``stats-tube`` dict, most severe first.

    ``own_watchers`` is how many of the tube's watchers are this app's own connections (every
    connection watches "default" until it ignores it), so they do not count as consumers.
    """
    name = str(tube_stats.get("name")) if "name" in tube_stats else None
    ready = _count(tube_stats, "current-jobs-ready")
    buried = _count(tube_stats, "current-jobs-buried")
    urgent = _count(tube_stats, "current-jobs-urgent")
    watching = _count(tube_stats, "current-watching") - own_watchers
    paused_left = _count(tube_stats, "pause-time-left")
    hints = []
    if ready and watching <= 0:
        text = f"no consumers: {_jobs(ready, 'ready job')}, nobody watching"
        hints.append(Hint("warning", name, text, "no consumers", None, "ready", "no-consumers"))
    if buried:
        text = _jobs(buried, "buried job")
        hints.append(Hint("warning", name, text, text, None, "buried", "buried"))
    if paused_left > 0 and _count(tube_stats, "pause") > 0:
        left = format_duration(paused_left)
        if ready:
            # Forgotten pauses are an incident: the jobs wait while workers sit idle.
            text = f"paused, {left} left: {_jobs(ready, 'ready job')} waiting"
            hints.append(
                Hint("warning", name, text, f"paused, {left} left", None, "ready", "paused")
            )
        else:
            text = f"paused, {left} left"
            hints.append(Hint("info", name, text, text, None, None, "paused"))
    if urgent:
        text = f"{_jobs(urgent, 'urgent job')} waiting (pri < 1024)"
        hints.append(Hint("info", name, text, _jobs(urgent, "urgent job"), None, "ready", "urgent"))
    paused = paused_left > 0 and _count(tube_stats, "pause") > 0
    if ready and watching > 0 and not paused and rates is not None:
        idle = rates.idle_for
        if idle is not None and idle >= NOT_DRAINING_SECONDS:
            text = (
                f"not draining: {_jobs(ready, 'ready job')}, {watching:,} watching, "
                f"no reserve or delete for {format_duration(idle)}"
            )
            hints.append(Hint("warning", name, text, "not draining", None, "ready", "not-draining"))
    hints.extend(_flow_hints(name, ready, rates))
    return _sorted(hints)


def _flow_hints(name: str | None, ready: int, rates: TubeRates | None) -> list[Hint]:
    """Time to drain and backlog growth from the put and delete rates."""
    if rates is None or not ready:
        return []
    hints = []
    growth = (rates.puts or 0.0) - (rates.deletes or 0.0)
    if rates.deletes and rates.deletes > 0:
        left = format_duration(eta(ready, rates.deletes))
        text = f"drains in ~{left} at {format_rate(rates.deletes)}"
        hints.append(Hint("info", name, text, f"drains in ~{left}", None, "ready", "drains"))
    if growth >= GROWTH_MIN_RATE:
        text = f"backlog growing: +{format_rate(growth)}"
        hints.append(Hint("warning", name, text, text, None, "ready", "growing"))
    return hints


def server_hints(server_stats: Mapping[str, Any], rates: ServerRates | None = None) -> list[Hint]:
    """Server-wide hints from the ``stats`` dict, most severe first."""
    hints = []
    if str(server_stats.get("draining", "")).lower() == "true":
        text = "draining: the server refuses new jobs"
        hints.append(Hint("error", None, text, "draining", kind="draining"))
    ready = _count(server_stats, "current-jobs-ready")
    if ready and "current-workers" in server_stats and _count(server_stats, "current-workers") == 0:
        text = f"no workers: {_jobs(ready, 'ready job')}, no connection reserves"
        hints.append(Hint("warning", None, text, "no workers", None, "ready", "no-workers"))
    buried = _count(server_stats, "current-jobs-buried")
    if buried:
        text = f"{_jobs(buried, 'buried job')} on the server"
        hints.append(
            Hint("warning", None, text, _jobs(buried, "buried job"), None, "buried", "buried")
        )
    hints.extend(_timeout_hints(rates))
    return _sorted(hints)


def _timeout_hints(rates: ServerRates | None) -> list[Hint]:
    if rates is None or not rates.timeouts or rates.timeouts <= 0:
        return []
    now, baseline = rates.timeouts, rates.timeouts_long or 0.0
    if now >= TIMEOUT_SPIKE_MIN_RATE and now >= baseline * TIMEOUT_SPIKE_FACTOR:
        text = f"TTR timeout spike: {format_rate(now)} (5-min average {format_rate(baseline)})"
        return [Hint("warning", None, text, "TTR timeout spike", kind="timeouts")]
    text = f"TTR timeouts: {format_rate(now)}"
    return [Hint("info", None, text, text, kind="timeouts")]
