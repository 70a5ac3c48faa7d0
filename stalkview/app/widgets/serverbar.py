"""The server bar: who we are looking at, its totals, its live rates with sparklines."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widget import Widget
from textual.widgets import Sparkline, Static

from stalkview.format import printable
from stalkview.model.logsize import LogReport, glance

#: (label, stats counters summed for it) for each rate shown.
RATES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("puts", ("cmd-put",)),
    ("reserves", ("cmd-reserve", "cmd-reserve-with-timeout")),
    ("deletes", ("cmd-delete",)),
    ("releases", ("cmd-release",)),
    ("buries", ("cmd-bury",)),
    ("kicks", ("cmd-kick",)),
    ("timeouts", ("job-timeouts",)),
)

STATUS_STYLES = {
    "live": ("●", "bold green"),
    "refreshing": ("◌", "bold cyan"),
    "connecting": ("◌", "bold yellow"),
    "stale": ("✕", "bold red"),
}

STATE_STYLES = {
    "ready": "green",
    "delayed": "cyan",
    "reserved": "yellow",
    "buried": "red",
    "urgent": "magenta",
}


def uptime_text(seconds: int) -> str:
    days, rest = divmod(int(seconds), 86400)
    hours, rest = divmod(rest, 3600)
    minutes = rest // 60
    if days:
        return f"{days}d {hours}h"
    if hours:
        return f"{hours}h {minutes:02d}m"
    return f"{minutes}m {int(seconds) % 60:02d}s"


def rate_text(value: float) -> str:
    if value >= 1000:
        return f"{value / 1000:.1f}k/s"
    if value >= 100:
        return f"{value:.0f}/s"
    return f"{value:.1f}/s"


SHORT_NAMES = {
    "puts": "put", "reserves": "rsv", "deletes": "del", "releases": "rel",
    "buries": "bury", "kicks": "kick", "timeouts": "t/o",
}  # fmt: skip


class RateValues(Widget):
    """One line: each rate's name and value, placed over its sparkline.

    One widget for all seven labels (instead of two labels per rate) keeps the
    widget count, and so the time to the first frame, down.
    """

    DEFAULT_CSS = """
    RateValues { height: 1; }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.values: dict[str, float | None] = {}

    def show(self, values: Mapping[str, float | None]) -> None:
        if dict(values) != self.values:
            self.values = dict(values)
            self.refresh()

    def _columns(self) -> list[int]:
        """Where each sparkline starts, relative to this widget (even before layout)."""
        width = max(self.size.width, 1)
        sparks = list(self.screen.query(Sparkline)) if self.is_attached else []
        if len(sparks) == len(RATES) and all(s.region.width for s in sparks):
            return [s.region.x - self.region.x for s in sparks]
        return [width * n // len(RATES) for n in range(len(RATES))]

    def render(self) -> Text:
        text = Text(no_wrap=True, overflow="crop")
        columns = self._columns()
        ends = [*columns[1:], max(self.size.width, 1) + 1]
        for (label, _keys), column, end in zip(RATES, columns, ends, strict=True):
            if column > len(text):
                text.append(" " * (column - len(text)))
            value = self.values.get(label)
            shown = "-" if value is None else rate_text(value)
            room = end - column - 1  # a space before the next rate's name
            if len(label) + 1 + len(shown) > room:
                # Narrow terminal: short names, and never run into the next rate.
                label = SHORT_NAMES.get(label, label)
            cell = Text(f"{label} ", style="dim")
            cell.append(shown, style="bold")
            cell.truncate(max(room, 1))
            text.append_text(cell)
        return text


class ServerBar(Vertical):
    """Address, version, uptime, connections, totals per state and live rates."""

    def __init__(self, address: str, *, read_only: bool = False, id: str | None = None) -> None:
        super().__init__(id=id)
        self.address = address
        self.read_only = read_only
        self._stats: Mapping[str, Any] = {}
        self._status = "connecting"
        self._detail = ""
        self._lines: dict[str, str] = {}
        #: Where the inventory found the jobs: "id scan", "binlog DIR", ...
        self._source = ""

    def compose(self) -> ComposeResult:
        yield Static(self._identity(), id="sb-identity")
        yield Static("", id="sb-totals")
        # Only for a server with a binlog (-b): the line costs a row.
        yield Static("", id="sb-binlog", classes="hidden")
        yield RateValues(id="sb-rate-values")
        with Horizontal(id="sb-rates"):
            for label, _keys in RATES:
                yield Sparkline([0.0], id=f"spark-{label}", classes="rate-spark")

    def _identity(self) -> Text:
        stats = self._stats
        text = Text()
        text.append(" stalkview ", style="bold reverse")
        # Status and mode first: on a narrow terminal the end of this line is cut off.
        symbol, style = STATUS_STYLES.get(self._status, ("?", ""))
        text.append("  ")
        text.append(f"{symbol} {self._status}", style=style)
        if self._detail:
            text.append(f"  {printable(self._detail)}", style="dim")
        if self.read_only:
            text.append("  ")
            text.append(" READ-ONLY ", style="bold reverse yellow")
        if str(stats.get("draining", "false")) == "true":
            text.append("  DRAINING", style="bold red")
        text.append("   ")
        text.append(self.address, style="bold")
        if stats:
            # Server strings are untrusted: an escape sequence must show, not act.
            text.append(f"   beanstalkd {printable(str(stats.get('version', '?')), 20)}")
            text.append(f"   up {uptime_text(int(stats.get('uptime', 0)))}")
            text.append(f"   conns {int(stats.get('current-connections', 0)):,}")
            text.append(f"   tubes {int(stats.get('current-tubes', 0)):,}")
        return text

    def _totals(self) -> Text:
        stats = self._stats
        text = Text(" ")
        for state, style in STATE_STYLES.items():
            value = int(stats.get(f"current-jobs-{state}", 0))
            text.append(f"{state} ", style="dim")
            text.append(f"{value:,}", style=f"bold {style}" if value else "dim")
            text.append("   ")
        text.append("total jobs ", style="dim")
        text.append(f"{int(stats.get('total-jobs', 0)):,}")
        if self._source:
            text.append("   jobs from ", style="dim")
            text.append(self._source)
        return text

    def show_source(self, found_by: str) -> None:
        """Where the inventory came from: ``binlog /var/lib/beanstalkd`` or ``id scan``."""
        if found_by != self._source:
            self._source = found_by
            self._update_line("#sb-totals", self._totals())

    def _update_line(self, selector: str, text: Text) -> None:
        # Fixed one-line statics: skip unchanged text, and never ask for a reflow.
        line = self.query_one(selector, Static)
        if self._lines.get(selector) != text.plain:
            self._lines[selector] = text.plain
            line.update(text, layout=False)

    def show_binlog(self, report: LogReport | None) -> None:
        """The binlog at a glance (span, size, live data, amplification, write rate);
        hidden for a server that keeps none."""
        line = self.query_one("#sb-binlog", Static)
        line.set_class(report is None, "hidden")
        if report is None:
            return
        text = Text(" ")
        text.append("binlog ", style="dim")
        text.append(glance(report), style="bold yellow" if report.runaway else "")
        self._update_line("#sb-binlog", text)

    def set_status(self, status: str, detail: str = "") -> None:
        self._status, self._detail = status, detail
        self._update_line("#sb-identity", self._identity())

    @property
    def status(self) -> str:
        return self._status

    def show_stats(
        self,
        stats: Mapping[str, Any],
        rates: Mapping[str, float | None],
        histories: Mapping[str, Sequence[float]],
    ) -> None:
        self._stats = stats
        self._update_line("#sb-identity", self._identity())
        self._update_line("#sb-totals", self._totals())
        self.query_one(RateValues).show(rates)
        for label, _keys in RATES:
            data = list(histories.get(label, ())) or [0.0]
            spark = self.query_one(f"#spark-{label}", Sparkline)
            if spark.data != data:
                spark.data = data
