"""The tubes pane: a bounded DataTable refreshed by diffing row keys."""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from rich.cells import cell_len
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


#: In priority order: a narrow table keeps a prefix of these (see ``fit_columns``).
COLUMNS: tuple[Column, ...] = (
    Column("name", "tube", "name", numeric=False),
    Column("health", "health", "", numeric=False),
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
)
COLUMN_KEYS = tuple(c.key for c in COLUMNS)

#: The whole-server row reads the server's stats, whose names differ for connections.
SERVER_FIELDS = {
    "current-watching": "current-workers",
    "current-using": "current-producers",
}

HEALTH_WIDTH = 44
"""The widest a health cell gets: the whole hint is in the hints bar under the table."""
HEALTH_MIN = 14
"""The narrowest health cell: an icon and a couple of words ("▲ no consumers")."""
NAME_MIN = 12
"""Tube names are cut (with "…") to no fewer cells than this when the width is short."""
NAME_MAX = 32
"""Nor wider than this: a 200-byte name would push every count off the screen. The
whole name is in the jobs pane's title and in the zoomed pane's tube detail."""
CORE = ("ready", "delayed", "reserved", "buried")
LEVEL_STYLES = {"error": "bold red", "warning": "yellow", "info": "cyan"}


@dataclass(frozen=True)
class Fit:
    """The columns a table width shows: a prefix of COLUMNS, with their content widths."""

    shown: tuple[str, ...]
    widths: dict[str, int]

    @property
    def hidden(self) -> tuple[str, ...]:
        return tuple(k for k in COLUMN_KEYS if k not in self.shown)


def fit_columns(natural: Mapping[str, int], width: int, padding: int = 2) -> Fit:
    """Which columns fit ``width`` cells, in priority order, and how wide each is.

    ``natural`` is each column's content width (header included); every column also
    takes ``padding`` cells. The tube name and the health cell come first (the name cut
    to make room, health shortened to whole words), then the four job states, then the
    rest while they fit. A column is shown whole or not at all.
    """
    core = sum(natural[k] + padding for k in CORE)
    health_min = min(natural["health"], HEALTH_MIN)
    name = min(natural["name"], NAME_MAX, max(NAME_MIN, width - core - health_min - 2 * padding))
    room = width - name - padding - core
    health = max(health_min, min(natural["health"], room - padding))
    widths = {"name": name, "health": health}
    used = name + health + 2 * padding
    for key in COLUMN_KEYS[2:]:
        if used + natural[key] + padding > width:
            break
        widths[key] = natural[key]
        used += natural[key] + padding
    return Fit(tuple(widths), widths)


def short_health(cell: Text, width: int) -> Text:
    """A health cell in at most ``width`` cells, cut between words, never inside one.

    The "+N more" count goes first, then words from the end (an "…" says some went).
    """
    if cell.cell_len <= width:
        return cell
    plain = cell.plain
    more = plain.rfind(" +")
    if more > 0 and plain[more + 2 :].isdigit():
        cell = cell[:more]
        if cell.cell_len <= width:
            return cell
        plain = cell.plain
    cut = len(plain)
    while (cut := plain.rfind(" ", 0, cut)) > 1:  # index 1 is the space after the icon
        kept = plain[:cut].rstrip(",:;")  # "backlog growing…", not "growing:…"
        if cell_len(kept) + 1 <= width:
            shorter = cell[: len(kept)]
            shorter.append("…", style="dim")
            return shorter
    shorter = cell.copy()
    shorter.truncate(width, overflow="ellipsis")
    return shorter


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

    class ColumnsChanged(Message):
        """The width now shows other columns; ``hidden`` are the ones left out."""

        def __init__(self, hidden: tuple[str, ...]) -> None:
            super().__init__()
            self.hidden = hidden

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
        # The columns the width allows (None until the table has a size: all of them).
        self.fit: Fit | None = None
        # The widest tube name (None: measure again; rows came or went).
        self._name_width: int | None = None

    def on_mount(self) -> None:
        for column in COLUMNS:
            self.add_column(self._header(column), key=column.key)

    def on_resize(self) -> None:
        self.refit()

    @property
    def shown_columns(self) -> tuple[str, ...]:
        return COLUMN_KEYS if self.fit is None else self.fit.shown

    @property
    def hidden_columns(self) -> tuple[str, ...]:
        """The columns the width leaves out (they show when the pane is wider)."""
        return () if self.fit is None else self.fit.hidden

    # --- fitting the width ------------------------------------------------------

    def _natural_widths(self) -> dict[str, int]:
        """Each column's content width: its header and its widest cell.

        Runs on every refresh that changes a row (1,000 tubes: ~2 ms): names are
        measured only when rows come or go, health cells once per distinct cell.
        """
        rows = [*self._raw.values(), *self._pending.values()]
        widths = {c.key: cell_len(self._header(c).plain) for c in COLUMNS}
        if self._name_width is None:
            names = (cell_len(key) for key in (*self._raw, *self._pending) if key != ALL_TUBES)
            self._name_width = max(len(ALL_LABEL), *names, 0)
        widths["name"] = max(widths["name"], self._name_width)
        cells = {id(cell): cell for cell in self._health.values()}.values()
        longest = max((cell.cell_len for cell in cells), default=0)
        widths["health"] = max(widths["health"], min(longest, HEALTH_WIDTH))
        for column in COLUMNS[2:]:
            stat = column.stat
            top = max((stats.get(stat) or 0 for stats in rows), default=0)
            if column.key == "paused":
                longest = max(
                    (len(duration_words(v)) for stats in rows if (v := int(stats.get(stat) or 0))),
                    default=0,
                )
            else:
                longest = len(f"{int(top):,}")
            widths[column.key] = max(widths[column.key], longest)
        return widths

    def refit(self) -> None:
        """Show the columns that fit the width, whole; drop the rest from the end."""
        width = self.scrollable_content_region.width
        if width <= 0 or not self.is_attached:
            return
        fit = fit_columns(self._natural_widths(), width, 2 * self.cell_padding)
        if fit == self.fit:
            return
        old, self.fit = self.fit, fit
        keep = self._cursor_key()
        with self.app.batch_update():
            self._apply_fit(old, fit)
        if keep is not None and keep in self._raw:
            self.move_cursor(row=self.get_row_index(keep), animate=False)
        self.post_message(self.ColumnsChanged(fit.hidden))

    def _apply_fit(self, old: Fit | None, fit: Fit) -> None:
        current = tuple(str(c.key.value) for c in self.ordered_columns)
        common = 0
        while common < min(len(current), len(fit.shown)) and current[common] == fit.shown[common]:
            common += 1
        for key in current[common:]:
            self.remove_column(key)
        by_key = {c.key: c for c in COLUMNS}
        for key in fit.shown[common:]:
            self.add_column(
                self._header(by_key[key]), key=key, width=fit.widths[key], default=Text("")
            )
        added = fit.shown[common:]
        health_changed = old is None or old.widths.get("health") != fit.widths.get("health")
        if health_changed and "health" not in added:
            added = (*added, "health")
        for column in self.ordered_columns:
            width = fit.widths[str(column.key.value)]
            if column.auto_width or column.width != width:
                column.auto_width, column.width = False, width
        for row_key, stats in self._raw.items():
            for key in added:
                self.update_cell(row_key, key, self._cell(row_key, by_key[key], stats))
        # Widths changed in place: rendered rows and the virtual size are stale.
        self._clear_caches()
        self._require_update_dimensions = True
        self.refresh()

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
        if wanted.keys() != self._raw.keys() or self._pending:
            self._name_width = None
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
        self.refit()
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
        for column, old, new in zip(self.shown_columns, current, cells, strict=True):
            if old != new:
                self.update_cell(key, column, new)

    def _cells(self, key: str, stats: Mapping[str, Any]) -> list[Text]:
        shown = self.shown_columns
        return [self._cell(key, column, stats) for column in COLUMNS if column.key in shown]

    def _cell(self, key: str, column: Column, stats: Mapping[str, Any]) -> Text:
        if column.key == "name":
            style = "bold" if key == ALL_TUBES else ""
            # A name wider than its column (a short terminal) ends in "…".
            name = ALL_LABEL if key == ALL_TUBES else key
            return Text(name, style=style, no_wrap=True, overflow="ellipsis")
        if column.key == "health":
            width = HEALTH_WIDTH if self.fit is None else self.fit.widths["health"]
            return short_health(self._health.get(key, Text("")), min(width, HEALTH_WIDTH))
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
        shown = self.shown_columns
        for spec in COLUMNS:
            if spec.key in shown:
                self.columns[self._col_key(spec.key)].label = self._header(spec)
        self._resort(self._cursor_key())
        self.refit()  # the sort mark widens a header
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

    def describe_row(self) -> Text:
        """Every column of the row under the cursor, labelled: what a narrow table hides."""
        key = self._cursor_key()
        if key is None:
            return Text("")
        stats = self._raw.get(key, {})
        text = Text()
        for column in COLUMNS:
            if column.key == "health":
                continue
            if text:
                text.append("  ")
            text.append(f"{column.label} ", style="dim")
            cell = self._cell(key, column, stats)
            text.append_text(cell if cell.plain else Text("-", style="dim"))
        health = self._health.get(key)
        if health is not None:
            text.append("\n")
            text.append_text(health)
        return text

    def tube_names(self) -> Iterable[str]:
        return (k for k in self._raw if k != ALL_TUBES)
