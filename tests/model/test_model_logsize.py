"""The binlog report: size against live data, runaway rules, pinners, writers, rates."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from stalkview.model.logsize import (
    GROWTH_SECONDS,
    LogWatch,
    glance,
    log_hints,
    report_lines,
)
from tests.factories import FakeJob

MIB = 1024 * 1024


def stats(oldest: int = 1, current: int = 1, written: int = 0, **extra: Any) -> dict[str, Any]:
    return {
        "id": "server-a",
        "binlog-oldest-index": oldest,
        "binlog-current-index": current,
        "binlog-max-size": MIB,
        "binlog-records-written": written,
        "binlog-records-migrated": extra.pop("migrated", 0),
        **extra,
    }


def test_no_binlog_no_report_no_hint() -> None:
    watch = LogWatch()
    no_log = stats(oldest=0, current=0)
    assert watch.update(no_log, 0.0) is None
    assert log_hints(None) == []


def test_size_from_stats_is_files_times_max_size() -> None:
    report = LogWatch().update(stats(3, 7), 0.0, live_bytes=MIB)
    assert report is not None
    assert (report.files, report.bytes, report.bytes_exact) == (5, 5 * MIB, False)
    assert report.amplification == 5.0
    assert not report.runaway  # 5 files
    assert "binlog.3..7" in glance(report) and "5 files x 1.0 MiB" in glance(report)


def test_real_bytes_when_the_directory_is_read() -> None:
    report = LogWatch().update(stats(1, 2), 0.0, live_bytes=1000, disk_bytes=123_456)
    assert report is not None
    assert report.bytes == 123_456 and report.bytes_exact
    assert "120.6 KiB" in glance(report)


def test_runaway_needs_ten_files_and_ten_times_the_live_data() -> None:
    watch = LogWatch()
    big = watch.update(stats(1, 10), 0.0, live_bytes=MIB)  # 10 files, 10x
    assert big is not None and big.runaway
    watch = LogWatch()
    dense = watch.update(stats(1, 10), 0.0, live_bytes=2 * MIB)  # 5x: live data fills it
    assert dense is not None and not dense.runaway
    assert log_hints(dense) == []
    few = LogWatch().update(stats(1, 9), 0.0, live_bytes=1)
    assert few is not None and not few.runaway


def test_pinning_names_the_oldest_job_of_the_oldest_file() -> None:
    jobs = [
        FakeJob(id=42, tube="emails", state="buried", age=21 * 86400, file=1),
        FakeJob(id=50, tube="emails", state="delayed", age=600, file=1),
        FakeJob(id=90, tube="retry", state="ready", age=30, file=2),
    ]
    report = LogWatch().update(stats(1, 26_500), 0.0, jobs=jobs, jobs_complete=True, live_bytes=MIB)
    assert report is not None
    [hint] = log_hints(report)
    assert hint.level == "warning"
    assert hint.text == (
        "binlog.1 (of 26,500 files) is kept by job 42 in emails, buried 21d and 1 more job (emails)"
    )
    assert [p.id for p in report.pinners] == [42, 50]
    assert report.pinner_count == 2


def test_pinners_unknown_until_the_scan_is_complete() -> None:
    jobs = [FakeJob(id=42, file=1)]
    report = LogWatch().update(stats(1, 20), 0.0, jobs=jobs, jobs_complete=False, live_bytes=1)
    assert report is not None
    [hint] = log_hints(report)
    assert "job 42" not in hint.text
    assert hint.text.startswith("binlog 20 files x 1.0 MiB")  # what is known, no guess


def test_release_churn_names_the_tube() -> None:
    watch = LogWatch()
    retry = [FakeJob(id=i, tube="retry", delay=1, releases=5) for i in range(1, 11)]
    calm = [FakeJob(id=100, tube="calm", delay=0, releases=5)]
    tubes = [{"name": "retry", "total-jobs": 10, "cmd-delete": 0}]
    watch.update(stats(1, 10, 0), 0.0, tubes=tubes, jobs=retry + calm, live_bytes=1)
    later = [replace(j, releases=25) for j in retry] + [replace(calm[0], releases=99)]
    report = watch.update(stats(1, 12, 400), 2.0, tubes=tubes, jobs=later, live_bytes=1)
    assert report is not None
    assert report.records_per_s == 200.0
    [writer] = report.writers  # the tube released without a delay writes nothing
    assert writer.tube == "retry"
    assert writer.delayed_releases == 100.0  # 10 jobs x 20 releases / 2 s
    assert writer.jobs[0] == (1, 10.0)
    texts = [h.text for h in log_hints(report)]
    assert "retry writes 100 records/s: jobs released with a delay (#622)" in texts
    assert any("retry" in line for line in report_lines(report))


def test_puts_and_deletes_count_as_writes_but_are_not_churn() -> None:
    watch = LogWatch()
    watch.update(stats(1, 10), 0.0, tubes=[{"name": "a", "total-jobs": 0, "cmd-delete": 0}])
    report = watch.update(
        stats(1, 10, 100), 1.0, tubes=[{"name": "a", "total-jobs": 50, "cmd-delete": 50}]
    )
    assert report is not None
    assert report.writers[0].records == 100.0
    assert all("#622" not in h.text for h in log_hints(report))


def test_growth_for_several_minutes_is_runaway() -> None:
    watch = LogWatch()
    report = None
    for minute in range(7):
        report = watch.update(stats(1, 2 + minute), minute * 60.0, live_bytes=50 * MIB)
    assert report is not None
    assert report.files == 8 and report.amplification is not None and report.amplification < 1
    assert report.growing_for >= GROWTH_SECONDS
    assert report.runaway
    [hint] = log_hints(report)
    assert "outgrowing the live data for 6m" in hint.text


def test_growth_matched_by_live_data_is_not_runaway() -> None:
    watch = LogWatch()
    report = None
    for minute in range(7):
        report = watch.update(stats(1, 2 + minute), minute * 60.0, live_bytes=minute * MIB)
    assert report is not None and report.growing_for == 0 and not report.runaway


def test_a_restarted_server_starts_the_history_again() -> None:
    watch = LogWatch()
    watch.update(stats(1, 3, 1000), 0.0)
    report = watch.update(stats(1, 3, 10, id="server-b"), 1.0)
    assert report is not None and report.records_per_s is None
