"""The binlog report: size against live data, runaway rules, pinners, writers, rates."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from stalkview.model.logsize import (
    GROWTH_SECONDS,
    LogWatch,
    churn_text,
    file_facts,
    files_lines,
    glance,
    log_hints,
    report_lines,
)
from tests.factories import FakeJob

MIB = 1024 * 1024


def by_id(jobs: list[FakeJob]) -> dict[int, FakeJob]:
    return {j.id: j for j in jobs}


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
    assert glance(report) == (
        "files 3..7 (5 x 1.0 MiB = 5.0 MiB)  live 0 jobs, 1.0 MiB  log 5.0x their records"
    )


def test_real_bytes_when_the_directory_is_read() -> None:
    report = LogWatch().update(stats(1, 2), 0.0, live_bytes=1000, disk_bytes=123_456)
    assert report is not None
    assert report.bytes == 123_456 and report.bytes_exact
    assert glance(report).startswith("files 1..2 (120.6 KiB)")


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
    report = LogWatch().update(
        stats(1, 26_500), 0.0, jobs=by_id(jobs), jobs_complete=True, live_bytes=MIB
    )
    assert report is not None
    [hint] = log_hints(report)
    assert (hint.level, hint.tube, hint.job, hint.state) == ("warning", None, 42, "buried")
    assert hint.text == (
        "binlog.1 (of 26,500 files) is kept by job 42 in emails, buried 21d and 1 more job (emails)"
    )
    assert [p.id for p in report.pinners] == [42, 50]
    assert report.pinner_count == 2


def test_pinners_unknown_until_the_scan_is_complete() -> None:
    jobs = [FakeJob(id=42, file=1)]
    report = LogWatch().update(
        stats(1, 20), 0.0, jobs=by_id(jobs), jobs_complete=False, live_bytes=1
    )
    assert report is not None
    [hint] = log_hints(report)
    assert "job 42" not in hint.text
    assert hint.text.startswith("binlog 20 files x 1.0 MiB")  # what is known, no guess


def test_release_churn_names_the_tube() -> None:
    watch = LogWatch()
    retry = [FakeJob(id=i, tube="retry", delay=1, releases=5) for i in range(1, 11)]
    calm = [FakeJob(id=100, tube="calm", delay=0, releases=5)]
    tubes = [{"name": "retry", "total-jobs": 10, "cmd-delete": 0}]
    watch.update(stats(1, 10, 0), 0.0, tubes=tubes, jobs=by_id(retry + calm), live_bytes=1)
    later = [replace(j, releases=25) for j in retry] + [replace(calm[0], releases=99)]
    report = watch.update(stats(1, 12, 400), 2.0, tubes=tubes, jobs=by_id(later), live_bytes=1)
    assert report is not None
    assert report.records_per_s == 200.0
    [writer] = report.writers  # the tube released without a delay writes nothing
    assert writer.tube == "retry"
    assert writer.delayed_releases == 100.0  # 10 jobs x 20 releases / 2 s
    assert writer.jobs[0] == (1, 10.0)
    [hint] = log_hints(report)
    assert hint.text == "writes 100 binlog records/s: jobs released with a delay (#622)"
    assert churn_text(report) == "retry writes 100 records/s: jobs released with a delay (#622)"
    assert (hint.tube, hint.job, hint.kind) == ("retry", 1, "binlog-churn")
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


@dataclass
class FakeFile:
    seq: int
    size: int = 65536
    end: int = 4
    put_records: int = 0
    state_records: int = 0
    holds: set[int] = field(default_factory=set)


@dataclass
class FakeLogJob:
    id: int
    tube: str
    body_size: int
    file: int
    created_at_ns: int
    state: str = "ready"

    def state_at(self, now_ns: int) -> str:
        return self.state


SECOND = 1_000_000_000


def test_file_facts_say_who_keeps_each_file_and_why() -> None:
    jobs = {
        1: FakeLogJob(1, "emails", 5, 1, 0, "buried"),
        7: FakeLogJob(7, "retry", 20, 3, 50 * SECOND, "delayed"),
        8: FakeLogJob(8, "retry", 20, 3, 60 * SECOND, "delayed"),
    }
    files = {
        1: FakeFile(1, end=65000, put_records=9, state_records=1, holds={1}),
        2: FakeFile(2, end=65000, put_records=10, state_records=5),
        3: FakeFile(3, end=30000, put_records=2, state_records=300, holds={7, 8}),
        4: FakeFile(4, end=9000, state_records=100),
        5: FakeFile(5),
    }
    facts = file_facts(files, jobs, now_ns=100 * SECOND)
    assert [f.holders for f in facts] == [1, 0, 2, 0, 0]
    assert (
        facts[0].why
        == "kept by 1 live job whose full record is here, oldest job 1 in emails, buried 1m 40s"
    )
    assert facts[1].why == "no live job needs it; it goes after binlog.1 (oldest first)"
    assert (
        facts[2].why.startswith("kept by 2 live jobs")
        and "oldest job 7 in retry, delayed 50s" in facts[2].why
    )
    assert facts[2].holder_bytes == 40
    assert facts[3].why == "the file the server writes to now"
    assert facts[4].why.startswith("made ready for the next records")
    lines = files_lines(facts, jobs=3, live_bytes=45)
    assert lines[0] == "span        binlog.1 .. binlog.5 (5 files)"
    assert any(line.startswith("binlog.2 ") and "after binlog.1" in line for line in lines)


def test_file_rows_gather_the_files_nobody_holds() -> None:
    jobs = {1: FakeLogJob(1, "emails", 5, 1, 0, "buried"), 2: FakeLogJob(2, "retry", 5, 2, 0)}
    files = {
        1: FakeFile(1, end=100, put_records=1, holds={1}),
        2: FakeFile(2, end=100, put_records=1, holds={2}),
    }
    files |= {n: FakeFile(n, end=60000, state_records=700) for n in range(3, 103)}
    files[103] = FakeFile(103, end=100, state_records=1)
    facts = file_facts(files, jobs, now_ns=0)
    assert facts[2].why == "no live job needs it; it goes after binlog.2 (oldest first)"
    lines = files_lines(facts, jobs=2, live_bytes=10)
    [row] = [line for line in lines if line.startswith("binlog.3..")]
    assert row.startswith("binlog.3..102 (100 files)") and "70,000" in row and "6.2 MiB" in row
    assert sum(1 for line in lines if line.startswith("binlog.")) == 4
    assert "jobs in binlog.1 (1), oldest first:" in lines


def test_file_facts_after_the_pinning_job_is_gone() -> None:
    files = {
        2: FakeFile(2, end=100, put_records=1, holds=set()),
        3: FakeFile(3, end=100, state_records=1),
    }
    facts = file_facts(files, {}, now_ns=0)
    assert facts[0].why == "no live job needs it: the server deletes it"


def test_holders_and_writers_follow_only_the_touched_jobs() -> None:
    watch = LogWatch()
    jobs = by_id(
        [FakeJob(id=1, file=1, age=90), FakeJob(id=2, file=1, age=80), FakeJob(id=3, file=2)]
    )
    first = watch.update(stats(1, 20), 0.0, jobs=jobs, jobs_complete=True, live_bytes=1)
    assert first is not None and [p.id for p in first.pinners] == [1, 2]
    # Job 1 deleted and job 2 changed: only they are looked at again.
    del jobs[1]
    jobs[2] = replace(jobs[2], delay=5, releases=4)
    later = watch.update(
        stats(1, 20), 2.0, jobs=jobs, touched={1, 2}, jobs_complete=True, live_bytes=1
    )
    assert later is not None and [p.id for p in later.pinners] == [2]
    # The oldest file moved on: every job is looked at again.
    moved = watch.update(
        stats(2, 20), 3.0, jobs=jobs, touched=set(), jobs_complete=True, live_bytes=1
    )
    assert moved is not None and [p.id for p in moved.pinners] == [3]


def test_amplification_is_against_the_live_records_not_the_bodies_alone() -> None:
    # 12,000 jobs of 10-byte bodies in tube "t": 12,000 x (84 + 1 + 10 + 2) bytes of records
    # in 10 files of 1 MiB is 9x: a log of many tiny jobs, not a runaway one.
    jobs = by_id([FakeJob(id=i, tube="t", file=5) for i in range(1, 12_001)])
    report = LogWatch().update(stats(1, 10), 0.0, jobs=jobs, jobs_complete=True, live_bytes=120_000)
    assert report is not None
    assert report.live_record_bytes == 12_000 * 97
    assert report.amplification == 10 * MIB / (12_000 * 97)
    assert report.bytes / 120_000 > 80  # against the bodies alone it would look runaway
    assert not report.runaway
    assert "log 9.0x their records" in glance(report)


def test_writers_hold_steady_when_a_pass_reads_none_of_the_busy_jobs() -> None:
    watch = LogWatch()
    jobs = by_id([FakeJob(id=1, tube="retry", delay=1, releases=0)])
    watch.update(stats(1, 12), 0.0, jobs=jobs, live_bytes=1)
    jobs[1] = replace(jobs[1], releases=10)
    busy = watch.update(stats(1, 12), 1.0, jobs=jobs, touched={1}, live_bytes=1)
    quiet = watch.update(stats(1, 12), 2.0, jobs=jobs, touched=set(), live_bytes=1)
    assert busy is not None and quiet is not None
    assert busy.writers[0].delayed_releases == 10.0
    assert quiet.writers[0].tube == "retry"  # still named: 10 releases over 2 s
    assert quiet.writers[0].delayed_releases == 5.0
    later = watch.update(stats(1, 12), 30.0, jobs=jobs, touched=set(), live_bytes=1)
    assert later is not None and later.writers == ()  # nothing for longer than the window
