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
