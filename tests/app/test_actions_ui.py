"""The action screens and the ActionsMixin, in a small harness app, against a real beanstalkd.

Each test waits on conditions (a worker finishing, the server's state) with a
deadline; none sleeps for a fixed time.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, ClassVar

import pytest
from textual.app import App, ComposeResult
from textual.binding import BindingType
from textual.pilot import Pilot
from textual.screen import Screen
from textual.widgets import Static

from stalkview.app.job_actions import ACTION_BINDINGS, ActionsMixin
from stalkview.app.screens.confirm import ConfirmScreen
from stalkview.app.screens.put import PutScreen
from stalkview.app.widgets.joblist import JobList
from stalkview.client import Client, NotFoundError
from stalkview.inventory import JobInfo
from stalkview.journal import Journal
from tests.beanstalkd import Beanstalkd
from tests.pilot import notices, wait_for

MUTATING_COUNTERS = (
    "cmd-put", "cmd-reserve", "cmd-reserve-with-timeout", "cmd-delete", "cmd-release",
    "cmd-bury", "cmd-touch", "cmd-kick", "cmd-pause-tube",
)  # fmt: skip


class Harness(ActionsMixin, Screen[None]):
    BINDINGS: ClassVar[list[BindingType]] = list(ACTION_BINDINGS)

    def __init__(self) -> None:
        super().__init__()
        self.tube: str | None = None
        self.state_filter: str | None = None

    def compose(self) -> ComposeResult:
        yield JobList(id="jobs")


class HarnessApp(App[None]):
    def __init__(self, address: str, read_only: bool = False) -> None:
        super().__init__()
        self.address = address
        self.read_only = read_only
        self.harness = Harness()

    def on_mount(self) -> None:
        self.push_screen(self.harness)

    async def on_unmount(self) -> None:
        await self.harness.close_actions()


async def wait_async(
    pilot: Pilot[Any], condition: Callable[[], Awaitable[object]], timeout: float = 10
) -> None:
    deadline = time.monotonic() + timeout
    while not await condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s")
        await pilot.pause(0.02)


async def show_jobs(app: HarnessApp, client: Client, ids: list[int], tube: str | None) -> None:
    jobs = [JobInfo.from_stats(await client.stats_job(j), time.monotonic()) for j in ids]
    app.harness.tube = tube
    job_list = app.harness.query_one(JobList)
    job_list.set_jobs(jobs)
    job_list.focus()


async def actions_idle(pilot: Pilot[Any]) -> None:
    app = pilot.app
    await wait_for(pilot, lambda: not [w for w in app.harness.workers if w.is_running])  # type: ignore[attr-defined]


async def test_delete_selected_job_after_confirmation(
    server: Beanstalkd, journal_file: Path
) -> None:
    async with Client(server.address, use="emails") as c:
        keep = await c.put("keep")
        gone = await c.put("bye [bold]", priority=7)
        app = HarnessApp(server.address)
        async with app.run_test(size=(120, 40)) as pilot:
            await show_jobs(app, c, [gone, keep], "emails")
            await pilot.press("x")
            await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen))
            assert "Delete job" in str(app.screen.query_one("#confirm-question", Static).content)
            assert app.screen.focused is app.screen.query_one("#confirm-cancel")
            await pilot.press("y")
            await actions_idle(pilot)
            with pytest.raises(NotFoundError):
                await c.stats_job(gone)
            assert (await c.stats_job(keep))["state"] == "ready"
            assert any("deleted 1 of 1" in n for n in notices(app))
    (entry,) = Journal(journal_file).entries()
    assert (entry.id, entry.tube, entry.pri, entry.body) == (gone, "emails", 7, "bye [bold]")


async def test_cancelled_confirmation_deletes_nothing(server: Beanstalkd) -> None:
    async with Client(server.address) as c:
        job = await c.put("x")
        app = HarnessApp(server.address)
        async with app.run_test(size=(120, 40)) as pilot:
            await show_jobs(app, c, [job], "default")
            await pilot.press("x")
            await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen))
            await pilot.press("enter")  # lands on Cancel, the default
            await actions_idle(pilot)
            assert (await c.stats_job(job))["state"] == "ready"


async def test_put_form_puts_job(server: Beanstalkd) -> None:
    app = HarnessApp(server.address)
    async with Client(server.address) as c, app.run_test(size=(120, 45)) as pilot:
        await pilot.press("n")
        await wait_for(pilot, lambda: isinstance(app.screen, PutScreen))
        form = app.screen
        form.query_one("#put-tube").value = "fresh"  # type: ignore[attr-defined]
        form.query_one("#put-body").text = "line 1\nline 2"  # type: ignore[attr-defined]
        form.query_one("#put-pri").value = "10"  # type: ignore[attr-defined]
        form.query_one("#put-delay").value = "1h"  # type: ignore[attr-defined]
        form.query_one("#put-ttr").value = "2m"  # type: ignore[attr-defined]
        await pilot.press("ctrl+s")
        await actions_idle(pilot)
        stats = await c.stats_tube("fresh")
        assert stats["current-jobs-delayed"] == 1
        async with Client(server.address, use="fresh") as f:
            job = await f.peek_delayed()
            js = await f.stats_job(job)
        assert (job.body, js["pri"], js["ttr"], js["delay"]) == ("line 1\nline 2", 10, 120, 3600)


async def test_put_form_shows_every_field_error(
    beanstalkd_factory: Callable[..., Beanstalkd],
) -> None:
    server = beanstalkd_factory(max_job_size=10)
    app = HarnessApp(server.address)
    async with Client(server.address) as c, app.run_test(size=(120, 45)) as pilot:
        await pilot.press("n")
        await wait_for(pilot, lambda: isinstance(app.screen, PutScreen))
        form = app.screen
        assert isinstance(form, PutScreen)
        form.query_one("#put-tube").value = "-bad"  # type: ignore[attr-defined]
        form.query_one("#put-body").text = "x" * 11  # type: ignore[attr-defined]
        form.query_one("#put-pri").value = "-1"  # type: ignore[attr-defined]
        form.query_one("#put-delay").value = "soon"  # type: ignore[attr-defined]
        form.query_one("#put-ttr").value = "0"  # type: ignore[attr-defined]
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert isinstance(app.screen, PutScreen)
        assert "-bad" in form.error_text("tube") or "'-'" in form.error_text("tube")
        assert "max-job-size" in form.error_text("body") and "10" in form.error_text("body")
        assert "negative" in form.error_text("pri")
        assert "not a duration" in form.error_text("delay")
        assert "too short" in form.error_text("ttr")
        form.query_one("#put-pri").value = "5"  # type: ignore[attr-defined]
        await pilot.pause()
        assert form.error_text("pri") == ""
        await pilot.press("escape")
        await actions_idle(pilot)
        assert (await c.stats())["cmd-put"] == 0


async def test_read_only_keys_send_nothing_and_say_so(server: Beanstalkd) -> None:
    async with Client(server.address) as c:
        ids = [await c.put(f"j{i}") for i in range(3)]
        before = await c.stats()
        app = HarnessApp(server.address, read_only=True)
        async with app.run_test(size=(120, 40)) as pilot:
            await show_jobs(app, c, ids, "default")
            for key in "nyxXKmMpRrJ":
                await pilot.press(key)
                await pilot.pause()
                if app.screen is not app.harness:
                    await pilot.press("escape")
                    await pilot.pause()
            await actions_idle(pilot)
            assert any("read-only mode: delete is disabled" in n for n in notices(app))
        stats = await c.stats()
    assert {k: stats[k] for k in MUTATING_COUNTERS} == {k: before[k] for k in MUTATING_COUNTERS}
