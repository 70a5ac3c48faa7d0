"""The app against a real private beanstalkd, driven with Pilot.

Each test waits for a condition (with a deadline) rather than sleeping: the
app refreshes every 0.2 s here, so conditions settle within a few refreshes.
"""

from __future__ import annotations

import asyncio
import io
import json
import time
from typing import Any

import pytest
from rich.console import Console
from rich.text import Text
from textual.coordinate import Coordinate
from textual.pilot import Pilot
from textual.widgets._footer import FooterKey

from stalkview.app.app import StalkviewApp
from stalkview.app.screens.help import HelpScreen
from stalkview.app.screens.jump import JumpScreen, parse_job_id
from stalkview.app.widgets.banner import ConnectionBanner
from stalkview.app.widgets.jobdetail import JobDetail
from stalkview.app.widgets.joblist import JobList
from stalkview.app.widgets.lifecycle import Lifecycle
from stalkview.app.widgets.serverbar import ServerBar
from stalkview.app.widgets.tubes import ADD_CHUNK, ALL_TUBES, COLUMNS, TubesTable
from stalkview.client import Client
from stalkview.client import commands as cmd
from stalkview.poll import fetch_snapshot
from tests.beanstalkd import Beanstalkd
from tests.pilot import wait_for

INTERVAL = 0.2
SIZE = (160, 48)

#: Counters that browsing may bump: everything else must stay put.
READ_ONLY_COUNTERS = {
    "cmd-stats", "cmd-stats-job", "cmd-stats-tube", "cmd-peek", "cmd-peek-ready",
    "cmd-peek-delayed", "cmd-peek-buried", "cmd-list-tubes", "cmd-list-tube-used",
    "cmd-list-tubes-watched", "cmd-use",
}  # fmt: skip


async def current_using(probe: Client) -> dict[str, int]:
    """Connections using each tube but default (which always exists)."""
    tubes = [t for t in await probe.tubes() if t != "default"]
    return {t: (await probe.stats_tube(t))["current-using"] for t in tubes}


def make_app(server: Beanstalkd, **kwargs: Any) -> StalkviewApp:
    return StalkviewApp(server.address, interval=INTERVAL, **kwargs)


async def ready(pilot: Pilot[Any]) -> StalkviewApp:
    """Wait for the first refresh and the first inventory scan."""
    app = pilot.app
    assert isinstance(app, StalkviewApp)
    await wait_for(pilot, lambda: app.snapshot is not None and app.inventory.scanned)
    await wait_for(pilot, lambda: app.inventory_refreshes >= 1)
    await pilot.pause()
    return app


async def put_jobs(address: str, tube: str, bodies: list[bytes], **kwargs: Any) -> list[int]:
    async with Client(address, encoding=None, use=tube) as client:
        return [await client.put(body, **kwargs) for body in bodies]


def plain(widget: Any) -> str:
    """The text a Static shows, rendered as a terminal would show it."""
    content = widget.content
    if isinstance(content, str):
        return content
    if isinstance(content, Text):
        return content.plain
    console = Console(width=200, record=True, file=io.StringIO())
    console.print(content)
    return console.export_text()


def table_cell(table: TubesTable, tube: str, column: str) -> str:
    return str(table.get_cell(tube, column).plain)


async def select_tube(pilot: Pilot[Any], app: StalkviewApp, tube: str | None) -> None:
    table = app.main.query_one(TubesTable)
    assert table.select_tube(tube)
    await wait_for(pilot, lambda: app.main.tube == tube)


# --- counts ---------------------------------------------------------------------------------


async def test_counts_on_screen_equal_the_servers(server: Beanstalkd) -> None:
    await put_jobs(server.address, "emails", [b"a", b"b", b"c"])
    await put_jobs(server.address, "emails", [b"later"], delay=300)
    await put_jobs(server.address, "reports", [b"r"], priority=5)
    async with Client(server.address, watch="reports") as worker:
        job = await worker.reserve(0)
        await worker.bury(job)
        app = make_app(server)
        async with app.run_test(size=SIZE) as pilot:
            await ready(pilot)
            table = app.main.query_one(TubesTable)
            async with Client(server.address) as probe:
                for tube in ("emails", "reports", "default"):
                    stats = await probe.stats_tube(tube)
                    for column in COLUMNS:
                        if column.key in ("name", "paused", "health"):
                            continue
                        expected = int(stats[column.stat])
                        if tube == "default" and column.stat in (
                            "current-watching",
                            "current-using",
                        ):
                            continue  # the app's and this test's own connections move these
                        assert table_cell(table, tube, column.key) == f"{expected:,}", (
                            tube,
                            column,
                        )
                server_stats = await probe.stats()
            assert table_cell(table, ALL_TUBES, "ready") == str(server_stats["current-jobs-ready"])
            assert table_cell(table, ALL_TUBES, "buried") == "1"
            bar = app.main.query_one(ServerBar)
            totals = plain(bar.query_one("#sb-totals"))
            assert "ready 3" in totals and "delayed 1" in totals and "buried 1" in totals
            # The jobs pane's state tabs count what the inventory lists.
            await select_tube(pilot, app, "emails")
            assert [j.state for j in app.main.query_one(JobList).jobs].count("ready") == 3
            assert app.main.query_one(JobList).jobs[-1].state == "delayed"


async def test_fetch_snapshot_sees_new_and_vanished_tubes(server: Beanstalkd) -> None:
    async with Client(server.address) as client, Client(server.address, use="brief") as user:
        first = await fetch_snapshot(client)
        assert "brief" in first.tubes and first.round_trips == 2
        steady = await fetch_snapshot(client, list(first.tubes))
        assert steady.round_trips == 1 and steady.tubes.keys() == first.tubes.keys()
        await user.use("default")  # "brief" is empty and unused now: it vanishes
        gone = await fetch_snapshot(client, list(first.tubes))
        assert "brief" not in gone.tubes


# --- selection, filters ---------------------------------------------------------------------


async def test_selection_survives_refresh_and_tubes_coming_and_going(server: Beanstalkd) -> None:
    for tube in ("alpha", "bravo", "charlie"):
        await put_jobs(server.address, tube, [b"x"])
    app = make_app(server)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await select_tube(pilot, app, "charlie")
        table = app.main.query_one(TubesTable)
        job_list = app.main.query_one(JobList)
        refreshes = app.refreshes
        # A tube appears before the selected one in sort order, one above it vanishes.
        await put_jobs(server.address, "aardvark", [b"x"])
        async with Client(server.address, watch="alpha") as worker:
            await worker.delete((await worker.reserve(0)).id)
        await wait_for(pilot, lambda: app.refreshes > refreshes + 2)
        await wait_for(pilot, lambda: "aardvark" in set(table.tube_names()))
        await wait_for(pilot, lambda: "alpha" not in set(table.tube_names()))
        assert table.selected_tube == "charlie"
        assert app.main.tube == "charlie"
        assert [job.tube for job in job_list.jobs] == ["charlie"]


async def test_job_cursor_survives_inventory_refresh(server: Beanstalkd) -> None:
    ids = await put_jobs(server.address, "work", [f"job {i}".encode() for i in range(20)])
    app = make_app(server)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await select_tube(pilot, app, "work")
        job_list = app.main.query_one(JobList)
        job_list.focus()
        await pilot.press("j", "j", "j")
        assert job_list.cursor_job is not None and job_list.cursor_job.id == ids[3]
        await put_jobs(server.address, "work", [b"new"], priority=0)  # sorts first
        count = app.inventory_refreshes
        await wait_for(pilot, lambda: app.inventory_refreshes > count + 1)
        await wait_for(pilot, lambda: len(job_list.jobs) == 21)
        assert job_list.cursor_job is not None and job_list.cursor_job.id == ids[3]


async def test_detail_follows_the_live_job_without_refetching_its_body(
    server: Beanstalkd,
) -> None:
    (target,) = await put_jobs(server.address, "live", [b'{"task": "send"}'], priority=7)
    app = make_app(server)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await select_tube(pilot, app, "live")
        detail = app.main.query_one(JobDetail)
        await wait_for(pilot, lambda: detail.job is not None and detail.job.id == target)
        assert "ready" in "\n".join(detail.lines[:6])
        peeks: list[int] = []
        peek_body = app.inventory.peek_body

        async def counting(job_id: int, limit: int | None) -> bytes | None:
            peeks.append(job_id)
            return await peek_body(job_id, limit)

        app.inventory.peek_body = counting  # type: ignore[method-assign,assignment]
        async with Client(server.address, watch="live") as worker:
            await worker.reserve(0)
            await wait_for(pilot, lambda: detail.job is not None and detail.job.state == "reserved")
            text = "\n".join(detail.lines)
            assert "until the TTR expires" in text and "reserves  1" in text
            assert '"task"' in text, "the body stays"
            count = app.inventory_refreshes
            await wait_for(pilot, lambda: app.inventory_refreshes > count + 2)
            assert peeks == [], "the body is not fetched again on refreshes"
            await pilot.press("ctrl+r")
            await wait_for(pilot, lambda: peeks == [target])
            await worker.delete(target)
        await wait_for(pilot, lambda: detail.gone)
        text = "\n".join(detail.lines)
        assert f"job {target} is gone" in text and '"task"' in text
        assert "gone" in str(app.main.query_one("#side").border_title)


async def test_state_filter_keys(server: Beanstalkd) -> None:
    await put_jobs(server.address, "mixed", [b"r1", b"r2"])
    await put_jobs(server.address, "mixed", [b"d1"], delay=600)
    async with Client(server.address, watch="mixed") as worker:
        await worker.bury((await worker.reserve(0)).id)
    app = make_app(server)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await select_tube(pilot, app, "mixed")
        job_list = app.main.query_one(JobList)
        job_list.focus()

        def states() -> set[str]:
            return {job.state for job in job_list.jobs}

        await pilot.press("3")
        assert states() == {"delayed"} and len(job_list.jobs) == 1
        await pilot.press("5")
        assert states() == {"buried"}
        await pilot.press("2")
        assert states() == {"ready"}
        await pilot.press("4")
        assert job_list.jobs == [] or list(job_list.jobs) == []
        await pilot.press("1")
        assert states() == {"ready", "delayed", "buried"} and len(job_list.jobs) == 3


async def test_slash_filters_tubes_by_name(server: Beanstalkd) -> None:
    for tube in ("mail-in", "mail-out", "reports"):
        await put_jobs(server.address, tube, [b"x"])
    app = make_app(server)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        table = app.main.query_one(TubesTable)
        table.focus()
        await pilot.press("slash", *"mail")
        assert set(table.tube_names()) == {"mail-in", "mail-out"}
        refreshes = app.refreshes
        await wait_for(pilot, lambda: app.refreshes > refreshes + 1)
        assert set(table.tube_names()) == {"mail-in", "mail-out"}, "filter kept across refresh"
        await pilot.press("enter")
        assert app.focused is table
        await pilot.press("slash")
        await pilot.press("escape")
        assert "reports" in set(table.tube_names())


async def test_search_filters_jobs_and_shows_errors_inline(server: Beanstalkd) -> None:
    await put_jobs(server.address, "s", [json.dumps({"user_id": i}).encode() for i in range(5)])
    app = make_app(server)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await select_tube(pilot, app, "s")
        job_list = app.main.query_one(JobList)
        status = app.main.query_one("#query-status")
        await pilot.press("s", *"reserves>=oops", "enter")
        assert "reserves" in plain(status) and "✕" in plain(status)
        assert len(job_list.jobs) == 5
        app.main.query_one("#job-query").value = 'body~"user_id": 3'  # type: ignore[attr-defined]
        await pilot.press("enter")
        await wait_for(pilot, lambda: len(job_list.jobs) == 1)
        assert b"3" in json.dumps({"user_id": 3}).encode()
        app.main.query_one("#job-query").focus()
        await pilot.press("escape")
        assert len(job_list.jobs) == 5


# --- bodies -------------------------------------------------------------------------------


async def show_detail(pilot: Pilot[Any], app: StalkviewApp, tube: str) -> JobDetail:
    await select_tube(pilot, app, tube)
    job_list = app.main.query_one(JobList)
    await wait_for(pilot, lambda: len(job_list.jobs) > 0)
    job_list.focus()
    await pilot.press("enter")
    detail = app.main.query_one(JobDetail)
    first = job_list.jobs[0].id
    await wait_for(pilot, lambda: detail.job is not None and detail.job.id == first)
    return detail


async def test_markup_and_escapes_in_bodies_and_tube_names_show_literally(
    server: Beanstalkd,
) -> None:
    nasty = b"[bold red]x[/] \x1b[2J done"
    await put_jobs(server.address, "odd$(1)", [nasty])
    app = make_app(server)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        detail = await show_detail(pilot, app, "odd$(1)")
        text = "\n".join(detail.lines)
        assert "[bold red]x[/]" in text
        assert "\x1b" not in text and "\\x1b[2J" in text
        await pilot.pause()
        screen = app.export_screenshot()
        assert "[bold red]x[/]" in screen.replace("&#160;", " ")
        assert "odd$(1)" in screen


async def test_json_binary_and_huge_bodies_render(beanstalkd_factory: Any) -> None:
    server = beanstalkd_factory(max_job_size=1_000_000)
    await put_jobs(server.address, "json", [json.dumps({"displayName": "SendEmail"}).encode()])
    await put_jobs(server.address, "bin", [bytes(range(256))])
    await put_jobs(server.address, "huge", [b"A" * 600_000])
    app = make_app(server)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        detail = await show_detail(pilot, app, "json")
        assert detail.decoded is not None and detail.decoded.kind == "json"
        assert any('"displayName": "SendEmail"' in line for line in detail.lines)
        detail = await show_detail(pilot, app, "bin")
        assert any(line.startswith("00000000") for line in detail.lines)
        detail = await show_detail(pilot, app, "huge")
        text = "\n".join(detail.lines)
        assert "585.9 KiB" in text and "showing the first 256.0 KiB" in text
        assert text.count("A") < 600_000


# --- the connection -------------------------------------------------------------------------


async def test_server_killed_and_restarted_shows_banner_then_recovers(server: Beanstalkd) -> None:
    await put_jobs(server.address, "t", [b"x"])
    app = make_app(server)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        banner = app.main.query_one(ConnectionBanner)
        bar = app.main.query_one(ServerBar)
        assert not banner.display
        server.kill()
        await wait_for(pilot, lambda: banner.display)
        assert "connection lost" in banner.message and server.address in banner.message
        assert bar.status == "stale" and app.main.has_class("stale")
        server.restart()
        await wait_for(pilot, lambda: not banner.display, timeout=15)
        await wait_for(pilot, lambda: bar.status == "live")
        assert not app.main.has_class("stale")
        # The restarted server is empty (no binlog): the view follows it.
        table = app.main.query_one(TubesTable)
        await wait_for(pilot, lambda: "t" not in set(table.tube_names()))
        await put_jobs(server.address, "after", [b"y"])
        await wait_for(pilot, lambda: "after" in set(table.tube_names()))


async def test_unreachable_server_at_start_shows_banner(server: Beanstalkd) -> None:
    server.kill()
    app = make_app(server)
    async with app.run_test(size=SIZE) as pilot:
        banner = app.main.query_one(ConnectionBanner)
        await wait_for(pilot, lambda: banner.display)
        assert app.snapshot is None
        server.restart()
        await wait_for(pilot, lambda: app.snapshot is not None, timeout=15)
        assert not banner.display


# --- side effects -------------------------------------------------------------------------------


def busy(app: StalkviewApp, *groups: str) -> bool:
    """Whether a worker of one of ``groups`` is still running."""
    return any(w.group in groups and w.is_running for w in app.workers)


async def test_browsing_every_pane_changes_no_server_counters(server: Beanstalkd) -> None:
    await put_jobs(server.address, "a", [json.dumps({"job": "A"}).encode()] * 3)
    await put_jobs(server.address, "b", [b"later"], delay=600)
    async with Client(server.address, watch="a") as worker:
        await worker.bury((await worker.reserve(0)).id)
    async with Client(server.address) as probe:
        before = await probe.stats()
        tubes_before = {t: await probe.stats_tube(t) for t in await probe.tubes()}
        app = make_app(server)
        async with app.run_test(size=SIZE) as pilot:
            await ready(pilot)
            for tube in ("a", "b", None):
                app.main.query_one(TubesTable).select_tube(tube)
                await pilot.pause()
                app.main.query_one(JobList).focus()
                for key in ("1", "2", "3", "5", "j", "enter", "l", "l", "escape", "escape"):
                    await pilot.press(key)
                # The detail loads and body previews those keys started have answered.
                await wait_for(pilot, lambda: not busy(app, "detail", "previews"))
            await pilot.press("s", *"body~A", "enter")
            await pilot.press("colon", *"1", "enter")
            await pilot.press("question_mark", "escape")
            refreshes = app.refreshes
            await wait_for(pilot, lambda: app.refreshes > refreshes + 2)
        after = await probe.stats()
        tubes_after = {t: await probe.stats_tube(t) for t in await probe.tubes()}
        # The inventory peeks each tube's heads through `use` (of existing tubes only,
        # then `use default` in the same write); once the server has seen the app's
        # connections close, nobody is left using them.
        using_before = {t: s["current-using"] for t, s in tubes_before.items() if t != "default"}
        deadline = time.monotonic() + 5
        while (using := await current_using(probe)) != using_before:
            assert time.monotonic() < deadline, (using, using_before)
            await asyncio.sleep(0.05)
    changed = {
        key for key in before
        if key.startswith("cmd-") and before[key] != after[key]
    }  # fmt: skip
    assert changed <= READ_ONLY_COUNTERS, changed - READ_ONLY_COUNTERS
    assert (
        after["cmd-watch"] == before["cmd-watch"] and after["cmd-reserve"] == before["cmd-reserve"]
    )
    assert set(tubes_after) == set(tubes_before), "no tube created or kept alive"
    for tube, stats in tubes_before.items():
        for key in (
            "current-jobs-ready",
            "current-jobs-buried",
            "current-jobs-delayed",
            "total-jobs",
            "cmd-delete",
        ):
            assert tubes_after[tube][key] == stats[key], (tube, key)


# --- keys, dialogs, palette ---------------------------------------------------------------------


async def test_jump_to_job_by_id_selects_its_tube(server: Beanstalkd) -> None:
    await put_jobs(server.address, "one", [b"first"])
    (target,) = await put_jobs(server.address, "two", [b"second"])
    app = make_app(server)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await pilot.press("colon")
        assert isinstance(app.screen, JumpScreen)
        await pilot.press(*"abc", "enter")
        assert isinstance(app.screen, JumpScreen), "a bad id keeps the dialog open"
        assert "not a number" in plain(app.screen.query_one("#jump-error"))
        app.screen.query_one("#jump-input").value = str(target)  # type: ignore[attr-defined]
        await pilot.press("enter")
        detail = app.main.query_one(JobDetail)
        await wait_for(pilot, lambda: detail.job is not None and detail.job.id == target)
        assert app.main.tube == "two"
        assert app.main.query_one(TubesTable).selected_tube == "two"
        await pilot.press("colon", *"99999", "enter")
        await wait_for(pilot, lambda: any("99999" in n.message for n in app._notifications))


def test_parse_job_id_messages() -> None:
    assert parse_job_id(" #42 ") == 42
    with pytest.raises(ValueError, match="ids start at 1"):
        parse_job_id("0")
    with pytest.raises(ValueError, match="not a number"):
        parse_job_id("4x")


async def test_help_lists_live_bindings_and_palette_has_every_action(server: Beanstalkd) -> None:
    app = make_app(server, read_only=True)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        text = plain(app.screen.query_one("#help-body"))
        for expected in (
            "Jump to a job by id",
            "Show buried jobs",
            "Sort by the next column",
            "Quit",
            "Back out",
        ):
            assert expected in text, expected
        await pilot.press("escape")
        assert not isinstance(app.screen, HelpScreen)
        from stalkview.app.palette import palette_commands

        titles = {c.title for c in palette_commands(app.main.binding_nodes())}
        for title in ("Jump", "Lifecycle", "Buried", "Search", "Help", "Sort tubes by ready"):
            assert title in titles, title
        for title in ("Duplicate", "Move all", "Reserve job"):
            assert title in titles, "hidden from the footer, still in the palette"
        for pane in ("#tubes", "#jobs"):
            app.main.query_one(pane).focus()
            await pilot.pause()
            keys = list(app.main.query(FooterKey))
            assert sum(key.outer_size.width for key in keys) <= SIZE[0], pane
            shown = {key.key for key in keys}
            assert not shown & {"1", "2", "3", "4", "5"}, "the state bar shows those"
            assert {"x", "n", "q", "question_mark"} <= shown
        assert app.read_only
        identity = plain(app.main.query_one("#sb-identity"))
        assert "READ-ONLY" in identity


async def test_lifecycle_shows_counts_and_the_selected_jobs_history(server: Beanstalkd) -> None:
    await put_jobs(server.address, "life", [b"a", b"b"])
    async with Client(server.address, watch="life") as worker:
        job = await worker.reserve(0)
        await worker.release(job.id)
        job = await worker.reserve(0)
        await worker.bury(job.id)
    app = make_app(server)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await select_tube(pilot, app, "life")
        await pilot.press("l")
        lifecycle = app.main.query_one(Lifecycle)
        assert lifecycle.display and lifecycle.counts["buried"] == 1
        job_list = app.main.query_one(JobList)
        job_list.focus()
        await pilot.press("5")
        await wait_for(pilot, lambda: lifecycle.job is not None and lifecycle.job.state == "buried")
        drawing = lifecycle.render().plain
        assert "BURIED" in drawing and "tube life" in drawing
        assert "reserves 2" in drawing and "releases 1" in drawing and "buries 1" in drawing


async def test_many_new_tubes_arrive_in_chunks_top_of_the_sort_first(server: Beanstalkd) -> None:
    count = ADD_CHUNK + 50
    async with Client(server.address, encoding=None) as client:
        calls: list[Any] = []
        for n in range(count):
            calls += [cmd.use(f"t{n:03d}"), cmd.put(b"x", 1024, 0, 60)]
        await client.run_many(calls, raise_on_error=True)
    app = make_app(server)
    async with app.run_test(size=SIZE) as pilot:
        table = app.main.query_one(TubesTable)
        await wait_for(pilot, lambda: app.snapshot is not None and table.row_count > 1)
        # The first chunk is the top of the sort order: the visible rows are right at once.
        shown = [table.coordinate_to_cell_key(Coordinate(r, 0)).row_key.value for r in range(4)]
        assert shown == [ALL_TUBES, "default", "t000", "t001"]
        await wait_for(pilot, lambda: table.row_count == count + 2)
        names = [
            table.coordinate_to_cell_key(Coordinate(r, 0)).row_key.value for r in range(count + 2)
        ]
        assert names == [ALL_TUBES, "default", *(f"t{n:03d}" for n in range(count))]
        assert table_cell(table, f"t{count - 1:03d}", "ready") == "1"


async def test_footer_is_rebuilt_only_when_its_keys_change(server: Beanstalkd) -> None:
    await put_jobs(server.address, "alpha", [b"x"])
    app = make_app(server)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await select_tube(pilot, app, "alpha")
        await wait_for(pilot, lambda: app.main.current_job is not None)
        await pilot.pause()
        keys = list(app.main.query(FooterKey))
        app.main.refresh_bindings()  # a bindings signal that changes nothing
        await pilot.pause()
        assert keys and list(app.main.query(FooterKey)) == keys
        assert all(key.is_attached for key in keys)
        await select_tube(pilot, app, None)  # the whole server: no job, job actions off
        await wait_for(pilot, lambda: list(app.main.query(FooterKey)) != keys)


def test_health_cell_is_cached_by_hints_and_still_right() -> None:
    from stalkview.app.widgets.hints import health_cell
    from stalkview.model import Hint

    buried = [Hint("error", "t", "3 buried jobs: kick them"), Hint("info", "t", "draining")]
    assert health_cell([]).plain == "ok"
    assert health_cell(buried) is health_cell(list(buried))
    assert health_cell(buried).plain.endswith("3 buried jobs +1")
    assert health_cell(buried[1:]).plain.endswith("draining")
