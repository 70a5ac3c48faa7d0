"""The jobs list: a Line-API view that draws only the visible rows of an unbounded job list.

A tube can hold a million jobs, so there is one widget, no per-row widgets and no
DataTable (which measures every cell). Rows are rendered on demand from the job
objects, with a small cache of rendered strips; body previews are fetched by the app
for the visible rows only (``BodiesWanted``) and cached by job id (job bodies never
change, so a cached preview stays valid for as long as the id exists).
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from operator import attrgetter
from typing import TYPE_CHECKING, ClassVar

from rich.cells import cell_len, set_cell_size
from rich.segment import Segment
from rich.style import Style
from textual import events
from textual.binding import Binding, BindingType
from textual.cache import LRUCache
from textual.geometry import Region, Size
from textual.message import Message
from textual.scroll_view import ScrollView
from textual.strip import Strip
from textual.timer import Timer

from stalkview.format import count_cells, duration_cells, printable
from stalkview.model import is_poison, job_type, preview, safe_line, shorten

if TYPE_CHECKING:
    from stalkview.inventory import JobInfo

__all__ = ["JobList"]

PREVIEW_CACHE_SIZE = 20_000
# Previews are computed once per job at this width and cropped to the column at
# render time, so resizing the pane never invalidates them.
PREVIEW_WIDTH = 300
TYPE_WIDTH = 16
TUBE_WIDTH = 16
"""At most this many cells of a tube name in the ``tube`` column (longer names end in …)."""
_NAMESPACE_SEPARATORS = ("\\", "::")


def type_label(kind: str) -> str:
    """A job type in the type column: a namespaced class shows its own name
    (``App\\Jobs\\SendWelcomeEmail`` -> ``SendWelcomeEmail``), which tells jobs
    apart where their common prefix would not."""
    kind = " ".join(kind.split())
    if len(kind) > TYPE_WIDTH:
        for sep in _NAMESPACE_SEPARATORS:
            last = kind.rsplit(sep, 1)[-1]
            if sep in kind and last:
                kind = last
                break
    return shorten(kind, TYPE_WIDTH)


MIN_BODY_WIDTH = 28
WANTED_INTERVAL = 0.1
NEARBY = 2000
GUTTER = 3  # mark, poison marker, space


@dataclass(frozen=True)
class _Column:
    key: str
    label: str
    width: int
    right: bool = True
    # Columns with a higher rank are dropped first when the pane is narrow; 0 never.
    drop: int = 0


#: (key, label) of every column but the body, in display order.
ALL_COLUMNS = (
    ("id", "id"), ("tube", "tube"), ("state", "state"), ("pri", "pri"), ("age", "age"),
    ("delay", "delay"), ("ttr", "ttr"), ("time_left", "left"), ("reserves", "resv"),
    ("timeouts", "tout"), ("releases", "rels"), ("buries", "bury"), ("kicks", "kick"),
    ("type", "type"),
)  # fmt: skip

_STATE_CLASSES = {
    "ready": "joblist--ready",
    "delayed": "joblist--delayed",
    "reserved": "joblist--reserved",
    "buried": "joblist--buried",
}
# time-left means nothing for these states: the server reports 0.
_NO_COUNTDOWN = frozenset({"ready", "buried"})
_COUNTERS = ("reserves", "timeouts", "releases", "buries", "kicks")


class JobList(ScrollView, can_focus=True):
    """The jobs of one tube, one row a job, in the order given to ``set_jobs``."""

    DEFAULT_CSS = """
    JobList {
        background: $surface;
        overflow-x: hidden;
        overflow-y: auto;
        scrollbar-gutter: stable;
        & > .joblist--header { text-style: bold; background: $panel; color: $foreground; }
        & > .joblist--cursor {
            background: $block-cursor-blurred-background;
            color: $block-cursor-blurred-foreground;
            text-style: $block-cursor-blurred-text-style;
        }
        &:focus > .joblist--cursor {
            background: $block-cursor-background;
            color: $block-cursor-foreground;
            text-style: $block-cursor-text-style;
        }
        & > .joblist--marked { background: $accent 20%; }
        & > .joblist--mark { color: $text-accent; text-style: bold; }
        & > .joblist--poison { color: $text-warning; text-style: bold; }
        & > .joblist--ready { color: $text-success; }
        & > .joblist--delayed { color: $text-warning; }
        & > .joblist--reserved { color: $text-primary; }
        & > .joblist--buried { color: $text-error; text-style: bold; }
        & > .joblist--dim { text-style: dim; }
        & > .joblist--type { color: $text-accent; }
        & > .joblist--empty { color: $foreground-muted; text-style: italic; }
    }
    """

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "joblist--header",
        "joblist--cursor",
        "joblist--marked",
        "joblist--mark",
        "joblist--poison",
        "joblist--ready",
        "joblist--delayed",
        "joblist--reserved",
        "joblist--buried",
        "joblist--dim",
        "joblist--type",
        "joblist--empty",
    }

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("up,k", "cursor_up", "Up", show=False),
        Binding("down,j", "cursor_down", "Down", show=False),
        Binding("pageup", "page_up", "Page up", show=False),
        Binding("pagedown", "page_down", "Page down", show=False),
        Binding("home,g", "first", "First job", show=False),
        Binding("end,G", "last", "Last job", show=False),
        Binding("enter", "select", "Open job", show=False),
        Binding("space", "toggle_mark", "Mark", show=False),
    ]

    class Highlighted(Message):
        """The cursor moved to another job (``None``: the list became empty)."""

        def __init__(self, job_list: JobList, job: JobInfo | None) -> None:
            super().__init__()
            self.job_list = job_list
            self.job = job

        @property
        def control(self) -> JobList:
            return self.job_list

    class Selected(Message):
        """Enter or a double click on a job."""

        def __init__(self, job_list: JobList, job: JobInfo) -> None:
            super().__init__()
            self.job_list = job_list
            self.job = job

        @property
        def control(self) -> JobList:
            return self.job_list

    class ColumnsChanged(Message):
        """The width now shows other columns; ``hidden`` are the labels left out."""

        def __init__(self, job_list: JobList, hidden: tuple[str, ...]) -> None:
            super().__init__()
            self.job_list = job_list
            self.hidden = hidden

        @property
        def control(self) -> JobList:
            return self.job_list

    class BodiesWanted(Message):
        """Visible rows lack a body preview: the app should fetch these bodies and
        hand them to ``set_bodies``."""

        def __init__(self, job_list: JobList, ids: list[int]) -> None:
            super().__init__()
            self.job_list = job_list
            self.ids = ids

        @property
        def control(self) -> JobList:
            return self.job_list

    def __init__(
        self,
        *,
        empty_message: str = "No jobs",
        name: str | None = None,
        id: str | None = None,
        classes: str | None = None,
        disabled: bool = False,
    ) -> None:
        super().__init__(name=name, id=id, classes=classes, disabled=disabled)
        self._jobs: Sequence[JobInfo] = ()
        self._index: dict[int, int] | None = None
        self._cursor = 0
        self._cursor_id: int | None = None
        self.marked: set[int] = set()
        self._empty_message = empty_message
        # id -> (preview, job type); bounded because a scroll through a million jobs
        # must not keep a million previews.
        self._previews: LRUCache[int, tuple[str, str]] = LRUCache(PREVIEW_CACHE_SIZE)
        self._requested: set[int] = set()
        self._line_cache: LRUCache[tuple[object, ...], Strip] = LRUCache(512)
        self._poison: LRUCache[tuple[int, int, int, int, int, int], bool] = LRUCache(4096)
        self._id_width = 2
        self._pri_width = 3
        self._tube_width = 4
        #: A ``tube`` column, for a list across tubes (the CLI's ``jobs`` has one too).
        self._show_tube = False
        self._layout_key: tuple[int, int, int, int, bool] = (-1, -1, -1, -1, False)
        self._columns: list[_Column] = []
        #: The labels of the columns the width leaves out.
        self.hidden_columns: tuple[str, ...] = ()
        self._body_width = 0
        self._wanted_pending = False
        self._wanted_last = 0.0
        self._wanted_timer: Timer | None = None

    # ------------------------------------------------------------------ public API

    @property
    def jobs(self) -> Sequence[JobInfo]:
        """The jobs shown, in display order."""
        return self._jobs

    @property
    def cursor_index(self) -> int:
        """Index of the cursor row (0 when the list is empty)."""
        return self._cursor

    @property
    def cursor_job(self) -> JobInfo | None:
        """The job under the cursor, or ``None`` when the list is empty."""
        if not self._jobs:
            return None
        return self._jobs[self._cursor]

    def set_jobs(self, jobs: Sequence[JobInfo]) -> None:
        """Replace the list; the cursor stays on the same job id when it is still
        listed (else on the same index), and the view does not jump."""
        old_cursor = self._cursor
        old_id = self._cursor_id
        body_height = self._body_height
        cursor_visible = self._jobs and 0 <= old_cursor - self.scroll_offset.y < body_height
        screen_row = old_cursor - self.scroll_offset.y

        self._jobs = jobs
        self._index = None
        self._requested.clear()
        self._line_cache.clear()
        self.virtual_size = Size(self.size.width, len(jobs) + 1)

        new_cursor = self._find_cursor(old_id, old_cursor)
        self._cursor = new_cursor
        if cursor_visible and new_cursor != old_cursor:
            # Keep the cursor row where the eye is: jobs deleted above it scroll the
            # list rather than move the cursor.
            self.scroll_to(y=max(0, new_cursor - screen_row), animate=False)
        self._scroll_cursor_into_view()
        self.refresh()
        self._note_cursor()

    def show_tube_column(self, show: bool) -> None:
        """Show the ``tube`` column (the list spans several tubes) or not."""
        if show != self._show_tube:
            self._show_tube = show
            self._line_cache.clear()
            self.refresh()

    def set_bodies(self, bodies: Mapping[int, bytes | None]) -> None:
        """Cache previews and job types of these jobs (``None``: the job is gone)."""
        for job_id, raw in bodies.items():
            self._requested.discard(job_id)
            if raw is None:
                self._previews.set(job_id, ("(job is gone)", ""))
                continue
            kind = job_type(raw)
            label = safe_line(type_label(kind)) if kind else ""
            self._previews.set(job_id, (preview(raw, PREVIEW_WIDTH), label))
        if any(job.id in bodies for job in self._visible_jobs()):
            self._line_cache.clear()
            self.refresh()

    def visible_jobs(self) -> list[JobInfo]:
        """The jobs on screen now (the rows the view shows)."""
        return list(self._visible_jobs())

    def has_preview(self, job_id: int) -> bool:
        """Whether a preview of this job is cached."""
        return job_id in self._previews

    def set_empty_message(self, text: str) -> None:
        """The text shown (literally) when the list is empty."""
        self._empty_message = text
        if not self._jobs:
            self.refresh()

    def clear_marks(self) -> None:
        """Unmark every job."""
        if self.marked:
            self.marked.clear()
            self._line_cache.clear()
            self.refresh()

    def move_cursor(self, index: int) -> None:
        """Put the cursor on this row (clamped) and scroll it into view."""
        if not self._jobs:
            return
        index = max(0, min(index, len(self._jobs) - 1))
        if index != self._cursor:
            old = self._cursor
            self._cursor = index
            self._refresh_row(old)
            self._refresh_row(index)
        self._scroll_cursor_into_view()
        self._note_cursor()

    def select_job_id(self, job_id: int) -> bool:
        """Move the cursor to this job id; False when it is not listed."""
        index = self._index_of(job_id)
        if index is None:
            return False
        self.move_cursor(index)
        return True

    # ------------------------------------------------------------------ actions

    def action_cursor_up(self) -> None:
        self.move_cursor(self._cursor - 1)

    def action_cursor_down(self) -> None:
        self.move_cursor(self._cursor + 1)

    def action_page_up(self) -> None:
        page = max(1, self._body_height - 1)
        self.scroll_to(y=max(0, self.scroll_offset.y - page), animate=False)
        self.move_cursor(self._cursor - page)

    def action_page_down(self) -> None:
        page = max(1, self._body_height - 1)
        self.scroll_to(y=self.scroll_offset.y + page, animate=False)
        self.move_cursor(self._cursor + page)

    def action_first(self) -> None:
        self.move_cursor(0)

    def action_last(self) -> None:
        self.move_cursor(len(self._jobs) - 1)

    def action_select(self) -> None:
        job = self.cursor_job
        if job is not None:
            self.post_message(self.Selected(self, job))

    def action_toggle_mark(self) -> None:
        job = self.cursor_job
        if job is None:
            return
        if job.id in self.marked:
            self.marked.discard(job.id)
        else:
            self.marked.add(job.id)
        self._refresh_row(self._cursor)

    # ------------------------------------------------------------------ events

    def on_mount(self) -> None:
        self.set_interval(1.0, self._tick)

    def on_resize(self) -> None:
        self.virtual_size = Size(self.size.width, len(self._jobs) + 1)
        self._line_cache.clear()
        self._scroll_cursor_into_view()

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._line_cache.clear()

    def on_click(self, event: events.Click) -> None:
        offset = event.get_content_offset(self)
        if offset is None or offset.y < 1:
            return
        index = self.scroll_offset.y + offset.y - 1
        if not 0 <= index < len(self._jobs):
            return
        event.stop()
        self.move_cursor(index)
        if event.chain >= 2:
            self.action_select()

    def _tick(self) -> None:
        # Ages and countdowns move every second; only the visible rows are redrawn.
        if self._jobs and self.display:
            self.refresh()

    # ------------------------------------------------------------------ internals

    @property
    def _body_height(self) -> int:
        return max(0, self.scrollable_content_region.height - 1)

    def _visible_range(self) -> range:
        top = self.scroll_offset.y
        return range(top, min(len(self._jobs), top + self._body_height))

    def visible_ids(self) -> tuple[int, ...]:
        """Ids of the rows on screen now."""
        return tuple(job.id for job in self._visible_jobs())

    def _visible_jobs(self) -> Iterable[JobInfo]:
        jobs = self._jobs
        return (jobs[i] for i in self._visible_range())

    def _index_of(self, job_id: int) -> int | None:
        if self._index is None:
            # Built only when the cheap checks fail: O(n) once per set_jobs.
            self._index = {job.id: i for i, job in enumerate(self._jobs)}
        return self._index.get(job_id)

    def _find_cursor(self, old_id: int | None, old_index: int) -> int:
        jobs = self._jobs
        if not jobs:
            return 0
        nearest = max(0, min(old_index, len(jobs) - 1))
        if old_id is None:
            return nearest
        # Refreshes mostly add or remove a few jobs around the cursor: look nearby
        # before building the id index (~0.15 s for a million jobs).
        low, high = max(0, old_index - NEARBY), min(len(jobs), old_index + NEARBY + 1)
        for guess in range(low, high):
            if jobs[guess].id == old_id:
                return guess
        found = self._index_of(old_id)
        return nearest if found is None else found

    def _note_cursor(self) -> None:
        job = self.cursor_job
        job_id = None if job is None else job.id
        if job_id != self._cursor_id:
            self._cursor_id = job_id
            self.post_message(self.Highlighted(self, job))

    def _scroll_cursor_into_view(self) -> None:
        height = self._body_height
        if not self._jobs or height <= 0:
            return
        top = self.scroll_offset.y
        if self._cursor < top:
            self.scroll_to(y=self._cursor, animate=False)
        elif self._cursor >= top + height:
            self.scroll_to(y=self._cursor - height + 1, animate=False)

    def _refresh_row(self, index: int) -> None:
        # Row i is drawn on screen line i - scroll_y + 1 (under the sticky header).
        self.refresh_line(index + 1)

    def _measure_visible(self) -> None:
        # Widths grow to fit what has been shown and never shrink: measuring a
        # million jobs up front costs ~0.15 s, and shrinking would make columns jump
        # while scrolling.
        jobs = self._jobs
        rows = self._visible_range()
        if not rows:
            return
        id_width = max(self._id_width, *(len(str(jobs[i].id)) for i in rows))
        pri_width = max(self._pri_width, *(len(str(jobs[i].pri)) for i in rows))
        tube_width = self._tube_width
        if self._show_tube:
            widest = max(cell_len(printable(jobs[i].tube)) for i in rows)
            tube_width = max(tube_width, min(widest, TUBE_WIDTH))
        if (id_width, pri_width, tube_width) != (
            self._id_width,
            self._pri_width,
            self._tube_width,
        ):
            self._id_width, self._pri_width, self._tube_width = id_width, pri_width, tube_width
            self._line_cache.clear()

    def _layout(self, width: int) -> list[_Column]:
        key = (width, self._id_width, self._pri_width, self._tube_width, self._show_tube)
        if key == self._layout_key:
            return self._columns
        # Rank: who goes first when the pane is narrow (highest first; 0 never). The
        # body preview and the job type say what a job is: the numbers go before them.
        columns = [
            _Column("id", "id", self._id_width),
            *(
                # Across tubes the tube says most after the state: it goes last.
                [_Column("tube", "tube", self._tube_width, right=False, drop=1)]
                if self._show_tube
                else []
            ),
            _Column("state", "state", 8, right=False),
            _Column("pri", "pri", self._pri_width, drop=6),
            _Column("age", "age", 5, drop=4),
            _Column("delay", "delay", 5, drop=11),
            _Column("ttr", "ttr", 5, drop=12),
            _Column("time_left", "left", 5, drop=5),
            _Column("reserves", "resv", 4, drop=7),
            _Column("timeouts", "tout", 4, drop=8),
            _Column("releases", "rels", 4, drop=10),
            _Column("buries", "bury", 4, drop=9),
            _Column("kicks", "kick", 4, drop=13),
            _Column("type", "type", TYPE_WIDTH, right=False, drop=2),
        ]

        def fixed(cols: list[_Column]) -> int:
            return GUTTER + sum(c.width + 1 for c in cols)

        order = list(columns)
        dropped: list[_Column] = []
        while fixed(columns) + MIN_BODY_WIDTH > width:
            worst = max(columns, key=attrgetter("drop"))
            if worst.drop == 0:
                break
            columns.remove(worst)
            dropped.append(worst)
        # A wide column gone (the type) may leave room for a narrow one dropped before it
        # (the age): the most wanted of those come back while the body keeps its minimum.
        for column in sorted(dropped, key=attrgetter("drop")):
            if fixed([*columns, column]) + MIN_BODY_WIDTH <= width:
                columns.append(column)
        columns.sort(key=order.index)
        self._columns = columns
        self._body_width = max(0, width - fixed(columns))
        self._layout_key = key
        kept = {c.key for c in columns}
        hidden = tuple(
            label for k, label in ALL_COLUMNS if k not in kept and (k != "tube" or self._show_tube)
        )
        if hidden != self.hidden_columns:
            self.hidden_columns = hidden
            self.post_message(self.ColumnsChanged(self, hidden))
        return columns

    def _style(self, name: str) -> Style:
        return self.get_component_rich_style(name, partial=True)

    def _is_poison(self, job: JobInfo) -> bool:
        key = (job.id, job.reserves, job.timeouts, job.releases, job.buries, job.kicks)
        cached = self._poison.get(key)
        if cached is None:
            cached = is_poison(job)
            self._poison.set(key, cached)
        return cached

    # ------------------------------------------------------------------ rendering

    def render_lines(self, crop: Region) -> list[Strip]:
        self._measure_visible()
        return super().render_lines(crop)

    def render_line(self, y: int) -> Strip:
        width = self.scrollable_content_region.width
        base = self.rich_style
        if y == 0:
            return self._render_header(width, base)
        if not self._jobs:
            return self._render_empty(y, width, base)
        index = self.scroll_offset.y + y - 1
        if index >= len(self._jobs):
            return Strip.blank(width, base)
        job = self._jobs[index]
        now = time.monotonic()
        elapsed = int(now - job.seen)
        has_preview = job.id in self._previews
        if not has_preview and job.id not in self._requested:
            self._want_bodies()
        key = (
            index,
            job.id,
            job.seen,
            job.state,
            width,
            elapsed,
            has_preview,
            index == self._cursor,
            job.id in self.marked,
            self.has_focus,
        )
        strip = self._line_cache.get(key)
        if strip is None:
            strip = self._render_row(job, index, elapsed, width, base)
            self._line_cache.set(key, strip)
        return strip

    def _render_header(self, width: int, base: Style) -> Strip:
        style = base + self._style("joblist--header")
        segments = [Segment(" " * GUTTER, style)]
        for column in self._layout(width):
            label = column.label
            text = label.rjust(column.width) if column.right else label.ljust(column.width)
            segments.append(Segment(text + " ", style))
        segments.append(Segment("body", style))
        return Strip(segments).adjust_cell_length(width, style)

    def _render_empty(self, y: int, width: int, base: Style) -> Strip:
        middle = max(1, self.scrollable_content_region.height // 2)
        if y != middle:
            return Strip.blank(width, base)
        text = set_cell_size(self._empty_message, min(width, cell_len(self._empty_message)))
        pad = max(0, (width - cell_len(text)) // 2)
        segments = [
            Segment(" " * pad, base),
            Segment(text, base + self._style("joblist--empty")),
        ]
        return Strip(segments).adjust_cell_length(width, base)

    def _render_row(self, job: JobInfo, index: int, elapsed: int, width: int, base: Style) -> Strip:
        row_style = base
        # Row styles are full styles: their backgrounds have alpha, blended here.
        if job.id in self.marked:
            row_style += self.get_component_rich_style("joblist--marked")
        if index == self._cursor:
            row_style += self.get_component_rich_style("joblist--cursor")
        dim = self._style("joblist--dim")
        poison = self._is_poison(job)

        marked = job.id in self.marked
        segments = [
            Segment("●" if marked else " ", row_style + self._style("joblist--mark")),
            Segment("⚠" if poison else " ", row_style + self._style("joblist--poison")),
            Segment(" ", row_style),
        ]
        append = segments.append
        cached = self._previews.get(job.id)
        for column in self._layout(width):
            text, style = self._cell(job, column.key, elapsed, cached, dim, poison)
            if cell_len(text) > column.width:
                text = set_cell_size(text, column.width - 1) + "…"
            pad = " " * (column.width - cell_len(text))
            text = pad + text if column.right else text + pad
            append(Segment(text, row_style + style if style else row_style))
            append(Segment(" ", row_style))
        if cached is None:
            append(Segment("…", row_style + dim))
        else:
            append(
                Segment(
                    set_cell_size(cached[0], min(self._body_width, cell_len(cached[0]))), row_style
                )
            )
        return Strip(segments).adjust_cell_length(width, row_style)

    def _cell(
        self,
        job: JobInfo,
        key: str,
        elapsed: int,
        cached: tuple[str, str] | None,
        dim: Style,
        poison: bool,
    ) -> tuple[str, Style | None]:
        if key == "id":
            return str(job.id), self._style("joblist--poison") if poison else None
        if key == "tube":
            return printable(job.tube), None
        if key == "state":
            cls = _STATE_CLASSES.get(job.state)
            return job.state, self._style(cls) if cls else None
        if key == "pri":
            return str(job.pri), None
        if key == "age":
            return duration_cells(job.age + elapsed), None
        if key in ("delay", "ttr"):
            value = int(getattr(job, key))
            return duration_cells(value), dim if value == 0 else None
        if key == "time_left":
            if job.state in _NO_COUNTDOWN:
                return "-", dim
            return duration_cells(job.time_left - elapsed), None
        if key in _COUNTERS:
            value = int(getattr(job, key))
            return count_cells(value), dim if value == 0 else None
        if key == "type":
            return (cached[1] if cached else ""), self._style("joblist--type")
        return "", None

    def _want_bodies(self) -> None:
        # Called while rendering: just schedule; the post happens once the frame is
        # drawn, throttled to one message every WANTED_INTERVAL.
        if self._wanted_pending:
            return
        self._wanted_pending = True
        delay = WANTED_INTERVAL - (time.monotonic() - self._wanted_last)
        if delay <= 0:
            self.call_later(self._post_wanted)
        else:
            self._wanted_timer = self.set_timer(delay, self._post_wanted)

    def _post_wanted(self) -> None:
        self._wanted_pending = False
        self._wanted_last = time.monotonic()
        ids = [
            job.id
            for job in self._visible_jobs()
            if job.id not in self._previews and job.id not in self._requested
        ]
        if ids:
            self._requested.update(ids)
            self.post_message(self.BodiesWanted(self, ids))
