"""The first scan of a months-old server in the app: the heads of every tube and
state show within a second, jobs stream in as found, and the progress says how
long and what is still missing."""

from __future__ import annotations

from typing import Any

from stalkview.app.app import StalkviewApp
from stalkview.app.widgets.joblist import JobList
from stalkview.client import Client, commands
from tests.app.test_app import plain
from tests.beanstalkd import Beanstalkd
from tests.load import churn
from tests.pilot import wait_for


async def test_heads_show_first_and_the_progress_names_what_is_missing(
    server: Beanstalkd,
) -> None:
    async with Client(server.address, encoding=None, use="emails", watch="emails") as c:
        old = await c.run_many([commands.put(b"[bold]old", 10, 0, 60)] * 3)
        jobs = await c.run_many([commands.reserve(0)] * 3, raise_on_error=True)
        await c.run_many([commands.bury(j, 10) for j in jobs], raise_on_error=True)
        await c.use("default")
    churn(server.address, 80_000)
    app = StalkviewApp(server.address, interval=0.2)
    async with app.run_test(size=(160, 48)) as pilot:
        job_list = app.main.query_one(JobList)
        status = app.main.query_one("#scan-status")
        # The oldest buried job, at id 1, is a head: on screen long before the
        # scan reaches it from 80,003 downwards.
        await wait_for(pilot, lambda: any(j.id == old[0] for j in job_list.jobs), timeout=5)
        assert not app.inventory.scanned
        await wait_for(pilot, lambda: "not found yet" in plain(status))
        text: str = plain(status)
        assert "2 buried jobs in emails not found yet: older than id" in text
        assert "ids scanned" in text and "jobs" in text
        assert "scanning" in str(app.main.query_one("#jobs-pane").border_title)
        await wait_for(pilot, lambda: app.inventory.scanned, timeout=60)
        await wait_for(pilot, lambda: sorted(j.id for j in job_list.jobs) == old)
        assert status.has_class("hidden")
        assert "scanning" not in str(app.main.query_one("#jobs-pane").border_title)
        # The scan stayed within its default budget by its own measure.
        share: Any = app.inventory.meter.share
        assert share is not None and share < 0.30
