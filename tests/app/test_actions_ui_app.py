"""The actions in the real app: read-only mode sends nothing that changes the server."""

from __future__ import annotations

import asyncio

from textual.command import CommandPalette
from textual.widgets import Input, Static

from stalkview.app.screens.confirm import ConfirmScreen
from stalkview.app.screens.held import HeldScreen
from stalkview.app.screens.prompt import PromptScreen
from stalkview.app.screens.put import PutScreen
from stalkview.app.widgets.joblist import JobList
from stalkview.app.widgets.tubes import TubesTable
from stalkview.client import Client
from tests.app.test_actions_ui import MUTATING_COUNTERS
from tests.app.test_app import SIZE, make_app, ready
from tests.beanstalkd import Beanstalkd
from tests.pilot import notices, wait_for

#: Every printable key a user might press, plus the dialog keys.
KEYS = [*"nyxXKmMpRrJdebtuAcq", "space", "enter", "tab", "1", "4"]


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
        # kick-job bumps no cmd-* counter: the buried job's own state and kicks prove it.
        buried = await c.stats_job(job)
    assert {k: after[k] for k in MUTATING_COUNTERS} == {k: before[k] for k in MUTATING_COUNTERS}
    assert (buried["state"], buried["kicks"]) == ("buried", 0)


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


async def test_quit_with_a_held_job_asks_then_gives_it_back(server: Beanstalkd) -> None:
    async with Client(server.address, use="emails") as c:
        job_id = await c.put("held")
        app = make_app(server)
        async with app.run_test(size=SIZE) as pilot:
            await ready(pilot)
            await pilot.press("R")
            await wait_for(pilot, lambda: isinstance(app.screen, HeldScreen))
            held = app.screen
            await pilot.press("r")
            await wait_for(pilot, lambda: isinstance(app.screen, PromptScreen))
            app.screen.query_one("#field-tube", Input).value = "emails"
            app.screen.query_one("#field-timeout", Input).value = "0"
            await pilot.press("enter")
            await wait_for(pilot, lambda: app.screen is held and app.main.held_count() == 1)
            assert (await c.stats_job(job_id))["state"] == "reserved"
            await pilot.press("escape")
            await wait_for(pilot, lambda: app.screen is app.main)
            await pilot.press("q")
            await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen))
            question = app.screen.query_one("#confirm-question", Static).render()
            detail = app.screen.query_one("#confirm-detail", Static).render()
            assert "holding 1 reserved job" in str(question)
            assert "back to ready" in str(detail)
            assert (await c.stats_job(job_id))["state"] == "reserved", "nothing before yes"
            await pilot.press("y")
            await wait_for(pilot, lambda: not app.is_running)
        # The server releases a closed connection's jobs once it reads the EOF.
        for _ in range(100):
            if (await c.stats_job(job_id))["state"] == "ready":
                break
            await asyncio.sleep(0.02)
        assert (await c.stats_job(job_id))["state"] == "ready"


async def test_palette_says_why_a_disabled_action_does_nothing(server: Beanstalkd) -> None:
    async with Client(server.address, use="emails") as c:
        await c.put("job")
        before = await c.stats()
        app = make_app(server, read_only=True)
        async with app.run_test(size=SIZE) as pilot:
            await ready(pilot)
            await pilot.press("ctrl+p")
            await wait_for(pilot, lambda: isinstance(app.screen, CommandPalette))
            await pilot.press(*"New job")
            await pilot.pause(0.3)  # the palette searches in a worker
            await pilot.press("enter")
            await wait_for(pilot, lambda: app.screen is app.main)
            await wait_for(
                pilot, lambda: any("read-only mode: put is disabled" in n for n in notices(app))
            )
            assert not isinstance(app.screen, PutScreen)
        assert (await c.stats())["cmd-put"] == before["cmd-put"]
