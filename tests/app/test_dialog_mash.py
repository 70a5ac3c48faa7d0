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
from tests.pilot import wait_for

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
MASHES = [["enter", "enter"], ["escape", "escape"], ["enter", "escape", "enter"]]


def _post_keys(pilot: Pilot[Any], keys: list[str]) -> None:
    """Queue every key before the app handles the first."""
    for key in keys:
        char = "\r" if key == "enter" else "\x1b" if key == "escape" else None
        pilot.app.post_message(events.Key(key, char))


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
                if len(jobs.jobs) == 0:  # an Enter confirmed a delete or a move
                    await c.put("job")
                    await wait_for(pilot, lambda: len(jobs.jobs) >= 1)
                app.main.query_one(JobList if pane == "jobs" else TubesTable).focus()
                await pilot.press(key)
                try:
                    await wait_for(pilot, lambda: app.screen is not app.main, timeout=10)
                except AssertionError:
                    raise AssertionError(f"{key!r} opened no dialog after {mash}") from None
                if isinstance(app.screen, Dialog):
                    opened.append(key)
                _post_keys(pilot, mash)
                await pilot.pause(0.1)
                # The stack still holds the main screen: nothing popped too far.
                assert app.main in app.screen_stack, (key, mash)
            await _back_to_main(pilot)
            assert app.return_code is None  # still running: no crash
        assert len(opened) == len(DIALOGS) * len(MASHES), opened
