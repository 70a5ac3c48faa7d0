"""Poison jobs and health hints for tubes and the server."""

from __future__ import annotations

from dataclasses import replace

import pytest

from stalkview.model import Hint, ServerRates, TubeRates, is_poison, poison_reasons
from stalkview.model import server_hints as server_hints_of
from stalkview.model import tube_hints as tube_hints_of
from tests.factories import FakeJob

Job = FakeJob


CLEAN = Job()


@pytest.mark.parametrize(
    ("job", "reasons"),
    [
        (CLEAN, []),
        (replace(CLEAN, reserves=4, releases=2, timeouts=1, buries=1, kicks=1), []),
        (replace(CLEAN, timeouts=2, reserves=2), ["timed out 2x"]),
        (replace(CLEAN, buries=2, kicks=1, reserves=2), ["buried 2x"]),
        (replace(CLEAN, releases=3, reserves=3), ["released 3x"]),
        (replace(CLEAN, reserves=5), ["reserved 5x"]),
        (
            replace(CLEAN, reserves=9, timeouts=3, releases=4, buries=2),
            ["timed out 3x", "buried 2x", "released 4x", "reserved 9x"],
        ),
    ],
)
def test_poison_reasons(job: Job, reasons: list[str]) -> None:
    assert poison_reasons(job) == reasons
    assert is_poison(job) is bool(reasons)


def test_poison_threshold_scales() -> None:
    job = replace(CLEAN, reserves=6, releases=4, timeouts=3, buries=3)
    assert poison_reasons(job, threshold=5) == []
    assert poison_reasons(replace(job, timeouts=4, releases=5, reserves=7), threshold=5) == [
        "timed out 4x",
        "released 5x",
        "reserved 7x",
    ]
    # Repeated timeouts and buries never need fewer than 2 occurrences.
    assert not is_poison(replace(CLEAN, timeouts=1, buries=1), threshold=1)
    assert is_poison(replace(CLEAN, releases=1), threshold=1)


def tube(**stats: object) -> dict[str, object]:
    base: dict[str, object] = {
        "name": "emails",
        "current-jobs-urgent": 0,
        "current-jobs-ready": 0,
        "current-jobs-reserved": 0,
        "current-jobs-delayed": 0,
        "current-jobs-buried": 0,
        "total-jobs": 0,
        "current-using": 0,
        "current-waiting": 0,
        "current-watching": 1,
        "pause": 0,
        "cmd-delete": 0,
        "cmd-pause-tube": 0,
        "pause-time-left": 0,
    }
    base.update({k.replace("_", "-"): v for k, v in stats.items()})
    return base


def texts(hints: list[Hint]) -> list[str]:
    return [h.text for h in hints]


def test_quiet_tube_has_no_hints() -> None:
    assert tube_hints_of(tube()) == []
    assert tube_hints_of(tube(current_jobs_ready=0, current_watching=0)) == []


def test_buried_jobs() -> None:
    assert tube_hints_of(tube(current_jobs_buried=1)) == [Hint("warning", "emails", "1 buried job")]
    assert texts(tube_hints_of(tube(current_jobs_buried=1234))) == ["1,234 buried jobs"]


def test_no_consumers() -> None:
    hints = tube_hints_of(tube(current_jobs_ready=12, current_watching=0))
    assert hints == [Hint("warning", "emails", "no consumers: 12 ready jobs, nobody watching")]
    assert tube_hints_of(tube(current_jobs_ready=12, current_watching=1)) == []
    # Our own connections watch "default": they are not consumers.
    own = tube_hints_of(tube(current_jobs_ready=1, current_watching=1), own_watchers=1)
    assert texts(own) == ["no consumers: 1 ready job, nobody watching"]


def test_paused_countdown() -> None:
    hints = tube_hints_of(tube(pause=60, pause_time_left=42))
    assert hints == [Hint("info", "emails", "paused, 42s left")]
    assert texts(tube_hints_of(tube(pause=3600, pause_time_left=3599))) == ["paused, 59m 59s left"]
    assert tube_hints_of(tube(pause=0, pause_time_left=0)) == []


def test_urgent_jobs_waiting() -> None:
    hints = tube_hints_of(tube(current_jobs_ready=5, current_jobs_urgent=3))
    assert texts(hints) == ["3 urgent jobs waiting (pri < 1024)"]


def test_time_to_drain_and_growth() -> None:
    stats = tube(current_jobs_ready=600)
    assert tube_hints_of(stats, TubeRates(puts=0.0, deletes=10.0)) == [
        Hint("info", "emails", "drains in ~1m at 10.0/s")
    ]
    growing = tube_hints_of(stats, TubeRates(puts=15.0, deletes=5.0))
    assert texts(growing) == ["backlog growing: +10.0/s", "drains in ~2m at 5.0/s"]
    assert growing[0].level == "warning"
    stalled = tube_hints_of(stats, TubeRates(puts=2.0, deletes=0.0))
    assert texts(stalled) == ["backlog growing: +2.0/s"]
    assert tube_hints_of(stats, TubeRates()) == []
    assert tube_hints_of(tube(), TubeRates(puts=5.0, deletes=5.0)) == []


def test_hints_are_sorted_by_severity() -> None:
    stats = tube(
        current_jobs_ready=10,
        current_jobs_urgent=2,
        current_jobs_buried=3,
        current_watching=0,
        pause=10,
        pause_time_left=5,
    )
    levels = [h.level for h in tube_hints_of(stats, TubeRates(puts=1.0, deletes=0.5))]
    assert levels == sorted(levels, key=["error", "warning", "info"].index)
    assert len(levels) == 6
    assert all(h.tube == "emails" for h in tube_hints_of(stats))


def test_odd_values_do_not_crash() -> None:
    assert tube_hints_of({"current-jobs-buried": "x"}) == []
    assert tube_hints_of({"current-jobs-buried": "2"}) == [Hint("warning", None, "2 buried jobs")]


def stats(**values: object) -> dict[str, object]:
    base: dict[str, object] = {
        "current-jobs-ready": 0,
        "current-jobs-buried": 0,
        "current-workers": 1,
        "draining": "false",
        "job-timeouts": 0,
    }
    base.update({k.replace("_", "-"): v for k, v in values.items()})
    return base


def test_quiet_server_has_no_hints() -> None:
    assert server_hints_of(stats()) == []
    assert server_hints_of(stats(), ServerRates()) == []


def test_draining() -> None:
    assert server_hints_of(stats(draining="true")) == [
        Hint("error", None, "draining: the server refuses new jobs")
    ]
    assert server_hints_of(stats(draining=True)) != []


def test_server_buried_and_no_workers() -> None:
    hints = server_hints_of(stats(current_jobs_buried=2, current_jobs_ready=5, current_workers=0))
    assert texts(hints) == [
        "no workers: 5 ready jobs, no connection reserves",
        "2 buried jobs on the server",
    ]
    assert server_hints_of({"current-jobs-ready": 5}) == []


def test_timeout_spike_and_steady_timeouts() -> None:
    spike = server_hints_of(stats(), ServerRates(timeouts=2.0, timeouts_long=0.1))
    assert spike == [Hint("warning", None, "TTR timeout spike: 2.0/s (5-min average 0.1/s)")]
    fresh = server_hints_of(stats(), ServerRates(timeouts=1.0, timeouts_long=None))
    assert fresh[0].level == "warning"
    steady = server_hints_of(stats(), ServerRates(timeouts=1.0, timeouts_long=0.9))
    assert steady == [Hint("info", None, "TTR timeouts: 1.0/s")]
    trickle = server_hints_of(stats(), ServerRates(timeouts=0.1, timeouts_long=0.0))
    assert trickle == [Hint("info", None, "TTR timeouts: 0.1/s")]
    assert server_hints_of(stats(), ServerRates(timeouts=0.0, timeouts_long=0.0)) == []


# --- every hint at its threshold -------------------------------------------------------------


@pytest.mark.parametrize(("workers", "hinted"), [(0, True), (1, False), (7, False)])
def test_no_workers_hint_follows_current_workers(workers: int, hinted: bool) -> None:
    hints = server_hints_of(stats(current_jobs_ready=5, current_workers=workers))
    assert texts(hints) == (["no workers: 5 ready jobs, no connection reserves"] if hinted else [])
    # No ready job, nothing to work on: no hint whatever the workers.
    assert server_hints_of(stats(current_jobs_ready=0, current_workers=workers)) == []


@pytest.mark.parametrize(
    ("pause", "left", "text"),
    [
        (60, 1, "paused, 1s left"),
        (1, 1, "paused, 1s left"),
        (60, 0, None),  # the pause is over
        (0, 5, None),  # not paused (an inconsistent reply: no hint)
    ],
)
def test_paused_hint_while_time_is_left(pause: int, left: int, text: str | None) -> None:
    hints = tube_hints_of(tube(pause=pause, pause_time_left=left))
    assert texts(hints) == ([text] if text else [])
    assert all(h.tube == "emails" for h in hints)


@pytest.mark.parametrize(
    ("watching", "own", "hinted"),
    [(0, 0, True), (1, 1, True), (2, 1, False), (1, 0, False), (3, 3, True)],
)
def test_no_consumers_counts_only_other_watchers(watching: int, own: int, hinted: bool) -> None:
    hints = tube_hints_of(tube(current_jobs_ready=2, current_watching=watching), own_watchers=own)
    assert texts(hints) == (["no consumers: 2 ready jobs, nobody watching"] if hinted else [])
    assert all(h.level == "warning" for h in hints)


def test_one_of_each_is_singular() -> None:
    stats_ = tube(current_jobs_ready=1, current_jobs_urgent=1, current_jobs_buried=1)
    assert texts(tube_hints_of(stats_, own_watchers=1)) == [
        "no consumers: 1 ready job, nobody watching",
        "1 buried job",
        "1 urgent job waiting (pri < 1024)",
    ]
    server = server_hints_of(stats(current_jobs_ready=1, current_jobs_buried=1, current_workers=0))
    assert texts(server) == [
        "no workers: 1 ready job, no connection reserves",
        "1 buried job on the server",
    ]


# Rates chosen to be exact in binary floating point, so "at the threshold" is exact.
@pytest.mark.parametrize(
    ("puts", "deletes", "growing"),
    [
        (0.1, 0.0, "+0.1/s"),  # exactly GROWTH_MIN_RATE
        (0.09375, 0.0, None),  # just below
        (1.125, 1.0, "+0.1/s"),
        (1.0625, 1.0, None),
        (1.0, 1.0, None),
        (0.5, 1.0, None),  # shrinking
        (0.5, None, "+0.5/s"),  # nothing deleted yet
    ],
)
def test_backlog_growth_at_its_threshold(
    puts: float, deletes: float | None, growing: str | None
) -> None:
    hints = tube_hints_of(tube(current_jobs_ready=100), TubeRates(puts=puts, deletes=deletes))
    growth = [h for h in hints if h.text.startswith("backlog growing")]
    assert [h.text for h in growth] == ([f"backlog growing: {growing}"] if growing else [])
    assert all(h.level == "warning" for h in growth)
    drains = [h.text for h in hints if h.text.startswith("drains")]
    assert len(drains) == (1 if deletes else 0)


def test_flow_hints_need_a_backlog() -> None:
    assert tube_hints_of(tube(current_jobs_ready=0), TubeRates(puts=9.0, deletes=1.0)) == []
    assert texts(tube_hints_of(tube(current_jobs_ready=1), TubeRates(puts=0.0, deletes=0.5))) == [
        "drains in ~2s at 0.5/s"
    ]


@pytest.mark.parametrize(
    ("now", "baseline", "hint"),
    [
        # exactly TIMEOUT_SPIKE_MIN_RATE
        (0.2, 0.0, Hint("warning", None, "TTR timeout spike: 0.2/s (5-min average 0/s)")),
        # below it: steady, however new
        (0.19, 0.0, Hint("info", None, "TTR timeouts: 0.2/s")),
        # exactly TIMEOUT_SPIKE_FACTOR x the 5-minute rate, and just below
        (0.75, 0.25, Hint("warning", None, "TTR timeout spike: 0.8/s (5-min average 0.2/s)")),
        (0.74, 0.25, Hint("info", None, "TTR timeouts: 0.7/s")),
        # no 5-minute rate yet
        (3.0, None, Hint("warning", None, "TTR timeout spike: 3.0/s (5-min average 0/s)")),
    ],
)
def test_timeout_spike_at_its_thresholds(now: float, baseline: float | None, hint: Hint) -> None:
    assert server_hints_of(stats(), ServerRates(timeouts=now, timeouts_long=baseline)) == [hint]


def test_no_timeout_hint_without_timeouts() -> None:
    for rates in (None, ServerRates(), ServerRates(timeouts=0.0), ServerRates(timeouts=-1.0)):
        assert server_hints_of(stats(), rates) == []


@pytest.mark.parametrize(("draining", "hinted"), [("true", True), ("TRUE", True), ("false", False)])
def test_draining_words(draining: str, hinted: bool) -> None:
    assert bool(server_hints_of(stats(draining=draining))) is hinted


# --- what each hint says beyond its text: headline, the jobs it concerns, its stable kind --------


def described(hints: list[Hint]) -> list[tuple[str, str, str | None, str, int | None]]:
    """(level, headline, state, kind, job); every hint also names its tube and says its short."""
    for h in hints:
        assert h.short == h.headline, h
        assert h.tube == (None if h.kind in SERVER_KINDS else "emails"), h
    return [(h.level, h.headline, h.state, h.kind, h.job) for h in hints]


SERVER_KINDS = ("draining", "no-workers", "timeouts")


@pytest.mark.parametrize(
    ("stats_", "rates", "expected"),
    [
        (
            tube(current_jobs_ready=3, current_watching=0),
            None,
            [("warning", "no consumers", "ready", "no-consumers", None)],
        ),
        (
            tube(current_jobs_buried=2),
            None,
            [("warning", "2 buried jobs", "buried", "buried", None)],
        ),
        (
            tube(pause=60, pause_time_left=42),
            None,
            [("info", "paused, 42s left", None, "paused", None)],
        ),
        (
            tube(current_jobs_ready=3, pause=60, pause_time_left=42),
            None,
            [("warning", "paused, 42s left", "ready", "paused", None)],
        ),
        (
            tube(current_jobs_ready=3, current_jobs_urgent=1),
            None,
            [("info", "1 urgent job", "ready", "urgent", None)],
        ),
        (
            tube(current_jobs_ready=10),
            TubeRates(puts=3.0, deletes=1.0),
            [
                ("warning", "backlog growing: +2.0/s", "ready", "growing", None),
                ("info", "drains in ~10s", "ready", "drains", None),
            ],
        ),
    ],
)  # fmt: skip
def test_tube_hint_headlines_states_and_kinds(
    stats_: dict[str, object], rates: TubeRates | None, expected: list[tuple[object, ...]]
) -> None:
    assert described(tube_hints_of(stats_, rates)) == expected


def test_paused_with_ready_jobs_says_how_many_wait() -> None:
    (hint,) = tube_hints_of(tube(current_jobs_ready=3, pause=60, pause_time_left=42))
    assert hint.text == "paused, 42s left: 3 ready jobs waiting"
    (one,) = tube_hints_of(tube(current_jobs_ready=1, pause=60, pause_time_left=42))
    assert one.text == "paused, 42s left: 1 ready job waiting"


@pytest.mark.parametrize(
    ("idle", "hinted"), [(None, False), (0.0, False), (29.5, False), (30.0, True), (600.0, True)]
)
def test_not_draining_at_its_threshold(idle: float | None, hinted: bool) -> None:
    stats_ = tube(current_jobs_ready=4, current_watching=2)
    hints = tube_hints_of(stats_, TubeRates(idle_for=idle))
    if not hinted:
        assert hints == []
        return
    assert described(hints) == [("warning", "not draining", "ready", "not-draining", None)]
    assert hints[0].text.startswith("not draining: 4 ready jobs, 2 watching, no reserve or delete")
    if idle == 30.0:
        assert hints[0].text.endswith(" for 30s")


@pytest.mark.parametrize(
    ("pause", "left", "kinds"),
    [
        (60, 0, ["not-draining"]),  # a pause that is over does not excuse an idle tube
        (0, 5, ["not-draining"]),  # nor does a time left without a pause
        (60, 1, ["paused"]),
        (1, 1, ["paused"]),
    ],
)
def test_only_a_running_pause_excuses_not_draining(pause: int, left: int, kinds: list[str]) -> None:
    stats_ = tube(current_jobs_ready=4, current_watching=2, pause=pause, pause_time_left=left)
    assert [h.kind for h in tube_hints_of(stats_, TubeRates(idle_for=60.0))] == kinds


def test_not_draining_needs_watchers_ready_jobs_and_no_pause() -> None:
    idle = TubeRates(idle_for=120.0)
    assert tube_hints_of(tube(current_jobs_ready=0, current_watching=2), idle) == []
    assert [
        h.kind for h in tube_hints_of(tube(current_jobs_ready=4, current_watching=0), idle)
    ] == ["no-consumers"]
    assert [
        h.kind for h in tube_hints_of(tube(current_jobs_ready=4, current_watching=1), idle)
    ] == ["not-draining"]
    paused = tube(current_jobs_ready=4, current_watching=2, pause=60, pause_time_left=9)
    assert [h.kind for h in tube_hints_of(paused, idle)] == ["paused"]
    own = tube(current_jobs_ready=4, current_watching=1)
    assert [h.kind for h in tube_hints_of(own, idle, own_watchers=1)] == ["no-consumers"]


def test_server_hint_headlines_states_and_kinds() -> None:
    (buried,) = server_hints_of(stats(current_jobs_buried=1))
    assert (buried.tube, buried.short, buried.kind) == (None, "1 buried job", "buried")
    hints = server_hints_of(
        stats(draining="true", current_jobs_ready=2, current_workers=0, current_jobs_buried=1),
        ServerRates(timeouts=1.0, timeouts_long=0.1),
    )
    assert described(hints[:2]) == [
        ("error", "draining", None, "draining", None),
        ("warning", "no workers", "ready", "no-workers", None),
    ]
    assert [(h.short, h.state, h.kind) for h in hints[2:]] == [
        ("1 buried job", "buried", "buried"),
        ("TTR timeout spike", None, "timeouts"),
    ]
    (steady,) = server_hints_of(stats(), ServerRates(timeouts=0.5, timeouts_long=0.5))
    assert described([steady]) == [("info", "TTR timeouts: 0.5/s", None, "timeouts", None)]


def test_hint_key_and_headline() -> None:
    hint = Hint("warning", "a", "3 ready jobs: more", kind="no-consumers", job=7)
    assert hint.key == ("no-consumers", "a", 7)
    assert Hint("info", None, "plain text").key == ("plain text", None, None)
    assert hint.headline == "3 ready jobs"
    assert Hint("info", None, "x: y", short="short").headline == "short"
    # short, job, state and kind do not make two hints saying the same thing different.
    assert Hint("info", "a", "x", short="s", job=1, state="ready", kind="k") == Hint(
        "info", "a", "x"
    )
