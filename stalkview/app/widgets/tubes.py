"""The tubes pane: a bounded DataTable refreshed by diffing row keys."""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from rich.text import Text
from textual.binding import Binding, BindingType
from textual.message import Message
from textual.widgets import DataTable
from textual.widgets.data_table import CellDoesNotExist, RowDoesNotExist

from stalkview.format import duration_words

ALL_TUBES = "\x00all"
"""Row key of the whole-server row: no tube name can contain NUL."""
ALL_LABEL = "(all tubes)"

ADD_CHUNK = 100
"""More new rows than this in one refresh are added a chunk per frame, top of the sort
order first: DataTable measures every new cell before it paints, so 1,000 new tubes at
once would hold the first frame back by a quarter of a second."""


@dataclass(frozen=True)
class Column:
    key: str
    label: str
    stat: str  # stats-tube field, or "" for computed columns
    numeric: bool = True


COLUMNS: tuple[Column, ...] = (
    Column("name", "tube", "name", numeric=False),
    Column("ready", "ready", "current-jobs-ready"),
    Column("delayed", "delayed", "current-jobs-delayed"),
    Column("reserved", "reserved", "current-jobs-reserved"),
    Column("buried", "buried", "current-jobs-buried"),
    Column("urgent", "urgent", "current-jobs-urgent"),
    Column("waiting", "waiting", "current-waiting"),
    Column("watching", "watching", "current-watching"),
    Column("using", "using", "current-using"),
    Column("paused", "paused", "pause-time-left"),
    Column("total", "total jobs", "total-jobs"),
    Column("deletes", "deletes", "cmd-delete"),
    Column("health", "health", "", numeric=False),
)
COLUMN_KEYS = tuple(c.key for c in COLUMNS)

#: The whole-server row reads the server's stats, whose names differ for connections.
SERVER_FIELDS = {
    "current-watching": "current-workers",
    "current-using": "current-producers",
}

HEALTH_WIDTH = 44
LEVEL_STYLES = {"error": "bold red", "warning": "yellow", "info": "cyan"}


def server_row_stats(stats: Mapping[str, Any]) -> dict[str, Any]:
    row = {c.stat: stats.get(SERVER_FIELDS.get(c.stat, c.stat), 0) for c in COLUMNS if c.stat}
    row["name"] = ALL_LABEL
    row["pause-time-left"] = 0
    return row


def _same(a: Text | None, b: Text | None) -> bool:
    return a is b or (a is not None and b is not None and a == b)


class TubesTable(DataTable[Any]):
    """One row a tube, plus the whole-server row pinned on top.

    Rows are diffed by key on every refresh so the cursor, the scroll position
    and the sort survive; ``o``/``O`` (or a header click) change the sort.
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("j", "cursor_down", "Down", show=False),
        Binding("k", "cursor_up", "Up", show=False),
        Binding("g,home", "scroll_top", "Top", show=False),
        Binding("G,end", "scroll_bottom", "Bottom", show=False),
        Binding("o", "sort_next", "Sort", tooltip="Sort by the next column"),
        Binding("O", "sort_reverse", "Reverse", show=False, tooltip="Reverse the sort order"),
    ]

    class TubeHighlighted(Message):
        """The cursor moved to a tube (None: the whole-server row)."""

        def __init__(self, tube: str | None) -> None:
            super().__init__()
            self.tube = tube

    class TubeOpened(Message):
        """Enter on a tube: the user wants its jobs."""

        def __init__(self, tube: str | None) -> None:
            super().__init__()
            self.tube = tube

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes, cursor_type="row", zebra_stripes=True)
        self.sort_column = "name"
        self.sort_reverse = False
        self.name_filter = ""
        self._raw: dict[str, dict[str, Any]] = {}
        self._health: dict[str, Text] = {}
        self._last_highlight: str | bool | None = False
        # The health cell each row was built with (health changes while stats do not).
        self._row_health: dict[str, Text | None] = {}
        # New rows still to add (ADD_CHUNK at a time), in sort order.
        self._pending: dict[str, dict[str, Any]] = {}

    def on_mount(self) -> None:
        for column in COLUMNS:
            self.add_column(self._header(column), key=column.key)

    def _header(self, column: Column) -> Text:
        label = column.label
        if column.key == self.sort_column:
            label += " ▼" if self.sort_reverse else " ▲"
        return Text(label, justify="right" if column.numeric else "left")

    # --- data -----------------------------------------------------------------

    @property
    def selected_tube(self) -> str | None:
        """The tube under the cursor; None for the whole-server row or an empty table."""
        key = self._cursor_key()
        return None if key in (None, ALL_TUBES) else key

    def _cursor_key(self) -> str | None:
        if not self.row_count:
            return None
        try:
            return self.coordinate_to_cell_key(self.cursor_coordinate).row_key.value
        except CellDoesNotExist:
            return None

    def update_tubes(
        self,
        server_stats: Mapping[str, Any],
        tubes: Mapping[str, Mapping[str, Any]],
        health: Mapping[str | None, Text] | None = None,
    ) -> None:
        """Bring the table in line with a snapshot without losing the user's place."""
        wanted: dict[str, dict[str, Any]] = {ALL_TUBES: server_row_stats(server_stats)}
        needle = self.name_filter.lower()
        for name, stats in tubes.items():
            if needle in name.lower():
                wanted[name] = dict(stats)
        if health is not None:  # None: keep the last refresh's (a filter change)
            self._health = {(ALL_TUBES if k is None else k): v for k, v in health.items()}
        # A newer snapshot supersedes rows not added yet: still missing, they are new again.
        self._pending = self._defer_new_rows(wanted)
        keep = self._cursor_key()
        before = {key: self._sort_value(key) for key in self._raw}
        with self.app.batch_update():
            for gone in [k for k in self._raw if k not in wanted]:
                self._raw.pop(gone)
                self._row_health.pop(gone, None)
                with contextlib.suppress(RowDoesNotExist):
                    self.remove_row(gone)
            for key, stats in wanted.items():
                shown = self._health.get(key)
                if key in self._raw:
                    # Most rows of a refresh are unchanged: skip building their cells.
                    if stats == self._raw[key] and _same(shown, self._row_health.get(key)):
                        continue
                    self._update_row(key, self._cells(key, stats))
                else:
                    self.add_row(*self._cells(key, stats), key=key)
                self._raw[key] = stats
                self._row_health[key] = shown
            # Sorting invalidates every cached row: only when the order may change.
            if before != {key: self._sort_value(key) for key in self._raw}:
                self._resort(keep)
        if self._pending:
            self.call_after_refresh(self._add_pending)
        self._announce_highlight()

    def _defer_new_rows(self, wanted: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
        """Take from ``wanted`` the new rows beyond the first ADD_CHUNK in sort order."""
        new = [key for key in wanted if key not in self._raw]
        if len(new) <= ADD_CHUNK:
            return {}
        new.sort(key=lambda k: self._sort_value_of(k, wanted[k]), reverse=self.sort_reverse)
        return {key: wanted.pop(key) for key in new[ADD_CHUNK:]}

    def _add_pending(self) -> None:
        if not self._pending or not self.is_attached:
            return
        keys = list(self._pending)[:ADD_CHUNK]
        keep = self._cursor_key()
        with self.app.batch_update():
            for key in keys:
                stats = self._pending.pop(key)
                self.add_row(*self._cells(key, stats), key=key)
                self._raw[key] = stats
                self._row_health[key] = self._health.get(key)
            self._resort(keep)
        if self._pending:
            self.call_after_refresh(self._add_pending)

    def _update_row(self, key: str, cells: list[Text]) -> None:
        current = self.get_row(key)
        for column, old, new in zip(COLUMN_KEYS, current, cells, strict=True):
            if old != new:
                self.update_cell(key, column, new)

    def _cells(self, key: str, stats: Mapping[str, Any]) -> list[Text]:
        cells: list[Text] = []
        for column in COLUMNS:
            cells.append(self._cell(key, column, stats))
        return cells

    def _cell(self, key: str, column: Column, stats: Mapping[str, Any]) -> Text:
        if column.key == "name":
            style = "bold" if key == ALL_TUBES else ""
            return Text(ALL_LABEL if key == ALL_TUBES else key, style=style)
        if column.key == "health":
            cell = self._health.get(key, Text("")).copy()
            cell.truncate(HEALTH_WIDTH, overflow="ellipsis")
            return cell
        value = int(stats.get(column.stat, 0) or 0)
        if column.key == "paused":
            # The hints' style ("59m 54s"): one duration style on the screen.
            text = duration_words(value) if value > 0 else ""
            return Text(text, style="bold magenta", justify="right")
        style = "dim" if value == 0 else ""
        if value and column.key == "buried":
            style = "bold red"
        elif value and column.key == "urgent":
            style = "yellow"
        return Text(f"{value:,}", style=style, justify="right")

    # --- sorting --------------------------------------------------------------

    def _sort_value(self, key: str) -> Any:
        return self._sort_value_of(key, self._raw.get(key, {}))

    def _sort_value_of(self, key: str, stats: Mapping[str, Any]) -> Any:
        column = next(c for c in COLUMNS if c.key == self.sort_column)
        if column.key == "name":
            value: Any = key.lower()
        elif column.key == "health":
            value = self._health.get(key, Text("")).plain
        else:
            value = int(stats.get(column.stat, 0) or 0)
        # The whole-server row stays on top whichever way the rows are sorted.
        pin = 0 if key == ALL_TUBES else 1
        if self.sort_reverse:
            pin = -pin
        return (pin, value)

    def _resort(self, keep: str | None) -> None:
        self.sort("name", key=self._sort_key_from_cell, reverse=self.sort_reverse)
        if keep is not None and keep in self._raw:
            self.move_cursor(row=self.get_row_index(keep), animate=False)

    def _sort_key_from_cell(self, cell: Text) -> Any:
        plain = cell.plain
        return self._sort_value(ALL_TUBES if plain == ALL_LABEL else plain)

    def sort_by(self, column: str, reverse: bool | None = None) -> None:
        if column not in COLUMN_KEYS:
            raise ValueError(f"no tubes column {column!r}: use one of {', '.join(COLUMN_KEYS)}")
        if reverse is None:
            reverse = not self.sort_reverse if column == self.sort_column else column != "name"
        self.sort_column, self.sort_reverse = column, reverse
        for spec in COLUMNS:
            self.columns[self._col_key(spec.key)].label = self._header(spec)
        self._resort(self._cursor_key())
        self.refresh()

    def _col_key(self, key: str) -> Any:
        return next(k for k in self.columns if k.value == key)

    def action_sort_next(self) -> None:
        index = (COLUMN_KEYS.index(self.sort_column) + 1) % len(COLUMN_KEYS)
        self.sort_by(COLUMN_KEYS[index], reverse=COLUMN_KEYS[index] != "name")

    def action_sort_reverse(self) -> None:
        self.sort_by(self.sort_column, reverse=not self.sort_reverse)

    def on_data_table_header_selected(self, event: DataTable.HeaderSelected) -> None:
        event.stop()
        self.sort_by(str(event.column_key.value))

    # --- filtering --------------------------------------------------------------

    def filter_names(
        self,
        text: str,
        tubes: Mapping[str, Mapping[str, Any]],
        server_stats: Mapping[str, Any],
        health: Mapping[str | None, Text] | None = None,
    ) -> None:
        self.name_filter = text
        self.update_tubes(server_stats, tubes, health)

    # --- selection messages -----------------------------------------------------

    def select_tube(self, tube: str | None) -> bool:
        key = ALL_TUBES if tube is None else tube
        if key not in self._raw:
            return False
        self.move_cursor(row=self.get_row_index(key), animate=False)
        return True

    def _announce_highlight(self) -> None:
        tube = self.selected_tube
        if tube != self._last_highlight:
            self._last_highlight = tube
            self.post_message(self.TubeHighlighted(tube))

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        event.stop()
        self._announce_highlight()

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        self.post_message(self.TubeOpened(self.selected_tube))

    def shown_tubes(self) -> list[str]:
        """The tubes in the table, in the order shown (the whole-server row left out)."""
        keys = (row.key.value for row in self.ordered_rows)
        return [key for key in keys if key is not None and key != ALL_TUBES]

    def tube_names(self) -> Iterable[str]:
        return (k for k in self._raw if k != ALL_TUBES)
