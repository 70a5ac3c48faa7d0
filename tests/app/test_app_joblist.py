"""The jobs list and job detail widgets, in a tiny harness app fed synthetic jobs.

No server here: these widgets only render what they are given. The app's tests drive them
against a real beanstalkd.
"""

from __future__ import annotations

import base64
import gzip
import json
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, cast, overload

import pytest
from textual import on
from textual.app import App, ComposeResult
from textual.message import Message
from textual.pilot import Pilot

from stalkview.app.widgets.jobdetail import DISPLAY_LIMIT, JobDetail
from stalkview.app.widgets.joblist import JobList
from tests.factories import FakeJob
from tests.pilot import wait_for

if TYPE_CHECKING:
    from stalkview.inventory import JobInfo

STATES = ("ready", "delayed", "reserved", "buried")


@dataclass
class Job(FakeJob):
    tube: str = "emails"
    seen: float = field(default_factory=time.monotonic)


def infos(jobs: Sequence[Job]) -> Sequence[JobInfo]:
    """Test jobs where the widgets want the inventory's: they have the same shape."""
    return cast("Sequence[JobInfo]", jobs)


def make_jobs(n: int, start: int = 1) -> list[Job]:
    return [Job(id=i, state=STATES[i % 4], age=i % 5000) for i in range(start, start + n)]


class LazyJobs(Sequence[Job]):
    """A million jobs that exist only when looked at: counts every access."""

    def __init__(self, n: int) -> None:
        self.n = n
        self.accessed: set[int] = set()
        self.seen = time.monotonic()

    def __len__(self) -> int:
        return self.n

    @overload
    def __getitem__(self, index: int) -> Job: ...
    @overload
    def __getitem__(self, index: slice) -> Sequence[Job]: ...
    def __getitem__(self, index: int | slice) -> Job | Sequence[Job]:
        if isinstance(index, slice):
            raise TypeError("slicing a million jobs is what the widget must not do")
        if index < 0:
            index += self.n
        if not 0 <= index < self.n:
            raise IndexError(index)
        self.accessed.add(index)
        return Job(id=index + 1, state=STATES[index % 4], seen=self.seen)

    def __iter__(self) -> Iterator[Job]:
        raise TypeError("iterating a million jobs is what the widget must not do")


class ListHarness(App[None]):
    def __init__(self, jobs: Sequence[Any] = ()) -> None:
        super().__init__()
        self.initial = jobs
        self.messages: list[Message] = []

    def compose(self) -> ComposeResult:
        yield JobList(id="jobs")

    def on_mount(self) -> None:
        self.query_one(JobList).set_jobs(self.initial)

    @on(JobList.Highlighted)
    @on(JobList.Selected)
    @on(JobList.BodiesWanted)
    def record(self, message: Message) -> None:
        self.messages.append(message)

    def of(self, kind: type[Message]) -> list[Any]:
        return [m for m in self.messages if isinstance(m, kind)]


def screen_text(app: App[Any]) -> str:
    return "\n".join(strip.text for strip in app.screen._compositor.render_strips())


def row_text(app: App[Any], job_id: int) -> str:
    """The screen line showing this job id (the id is the first number on a row)."""
    for line in screen_text(app).splitlines():
        parts = line.replace("●", " ").replace("⚠", " ").split()
        if parts[:1] == [str(job_id)]:
            return line
    raise AssertionError(f"job {job_id} not on screen:\n{screen_text(app)}")


SIZE = (120, 30)
BODY_ROWS = SIZE[1] - 1  # the header is sticky


# --------------------------------------------------------------------------- JobList


async def test_100k_jobs_render_only_the_visible_rows(monkeypatch: pytest.MonkeyPatch) -> None:
    rendered: list[int] = []
    render_row = JobList._render_row

    def recording_render_row(self: JobList, job: Any, index: int, *args: Any) -> Any:
        rendered.append(index)
        return render_row(self, job, index, *args)

    monkeypatch.setattr(JobList, "_render_row", recording_render_row)
    app = ListHarness()
    async with app.run_test(size=SIZE) as pilot:
        job_list = app.query_one(JobList)
        jobs = make_jobs(100_000)
        started = time.perf_counter()
        job_list.set_jobs(infos(jobs))
        await pilot.pause()
        print(f"\nfirst paint of 100,000 jobs: {time.perf_counter() - started:.3f} s")
        # Only the rows on screen were built (a second boundary may redraw them).
        assert set(rendered) == set(range(BODY_ROWS))
        assert len(rendered) <= 3 * BODY_ROWS
        assert job_list.virtual_size.height == 100_001
        text = screen_text(app)
        assert text.splitlines()[1].split()[:2] == ["1", "delayed"]
        assert f"{BODY_ROWS} " in text
        assert f" {BODY_ROWS + 1} " not in text


async def test_a_million_jobs_are_only_touched_where_visible() -> None:
    jobs = LazyJobs(1_000_000)
    app = ListHarness()
    async with app.run_test(size=SIZE) as pilot:
        job_list = app.query_one(JobList)
        started = time.perf_counter()
        job_list.set_jobs(infos(jobs))
        await pilot.pause()
        print(f"\nfirst paint of 1,000,000 jobs: {time.perf_counter() - started:.3f} s")
        await pilot.press("G")
        await pilot.pause()
        assert job_list.cursor_index == 999_999
        assert row_text(app, 1_000_000)
        assert len(jobs.accessed) < 10 * BODY_ROWS
        assert max(jobs.accessed) == 999_999


async def test_cursor_keys_move_and_post_highlighted() -> None:
    app = ListHarness(make_jobs(500))
    async with app.run_test(size=SIZE) as pilot:
        job_list = app.query_one(JobList)
        job_list.focus()
        await pilot.pause()
        assert [m.job.id for m in app.of(JobList.Highlighted)] == [1]
        await pilot.press("down", "j", "j", "k")
        assert job_list.cursor_index == 2
        assert job_list.cursor_job is not None and job_list.cursor_job.id == 3
        await pilot.press("pagedown")
        assert job_list.cursor_index == 2 + BODY_ROWS - 1
        await pilot.press("end")
        assert job_list.cursor_index == 499
        assert job_list.scroll_offset.y == 500 - BODY_ROWS
        assert row_text(app, 500)
        await pilot.press("g")
        assert job_list.cursor_index == 0
        assert job_list.scroll_offset.y == 0
        await pilot.press("up")  # already at the top: no new message
        await pilot.pause()
        ids = [m.job.id for m in app.of(JobList.Highlighted)]
        assert ids == [1, 2, 3, 4, 3, 2 + BODY_ROWS, 500, 1]


async def test_enter_and_double_click_post_selected() -> None:
    app = ListHarness(make_jobs(50))
    async with app.run_test(size=SIZE) as pilot:
        job_list = app.query_one(JobList)
        job_list.focus()
        await pilot.press("down", "enter")
        await pilot.pause()
        assert [m.job.id for m in app.of(JobList.Selected)] == [2]
        # Screen line 6 is row 5 (line 0 is the header).
        await pilot.click(JobList, offset=(10, 6))
        assert job_list.cursor_index == 5
        assert len(app.of(JobList.Selected)) == 1
        await pilot.click(JobList, offset=(10, 8), times=2)
        await pilot.pause()
        assert job_list.cursor_index == 7
        assert [m.job.id for m in app.of(JobList.Selected)] == [2, 8]
        await pilot.click(JobList, offset=(10, 0))  # the header selects nothing
        assert job_list.cursor_index == 7


async def test_set_jobs_keeps_the_cursor_on_the_same_job() -> None:
    jobs = make_jobs(1000)
    app = ListHarness(jobs)
    async with app.run_test(size=SIZE) as pilot:
        job_list = app.query_one(JobList)
        job_list.focus()
        job_list.select_job_id(500)
        await pilot.pause()
        line_before = job_list.cursor_index - job_list.scroll_offset.y
        # Ten jobs above the cursor are deleted, a new one is appended.
        job_list.set_jobs(infos([*jobs[10:], Job(id=5000)]))
        await pilot.pause()
        assert job_list.cursor_job is not None and job_list.cursor_job.id == 500
        assert job_list.cursor_index == 489
        assert job_list.cursor_index - job_list.scroll_offset.y == line_before
        highlighted = app.of(JobList.Highlighted)
        # Far from its old index: found through the id index, not the nearby scan.
        job_list.set_jobs(infos([Job(id=1), *jobs[10:]][::-1]))
        assert job_list.cursor_job is not None and job_list.cursor_job.id == 500
        # The cursor's job is gone: the cursor stays at the same index.
        index = job_list.cursor_index
        job_list.set_jobs([j for j in job_list.jobs if j.id != 500])
        await pilot.pause()
        assert job_list.cursor_index == index
        assert job_list.cursor_job is not None and job_list.cursor_job.id != 500
        assert len(app.of(JobList.Highlighted)) == len(highlighted) + 1
        job_list.set_jobs([])
        await pilot.pause()
        assert job_list.cursor_job is None
        assert app.of(JobList.Highlighted)[-1].job is None


async def test_bodies_wanted_for_visible_rows_then_previews_and_types_show() -> None:
    app = ListHarness(make_jobs(10_000))
    async with app.run_test(size=SIZE) as pilot:
        job_list = app.query_one(JobList)
        await wait_for(pilot, lambda: bool(app.of(JobList.BodiesWanted)))
        wanted = app.of(JobList.BodiesWanted)
        assert wanted[0].ids == list(range(1, BODY_ROWS + 1))
        job_list.set_bodies(
            {i: json.dumps({"type": f"Mail{i}", "to": "a@b.c"}).encode() for i in wanted[0].ids}
        )
        await pilot.pause()
        assert "Mail3" in row_text(app, 3)
        assert '{"type": "Mail3", "to": "a@b.c"}' in row_text(app, 3)
        assert job_list.has_preview(3)
        # Scrolling shows new rows: only those are asked for.
        job_list.scroll_to(y=1000, animate=False)
        await wait_for(pilot, lambda: len(app.of(JobList.BodiesWanted)) == 2)
        assert app.of(JobList.BodiesWanted)[1].ids == list(range(1001, 1001 + BODY_ROWS))


async def test_gone_bodies_say_so() -> None:
    app = ListHarness(make_jobs(3))
    async with app.run_test(size=SIZE) as pilot:
        app.query_one(JobList).set_bodies({2: None})
        await pilot.pause()
        assert "(job is gone)" in row_text(app, 2)


async def test_space_marks_jobs() -> None:
    app = ListHarness(make_jobs(20))
    async with app.run_test(size=SIZE) as pilot:
        job_list = app.query_one(JobList)
        job_list.focus()
        await pilot.press("space", "down", "down", "space", "down", "space", "space")
        assert job_list.marked == {1, 3}
        await pilot.pause()
        assert row_text(app, 1).startswith("●")
        assert row_text(app, 3).startswith("●")
        assert not row_text(app, 2).startswith("●")
        job_list.clear_marks()
        await pilot.pause()
        assert job_list.marked == set()
        assert "●" not in screen_text(app)


async def test_empty_message_is_centered_and_literal() -> None:
    app = ListHarness()
    async with app.run_test(size=SIZE) as pilot:
        job_list = app.query_one(JobList)
        job_list.set_empty_message("No buried jobs in [bold]emails[/]")
        await pilot.pause()
        lines = screen_text(app).splitlines()
        middle = [i for i, line in enumerate(lines) if "No buried jobs" in line]
        assert middle and abs(middle[0] - SIZE[1] // 2) <= 2
        assert "No buried jobs in [bold]emails[/]" in lines[middle[0]]
        assert lines[middle[0]].index("No") > 20


async def test_list_shows_markup_and_escapes_literally() -> None:
    app = ListHarness([Job(id=1), Job(id=2)])
    async with app.run_test(size=SIZE) as pilot:
        job_list = app.query_one(JobList)
        job_list.set_bodies(
            {
                1: b"[bold red]x[/] \x1b[2J\x07 done",
                2: json.dumps({"type": "[red]Evil\x1b[2J", "n": 1}).encode(),
            }
        )
        await pilot.pause()
        text = screen_text(app)
        assert "[bold red]x[/] \\x1b[2J\\x07 done" in row_text(app, 1)
        assert "\x1b" not in text and "\x07" not in text
        assert "[red]Evil" in row_text(app, 2)


async def test_countdown_and_age_are_live() -> None:
    now = time.monotonic()
    jobs = [
        Job(id=1, state="reserved", time_left=9000, age=100, seen=now - 1000),
        Job(id=2, state="delayed", time_left=10, delay=30, seen=now - 100),
        Job(id=3, state="buried", time_left=0, age=50, seen=now - 10),
    ]
    app = ListHarness(jobs)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        # 9000 - 1000 s left = 2h13m20s (stable for 20 s); age 100 + 1000 s = 18m.
        assert " 2h13m " in row_text(app, 1)
        assert " 18m " in row_text(app, 1)
        assert "reserved" in row_text(app, 1)
        assert " 0s " in row_text(app, 2).split("delayed")[1]  # floored, never negative
        assert " - " in row_text(app, 3)  # no countdown for a buried job


async def test_poison_jobs_are_flagged() -> None:
    jobs = [Job(id=1, timeouts=3), Job(id=2, reserves=1)]
    app = ListHarness(jobs)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert row_text(app, 1).lstrip(" ●").startswith("⚠")
        assert "⚠" not in row_text(app, 2)


@pytest.mark.parametrize("width", [74, 200])
async def test_columns_fit_the_width(width: int) -> None:
    app = ListHarness([Job(id=1, pri=4_294_967_295)])
    async with app.run_test(size=(width, 10)) as pilot:
        job_list = app.query_one(JobList)
        job_list.set_bodies({1: b"hello world"})
        await pilot.pause()
        header = screen_text(app).splitlines()[0]
        assert header.split()[:2] == ["id", "state"]
        assert "type" in header and "body" in header
        assert "hello world" in row_text(app, 1)
        if width == 200:
            assert "kick" in header and "pri" in header
            assert "4294967295" in row_text(app, 1)
            assert job_list.hidden_columns == ()
        else:
            # Narrow: the numbers go, whole, before the body preview is squeezed.
            assert "kick" not in header and "pri" not in header
            assert "4294967295" not in row_text(app, 1)
            assert {"kick", "pri", "ttr"} <= set(job_list.hidden_columns)
            assert "type" not in job_list.hidden_columns


# --------------------------------------------------------------------------- JobDetail


class DetailHarness(App[None]):
    def compose(self) -> ComposeResult:
        yield JobDetail(id="detail")


async def show(
    pilot: Pilot[Any], job: Job | None, body: bytes | None, **kwargs: Any
) -> tuple[JobDetail, str]:
    detail = pilot.app.query_one(JobDetail)
    detail.show_job(cast("JobInfo | None", job), body, **kwargs)
    await pilot.pause()
    return detail, screen_text(pilot.app)


def field_value(lines: list[str], name: str) -> str:
    for line in lines:
        label, _, value = line.strip().partition("  ")
        if label == name:
            return value.strip()
    raise AssertionError(f"no field {name!r} in {lines}")


async def test_detail_shows_every_stats_field_and_poison_reasons() -> None:
    job = Job(
        id=42, tube="emails", state="buried", pri=10, age=3723, delay=5, ttr=120,
        file=3, reserves=6, timeouts=3, releases=1, buries=2, kicks=1,
    )  # fmt: skip
    async with DetailHarness().run_test(size=(100, 40)) as pilot:
        detail, text = await show(pilot, job, b"hi")
        lines = detail.lines
        expected = {
            "id": "42", "tube": "emails", "state": "buried", "pri": "10 (urgent)",
            "delay": "5 s", "ttr": "120 s (2m)", "time-left": "-", "file": "3",
            "reserves": "6", "timeouts": "3", "releases": "1", "buries": "2", "kicks": "1",
        }  # fmt: skip
        for name, value in expected.items():
            assert field_value(lines, name) == value, name
        assert field_value(lines, "age").startswith("3723 s (1h 2m 3s)")
        assert "⚠ poison job: timed out 3x, buried 2x, reserved 6x" in text
        warning = detail.get_component_rich_style("jobdetail--warning", partial=True)
        assert warning.color is not None
        assert detail.get_component_rich_style("jobdetail--label", partial=True) != warning


async def test_detail_counts_down_live() -> None:
    now = time.monotonic()
    job = Job(id=1, state="reserved", age=10, time_left=9000, seen=now - 1000)
    async with DetailHarness().run_test(size=(100, 40)) as pilot:
        detail, _ = await show(pilot, job, b"x")
        assert field_value(detail.lines, "time-left").startswith("8000 s (2h 13m 20s)")
        assert field_value(detail.lines, "age").startswith("1010 s")


async def test_detail_pretty_prints_json_and_names_the_layers() -> None:
    value = {"displayName": "App\\Jobs\\SendEmail", "data": {"to": "a@b.c", "n": 7, "ok": True}}
    body = base64.b64encode(gzip.compress(json.dumps(value).encode()))
    async with DetailHarness().run_test(size=(100, 40)) as pilot:
        detail, text = await show(pilot, Job(id=1), body)
        assert "base64 → gzip → JSON" in text
        assert '    "to": "a@b.c",' in detail.lines
        assert '    "n": 7,' in detail.lines
        # Highlighted: the key and the number are drawn in different styles.
        strip = next(s for s in pilot.app.screen._compositor.render_strips() if '"n": 7' in s.text)
        styles = {seg.style for seg in strip if seg.text.strip() in ('"n"', "7")}
        assert len(styles) == 2


async def test_detail_shows_markup_and_escapes_literally() -> None:
    body = b"[bold red]x[/] \x1b[2J and [link=http://evil]click[/link]\nline two\tend"
    async with DetailHarness().run_test(size=(100, 40)) as pilot:
        _detail, text = await show(pilot, Job(id=1), body)
        assert "[bold red]x[/] \\x1b[2J and [link=http://evil]click[/link]" in text
        assert "line two    end" in text
        assert "\x1b" not in text
        assert "· text" in text
        # Markup in a JSON body too: shown inside the pretty-printed string.
        _, text = await show(pilot, Job(id=2), json.dumps({"m": "[bold red]x[/]"}).encode())
        assert '"m": "[bold red]x[/]"' in text


async def test_detail_dumps_binary_bodies_as_hex() -> None:
    body = bytes(range(256)) + b"\xff" * 10
    async with DetailHarness().run_test(size=(100, 40)) as pilot:
        _, text = await show(pilot, Job(id=1), body)
        assert "266 B · binary" in text
        assert (
            "00000000  00 01 02 03 04 05 06 07  08 09 0a 0b 0c 0d 0e 0f  |................|" in text
        )
        assert (
            "00000040  40 41 42 43 44 45 46 47  48 49 4a 4b 4c 4d 4e 4f  |@ABCDEFGHIJKLMNO|" in text
        )
        # A narrow pane gets 8 bytes a line instead of wrapped 16-byte lines.
        await pilot.resize_terminal(60, 40)
        await pilot.pause()
        text = screen_text(pilot.app)
        assert "00000008  08 09 0a 0b 0c 0d 0e 0f  |........|" in text


async def test_detail_states_the_size_of_huge_bodies() -> None:
    prefix = b"A" * (256 * 1024)
    async with DetailHarness().run_test(size=(100, 40)) as pilot:
        detail, text = await show(pilot, Job(id=1), prefix, truncated=True, total_size=1_300_000)
        assert "showing the first 256.0 KiB of 1.2 MiB" in text
        assert detail.virtual_size.height > 2000  # wrapped, scrollable, drawn on demand
        await pilot.press("end")
        await pilot.pause()
        assert "AAAA" in screen_text(pilot.app)
        # A small body that decompresses to megabytes: only the start of the text is shown.
        big = gzip.compress(b"line\n" * 400_000)
        started = time.perf_counter()
        detail, text = await show(pilot, Job(id=2), big)
        print(f"\n2 MB decompressed body shown in {time.perf_counter() - started:.3f} s")
        assert "showing the first 256.0 KiB of 1.0 MiB of decoded text" in text
        assert "decompression stopped at its output limit" in text
        assert len(detail.lines) < DISPLAY_LIMIT // 4


async def test_detail_empty_gone_and_messages() -> None:
    async with DetailHarness().run_test(size=(100, 40)) as pilot:
        _, text = await show(pilot, Job(id=1), b"")
        assert "(empty body)" in text
        _, text = await show(pilot, Job(id=1), None)
        assert "job is gone" in text
        detail = pilot.app.query_one(JobDetail)
        detail.show_message("[b]loading…[/b] \x1b[2J")
        await pilot.pause()
        text = screen_text(pilot.app)
        assert "[b]loading…[/b] \\x1b[2J" in text
        assert detail.job is None
        _, text = await show(pilot, None, None)
        assert "No job selected" in text


async def test_a_narrow_column_comes_back_when_a_wide_one_went() -> None:
    app = ListHarness(infos([Job(id=1, age=75)]))
    async with app.run_test(size=(60, 10)) as pilot:
        job_list = app.query_one(JobList)
        job_list.show_tube_column(True)
        job_list.set_bodies({1: b'{"displayName": "App\\\\Jobs\\\\SendEmail"}'})
        await pilot.pause()
        header = screen_text(app).splitlines()[0].split()
        # Across tubes the tube stays; the type (16 cells) goes before the body is
        # squeezed, and the age, dropped before it, fits again in the room it left.
        assert header[:3] == ["id", "tube", "state"]
        assert "type" not in header and "age" in header and header[-1] == "body"
        assert "type" in job_list.hidden_columns and "age" not in job_list.hidden_columns
        assert "1m15s" in row_text(app, 1) or "1m 15s" in row_text(app, 1)
