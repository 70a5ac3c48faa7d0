"""Live rates from the deltas of beanstalkd's counters, and their formatting.

One ``RateTracker`` per stats source: ``RateTracker()`` for the server's ``stats`` (it tracks
the ``cmd-*`` counters that mean "something changed", ``job-timeouts``, and ``reserves`` =
cmd-reserve + cmd-reserve-with-timeout), ``RateTracker.for_tube()`` for one tube's
``stats-tube``. ``TubeRateBook`` keeps one tube tracker per tube and forgets tubes that vanish.
``ServerRates`` / ``TubeRates`` are snapshots of the current rates for the hints and the screen.

A counter that goes down means the server restarted (or a tube was re-created): the history is
dropped and the new sample becomes the baseline, so rates are never negative.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from stalkview.format import duration_words

SERVER_RATE_KEYS: tuple[str, ...] = (
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
SERVER_DERIVED: Mapping[str, tuple[str, ...]] = {
    "reserves": ("cmd-reserve", "cmd-reserve-with-timeout"),
}
TUBE_RATE_KEYS: tuple[str, ...] = ("total-jobs", "cmd-delete", "cmd-pause-tube")
FLOW_KEYS: tuple[str, ...] = ("reserves", "releases", "timeouts", "buries", "kicks")
"""Per-tube counters the inventory sums from its jobs' ``stats-job`` deltas (estimates: a job
reserved and deleted between two reads leaves no trace)."""
HISTORY_SECONDS = 600.0
MAX_SAMPLES = 4096
DEFAULT_WINDOW = 10.0
LONG_WINDOW = 300.0
UNKNOWN = "\u2013"


def _counter(value: Any) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return 0


class RateTracker:
    """Samples of counters over time; rates per second from their deltas.

    Keeps at most ``max_age`` seconds (and ``MAX_SAMPLES`` samples) of history.
    """

    def __init__(
        self,
        keys: Iterable[str] = SERVER_RATE_KEYS,
        derived: Mapping[str, tuple[str, ...]] = SERVER_DERIVED,
        max_age: float = HISTORY_SECONDS,
    ) -> None:
        self._keys = tuple(keys)
        self._derived = dict(derived)
        self._names = (*self._keys, *self._derived)
        self._index = {name: i for i, name in enumerate(self._names)}
        self._max_age = max_age
        self._times: list[float] = []
        self._values: list[tuple[int, ...]] = []
        self.resets = 0
        """How many times a counter went down and the history restarted."""

    @classmethod
    def for_tube(cls, max_age: float = HISTORY_SECONDS) -> RateTracker:
        return cls(TUBE_RATE_KEYS, {}, max_age)

    @property
    def keys(self) -> tuple[str, ...]:
        return self._names

    def __len__(self) -> int:
        return len(self._times)

    def update(self, stats: Mapping[str, Any], now: float) -> None:
        """Record ``stats`` as seen at ``now`` (a monotonic clock). Samples that do not move time
        forward are ignored."""
        if self._times and now <= self._times[-1]:
            return
        values = self._sample(stats)
        if self._values and any(v < p for v, p in zip(values, self._values[-1], strict=True)):
            self.clear()
            self.resets += 1
        self._times.append(now)
        self._values.append(values)
        self._trim(now)

    def _sample(self, stats: Mapping[str, Any]) -> tuple[int, ...]:
        # A key missing from one refresh keeps its last value: reading it as 0 would look like a
        # counter reset and throw the history away.
        last = self._values[-1] if self._values else None
        values = [
            _counter(stats[key]) if key in stats else (last[i] if last else 0)
            for i, key in enumerate(self._keys)
        ]
        for i, parts in enumerate(self._derived.values(), start=len(self._keys)):
            if all(part in stats for part in parts):
                values.append(sum(_counter(stats[part]) for part in parts))
            else:
                values.append(last[i] if last else 0)
        return tuple(values)

    def clear(self) -> None:
        self._times.clear()
        self._values.clear()

    def _trim(self, now: float) -> None:
        # Keep one sample at or before the cutoff so the oldest interval stays computable.
        cutoff = bisect.bisect_right(self._times, now - self._max_age) - 1
        drop = max(cutoff, len(self._times) - MAX_SAMPLES, 0)
        if drop:
            del self._times[:drop]
            del self._values[:drop]

    def _column(self, key: str) -> int:
        try:
            return self._index[key]
        except KeyError:
            raise KeyError(
                f"rate key {key!r} is not tracked: use one of {', '.join(self._names)}"
            ) from None

    def still_for(self, key: str) -> float | None:
        """Seconds the counter ``key`` has not moved, as far as the history goes (None until
        two samples exist)."""
        column = self._column(key)
        if len(self._times) < 2:
            return None
        newest = self._values[-1][column]
        index = len(self._values) - 1
        while index > 0 and self._values[index - 1][column] == newest:
            index -= 1
        return self._times[-1] - self._times[index]

    def span(self) -> float:
        """Seconds of history held."""
        return self._times[-1] - self._times[0] if self._times else 0.0

    def latest(self, key: str) -> int | None:
        """The last value seen of ``key``."""
        column = self._column(key)
        return self._values[-1][column] if self._values else None

    def rate(self, key: str, window: float = DEFAULT_WINDOW) -> float | None:
        """Per-second rate of ``key`` over the last ``window`` seconds (or the whole history when it
        is shorter); None until two samples exist."""
        column = self._column(key)
        if len(self._times) < 2:
            return None
        newest = len(self._times) - 1
        base = bisect.bisect_right(self._times, self._times[newest] - window) - 1
        base = min(max(base, 0), newest - 1)
        elapsed = self._times[newest] - self._times[base]
        delta = self._values[newest][column] - self._values[base][column]
        return delta / elapsed

    def history(self, key: str, points: int = 60, step: float = 1.0) -> list[float]:
        """``points`` per-second rates of ``key``, one per ``step`` seconds, oldest first, ending at
        the last sample. Time before the first sample counts as 0 (for sparklines)."""
        column = self._column(key)
        if points <= 0:
            return []
        if len(self._times) < 2 or step <= 0:
            return [0.0] * points
        end = self._times[-1]
        edges = [self._value_at(column, end - (points - i) * step) for i in range(points + 1)]
        return [max(edges[i + 1] - edges[i], 0.0) / step for i in range(points)]

    def _value_at(self, column: int, t: float) -> float:
        """The counter at time ``t``, interpolated linearly between samples."""
        times = self._times
        if t <= times[0]:
            return float(self._values[0][column])
        if t >= times[-1]:
            return float(self._values[-1][column])
        right = bisect.bisect_right(times, t)
        left = right - 1
        v0, v1 = self._values[left][column], self._values[right][column]
        fraction = (t - times[left]) / (times[right] - times[left])
        return v0 + (v1 - v0) * fraction


@dataclass(frozen=True)
class ServerRates:
    """Server-wide rates per second (None until two samples). ``timeouts_long`` is the
    ``job-timeouts`` rate over 5 minutes, the baseline a spike is measured against."""

    puts: float | None = None
    reserves: float | None = None
    deletes: float | None = None
    releases: float | None = None
    buries: float | None = None
    kicks: float | None = None
    touches: float | None = None
    timeouts: float | None = None
    timeouts_long: float | None = None

    @classmethod
    def from_tracker(cls, tracker: RateTracker, window: float = DEFAULT_WINDOW) -> ServerRates:
        return cls(
            puts=tracker.rate("cmd-put", window),
            reserves=tracker.rate("reserves", window),
            deletes=tracker.rate("cmd-delete", window),
            releases=tracker.rate("cmd-release", window),
            buries=tracker.rate("cmd-bury", window),
            kicks=tracker.rate("cmd-kick", window),
            touches=tracker.rate("cmd-touch", window),
            timeouts=tracker.rate("job-timeouts", window),
            timeouts_long=tracker.rate("job-timeouts", LONG_WINDOW),
        )


#: The rates the server bar and the lifecycle diagram show: label -> stats counter.
VIEW_COUNTERS = {
    "puts": "cmd-put", "reserves": "reserves", "deletes": "cmd-delete",
    "releases": "cmd-release", "buries": "cmd-bury", "kicks": "cmd-kick",
    "timeouts": "job-timeouts",
}  # fmt: skip
HISTORY_POINTS = 30
HISTORY_STEP = 4.0
"""Sparklines cover HISTORY_POINTS x HISTORY_STEP seconds: the last two minutes."""


def rate_view(tracker: RateTracker) -> tuple[dict[str, float | None], dict[str, list[float]]]:
    """Current rate and sparkline history of each rate the server bar shows."""
    rates = {label: tracker.rate(key) for label, key in VIEW_COUNTERS.items()}
    histories = {
        label: tracker.history(key, HISTORY_POINTS, HISTORY_STEP)
        for label, key in VIEW_COUNTERS.items()
    }
    return rates, histories


@dataclass(frozen=True)
class TubeRates:
    """One tube's rates per second: puts (from ``total-jobs``), deletes, pauses (exact, from
    ``stats-tube``); reserves, releases, timeouts, buries, kicks estimated from the inventory's
    per-job counters (None without an inventory). ``idle_for``: seconds with neither a delete
    nor a seen reserve, as far as the history goes."""

    puts: float | None = None
    deletes: float | None = None
    pauses: float | None = None
    reserves: float | None = None
    releases: float | None = None
    timeouts: float | None = None
    buries: float | None = None
    kicks: float | None = None
    idle_for: float | None = field(default=None, compare=False)

    @classmethod
    def from_tracker(
        cls,
        tracker: RateTracker,
        window: float = DEFAULT_WINDOW,
        flows: RateTracker | None = None,
    ) -> TubeRates:
        estimated: dict[str, float | None] = dict.fromkeys(FLOW_KEYS)
        idle = tracker.still_for("cmd-delete")
        if flows is not None:
            estimated = {key: flows.rate(key, window) for key in FLOW_KEYS}
            reserves_still = flows.still_for("reserves")
            if idle is not None and reserves_still is not None:
                idle = min(idle, reserves_still)
        return cls(
            puts=tracker.rate("total-jobs", window),
            deletes=tracker.rate("cmd-delete", window),
            pauses=tracker.rate("cmd-pause-tube", window),
            idle_for=idle,
            **estimated,
        )


class TubeRateBook:
    """A ``RateTracker`` per tube, fed with every refresh's ``stats-tube`` dicts."""

    def __init__(self, max_age: float = HISTORY_SECONDS) -> None:
        self._max_age = max_age
        self._trackers: dict[str, RateTracker] = {}
        self._flows: dict[str, RateTracker] = {}

    def update_flows(self, flows: Mapping[str, Mapping[str, int]], now: float) -> None:
        """Record the inventory's per-tube job counter sums (see ``FLOW_KEYS``)."""
        seen: dict[str, RateTracker] = {}
        for name, counters in flows.items():
            tracker = self._flows.get(name) or RateTracker(FLOW_KEYS, {}, self._max_age)
            tracker.update(counters, now)
            seen[name] = tracker
        self._flows = seen

    def has_flows(self, name: str) -> bool:
        return name in self._flows

    def update(self, tube_stats: Iterable[Mapping[str, Any]], now: float) -> None:
        """Record one refresh. Each dict needs its ``name``; tubes missing from this refresh are
        forgotten (a tube that comes back starts a new history)."""
        seen: dict[str, RateTracker] = {}
        for stats in tube_stats:
            name = str(stats.get("name", ""))
            tracker = self._trackers.get(name) or RateTracker.for_tube(self._max_age)
            tracker.update(stats, now)
            seen[name] = tracker
        self._trackers = seen

    def __contains__(self, name: object) -> bool:
        return name in self._trackers

    def names(self) -> list[str]:
        return list(self._trackers)

    def tracker(self, name: str) -> RateTracker | None:
        return self._trackers.get(name)

    def rates(self, name: str, window: float = DEFAULT_WINDOW) -> TubeRates | None:
        tracker = self._trackers.get(name)
        if tracker is None:
            return None
        return TubeRates.from_tracker(tracker, window, self._flows.get(name))


def format_rate(x: float | None) -> str:
    """ "12.3/s", "0.5/s", "123/s", "1.2k/s", "3.4M/s"; UNKNOWN (an en dash) when unknown;
    "0/s" when idle."""
    if x is None:
        return UNKNOWN
    if x == 0:
        return "0/s"
    magnitude = abs(x)
    if magnitude < 0.05:
        return "<0.1/s" if x > 0 else "-<0.1/s"
    if magnitude < 99.95:
        return f"{x:.1f}/s"
    if magnitude < 999.5:
        return f"{x:.0f}/s"
    if magnitude < 999_950:
        return f"{x / 1000:.1f}k/s"
    return f"{x / 1_000_000:.1f}M/s"


def eta(count: int, rate: float | None) -> float | None:
    """Seconds to drain ``count`` jobs at ``rate`` per second; None when it never drains."""
    if count <= 0:
        return 0.0
    if rate is None or rate <= 0:
        return None
    return count / rate


def format_duration(seconds: float | None) -> str:
    """ "42s", "5m 3s", "2h 5m", "3d 4h"; UNKNOWN (an en dash) when unknown."""
    if seconds is None:
        return UNKNOWN
    return duration_words(seconds)
