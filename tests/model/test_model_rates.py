"""Rates from counter deltas: windows, history for sparklines, resets, formatting."""

from __future__ import annotations

import pytest

from stalkview.model import (
    RateTracker,
    ServerRates,
    TubeRateBook,
    TubeRates,
    eta,
    format_duration,
    format_rate,
)


def server(put: int, reserve: int = 0, rwt: int = 0, timeouts: int = 0) -> dict[str, object]:
    return {
        "cmd-put": put,
        "cmd-reserve": reserve,
        "cmd-reserve-with-timeout": rwt,
        "cmd-delete": 0,
        "job-timeouts": timeouts,
        "version": "1.12",
        "draining": "false",
    }


def test_no_rate_until_two_samples() -> None:
    tracker = RateTracker()
    assert tracker.rate("cmd-put") is None
    tracker.update(server(100), 1.0)
    assert tracker.rate("cmd-put") is None
    assert tracker.latest("cmd-put") == 100
    tracker.update(server(110), 2.0)
    assert tracker.rate("cmd-put") == pytest.approx(10.0)


def test_rate_uses_the_window() -> None:
    tracker = RateTracker()
    # 1 put/s for 60 s, then 100 puts/s for 10 s.
    for t in range(61):
        tracker.update(server(t), float(t))
    for t in range(61, 71):
        tracker.update(server(60 + (t - 60) * 100), float(t))
    assert tracker.rate("cmd-put", window=10) == pytest.approx(100.0)
    assert tracker.rate("cmd-put", window=70) == pytest.approx((1060 - 0) / 70)
    assert tracker.rate("cmd-put", window=1000) == pytest.approx(1060 / 70)
    assert tracker.rate("cmd-put", window=0.1) == pytest.approx(100.0)


def test_rate_with_irregular_sampling() -> None:
    tracker = RateTracker()
    tracker.update(server(0), 0.0)
    tracker.update(server(30), 3.0)
    tracker.update(server(31), 13.5)
    # Base is the latest sample at or before 13.5 - 10 = 3.5: the one at 3.0.
    assert tracker.rate("cmd-put", 10) == pytest.approx(1 / 10.5)


def test_reserves_sum_both_reserve_commands() -> None:
    tracker = RateTracker()
    tracker.update(server(0, reserve=10, rwt=5), 0.0)
    tracker.update(server(0, reserve=12, rwt=8), 1.0)
    assert tracker.rate("reserves") == pytest.approx(5.0)
    assert tracker.rate("cmd-reserve") == pytest.approx(2.0)
    assert "reserves" in tracker.keys


def test_counter_reset_starts_a_new_baseline() -> None:
    tracker = RateTracker()
    tracker.update(server(1000), 0.0)
    tracker.update(server(1010), 1.0)
    tracker.update(server(3), 2.0)  # server restarted
    assert tracker.resets == 1
    assert len(tracker) == 1
    assert tracker.rate("cmd-put") is None
    tracker.update(server(8), 3.0)
    assert tracker.rate("cmd-put") == pytest.approx(5.0)
    assert all(v >= 0 for v in tracker.history("cmd-put", points=10))


def test_time_that_does_not_advance_is_ignored() -> None:
    tracker = RateTracker()
    tracker.update(server(0), 5.0)
    tracker.update(server(50), 5.0)
    tracker.update(server(60), 4.0)
    assert len(tracker) == 1
    assert tracker.latest("cmd-put") == 0


def test_missing_and_odd_values_count_as_zero() -> None:
    tracker = RateTracker()
    tracker.update({}, 0.0)
    tracker.update({"cmd-put": "7", "cmd-delete": "x", "cmd-bury": None}, 1.0)
    assert tracker.rate("cmd-put") == pytest.approx(7.0)
    assert tracker.rate("cmd-delete") == 0.0
    assert tracker.rate("cmd-bury") == 0.0


def test_a_key_missing_from_one_refresh_is_not_a_reset() -> None:
    tracker = RateTracker()
    tracker.update(server(100, reserve=50), 0.0)
    tracker.update({"cmd-put": 110}, 1.0)
    tracker.update(server(120, reserve=60), 2.0)
    assert tracker.resets == 0
    assert len(tracker) == 3
    assert tracker.rate("cmd-put") == pytest.approx(10.0)
    assert tracker.rate("reserves") == pytest.approx(5.0)


def test_unknown_key_names_the_tracked_keys() -> None:
    with pytest.raises(KeyError, match="cmd-put"):
        RateTracker().rate("puts")


def test_history_is_bounded() -> None:
    tracker = RateTracker(max_age=60)
    for t in range(1000):
        tracker.update(server(t * 2), float(t))
    assert len(tracker) <= 62
    assert tracker.rate("cmd-put", 1000) == pytest.approx(2.0)
    fast = RateTracker()
    for i in range(5000):
        fast.update(server(i), i * 0.001)
    assert len(fast) <= 4096


def test_history_for_sparklines() -> None:
    tracker = RateTracker()
    for t in range(10):
        tracker.update(server(t * 3), float(t))
    history = tracker.history("cmd-put", points=12, step=1.0)
    assert len(history) == 12
    assert history[:3] == [0.0, 0.0, 0.0]  # before the first sample
    assert history[3:] == pytest.approx([3.0] * 9)
    two_second_steps = tracker.history("cmd-put", points=3, step=2.0)
    assert two_second_steps == pytest.approx([3.0, 3.0, 3.0])


def test_history_interpolates_between_sparse_samples() -> None:
    tracker = RateTracker()
    tracker.update(server(0), 0.0)
    tracker.update(server(40), 4.0)
    assert tracker.history("cmd-put", points=4) == pytest.approx([10.0] * 4)


def test_history_edge_cases() -> None:
    tracker = RateTracker()
    assert tracker.history("cmd-put", points=5) == [0.0] * 5
    tracker.update(server(1), 0.0)
    assert tracker.history("cmd-put", points=3) == [0.0] * 3
    assert tracker.history("cmd-put", points=0) == []


def test_server_rates_snapshot() -> None:
    tracker = RateTracker()
    assert ServerRates.from_tracker(tracker) == ServerRates()
    tracker.update(server(0, reserve=0, timeouts=0), 0.0)
    tracker.update(server(20, reserve=10, timeouts=4), 2.0)
    rates = ServerRates.from_tracker(tracker)
    assert rates.puts == pytest.approx(10.0)
    assert rates.reserves == pytest.approx(5.0)
    assert rates.timeouts == pytest.approx(2.0)
    assert rates.timeouts_long == pytest.approx(2.0)
    assert rates.deletes == 0.0


def test_tube_rate_book_tracks_and_forgets_tubes() -> None:
    book = TubeRateBook()
    book.update(
        [
            {"name": "a", "total-jobs": 0, "cmd-delete": 0, "cmd-pause-tube": 0},
            {"name": "b", "total-jobs": 5, "cmd-delete": 5},
        ],
        0.0,
    )
    assert book.rates("a") == TubeRates()
    book.update(
        [
            {"name": "a", "total-jobs": 10, "cmd-delete": 4, "cmd-pause-tube": 1},
            {"name": "b", "total-jobs": 5, "cmd-delete": 5},
        ],
        2.0,
    )
    assert book.rates("a") == TubeRates(puts=5.0, deletes=2.0, pauses=0.5)
    assert book.rates("b") == TubeRates(puts=0.0, deletes=0.0, pauses=0.0)
    book.update([{"name": "a", "total-jobs": 12, "cmd-delete": 4}], 3.0)
    assert "b" not in book
    assert book.rates("b") is None
    assert book.names() == ["a"]
    tracker = book.tracker("a")
    assert tracker is not None and len(tracker) == 3
    # A tube that comes back (re-created, counters from 0) starts afresh.
    book.update([{"name": "b", "total-jobs": 1}], 4.0)
    assert book.rates("b") == TubeRates()


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (None, "\u2013"),
        (0, "0/s"),
        (0.0, "0/s"),
        (0.01, "<0.1/s"),
        (0.5, "0.5/s"),
        (12.34, "12.3/s"),
        (99.96, "100/s"),
        (123.4, "123/s"),
        (999.4, "999/s"),
        (999.6, "1.0k/s"),
        (1234, "1.2k/s"),
        (56_789, "56.8k/s"),
        (2_500_000, "2.5M/s"),
        (-3.0, "-3.0/s"),
    ],
)
def test_format_rate(value: float | None, text: str) -> None:
    assert format_rate(value) == text


def test_eta() -> None:
    assert eta(100, 10.0) == pytest.approx(10.0)
    assert eta(0, None) == 0.0
    assert eta(5, None) is None
    assert eta(5, 0.0) is None
    assert eta(5, -1.0) is None


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (None, "\u2013"),
        (0, "0s"),
        (-5, "0s"),
        (42, "42s"),
        (42.6, "43s"),
        (60, "1m"),
        (303, "5m 3s"),
        (3600, "1h"),
        (7500, "2h 5m"),
        (86400, "1d"),
        (3 * 86400 + 4 * 3600 + 59, "3d 4h"),
    ],
)
def test_format_duration(seconds: float | None, text: str) -> None:
    assert format_duration(seconds) == text
