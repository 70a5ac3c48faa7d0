"""The app on several real private beanstalkd servers: servers pane, fleet sums,
a dead server, switching the current server, per-server read-only, export and import.

Every wait is on a condition with a deadline; nothing sleeps for a fixed time.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from textual.pilot import Pilot
from textual.widgets import Input

from stalkview.app.fleetapp import FleetApp
from stalkview.app.screens.confirm import ConfirmScreen
from stalkview.app.screens.prompt import PromptScreen
from stalkview.app.widgets.joblist import JobList
from stalkview.app.widgets.servers import ALL_SERVERS, ServersTable
from stalkview.app.widgets.tubes import TubesTable
from stalkview.client import Client
from stalkview.config import Target
from tests.beanstalkd import Beanstalkd
from tests.pilot import notices, wait_for

SIZE = (160, 48)
STATES = ("ready", "delayed", "reserved", "buried", "urgent")


def cell(table: Any, row: str, column: str) -> str:
    return str(table.get_cell(row, column).plain)


def listed_ids(app: FleetApp) -> list[int]:
    return sorted(j.id for j in app.main.query_one(JobList).jobs)


async def choose(pilot: Pilot[Any], app: FleetApp, index: int | None) -> None:
    """Enter on a row of the servers pane, as a user would."""
    table = app.main.query_one(ServersTable)
    table.focus()
    key = ALL_SERVERS if index is None else str(index)
    table.move_cursor(row=table.get_row_index(key), animate=False)
    await pilot.press("enter")


async def on_server(pilot: Pilot[Any], app: FleetApp, index: int, ids: list[int]) -> None:
    """Make server ``index`` current and wait for its jobs to be listed."""
    await choose(pilot, app, index)
    await wait_for(pilot, lambda: app.current == index and app.inventory.scanned)
    await wait_for(pilot, lambda: listed_ids(app) == sorted(ids))


async def test_fleet_sums_dead_server_and_recovery(
    beanstalkd_factory: Callable[..., Beanstalkd],
) -> None:
    servers = [beanstalkd_factory(), beanstalkd_factory(), beanstalkd_factory(unix=True)]
    for n, server in enumerate(servers):
        async with Client(server.address, use="emails") as c:
            for i in range(n + 2):
                await c.put(f"mail {i}", priority=10 if i == 0 else 2000)
            job = await c.reserve_job(await c.put("bad"))
            await c.bury(job)
            await c.put("later", delay=600)
    async with Client(servers[1].address, use="only-here") as c:
        await c.put("x")
    own: dict[str, int] = {s: 0 for s in STATES}
    for server in servers:
        async with Client(server.address) as c:
            stats = await c.stats()
        for s in STATES:
            own[s] += int(stats[f"current-jobs-{s}"])
    targets = [Target("one", servers[0].address), Target(None, servers[1].address),
               Target("sock", servers[2].address)]  # fmt: skip
    app = FleetApp(targets, interval=0.2)
    async with app.run_test(size=SIZE) as pilot:
        tubes = app.main.query_one(TubesTable)
        table = app.main.query_one(ServersTable)
        await wait_for(pilot, lambda: all(s.up for s in app.fleet.states))
        await wait_for(pilot, lambda: "emails" in tubes.tube_names())
        await wait_for(pilot, lambda: cell(table, ALL_SERVERS, "ready") == f"{own['ready']:,}")
        # The fleet sums on screen are the servers' own stats added up.
        for s in STATES:
            assert cell(table, ALL_SERVERS, s) == f"{own[s]:,}", s
        assert cell(tubes, "emails", "ready") == str(2 + 3 + 4)
        assert cell(tubes, "emails", "buried") == "3"
        assert cell(tubes, "only-here", "ready") == "1"
        assert "3 of 3 up" in cell(table, ALL_SERVERS, "status")
        # The breakdown of the selected tube: one row a server that has it.
        tubes.focus()
        tubes.select_tube("only-here")
        await wait_for(pilot, lambda: app.main.query_one("#breakdown-pane").display)
        assert "1 of 3 have it" in str(app.main.query_one("#breakdown-title").render())

        servers[1].kill()
        await wait_for(pilot, lambda: not app.fleet.states[1].up)
        await wait_for(pilot, lambda: "down" in cell(table, "1", "status"))
        assert app.fleet.states[1].error  # a reason, shown after "down:"
        # The first reason may be the lost connection ("the server closed the
        # connection"); the next reconnect attempt finds nothing listening.
        await wait_for(pilot, lambda: "connection refused" in cell(table, "1", "status"), 15)
        # The others keep updating, the sums drop the dead one, and keys still work.
        polls = [s.polls for s in app.fleet.states]
        await wait_for(pilot, lambda: all(app.fleet.states[n].polls > polls[n] for n in (0, 2)))
        await wait_for(pilot, lambda: cell(tubes, "emails", "ready") == str(2 + 4))
        app.main.query_one(JobList).focus()
        await pilot.press("5")
        assert app.main.state_filter == "buried"
        await pilot.press("1")
        assert app.main.state_filter is None

        servers[1].restart()
        await wait_for(pilot, lambda: app.fleet.states[1].up, timeout=15)
        await wait_for(pilot, lambda: "up" in cell(table, "1", "status"))


async def test_switch_server_acts_on_that_server_only_and_read_only_per_server(
    beanstalkd_factory: Callable[..., Beanstalkd],
) -> None:
    a, b = beanstalkd_factory(), beanstalkd_factory()
    async with Client(a.address, use="t") as ca, Client(b.address, use="t") as cb:
        a_ids = [await ca.put(f"a{i}") for i in range(2)]
        b_ids = [await cb.put(f"b{i}") for i in range(3)]
        targets = [Target("alpha", a.address), Target("beta", b.address, read_only=True)]
        app = FleetApp(targets, interval=0.3)
        async with app.run_test(size=SIZE) as pilot:
            await wait_for(pilot, lambda: app.inventory.scanned)
            await wait_for(pilot, lambda: listed_ids(app) == sorted(a_ids))
            assert "alpha" in str(app.main.query_one("#jobs-pane").border_title)

            await on_server(pilot, app, 1, b_ids)
            assert "beta" in str(app.main.query_one("#jobs-pane").border_title)
            assert app.read_only
            jobs = app.main.query_one(JobList)
            jobs.focus()
            await pilot.press("x")
            await wait_for(pilot, lambda: any("read-only" in m for m in notices(app)))
            assert any("beta is read-only" in m for m in notices(app))
            assert not isinstance(app.screen, ConfirmScreen)
            assert int((await cb.stats_tube("t"))["current-jobs-ready"]) == 3

            await on_server(pilot, app, 0, a_ids)
            assert not app.read_only
            jobs.focus()
            await pilot.press("x")
            await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen))
            await pilot.press("y")
            await wait_for(pilot, lambda: len(listed_ids(app)) == 1)
            assert int((await ca.stats_tube("t"))["current-jobs-ready"]) == 1
            assert int((await cb.stats_tube("t"))["current-jobs-ready"]) == 3


async def test_export_then_import_from_the_app(
    beanstalkd_factory: Callable[..., Beanstalkd], tmp_path: Path
) -> None:
    a, b = beanstalkd_factory(), beanstalkd_factory()
    bodies = [b"plain", b"\x00\xffbinary", "[bold]ü".encode()]
    async with Client(a.address, use="emails", encoding=None) as ca:
        for n, body in enumerate(bodies):
            await ca.put(body, priority=100 + n, ttr=30 + n)
    async with Client(a.address, use="other") as ca:
        await ca.put("not exported")
    targets = [Target("src", a.address), Target("dst", b.address)]
    app = FleetApp(targets, interval=0.3)
    path = tmp_path / "out.jsonl"
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: app.inventory.scanned and len(listed_ids(app)) == 4)
        await choose(pilot, app, 0)
        tubes = app.main.query_one(TubesTable)
        await wait_for(pilot, lambda: "emails" in tubes.tube_names())
        tubes.focus()
        tubes.select_tube("emails")
        await wait_for(pilot, lambda: len(listed_ids(app)) == 3)
        await pilot.press("e")
        await wait_for(pilot, lambda: isinstance(app.screen, PromptScreen))
        field = app.screen.query_one("#field-path", Input)
        assert "src-emails" in field.value
        field.value = str(path)
        await pilot.press("enter")
        await wait_for(pilot, lambda: any("exported 3 jobs" in m for m in notices(app)))
        records = [json.loads(line) for line in path.read_text().splitlines()]
        assert sorted(r["id"] for r in records) == listed_ids(app)
        assert {r["tube"] for r in records} == {"emails"}

        await on_server(pilot, app, 1, [])
        await pilot.press("i")
        await wait_for(pilot, lambda: isinstance(app.screen, PromptScreen))
        app.screen.query_one("#field-path", Input).value = str(path)
        app.screen.query_one("#field-tube", Input).value = "copied"
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        assert "would put 3 jobs" in str(app.screen.query_one(".dialog-detail").render())
        await pilot.press("y")
        await wait_for(pilot, lambda: any("put 3 jobs" in m for m in notices(app)))
    async with Client(b.address, encoding=None) as cb:
        got = []
        stats = await cb.stats_tube("copied")
        assert int(stats["current-jobs-ready"]) == 3
        await cb.watch("copied")
        for _ in bodies:
            job = await cb.reserve(timeout=1)
            info = await cb.stats_job(job)
            got.append((bytes(job.body), int(info["pri"]), int(info["ttr"])))
        assert sorted(got) == sorted((body, 100 + n, 30 + n) for n, body in enumerate(bodies))
    async with Client(a.address) as ca:
        assert int((await ca.stats())["current-jobs-ready"]) == 4  # export changed nothing
