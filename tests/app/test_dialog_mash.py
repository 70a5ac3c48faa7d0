"""Every dialog survives keys mashed faster than it can close (double Enter, Escape, both).

A quick double Enter in the export prompt used to pop the main screen too:
``ScreenStackError: Can't pop screen``. The keys here are posted in one go,
without letting the app settle between them, as a fast typist's reach the app.
"""

from __future__ import annotations

from typing import Any

from textual import events
from textual.pilot import Pilot

from stalkview.app.screens.dialog import Dialog
from stalkview.app.widgets.joblist import JobList
from stalkview.app.widgets.tubes import TubesTable
from stalkview.client import Client
from tests.app.test_app import SIZE, make_app, ready
from tests.beanstalkd import Beanstalkd
from tests.pilot import notices, wait_for

#: (key that opens a dialog, pane focused first)
DIALOGS = [
    ("question_mark", "tubes"),  # help
    ("colon", "tubes"),  # jump to a job
    ("J", "tubes"),  # journal
    ("n", "tubes"),  # put form
    ("e", "jobs"),  # export prompt (the reported crash)
    ("i", "tubes"),  # import prompt
    ("m", "jobs"),  # move prompt
    ("x", "jobs"),  # delete confirmation
    ("R", "tubes"),  # reserve prompt
]
MASHES = [["enter", "enter", "escape"], ["escape", "escape", "enter"]]


def _post_keys(pilot: Pilot[Any], keys: list[str]) -> None:
    """Queue every key before the app handles the first."""
    for key in keys:
        char = "\r" if key == "enter" else "\x1b" if key == "escape" else None
        pilot.app.post_message(events.Key(key, char))


async def _has_ready_job(c: Client) -> bool:
    return (
        bool((await c.stats_tube("emails"))["current-jobs-ready"])
        if "emails" in (await c.tubes())
        else False
    )


async def _open(pilot: Pilot[Any], key: str, pane: type[Any], mash: list[str]) -> None:
    """Focus the pane and press the key until a dialog opens (a refresh may move
    the focus or the cursor in between; opening is not what is tested here)."""
    app = pilot.app
    for _attempt in range(4):
        if app.screen is not app.main:  # type: ignore[attr-defined]
            return  # the last press opened it after all
        app.main.query_one(pane).focus()  # type: ignore[attr-defined]
        await pilot.pause()
        await pilot.press(key)
        try:
            await wait_for(pilot, lambda: app.screen is not app.main, timeout=3)  # type: ignore[attr-defined]
            return
        except AssertionError:
            continue
    raise AssertionError(f"{key!r} opened no dialog after {mash}: {notices(app)}")


async def _back_to_main(pilot: Pilot[Any]) -> None:
    app = pilot.app
    for _ in range(10):
        if app.screen is app.main:  # type: ignore[attr-defined]
            return
        await pilot.press("escape")
        await pilot.pause()
    raise AssertionError(f"stuck on {app.screen!r}")


async def test_mashing_keys_in_every_dialog_never_crashes(server: Beanstalkd) -> None:
    async with Client(server.address, use="emails") as c:
        await c.put("job")
        app = make_app(server)
        async with app.run_test(size=SIZE) as pilot:
            await ready(pilot)
            jobs = app.main.query_one(JobList)
            await wait_for(pilot, lambda: len(jobs.jobs) >= 1)
            opened = []
            for (key, pane), mash in [(d, m) for d in DIALOGS for m in MASHES]:
                await _back_to_main(pilot)
                # An Enter may have confirmed a delete or a move: let it finish,
                # and give the next dialog a job to act on.
                await wait_for(
                    pilot,
                    lambda: not [w for w in app.workers if w.group == "actions" and w.is_running],
                )
                if not await _has_ready_job(c):
                    await c.put("job")
                await wait_for(pilot, lambda: any(j.tube == "emails" for j in jobs.jobs))
                await _open(pilot, key, JobList if pane == "jobs" else TubesTable, mash)
                if isinstance(app.screen, Dialog):
                    opened.append(key)
                _post_keys(pilot, mash)
                await pilot.pause(0.1)
                # The stack still holds the main screen: nothing popped too far.
                assert app.main in app.screen_stack, (key, mash)
                assert app._exception is None, (key, mash, app._exception)
            await pilot.pause(0.3)
            await _back_to_main(pilot)
            await pilot.pause(0.3)
            assert app.return_code is None  # still running: no crash
            assert app._exception is None
        assert len(opened) == len(DIALOGS) * len(MASHES), opened
