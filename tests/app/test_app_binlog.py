"""The binlog in the app: the server bar's line, the runaway hints (pinning, release churn),
`b` listing the jobs that keep the oldest file, and the file freed after deleting them.
Real beanstalkd with ``-b`` and 64 KiB files."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from textual.widgets import Static

from stalkview import format as fmt
from stalkview.app.app import StalkviewApp
from stalkview.app.screens.binlog import BinlogScreen
from stalkview.app.screens.confirm import ConfirmScreen
from stalkview.app.widgets.hints import ProblemList
from stalkview.app.widgets.joblist import JobList
from stalkview.client import Client, NotFoundError
from tests.app.test_app import SIZE, make_app, plain, ready
from tests.beanstalkd import Beanstalkd
from tests.logscenes import (
    CHANGE_COUNTERS,
    FILE_SIZE,
    Churn,
    files,
    pin_old_job,
    runaway_files,
    wait_stats,
)
from tests.pilot import wait_for


@pytest.fixture
def logged(beanstalkd_factory: Callable[..., Beanstalkd]) -> Beanstalkd:
    return beanstalkd_factory(binlog=True, binlog_size=FILE_SIZE)


def binlog_line(app: StalkviewApp) -> Static:
    return app.main.query_one("#sb-binlog", Static)


def hints_text(app: StalkviewApp) -> str:
    return "\n".join(app.main.query_one(ProblemList).shown)


async def test_pinning_and_churn_named_then_delete_frees_the_file(logged: Beanstalkd) -> None:
    async with Client(logged.address) as client:
        job = await pin_old_job(client)
        churn = await Churn(logged.address).start()
        try:
            await wait_stats(client, lambda s: files(s) >= runaway_files(churn.count))
            app = make_app(logged)
            async with app.run_test(size=SIZE) as pilot:
                # From the first stats, before the job scan: span and size.
                await wait_for(
                    pilot, lambda: plain(binlog_line(app)).startswith(" binlog files 1..")
                )
                await ready(pilot)
                # Writers need two inventory passes (counters before and after).
                await wait_for(
                    pilot,
                    lambda: (
                        "binlog records/s" in hints_text(app) and "kept by job" in hints_text(app)
                    ),
                    20,
                )
                line = binlog_line(app)
                assert line.display and not line.has_class("hidden")
                assert plain(line).startswith(" binlog files 1..")
                assert "x 64.0 KiB" in plain(line) and "records/s" in plain(line)
                text = hints_text(app)
                assert f"binlog.1 (of {app.main.log_report.files:,} files)" in text  # type: ignore[union-attr]
                assert f"kept by job {job} in emails, buried" in text
                assert "released with a delay (#622)" in text
                assert "retry: writes" in text  # the churn problem is the tube's

                # enter on the pinning problem opens the job it names.
                problem_list = app.main.query_one(ProblemList)
                problem_list.focus()
                problem_list.highlighted = next(
                    i for i, line in enumerate(problem_list.shown) if "kept by job" in line
                )
                await pilot.press("enter")
                await wait_for(pilot, lambda: app.main.current_job_id == job)

                await pilot.press("b")
                await wait_for(pilot, lambda: isinstance(app.screen, BinlogScreen))
                report_text = plain(app.screen.query_one("#binlog-report", Static))
                assert f"kept by job {job} in emails, buried" in report_text
                assert "retry" in report_text and "delayed releases" in report_text
                help_text = plain(app.screen.query_one("#binlog-help", Static))
                assert "Kicking alone frees nothing" in help_text and "#622" in help_text
                await pilot.press("enter")
                job_list = app.main.query_one(JobList)
                await wait_for(pilot, lambda: [j.id for j in job_list.jobs] == [job])
                job_list.focus()
                await pilot.press("x")
                await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen))
                await pilot.press("y")

                async def gone() -> bool:
                    try:
                        await client.stats_job(job)
                    except NotFoundError:
                        return True
                    return False

                await wait_for(pilot, lambda: not isinstance(app.screen, ConfirmScreen))
                assert await gone()
                # The server frees binlog.1: observed on the server and in the app.
                stats = await wait_stats(client, lambda s: int(s["binlog-oldest-index"]) > 1, 5)
                assert int(stats["binlog-oldest-index"]) == 2
                await wait_for(
                    pilot, lambda: plain(binlog_line(app)).startswith(" binlog files 2..")
                )
                await wait_for(pilot, lambda: f"job {job} " not in hints_text(app))
        finally:
            await churn.stop()


async def test_no_binlog_no_line_no_hint(server: Beanstalkd) -> None:
    async with Client(server.address) as client:
        await client.put(b"x" * 100)
    app = make_app(server)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await wait_for(pilot, lambda: app.inventory_refreshes >= 2)
        await pilot.pause()
        assert app.main.log_report is None
        assert binlog_line(app).has_class("hidden")
        assert not binlog_line(app).display
        assert "binlog" not in hints_text(app)
        await pilot.press("b")
        await wait_for(
            pilot, lambda: "keeps no binlog" in " ".join(n.message for n in app._notifications)
        )


async def test_binlog_browsing_changes_nothing(logged: Beanstalkd) -> None:
    async with Client(logged.address) as client:
        job = await pin_old_job(client)
        before = await client.stats()
        job_before = await client.stats_job(job)
        app = make_app(logged)
        async with app.run_test(size=SIZE) as pilot:
            await ready(pilot)
            await wait_for(pilot, lambda: app.inventory_refreshes >= 3)
            report = app.main.log_report
            assert report is not None and report.pinners[0].id == job
            assert report.live_bytes == len(b'{"to": "ops@example.com"}')
            await pilot.press("b")
            await wait_for(pilot, lambda: isinstance(app.screen, BinlogScreen))
            await pilot.press("enter")
            await wait_for(pilot, lambda: [j.id for j in app.main.query_one(JobList).jobs] == [job])
        after = await client.stats()
        watched: Any = [k for k in CHANGE_COUNTERS if k != "cmd-use"]  # peek-* needs a use
        assert {k: after[k] for k in watched} == {k: before[k] for k in watched}
        job_after = await client.stats_job(job)
        for key in ("state", "file", "reserves", "releases", "buries", "kicks"):
            assert job_after[key] == job_before[key]


async def test_with_the_log_directory_the_sizes_are_the_files_own(logged: Beanstalkd) -> None:
    async with Client(logged.address) as client:
        job = await pin_old_job(client)
    assert logged.binlog_dir is not None
    app = make_app(logged, binlog=logged.binlog_dir)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await wait_for(pilot, lambda: app.main.log_report is not None)
        report = app.main.log_report
        assert report is not None and report.bytes_exact
        on_disk = sum(p.stat().st_size for p in Path(logged.binlog_dir).glob("binlog.*"))
        assert report.bytes == on_disk
        assert report.live_bytes == len(b'{"to": "ops@example.com"}') and report.live_exact
        line = plain(binlog_line(app))
        assert f"({fmt.size(on_disk)})" in line and " x " not in line  # not files x max size
        await pilot.press("b")
        await wait_for(pilot, lambda: isinstance(app.screen, BinlogScreen))
        files = plain(app.screen.query_one("#binlog-files", Static))
        assert "binlog.1 " in files and f"oldest job {job} in emails, buried" in files
