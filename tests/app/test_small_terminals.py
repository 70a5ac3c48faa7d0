"""The app at the terminal sizes on-call really has, against a seeded real beanstalkd.

80x24 (most terminals' default), 100x30, 120x30 (a common split) and 160x45: the
health of every visible tube is shown whole, the jobs pane keeps its rows, no footer
key is cut, zoom round-trips, and every dialog's confirm button is on screen.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from textual.coordinate import Coordinate
from textual.geometry import Region
from textual.pilot import Pilot
from textual.widget import Widget
from textual.widgets._footer import FooterKey

from stalkview.app.app import StalkviewApp
from stalkview.app.widgets.footer import Footer, fit_keys
from stalkview.app.widgets.jobdetail import JobDetail
from stalkview.app.widgets.joblist import JobList
from stalkview.app.widgets.tubes import COLUMN_KEYS, TubesTable, fit_columns, short_health
from stalkview.client import Client
from stalkview.demo.workload import seed
from tests.beanstalkd import Beanstalkd
from tests.pilot import wait_for

SIZES = [(80, 24), (100, 30), (120, 30), (160, 45)]
INTERVAL = 0.2


def screen_lines(app: StalkviewApp) -> list[str]:
    return [strip.text for strip in app.screen._compositor.render_strips()]


def on_screen(app: StalkviewApp, widget: Widget) -> bool:
    """Whether the whole widget is drawn: inside the screen and not clipped by a parent."""
    region = widget.region
    if not region or not app.screen.region.contains_region(region):
        return False
    visible = app.screen.find_widget(widget).visible_region
    return visible == region


LONG_TUBE = "a-tube-whose-name-goes-on-" + "x" * 60


@pytest.fixture
async def seeded(server: Beanstalkd) -> AsyncIterator[Beanstalkd]:
    await seed(server.address)
    async with Client(server.address, use=LONG_TUBE) as client:
        await client.put("a job in a tube with a long name")
    yield server


async def ready(pilot: Pilot[Any]) -> StalkviewApp:
    app = pilot.app
    assert isinstance(app, StalkviewApp)
    await wait_for(pilot, lambda: app.snapshot is not None and app.inventory.scanned)
    await wait_for(pilot, lambda: app.inventory_refreshes >= 1)
    await pilot.pause(0.2)
    return app


# --- pure fitting -----------------------------------------------------------------------


def test_columns_are_a_prefix_of_the_priority_order() -> None:
    natural = dict.fromkeys(COLUMN_KEYS, 7) | {"name": 16, "health": 30}
    for width in range(40, 200):
        fit = fit_columns(natural, width)
        assert fit.shown == COLUMN_KEYS[: len(fit.shown)]
        assert fit.shown[:2] == ("name", "health")
        used = sum(fit.widths[k] + 2 for k in fit.shown)
        assert used <= width or len(fit.shown) <= 6, (width, fit)
    assert fit_columns(natural, 200).hidden == ()
    # A 200-byte tube name is cut (with "…") before health or a job state is dropped.
    fit = fit_columns(natural | {"name": 200}, 76)
    assert fit.shown == COLUMN_KEYS[:6]
    assert sum(fit.widths[k] + 2 for k in fit.shown) <= 76


def test_health_is_shortened_between_words() -> None:
    from rich.text import Text

    cell = Text("▲ no consumers: 40 ready jobs +2")
    assert short_health(cell, 100) is cell
    assert short_health(cell, 31).plain == "▲ no consumers: 40 ready jobs"
    assert short_health(cell, 20).plain == "▲ no consumers: 40…"
    assert short_health(cell, 16).plain == "▲ no consumers…"


def test_footer_keeps_help_and_whole_keys() -> None:
    keys = [("sort", 8), ("filter", 10), ("delete", 10), ("help", 8)]
    assert fit_keys(keys, 20) == ["sort", "help"]
    assert fit_keys(keys, 5) == ["help"]
    assert fit_keys(keys, 100) == ["sort", "filter", "delete", "help"]


# --- against the seeded server ------------------------------------------------------------


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
async def test_layout_fits(seeded: Beanstalkd, size: tuple[int, int]) -> None:
    app = StalkviewApp(seeded.address, interval=INTERVAL)
    async with app.run_test(size=size) as pilot:
        await ready(pilot)
        table = app.main.query_one(TubesTable)
        lines = screen_lines(app)
        # Health, then the four states, whatever the width.
        assert table.shown_columns[:6] == (
            "name", "health", "ready", "delayed", "reserved", "buried",
        )  # fmt: skip
        # Every visible row's health cell is on screen whole, on that row's line.
        top = table.scroll_offset.y
        visible = table.scrollable_content_region.height - 1  # under the header
        checked = 0
        for index in range(top, min(table.row_count, top + visible)):
            key = table.coordinate_to_cell_key(Coordinate(index, 0)).row_key
            health = table.get_cell(key, "health").plain
            name = table.get_cell(key, "name").plain
            assert health, name
            row = [line for line in lines if f" {name[:10]}" in line]
            assert row and health in row[0], (name, health, row)
            if name == LONG_TUBE and size[0] < 120:
                assert "a-tube-whose…" in row[0] or "…" in row[0].split(health)[0]
            checked += 1
        assert checked >= 4
        # Dropped columns are named in the pane's title.
        title = str(app.main.query_one("#tubes-pane").border_title)
        for hidden in table.hidden_columns:
            assert hidden in title or "…" in title
        if size[0] >= 160:
            assert table.hidden_columns == ()
        # A table taller than its share scrolls, the cursor row kept in view.
        if table.row_count > visible:
            table.focus()
            await pilot.press("G")
            await pilot.pause(0.1)
            assert table.cursor_row == table.row_count - 1
            assert 0 <= table.cursor_row - table.scroll_offset.y < visible
            await pilot.press("g")
            await pilot.pause(0.1)
            assert table.scroll_offset.y == 0
        # The jobs pane keeps its rows.
        job_list = app.main.query_one(JobList)
        assert len(job_list.jobs) > 20
        if size == (80, 24):
            assert job_list.scrollable_content_region.height - 1 >= 8
        # No footer key is cut, and `?` is always there.
        await assert_footer_fits(pilot, app)
        await pilot.press("tab")  # the jobs pane has other keys
        await pilot.pause(0.2)
        await assert_footer_fits(pilot, app)


async def assert_footer_fits(pilot: Pilot[Any], app: StalkviewApp, must: str = "help") -> None:
    await pilot.pause(0.1)
    footer = app.screen.query_one(Footer)
    assert must in footer.shown_actions
    keys = list(footer.query(FooterKey))
    assert keys
    width = app.size.width
    last = screen_lines(app)[-1]
    regions: list[Region] = []
    for key in keys:
        region = key.region
        assert region.x >= 0 and region.right <= width, (key.description, region)
        assert all(not region.overlaps(other) for other in regions), key.description
        regions.append(region)
        assert f"{key.key_display} {key.description}" in last, (key.description, last)


@pytest.mark.parametrize("size", [(80, 24), (160, 45)], ids=lambda s: f"{s[0]}x{s[1]}")
async def test_zoom_round_trips(seeded: Beanstalkd, size: tuple[int, int]) -> None:
    long_body = b'{"note": "' + b"x" * 300 + b'"}'
    async with Client(seeded.address, encoding=None, use="longbody") as client:
        await client.put(long_body)
    app = StalkviewApp(seeded.address, interval=INTERVAL)
    async with app.run_test(size=size) as pilot:
        await ready(pilot)
        main = app.main
        panes = {pane: main.query_one(f"#{pane}").region for pane in ("tubes-pane", "jobs-pane")}
        await pilot.press("z")
        await wait_for(pilot, lambda: main.zoomed_pane == "tubes-pane")
        await pilot.pause(0.1)
        assert main.query_one("#tubes-pane").region.height == size[1] - 1  # the footer stays
        await wait_for(pilot, lambda: "z Restore" in screen_lines(app)[-1])
        await pilot.press("z")
        await wait_for(pilot, lambda: main.zoomed_pane is None)
        await wait_for(pilot, lambda: "z Zoom" in screen_lines(app)[-1])
        for pane, region in panes.items():
            assert main.query_one(f"#{pane}").region == region, pane
        # The detail zoomed: a long body at the full width.
        assert main.query_one(TubesTable).select_tube("longbody")
        await wait_for(pilot, lambda: len(main.query_one(JobList).jobs) == 1)
        main.query_one(JobList).focus()
        await pilot.press("enter")
        detail = main.query_one(JobDetail)
        await wait_for(pilot, lambda: detail.job is not None and detail.has_focus)
        before = detail.region.width
        await pilot.press("z")
        await wait_for(pilot, lambda: main.zoomed_pane == "side")
        await pilot.pause(0.1)
        assert detail.region.width >= size[0] - 4 > before or size[0] < 100
        assert any("x" * (size[0] - 8) in line for line in screen_lines(app))
        await pilot.press("z")
        await wait_for(pilot, lambda: main.zoomed_pane is None)
        # esc backs out of the detail: the jobs list again.
        await pilot.press("escape")
        await wait_for(pilot, lambda: main.query_one(JobList).has_focus)
        assert main.query_one("#jobs-pane").region == panes["jobs-pane"]


async def test_narrow_detail_opens_over_the_list(seeded: Beanstalkd) -> None:
    app = StalkviewApp(seeded.address, interval=INTERVAL)
    async with app.run_test(size=(80, 24)) as pilot:
        await ready(pilot)
        main = app.main
        assert not main.query_one("#side").display or not main.query_one("#side").region
        job_list = main.query_one(JobList)
        job_list.focus()
        await pilot.press("enter")
        detail = main.query_one(JobDetail)
        await wait_for(pilot, lambda: detail.has_focus)
        await pilot.pause(0.1)
        assert detail.region.width >= 74  # the whole width, over the jobs list
        assert not main.query_one("#jobs-pane").region
        await pilot.press("escape")
        await wait_for(pilot, lambda: job_list.has_focus)
        await pilot.pause(0.1)
        assert not main.query_one("#side").region
        assert job_list.region.width >= 74


async def test_every_dialog_fits_80x24(seeded: Beanstalkd) -> None:
    from textual.widgets import Button

    from stalkview.app.screens.confirm import ConfirmScreen
    from stalkview.app.screens.held import HeldScreen
    from stalkview.app.screens.help import HelpScreen
    from stalkview.app.screens.journal import JournalScreen
    from stalkview.app.screens.prompt import PromptScreen
    from stalkview.app.screens.put import PutScreen

    app = StalkviewApp(seeded.address, interval=INTERVAL)
    async with app.run_test(size=(80, 24)) as pilot:
        await ready(pilot)
        main = app.main

        async def opens(key: str, screen_type: type, button: str | None) -> None:
            await pilot.press(key)
            await wait_for(pilot, lambda: isinstance(app.screen, screen_type))
            await pilot.pause(0.3)
            dialog = app.screen.children[0]
            assert app.screen.region.contains_region(dialog.region), (key, dialog.region)
            if button is not None:
                ok = app.screen.query_one(button, Button)
                assert on_screen(app, ok), (key, button, ok.region)
                assert str(ok.label) in "\n".join(screen_lines(app))

        async def close() -> None:
            await pilot.press("escape")
            await wait_for(pilot, lambda: app.screen is main)

        await opens("n", PutScreen, "#put-ok")
        await close()
        await opens("question_mark", HelpScreen, None)
        text = "\n".join(screen_lines(app))
        assert "stalkview keys" in text
        # The help says which columns this width hides.
        hidden = main.query_one(TubesTable).hidden_columns
        assert hidden and f"tubes: {' '.join(hidden[:2])}" in text
        await close()
        await opens("i", PromptScreen, "#prompt-ok")
        await close()
        await opens("J", JournalScreen, None)
        assert "Journal" in "\n".join(screen_lines(app))
        await assert_footer_fits(pilot, app, must="restore")  # its keys, whole
        await close()
        await opens("R", HeldScreen, None)
        await opens("r", PromptScreen, "#prompt-ok")  # reserve from a tube
        await pilot.press("escape")
        await wait_for(pilot, lambda: isinstance(app.screen, HeldScreen))
        await close()
        # Job actions: on the buried jobs of emails.
        assert main.query_one(TubesTable).select_tube("emails")
        await pilot.press("5")  # buried
        job_list = main.query_one(JobList)
        await wait_for(pilot, lambda: len(job_list.jobs) > 0)
        job_list.focus()
        await pilot.pause(0.1)
        await opens("m", PromptScreen, "#prompt-ok")  # move
        await close()
        await opens("x", ConfirmScreen, "#confirm-ok")  # delete
        await close()
        await opens("X", ConfirmScreen, "#confirm-ok")  # delete all
        await close()
        await opens("e", PromptScreen, "#prompt-ok")  # export
        await close()
        # A confirmation with a long account of what will happen: it scrolls, the
        # buttons stay.
        detail = "\n".join(f"line {n}: what will happen" for n in range(60))
        app.push_screen(ConfirmScreen("Do it?", detail, verb="Do"))
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.pause(0.3)
        assert on_screen(app, app.screen.query_one("#confirm-ok", Button))
        assert "line 0: what will happen" in "\n".join(screen_lines(app))
        await close()
        # Nothing was changed by opening and cancelling them all.
        async with Client(seeded.address) as client:
            assert int((await client.stats_tube("emails"))["current-jobs-buried"]) == len(
                job_list.jobs
            )


async def test_several_servers_at_80x24(
    seeded: Beanstalkd, beanstalkd_factory: Callable[..., Beanstalkd]
) -> None:
    from stalkview.app.fleetapp import FleetApp
    from stalkview.config import Target

    others = [beanstalkd_factory() for _ in range(3)]
    targets = [Target("demo", seeded.address)] + [
        Target(f"s{n}", server.address) for n, server in enumerate(others)
    ]
    app = FleetApp(targets, interval=INTERVAL)
    async with app.run_test(size=(80, 24)) as pilot:
        main = app.main
        await wait_for(pilot, lambda: all(s.up for s in app.fleet.states))
        # Until the first scan is done its progress lines take rows from the jobs.
        await wait_for(pilot, lambda: app.inventory.scanned and app.inventory_refreshes >= 1)
        await pilot.pause(0.3)
        # Five rows of servers would leave the jobs nothing: the table scrolls instead.
        servers = main.query_one("#servers-pane")
        assert servers.region.height <= 6
        # A tube selected in the fleet sums: its per-server breakdown waits for a zoom.
        tubes = main.query_one(TubesTable)
        tubes.focus()
        assert tubes.select_tube("emails")
        await pilot.pause(0.3)
        breakdown = main.query_one("#breakdown-pane")
        assert not breakdown.display
        assert main.query_one(JobList).scrollable_content_region.height - 1 >= 3
        await assert_footer_fits(pilot, app)
        await pilot.press("z")
        await wait_for(pilot, lambda: main.zoomed_pane == "tubes-pane" and breakdown.display)
        await pilot.press("z")
        await wait_for(pilot, lambda: main.zoomed_pane is None and not breakdown.display)
        main.query_one("#servers").focus()
        await pilot.press("z")
        await wait_for(pilot, lambda: main.zoomed_pane == "servers-pane")
        await pilot.pause(0.1)
        assert servers.region.height == 23
        await pilot.press("z")
        await wait_for(pilot, lambda: main.zoomed_pane is None)
        await pilot.pause(0.1)
        assert servers.region.height <= 6


async def test_a_server_with_a_binlog_keeps_8_job_rows_at_80x24(
    beanstalkd_factory: Callable[..., Beanstalkd],
) -> None:
    logged = beanstalkd_factory(binlog=True)
    await seed(logged.address)
    app = StalkviewApp(logged.address, interval=INTERVAL)
    async with app.run_test(size=(80, 24)) as pilot:
        await ready(pilot)
        await pilot.pause(0.3)
        # The binlog line is the server bar's third: on 24 lines it gives way.
        assert not app.main.query_one("#sb-binlog").region
        assert app.main.query_one(JobList).scrollable_content_region.height - 1 >= 8
    async with StalkviewApp(logged.address, interval=INTERVAL).run_test(size=(120, 45)) as pilot:
        app2 = await ready(pilot)
        await wait_for(pilot, lambda: bool(app2.main.query_one("#sb-binlog").region))
