"""The servers pane of the fleet app: one row a server, plus the "all servers" row.

Bounded (one row a server), so a DataTable; rows are keyed and updated cell by
cell so the cursor never jumps while servers come and go.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar

from rich.text import Text
from textual.binding import Binding, BindingType
from textual.message import Message
from textual.widgets import DataTable
from textual.widgets.data_table import CellDoesNotExist, RowDoesNotExist

from stalkview.app.widgets.serverbar import rate_text

if TYPE_CHECKING:
    from stalkview.fleet import ServerState
    from stalkview.model import ServerRates

ALL_SERVERS = "\x00fleet"
ALL_SERVERS_LABEL = "(all servers)"
STATES = ("ready", "delayed", "reserved", "buried", "urgent")
#: (key, header, numeric)
COLUMNS: tuple[tuple[str, str, bool], ...] = (
    ("mark", " ", False),
    ("server", "server", False),
    ("version", "version", False),
    ("status", "status", False),
    ("conns", "conns", True),
    *((state, state, True) for state in STATES),
    ("puts", "put/s", True),
    ("reserves", "reserve/s", True),
)
COLUMN_KEYS = tuple(key for key, _, _ in COLUMNS)
REASON_WIDTH = 30
NAME_WIDTH = 34


def server_key(index: int) -> str:
    return str(index)


def _num(value: int, *, dim: bool, style: str = "") -> Text:
    if dim or value == 0:
        return Text(f"{value:,}", style="dim", justify="right")
    return Text(f"{value:,}", style=style, justify="right")


def _rate(value: float | None, dim: bool) -> Text:
    text = "·" if value is None else rate_text(value)
    return Text(text, style="dim" if dim or not value else "", justify="right")


def status_cell(state: ServerState) -> Text:
    """ "● up", or "✕ down: why" (the reason cut to fit), or "… connecting"."""
    if state.up:
        return Text("● up", style="bold green")
    if state.error is None:
        return Text("… connecting", style="yellow")
    text = Text("✕ down: ", style="bold red")
    # Connection errors start with the address, already in the server column.
    text.append(state.error.removeprefix(f"{state.address}: "))
    text.truncate(REASON_WIDTH, overflow="ellipsis")
    return text


def server_name_cell(state: ServerState, current: bool) -> Text:
    text = Text(state.label, style="bold" if current else "")
    if state.name is not None:
        text.append(f" {state.address}", style="dim")
    # Long socket paths must not push the counts off a 160-column screen.
    text.truncate(NAME_WIDTH - (3 if state.read_only else 0), overflow="ellipsis")
    if state.read_only:
        text.append(" RO", style="bold yellow")
    return text


class ServersTable(DataTable[Any]):
    """Every server of the fleet; enter makes one the current server."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("j", "cursor_down", "Down", show=False),
        Binding("k", "cursor_up", "Up", show=False),
        Binding("g,home", "scroll_top", "Top", show=False),
        Binding("G,end", "scroll_bottom", "Bottom", show=False),
        Binding("enter", "select_cursor", "Browse server", id="server-choose",
                tooltip="Make this server current for jobs and actions; (all servers): sums"),
    ]  # fmt: skip

    class ServerChosen(Message):
        """Enter on a row: ``index`` of the server, or None for "all servers"."""

        def __init__(self, index: int | None) -> None:
            super().__init__()
            self.index = index

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id, cursor_type="row", zebra_stripes=True)

    def on_mount(self) -> None:
        for key, label, numeric in COLUMNS:
            self.add_column(Text(label, justify="right" if numeric else "left"), key=key)

    @property
    def cursor_index(self) -> int | None:
        """The server under the cursor (None: the all-servers row, or nothing)."""
        if not self.row_count:
            return None
        try:
            key = self.coordinate_to_cell_key(self.cursor_coordinate).row_key.value
        except CellDoesNotExist:
            return None
        return None if key in (None, ALL_SERVERS) else int(key)

    def show(
        self,
        states: Sequence[ServerState],
        totals: Mapping[str, Any],
        rates: ServerRates,
        *,
        current: int,
        all_view: bool,
    ) -> None:
        """Bring every row in line with the fleet's latest states."""
        rows = {ALL_SERVERS: self._all_cells(states, totals, rates, all_view)}
        for n, state in enumerate(states):
            rows[server_key(n)] = self._server_cells(state, current=n == current and not all_view)
        with self.app.batch_update():
            for key, cells in rows.items():
                try:
                    old = self.get_row(key)
                except RowDoesNotExist:
                    self.add_row(*cells, key=key)
                    continue
                for column, before, after in zip(COLUMN_KEYS, old, cells, strict=True):
                    if before != after:
                        with contextlib.suppress(CellDoesNotExist):
                            # A server going down needs a wider status column.
                            self.update_cell(key, column, after, update_width=True)

    def _all_cells(
        self, states: Sequence[ServerState], totals: Mapping[str, Any], rates: ServerRates,
        all_view: bool,
    ) -> list[Text]:  # fmt: skip
        up = sum(1 for s in states if s.up)
        style = "bold green" if up == len(states) else "bold red"
        status = Text(f"{up} of {len(states)} up", style=style)
        return [
            Text("▶" if all_view else " ", style="bold"),
            Text(ALL_SERVERS_LABEL, style="bold"),
            Text(""),
            status,
            _num(int(totals.get("current-connections", 0)), dim=False),
            *(
                _num(int(totals.get(state, 0)), dim=False, style=_STYLE.get(state, ""))
                for state in STATES
            ),
            _rate(rates.puts, False),
            _rate(rates.reserves, False),
        ]

    def _server_cells(self, state: ServerState, *, current: bool) -> list[Text]:
        dim = not state.up
        totals = state.totals()
        rates = state.server_rates()
        return [
            Text("▶" if current else " ", style="bold"),
            server_name_cell(state, current),
            Text(state.version or "", style="dim" if dim else ""),
            status_cell(state),
            _num(int(state.stats.get("current-connections", 0) or 0), dim=dim),
            *(_num(totals[s], dim=dim, style=_STYLE.get(s, "")) for s in STATES),
            _rate(rates.puts if state.up else None, dim),
            _rate(rates.reserves if state.up else None, dim),
        ]

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        key = event.row_key.value
        self.post_message(self.ServerChosen(None if key in (None, ALL_SERVERS) else int(key)))

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        event.stop()


_STYLE = {"buried": "bold red", "urgent": "yellow"}


class BreakdownTable(DataTable[Any]):
    """The selected tube on each server that has it (the all-servers view)."""

    COLUMNS: tuple[tuple[str, str], ...] = (
        ("server", "server"),
        *((s, f"current-jobs-{s}") for s in STATES),
        ("waiting", "current-waiting"),
        ("paused", "pause-time-left"),
    )

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id, cursor_type="none", zebra_stripes=True, show_cursor=False)
        self._shown: list[list[str]] = []

    def on_mount(self) -> None:
        for key, _stat in self.COLUMNS:
            self.add_column(Text(key, justify="left" if key == "server" else "right"), key=key)

    def show(self, rows: Sequence[tuple[ServerState, Mapping[str, Any]]]) -> None:
        cells = [self._cells(state, stats) for state, stats in rows]
        plain = [[c.plain for c in row] for row in cells]
        if plain == self._shown:
            return
        self._shown = plain
        with self.app.batch_update():
            self.clear()
            for row in cells:
                self.add_row(*row)

    def _cells(self, state: ServerState, stats: Mapping[str, Any]) -> list[Text]:
        out = [Text(state.label)]
        for key, stat in self.COLUMNS[1:]:
            value = int(stats.get(stat, 0) or 0)
            if key == "paused":
                out.append(Text(f"{value}s" if value else "", justify="right", style="magenta"))
            else:
                out.append(_num(value, dim=False, style=_STYLE.get(key, "")))
        return out
