"""The job lifecycle, drawn like the diagram in beanstalkd's protocol document.

Each state box carries its live count; each arrow the recent rate of the
counter behind it (the server's for the whole server, the tube's own for a
tube, "≈" where it is estimated from the tube's jobs); the selected job's state
is highlighted and the arrows it has travelled carry its own history counters.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from rich.style import Style
from rich.text import Text
from textual.geometry import Size
from textual.widget import Widget

from stalkview.app.widgets.serverbar import STATE_STYLES, rate_text

WIDTH = 70
HEIGHT = 22


class Canvas:
    """A grid of characters with a style per cell, turned into a rich Text."""

    def __init__(self, width: int, height: int) -> None:
        self.width, self.height = width, height
        self.chars = [[" "] * width for _ in range(height)]
        self.styles: list[list[Style | str]] = [[""] * width for _ in range(height)]

    def text(self, x: int, y: int, value: str, style: Style | str = "") -> None:
        for offset, char in enumerate(value):
            if 0 <= x + offset < self.width and 0 <= y < self.height:
                self.chars[y][x + offset] = char
                self.styles[y][x + offset] = style

    def hline(self, x1: int, x2: int, y: int, style: str = "", head: str = "") -> None:
        """A horizontal line from x1 to x2 inclusive; head '▶' or '◀' replaces the far end."""
        lo, hi = min(x1, x2), max(x1, x2)
        self.text(lo, y, "─" * (hi - lo + 1), style)
        if head == "▶":
            self.text(hi, y, "▶", style)
        elif head == "◀":
            self.text(lo, y, "◀", style)

    def vline(self, x: int, y1: int, y2: int, style: str = "", head: str = "") -> None:
        lo, hi = min(y1, y2), max(y1, y2)
        for y in range(lo, hi + 1):
            self.text(x, y, "│", style)
        if head == "▼":
            self.text(x, hi, "▼", style)
        elif head == "▲":
            self.text(x, lo, "▲", style)

    def box(
        self,
        x: int,
        y: int,
        width: int,
        lines: list[tuple[str, Style | str]],
        style: Style | str = "",
    ) -> None:
        inner = width - 2
        self.text(x, y, "╭" + "─" * inner + "╮", style)
        for row, (value, text_style) in enumerate(lines, start=1):
            self.text(x, y + row, "│", style)
            self.text(x + 1, y + row, value.center(inner)[:inner], text_style)
            self.text(x + width - 1, y + row, "│", style)
        self.text(x, y + len(lines) + 1, "╰" + "─" * inner + "╯", style)

    def render(self) -> Text:
        out = Text(no_wrap=True, overflow="crop")
        for y in range(self.height):
            row_chars, row_styles = self.chars[y], self.styles[y]
            start = 0
            for x in range(1, self.width + 1):
                if x == self.width or row_styles[x] != row_styles[start]:
                    out.append("".join(row_chars[start:x]), style=row_styles[start] or None)
                    start = x
            if y < self.height - 1:
                out.append("\n")
        out.rstrip()
        return out


@dataclass
class JobMark:
    """What the diagram needs of the selected job."""

    id: int
    state: str
    reserves: int = 0
    releases: int = 0
    timeouts: int = 0
    buries: int = 0
    kicks: int = 0

    @classmethod
    def of(cls, job: Any) -> JobMark:
        return cls(
            id=int(job.id),
            state=str(job.state),
            reserves=int(job.reserves),
            releases=int(job.releases),
            timeouts=int(job.timeouts),
            buries=int(job.buries),
            kicks=int(job.kicks),
        )


BOX_W = 12
LEFT, RIGHT = 16, 44
"""x of the left column of boxes (delayed, ready, buried) and of the reserved box."""
POS = {"delayed": (LEFT, 0), "ready": (LEFT, 7), "reserved": (RIGHT, 7), "buried": (LEFT, 14)}


def draw(
    counts: Mapping[str, int],
    rates: Mapping[str, float | None],
    scope: str,
    job: JobMark | None = None,
    *,
    rates_scope: str = "whole server",
    estimated: frozenset[str] = frozenset(),
) -> Text:
    """The diagram; ``estimated`` names the rates that are estimates (shown with "≈")."""

    def _rate(rates: Mapping[str, float | None], key: str) -> str:
        value = rates.get(key)
        if value is None:
            return ""
        return f" {'≈' if key in estimated else ''}{rate_text(value)}"

    canvas = Canvas(WIDTH, HEIGHT)
    line = "bright_black"
    travelled = "bold yellow"

    def arrow_style(count: int) -> str:
        return travelled if job is not None and count > 0 else line

    def job_count(count: int) -> str:
        return f" (job x{count})" if job is not None and count > 0 else ""

    for state, (x, y) in POS.items():
        color = STATE_STYLES[state]
        selected = job is not None and job.state == state
        frame: Style | str = f"bold {color}" if selected else color
        name_style: Style | str = f"bold reverse {color}" if selected else f"bold {color}"
        count = counts.get(state, 0)
        canvas.box(x, y, BOX_W, [(state.upper(), name_style), (f"{count:,}", "bold")], frame)

    mid_left = LEFT + BOX_W // 2  # the vertical arrows of the left column
    mid_right = RIGHT + BOX_W // 2
    gap_from, gap_to = LEFT + BOX_W, RIGHT - 1  # the corridor between the two columns
    # put with a delay -> DELAYED
    canvas.text(1, 0, "put, delay>0", "dim")
    canvas.hline(1, LEFT - 1, 1, line, "▶")
    # DELAYED -> READY when the delay ends
    canvas.vline(mid_left, 4, 6, line, "▼")
    canvas.text(mid_left + 2, 5, "delay ends", "dim")
    # put -> READY
    canvas.text(1, 7, "put" + _rate(rates, "puts"))
    canvas.hline(1, LEFT - 1, 8, line, "▶")
    # READY -> RESERVED
    canvas.text(gap_from + 1, 7, "reserve" + _rate(rates, "reserves"))
    canvas.hline(gap_from, gap_to, 8, arrow_style(job.reserves if job else 0), "▶")
    # RESERVED -> READY: release or TTR timeout
    back = (job.releases + job.timeouts) if job else 0
    canvas.hline(gap_from, gap_to, 9, arrow_style(back), "◀")
    canvas.text(gap_from + 1, 10, "release" + _rate(rates, "releases"))
    canvas.text(gap_from + 1, 11, "timeout" + _rate(rates, "timeouts"))
    # RESERVED -> DELAYED: release with a delay
    canvas.vline(mid_right, 2, 6, line)
    canvas.text(mid_right, 1, "╮", line)
    canvas.text(mid_right, 7, "┴", STATE_STYLES["reserved"])
    canvas.hline(gap_from, mid_right - 1, 1, line, "◀")
    canvas.text(gap_from + 2, 0, "release, delay>0", "dim")
    # RESERVED -> deleted
    canvas.text(RIGHT + BOX_W + 1, 7, "delete" + _rate(rates, "deletes"))
    canvas.hline(RIGHT + BOX_W, WIDTH - 3, 8, line, "▶")
    canvas.text(WIDTH - 1, 8, "✕", "bold")
    # RESERVED -> BURIED
    buried_style = arrow_style(job.buries if job else 0)
    canvas.text(mid_right, 10, "┬", STATE_STYLES["reserved"])
    canvas.vline(mid_right, 11, 14, buried_style)
    canvas.text(mid_right, 15, "╯", buried_style)
    canvas.hline(gap_from, mid_right - 1, 15, buried_style, "◀")
    bury = "bury" + _rate(rates, "buries") + job_count(job.buries if job else 0)
    canvas.text(mid_right - 2 - len(bury), 13, bury)
    # BURIED -> READY: kick
    canvas.vline(mid_left, 11, 13, arrow_style(job.kicks if job else 0), "▲")
    canvas.text(
        mid_left + 2, 12, "kick" + _rate(rates, "kicks") + job_count(job.kicks if job else 0)
    )
    # BURIED -> deleted
    canvas.hline(gap_from, gap_from + 10, 16, line, "▶")
    canvas.text(gap_from + 2, 17, "delete", "dim")
    canvas.text(gap_from + 12, 16, "✕", "bold")
    note = f"counts: {scope} · rates: {rates_scope}"
    if estimated:
        note = f"{scope}: its counts and rates (≈ estimated from its jobs)"
    canvas.text(1, 19, note, "dim")
    if job is not None:
        canvas.text(1, 20, f"job {job.id} is {job.state}; its history:", "bold")
        history = (
            f"reserves {job.reserves} · releases {job.releases} · timeouts {job.timeouts}"
            f" · buries {job.buries} · kicks {job.kicks}"
        )
        canvas.text(1, 21, history, "bold")
    return canvas.render()


class Lifecycle(Widget):
    """The lifecycle diagram for the selected tube (or server) and job."""

    DEFAULT_CSS = """
    Lifecycle { height: auto; width: auto; min-height: 22; text-wrap: nowrap; }
    """

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self.counts: dict[str, int] = {}
        self.rates: dict[str, float | None] = {}
        self.scope = "whole server"
        self.job: JobMark | None = None
        self.rates_scope = "whole server"
        self.estimated: frozenset[str] = frozenset()

    def update_view(
        self,
        counts: Mapping[str, int],
        rates: Mapping[str, float | None],
        scope: str,
        job: JobMark | None,
        *,
        rates_scope: str = "whole server",
        estimated: frozenset[str] = frozenset(),
    ) -> None:
        new = (dict(counts), dict(rates), scope, job, rates_scope, estimated)
        old = (self.counts, self.rates, self.scope, self.job, self.rates_scope, self.estimated)
        if new != old:
            self.counts, self.rates, self.scope, self.job, self.rates_scope, self.estimated = new
            self.refresh()

    def get_content_width(self, container: Size, viewport: Size) -> int:
        # The diagram is a fixed drawing: it must never wrap (a wrapped box
        # line breaks every row below it). A narrow pane crops or scrolls it.
        return WIDTH

    def get_content_height(self, container: Size, viewport: Size, width: int) -> int:
        return HEIGHT

    def render(self) -> Text:
        return draw(
            self.counts,
            self.rates,
            self.scope,
            self.job,
            rates_scope=self.rates_scope,
            estimated=self.estimated,
        )
