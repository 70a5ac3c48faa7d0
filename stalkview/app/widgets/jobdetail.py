"""The job detail: every ``stats-job`` field and the decoded body, as a Line-API view.

Bodies can be large (a 256 KiB prefix of a multi-megabyte body, a decompressed bomb
capped at 10 MiB), so nothing is laid out as widgets: the body is kept as plain lines,
wrapped to the width, and highlighted only when a line scrolls into view. Bodies are
untrusted: every line goes through ``safe_text`` and is turned into rich ``Text`` by
hand, never parsed as markup, so ``[bold]`` and ``\\x1b[2J`` show as written.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

from rich.cells import cell_len, chop_cells
from rich.style import Style
from rich.text import Text
from textual.binding import Binding, BindingType
from textual.cache import LRUCache
from textual.geometry import Size
from textual.scroll_view import ScrollView
from textual.strip import Strip

from stalkview.model import (
    DecodedBody,
    decode_body,
    format_size,
    hexdump,
    poison_reasons,
    safe_line,
    safe_text,
)

if TYPE_CHECKING:
    from stalkview.inventory import JobInfo

__all__ = ["DECODE_LIMIT", "DISPLAY_LIMIT", "HEXDUMP_LIMIT", "JobDetail"]

DISPLAY_LIMIT = 256 * 1024
"""Characters of decoded text shown at most."""
DECODE_LIMIT = 4 * DISPLAY_LIMIT
"""Bytes one decompression layer may produce for display."""
HEXDUMP_LIMIT = 64 * 1024
"""Bytes of a binary body dumped at most (4,096 lines)."""
TAB_SIZE = 4
LABEL_WIDTH = 10

_COUNTER_FIELDS = ("reserves", "timeouts", "releases", "buries", "kicks")
# poison_reasons() wording -> the stats-job counter it is about.
_REASON_FIELDS = (
    ("timed out", "timeouts"),
    ("buried", "buries"),
    ("released", "releases"),
    ("reserved", "reserves"),
)
_STATE_CLASSES = {
    "ready": "jobdetail--ready",
    "delayed": "jobdetail--delayed",
    "reserved": "jobdetail--reserved",
    "buried": "jobdetail--buried",
}
_KIND_NAMES = {"json": "JSON", "text": "text", "binary": "binary", "empty": "empty"}

_JSON_STRING = re.compile(r'"(?:[^"\\]|\\.)*"')
_JSON_KEY = re.compile(r'"(?:[^"\\]|\\.)*"(?=\s*:)')
_JSON_NUMBER = re.compile(r"(?<![\w.\"])-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?(?![\w\"])")
_JSON_LITERAL = re.compile(r"\b(?:true|false|null)\b")
_HEX_OFFSET = re.compile(r"^[0-9a-f]{8}")
_HEX_ASCII = re.compile(r"\|.*\|$")


@dataclass(frozen=True)
class _Body:
    """The body part: a few styled lines, then the body's own lines as plain strings
    (highlighted only when drawn)."""

    prelude: list[Text]
    kind: str  # "json", "text" or "hex"
    lines: list[str]
    narrow: bool  # every line fits in ``max_len`` cells, one cell a character
    max_len: int


_NO_BODY = _Body([], "text", [], True, 0)


class JobDetail(ScrollView, can_focus=True):
    """Shows one job: ``show_job(job, body)``; or a message: ``show_message(text)``."""

    DEFAULT_CSS = """
    JobDetail {
        background: $surface;
        overflow-x: hidden;
        overflow-y: auto;
        scrollbar-gutter: stable;
        padding: 0 1;
        & > .jobdetail--label { color: $foreground-muted; }
        & > .jobdetail--heading { color: $text-primary; text-style: bold; }
        & > .jobdetail--note { color: $foreground-muted; text-style: italic; }
        & > .jobdetail--message { color: $foreground-muted; text-style: italic; }
        & > .jobdetail--warning { color: $text-warning; text-style: bold; }
        & > .jobdetail--error { color: $text-error; text-style: bold; }
        & > .jobdetail--ready { color: $text-success; text-style: bold; }
        & > .jobdetail--delayed { color: $text-warning; text-style: bold; }
        & > .jobdetail--reserved { color: $text-primary; text-style: bold; }
        & > .jobdetail--buried { color: $text-error; text-style: bold; }
        & > .jobdetail--json-key { color: $text-primary; text-style: bold; }
        & > .jobdetail--json-string { color: $text-success; }
        & > .jobdetail--json-number { color: $text-accent; }
        & > .jobdetail--json-literal { color: $text-secondary; text-style: italic; }
        & > .jobdetail--hex-offset { color: $foreground-muted; }
        & > .jobdetail--hex-ascii { color: $text-accent; }
    }
    """

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "jobdetail--label",
        "jobdetail--heading",
        "jobdetail--note",
        "jobdetail--message",
        "jobdetail--warning",
        "jobdetail--error",
        "jobdetail--ready",
        "jobdetail--delayed",
        "jobdetail--reserved",
        "jobdetail--buried",
        "jobdetail--json-key",
        "jobdetail--json-string",
        "jobdetail--json-number",
        "jobdetail--json-literal",
        "jobdetail--hex-offset",
        "jobdetail--hex-ascii",
    }

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("k", "scroll_up", "Scroll up", show=False),
        Binding("j", "scroll_down", "Scroll down", show=False),
        Binding("g", "scroll_home", "Top", show=False),
        Binding("G", "scroll_end", "Bottom", show=False),
    ]

    def __init__(
        self,
        *,
        name: str | None = None,
        id: str | None = None,
        classes: str | None = None,
        disabled: bool = False,
    ) -> None:
        super().__init__(name=name, id=id, classes=classes, disabled=disabled)
        self._job: JobInfo | None = None
        # Built lazily (they need styles): the head (stats) is rebuilt every second so
        # age and time-left count; the body once per show_job (and per hex row width).
        self._head_builder: Callable[[], list[Text]] = list
        self._body_builder: Callable[[], _Body] = lambda: _NO_BODY
        self._body: _Body | None = None
        self._head: list[Text] = []
        self._head_visual: list[tuple[int, int, int]] = []
        self._raw_visual: list[tuple[int, int, int]] | None = None
        self._raw_count = 0
        self._wrap_width = -1
        self._raw_width = -1
        self._hex_row = 16
        self._stale = True
        self._highlighted: LRUCache[int, Text] = LRUCache(2048)
        self.decoded: DecodedBody | None = None
        self.gone = False

    # ------------------------------------------------------------------ public API

    @property
    def job(self) -> JobInfo | None:
        """The job shown, if any."""
        return self._job

    def show_job(
        self,
        job: JobInfo | None,
        body: bytes | None,
        *,
        truncated: bool = False,
        total_size: int | None = None,
    ) -> None:
        """Show a job's stats and its body (``None``: the job was deleted since).

        ``truncated`` says ``body`` is only the first bytes of a ``total_size`` body.
        """
        if job is None:
            self.show_message("No job selected")
            return
        same_job = self._job is not None and self._job.id == job.id
        self._job = job
        self.gone = False
        self.decoded = None
        if body is not None:
            # Only the start of a decompressed body is shown: decompressing further
            # would only stall the UI.
            self.decoded = decode_body(
                body, truncated=truncated, total_size=total_size, max_output=DECODE_LIMIT
            )
        decoded = self.decoded
        self._head_builder = lambda: self._stats_lines(job)
        self._body_builder = lambda: self._body_section(decoded, body)
        self._body = None
        self._invalidate(keep_scroll=same_job)

    def update_job(self, job: JobInfo) -> None:
        """Fresh stats for the job shown; the body stays (it never changes)."""
        if self._job is None or self._job.id != job.id:
            return
        self._job = job
        self.gone = False
        self._head_builder = lambda: self._stats_lines(job)
        self._stale = True
        self.refresh()

    def mark_gone(self) -> None:
        """The job shown was deleted: say so above its last stats and body."""
        job = self._job
        if job is None or self.gone:
            return
        self.gone = True
        error = self._style("jobdetail--error")

        def head() -> list[Text]:
            gone = Text(f"job {job.id} is gone: deleted or moved (last seen below)", error)
            return [gone, *self._stats_lines(job, frozen=True)]

        self._head_builder = head
        self._stale = True
        self.refresh()

    def show_message(self, text: str) -> None:
        """Replace the content with a message (shown literally), e.g. "loading…"."""
        self._job = None
        self.gone = False
        self.decoded = None
        lines = safe_text(text).split("\n")
        self._head_builder = lambda: [
            Text(line, self._style("jobdetail--message")) for line in lines
        ]
        self._body_builder = lambda: _NO_BODY
        self._body = None
        self._invalidate(keep_scroll=False)

    @property
    def lines(self) -> list[str]:
        """The content as plain text lines (unwrapped); for tests and copying."""
        self._ensure_layout()
        body = self._body or _NO_BODY
        return [line.plain for line in self._head] + body.lines

    # ------------------------------------------------------------------ events

    def on_mount(self) -> None:
        self.set_interval(1.0, self._tick)

    def on_resize(self) -> None:
        self._stale = True
        self.refresh()

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._body = None
        self._stale = True

    def _tick(self) -> None:
        if self._job is not None and self.display and not self.gone:
            # Age and time-left are counted from the job's `seen` time.
            self._stale = True
            self.refresh()

    # ------------------------------------------------------------------ layout

    def _invalidate(self, *, keep_scroll: bool) -> None:
        self._highlighted.clear()
        self._stale = True
        if not keep_scroll:
            self.scroll_to(0, 0, animate=False)
        self._ensure_layout()
        self.refresh()

    def _ensure_layout(self) -> None:
        width = max(1, self.scrollable_content_region.width)
        if not self._stale and width == self._wrap_width:
            return
        hex_row = _hex_row_for(width)
        if hex_row != self._hex_row and self._body is not None and self._body.kind == "hex":
            self._body = None
        self._hex_row = hex_row
        if self._body is None:
            self._body = self._body_builder()
            self._highlighted.clear()
            self._raw_width = -1
        body = self._body
        self._head = self._head_builder() + body.prelude
        self._head_visual = _wrap([line.plain for line in self._head], width)
        if self._raw_width != width:
            fits = body.narrow and body.max_len <= width
            self._raw_visual = None if fits else _wrap(body.lines, width)
            self._raw_width = width
        self._raw_count = len(body.lines) if self._raw_visual is None else len(self._raw_visual)
        self._wrap_width = width
        self._stale = False
        self.virtual_size = Size(width, len(self._head_visual) + self._raw_count)

    def _style(self, name: str) -> Style:
        return self.get_component_rich_style(name, partial=True)

    # ------------------------------------------------------------------ content

    def _stats_lines(self, job: JobInfo, *, frozen: bool = False) -> list[Text]:
        # Whole seconds, as the list counts them, so both panes agree; a gone
        # job's clock stops where it was last seen.
        elapsed = 0 if frozen else max(0, int(time.monotonic() - job.seen))
        reasons = poison_reasons(job)
        flagged = {
            field for prefix, field in _REASON_FIELDS for r in reasons if r.startswith(prefix)
        }
        label = self._style("jobdetail--label")
        warning = self._style("jobdetail--warning")
        state_style = self._style(_STATE_CLASSES.get(job.state, "jobdetail--label"))

        def row(name: str, value: str, style: Style | None = None) -> Text:
            text = Text(f"{name:>{LABEL_WIDTH}}  ", label)
            text.append(value, style)
            return text

        age = job.age + elapsed
        rows = [
            row("id", str(job.id), self._style("jobdetail--heading")),
            row("tube", safe_line(job.tube)),
            row("state", job.state, state_style),
            row("pri", _pri_text(job.pri)),
            row("age", _seconds(age)),
            row("delay", _seconds(job.delay)),
            row("ttr", _seconds(job.ttr)),
            row("time-left", self._time_left(job, elapsed)),
            row("file", str(job.file) if job.file else "0 (no binlog)"),
        ]
        for name in _COUNTER_FIELDS:
            value = int(getattr(job, name))
            rows.append(row(name, str(value), warning if name in flagged else None))
        if reasons:
            rows.append(Text("⚠ poison job: " + ", ".join(reasons), warning))
        rows.append(Text(""))
        return rows

    def _time_left(self, job: JobInfo, elapsed: int) -> str:
        if job.state == "delayed":
            return _seconds(max(0, job.time_left - elapsed)) + " until ready"
        if job.state == "reserved":
            return _seconds(max(0, job.time_left - elapsed)) + " until the TTR expires"
        return "-"

    def _body_section(self, decoded: DecodedBody | None, body: bytes | None) -> _Body:
        heading = self._style("jobdetail--heading")
        note = self._style("jobdetail--note")
        warning = self._style("jobdetail--warning")
        if decoded is None or body is None:
            gone = "job is gone: it was deleted since it was listed"
            return _Body(
                [Text("body", heading), Text(gone, self._style("jobdetail--error"))],
                "text", [], True, 0,
            )  # fmt: skip
        chain = [*decoded.layers, _KIND_NAMES.get(decoded.kind, decoded.kind)]
        title = Text("body", heading)
        title.append(f"  {format_size(decoded.size)} · {' → '.join(chain)}", note)
        prelude = [title]
        if decoded.truncated:
            shown = f"showing the first {format_size(len(body))} of {format_size(decoded.size)}"
            prelude.append(Text(shown, warning))
        if decoded.capped:
            prelude.append(
                Text("decompression stopped at its output limit: showing the start", note)
            )
        if decoded.kind == "empty":
            prelude.append(Text("(empty body)", note))
            return _Body(prelude, "text", [], True, 0)
        if decoded.kind == "binary":
            dump = hexdump(decoded.data, width=self._hex_row, limit=HEXDUMP_LIMIT)
            return _Body(prelude, "hex", dump, True, max(map(len, dump), default=0))
        text = decoded.text or ""
        if len(text) > DISPLAY_LIMIT:
            shown = (
                f"showing the first {format_size(DISPLAY_LIMIT)} of "
                f"{format_size(len(text))} of decoded text"
            )
            prelude.append(Text(shown, warning))
            text = text[:DISPLAY_LIMIT]
        text = safe_text(text)
        if "\t" in text:
            text = text.expandtabs(TAB_SIZE)
        lines = text.split("\n")
        kind = "json" if decoded.kind == "json" else "text"
        return _Body(prelude, kind, lines, text.isascii(), max(map(len, lines), default=0))

    # ------------------------------------------------------------------ rendering

    def render_line(self, y: int) -> Strip:
        self._ensure_layout()
        width = self.scrollable_content_region.width
        base = self.rich_style
        index = self.scroll_offset.y + y
        head_rows = len(self._head_visual)
        if index < head_rows:
            logical, start, end = self._head_visual[index]
            text = self._head[logical]
        elif index - head_rows < self._raw_count:
            row = index - head_rows
            if self._raw_visual is None:
                logical, start, end = row, 0, -1
            else:
                logical, start, end = self._raw_visual[row]
            text = self._raw_text(logical)
        else:
            return Strip.blank(width, base)
        if start or end >= 0:
            text = text[start:end]
        segments = list(text.render(self.app.console))
        return Strip(segments).apply_style(base).adjust_cell_length(width, base)

    def _raw_text(self, index: int) -> Text:
        cached = self._highlighted.get(index)
        if cached is None:
            body = self._body or _NO_BODY
            cached = self._highlight(body.kind, body.lines[index])
            self._highlighted.set(index, cached)
        return cached

    def _highlight(self, kind: str, line: str) -> Text:
        text = Text(line)
        if kind == "json":
            text.highlight_regex(_JSON_NUMBER, self._style("jobdetail--json-number"))
            text.highlight_regex(_JSON_LITERAL, self._style("jobdetail--json-literal"))
            text.highlight_regex(_JSON_STRING, self._style("jobdetail--json-string"))
            text.highlight_regex(_JSON_KEY, self._style("jobdetail--json-key"))
        elif kind == "hex":
            text.highlight_regex(_HEX_OFFSET, self._style("jobdetail--hex-offset"))
            text.highlight_regex(_HEX_ASCII, self._style("jobdetail--hex-ascii"))
        return text


def _wrap(lines: list[str], width: int) -> list[tuple[int, int, int]]:
    """Visual lines as (line, start, end) character offsets, each at most ``width`` cells."""
    visual: list[tuple[int, int, int]] = []
    append = visual.append
    for index, line in enumerate(lines):
        size = len(line)
        if size <= width and (line.isascii() or cell_len(line) <= width):
            append((index, 0, size))
        elif line.isascii():
            for start in range(0, size, width):
                append((index, start, min(size, start + width)))
        else:
            start = 0
            for chunk in chop_cells(line, width):
                append((index, start, start + len(chunk)))
                start += len(chunk)
    return visual


def _hex_row_for(width: int) -> int:
    """Bytes per hex dump line that fit ``width`` cells (16 needs 78, 8 needs 45)."""
    for row in (16, 8):
        if row * 4 + 13 + (row - 1) // 8 <= width:
            return row
    return 4


def _seconds(seconds: int) -> str:
    """The exact value and a readable one: "3723 s (1h 2m 3s)"."""
    if seconds < 60:
        return f"{seconds} s"
    days, rest = divmod(seconds, 86_400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    parts = [
        f"{n}{unit}" for n, unit in ((days, "d"), (hours, "h"), (minutes, "m"), (secs, "s")) if n
    ]
    return f"{seconds} s ({' '.join(parts)})"


def _pri_text(pri: int) -> str:
    # beanstalkd calls jobs with pri < 1024 "urgent" (current-jobs-urgent).
    return f"{pri} (urgent)" if pri < 1024 else str(pri)
