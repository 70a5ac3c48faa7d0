"""The actions in the real app: read-only mode sends nothing that changes the server."""

from __future__ import annotations

from pathlib import Path

import pytest

from stalkview.app.widgets.joblist import JobList
from stalkview.app.widgets.tubes import TubesTable
from stalkview.client import Client
from tests.beanstalkd import Beanstalkd
from tests.test_actions_ui import MUTATING_COUNTERS, notices
from tests.test_app import SIZE, make_app, ready, wait_for

#: Every printable key a user might press, plus the dialog keys.
KEYS = [*"nyxXKmMpRrJdebtuAcq", "space", "enter", "tab", "1", "4"]


@pytest.fixture(autouse=True)
def journal_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "journal.jsonl"
    monkeypatch.setenv("STALKVIEW_JOURNAL", str(path))
    return path


async def test_read_only_every_key_in_every_pane_sends_nothing(server: Beanstalkd) -> None:
    async with Client(server.address, use="emails") as c:
        for i in range(3):
            await c.put(f"job {i}")
        job = await c.reserve_job(await c.put("buried"))
        await c.bury(job)
        before = await c.stats()
        app = make_app(server, read_only=True)
        async with app.run_test(size=SIZE) as pilot:
            await ready(pilot)
            await wait_for(pilot, lambda: len(app.main.query_one(JobList).jobs) >= 4)
            # Notices expire after a few seconds: collect them as they come.
            messages: set[str] = set()
            for pane in ("tubes", "jobs", "side"):
                for key in KEYS:
                    if key == "q":
                        continue
                    await pilot.press(key)
                    await pilot.pause()
                    messages.update(notices(app))
                    while app.screen is not app.main:
                        await pilot.press("escape")
                        await pilot.pause()
                app.main.query_one(TubesTable if pane == "tubes" else JobList).focus()
                await pilot.press("tab")
            for action in ("put", "delete", "kick", "move", "pause", "reserve"):
                assert any(f"read-only mode: {action}" in m for m in messages), action
        after = await c.stats()
    assert {k: after[k] for k in MUTATING_COUNTERS} == {k: before[k] for k in MUTATING_COUNTERS}


async def test_delete_in_real_app_after_confirmation(server: Beanstalkd) -> None:
    async with Client(server.address, use="emails") as c:
        await c.put("bye")
        app = make_app(server)
        async with app.run_test(size=SIZE) as pilot:
            await ready(pilot)
            job_list = app.main.query_one(JobList)
            await wait_for(pilot, lambda: len(job_list.jobs) == 1)
            job_list.focus()
            await pilot.press("x")
            await wait_for(pilot, lambda: app.screen is not app.main)
            await pilot.press("y")
            await wait_for(pilot, lambda: any("deleted 1 of 1" in n for n in notices(app)))
            await wait_for(pilot, lambda: len(job_list.jobs) == 0)
        assert (await c.stats())["current-jobs-ready"] == 0
