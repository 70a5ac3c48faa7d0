"""The server's problem list: job-level hints and the merge, worst first."""

from __future__ import annotations

from dataclasses import replace

from stalkview.model import Hint, RateTracker, TubeRates, tube_hints
from stalkview.model.problems import (
    ProblemBook,
    held_hints,
    poison_hints,
    problems,
    storm_hints,
    summary_hint,
)
from tests.factories import FakeJob

NOW = 1000.0
HELD = FakeJob(id=7, tube="reports", state="reserved", ttr=3600, seen=NOW)


def held(seconds: float, **kw: object) -> FakeJob:
    return replace(HELD, time_left=int(HELD.ttr - seconds), **kw)  # type: ignore[arg-type]


def test_a_long_hold_with_jobs_waiting_is_stalled_and_named() -> None:
    tubes = {"reports": {"current-jobs-ready": 200}}
    (hint,) = held_hints([held(25 * 60)], tubes, NOW)
    assert (hint.level, hint.tube, hint.job, hint.kind) == ("warning", "reports", 7, "stalled")
    assert hint.text == "job 7 held 25m of a 1h TTR, 200 waiting behind it"
    # Nobody waits behind it, or not long yet: nothing to say.
    assert held_hints([held(25 * 60)], {"reports": {"current-jobs-ready": 0}}, NOW) == []
    assert held_hints([held(60)], tubes, NOW) == []


def test_a_hold_far_longer_than_the_tubes_others_is_stalled() -> None:
    others = [held(2, id=n) for n in (1, 2, 3)]
    (hint,) = held_hints([*others, held(90)], {}, NOW)
    assert hint.job == 7 and "others ~2s" in hint.text
    assert held_hints([*others, held(15)], {}, NOW) == []


def test_deadline_soon_names_the_job() -> None:
    job = replace(HELD, ttr=30, time_left=1)
    (hint,) = held_hints([job], {}, NOW)
    assert hint.kind == "deadline-soon" and hint.job == 7 and "DEADLINE_SOON" in hint.text
    # Aged: read 2 s ago with 3 s left is 1 s left now.
    assert held_hints([replace(job, time_left=3, seen=NOW - 2)], {}, NOW)[0].kind == "deadline-soon"
    assert held_hints([replace(job, time_left=5)], {}, NOW) == []
    # A read too old to tell (the worker may have finished long ago): nothing said.
    assert held_hints([replace(job, time_left=11, seen=NOW - 10)], {}, NOW) == []


def delayed(n: int, due: float, tube: str = "emails") -> list[FakeJob]:
    return [
        FakeJob(id=i, tube=tube, state="delayed", time_left=int(due), seen=NOW) for i in range(n)
    ]


def test_delayed_storm_against_the_tubes_rate() -> None:
    jobs = {"emails": delayed(10_000, 30) + delayed(5, 3000)}
    (hint,) = storm_hints(jobs, NOW, lambda tube: TubeRates(deletes=0.5))
    assert hint.tube == "emails" and hint.kind == "delayed-storm" and hint.state == "delayed"
    assert "10,000 delayed jobs become ready within 1m" in hint.text
    # A tube that handles 200/s takes 10,000 in its stride; 50 jobs are no storm.
    assert storm_hints(jobs, NOW, lambda tube: TubeRates(deletes=200.0)) == []
    assert storm_hints({"emails": delayed(50, 30)}, NOW, lambda tube: None) == []
    assert storm_hints({"emails": delayed(10_000, 120)}, NOW, lambda tube: None) == []


def test_poison_in_progress_needs_a_recent_rise() -> None:
    job = FakeJob(id=42, tube="emails", state="ready", timeouts=3, ttr=1)
    (hint,) = poison_hints([job], {42: NOW - 5}, NOW)
    assert hint.job == 42 and hint.tube == "emails" and "3x" in hint.text
    assert poison_hints([job], {42: NOW - 600}, NOW) == []
    assert poison_hints([job], {}, NOW) == []
    assert poison_hints([replace(job, state="buried")], {42: NOW}, NOW) == []
    assert poison_hints([replace(job, timeouts=1)], {42: NOW}, NOW) == []


def test_paused_with_jobs_waiting_is_a_warning() -> None:
    base = {"name": "t", "pause": 3600, "pause-time-left": 3594, "current-watching": 1}
    (hint,) = tube_hints({**base, "current-jobs-ready": 120})
    assert hint.level == "warning" and hint.text == "paused, 59m 54s left: 120 ready jobs waiting"
    assert tube_hints(base)[0].level == "info"


def test_workers_present_but_not_draining() -> None:
    stats = {"name": "t", "current-jobs-ready": 9, "current-watching": 2}
    (hint,) = tube_hints(stats, TubeRates(idle_for=45.0))
    assert hint.kind == "not-draining" and "no reserve or delete for 45s" in hint.text
    assert tube_hints(stats, TubeRates(idle_for=5.0)) == []
    assert tube_hints({**stats, "current-jobs-ready": 0}, TubeRates(idle_for=45.0)) == []


def test_idle_for_counts_seconds_without_deletes_or_reserves() -> None:
    tube, flows = RateTracker.for_tube(), RateTracker(("reserves",), {})
    for t, deletes, reserves in [(0, 5, 1), (10, 6, 1), (20, 6, 2), (50, 6, 2)]:
        tube.update({"total-jobs": 9, "cmd-delete": deletes, "cmd-pause-tube": 0}, t)
        flows.update({"reserves": reserves}, t)
    assert tube.still_for("cmd-delete") == 40
    assert TubeRates.from_tracker(tube, flows=None).idle_for == 40
    assert flows.still_for("reserves") == 30


def test_problems_are_worst_first_and_name_their_tube() -> None:
    server = [
        Hint("warning", None, "12 buried jobs on the server", kind="buried"),
        Hint("error", None, "draining: the server refuses new jobs", kind="draining"),
    ]
    tube_a = [Hint("warning", "a", "12 buried jobs", kind="buried"), Hint("info", "a", "x")]
    tube_b = [Hint("warning", "b", "no consumers: 3", kind="no-consumers")]
    found = problems({None: server, "a": tube_a, "b": tube_b})
    assert [(h.tube, h.kind) for h in found] == [
        (None, "draining"),
        ("b", "no-consumers"),
        ("a", "buried"),
    ]
    (row,) = summary_hint(found)
    assert row.level == "error" and row.short == "3 problems"
    assert summary_hint([]) == [] and problems({"a": [Hint("info", "a", "x")]}) == []


def test_problem_book_remembers_since_when() -> None:
    book = ProblemBook()
    hint = Hint("warning", "a", "3 ready", kind="no-consumers")
    book.note([hint], 10.0)
    book.note([Hint("warning", "a", "4 ready", kind="no-consumers")], 70.0)
    assert book.age(hint, 130.0) == 120.0
    book.note([], 140.0)
    assert book.age(hint, 150.0) is None
