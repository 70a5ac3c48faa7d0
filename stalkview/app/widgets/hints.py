"""Health hints for the selected tube and the server, one line each."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from rich.text import Text
from textual.widgets import Static

LEVEL_STYLES = {
    "error": "bold red",
    "critical": "bold red",
    "warning": "yellow",
    "warn": "yellow",
    "info": "cyan",
}
LEVEL_ICONS = {"error": "✖", "critical": "✖", "warning": "▲", "warn": "▲", "info": "●"}
HEALTH_WIDTH = 32
LEVEL_RANK = {"error": 0, "critical": 0, "warning": 1, "warn": 1, "info": 2}


def hint_level(hint: Any) -> str:
    return str(getattr(hint, "level", "info")).lower()


def worst_first(hints: Iterable[Any]) -> list[Any]:
    return sorted(hints, key=lambda h: LEVEL_RANK.get(hint_level(h), 3))


def hint_text(hint: Any, *, with_tube: bool = False) -> Text:
    level = hint_level(hint)
    text = Text()
    text.append(LEVEL_ICONS.get(level, "●") + " ", style=LEVEL_STYLES.get(level, ""))
    tube = getattr(hint, "tube", None)
    if with_tube and tube:
        text.append(str(tube), style="bold")
        text.append(": ")
    text.append(str(getattr(hint, "text", hint)))
    return text


#: Health cells by their hints: a refresh asks for one per tube (1,000 tubes a
#: second), and most tubes share a few cells ("ok", "no consumers").
_CELLS: dict[tuple[Any, ...], Text] = {}
_MAX_CELLS = 2048


def health_cell(hints: Iterable[Any]) -> Text:
    """The tubes table's health cell: the worst hint, and how many more there are.

    The Text may be shared with other callers: copy it before changing it.
    """
    key = tuple(hints)
    try:
        cell = _CELLS.get(key)
    except TypeError:  # unhashable hints: build every time
        return _health_cell(key)
    if cell is None:
        if len(_CELLS) >= _MAX_CELLS:
            _CELLS.clear()
        cell = _CELLS[key] = _health_cell(key)
    return cell


def _health_cell(hints: Iterable[Any]) -> Text:
    ordered = worst_first(hints)
    if not ordered:
        return Text("ok", style="dim green")
    # The headline only ("no consumers", "3 buried jobs"): the whole hint is in the
    # hints bar under the table, and a long cell would push the table into a scrollbar.
    worst = ordered[0]
    level = hint_level(worst)
    headline = str(getattr(worst, "text", worst)).split(": ", 1)[0]
    if len(headline) > HEALTH_WIDTH:
        headline = headline[: HEALTH_WIDTH - 1] + "…"
    cell = Text()
    cell.append(LEVEL_ICONS.get(level, "●") + " ", style=LEVEL_STYLES.get(level, ""))
    cell.append(headline)
    if len(ordered) > 1:
        cell.append(f" +{len(ordered) - 1}", style="dim")
    return cell


class HintsBar(Static):
    """The hints that matter for what is selected, worst first."""

    def show_hints(self, hints: Iterable[Any]) -> None:
        ordered = worst_first(hints)
        if not ordered:
            self._show(Text("✓ no health warnings", style="dim green"))
            return
        text = Text()
        for index, hint in enumerate(ordered[:4]):
            if index:
                text.append("   ")
            text.append_text(hint_text(hint, with_tube=True))
        if len(ordered) > 4:
            text.append(f"   (+{len(ordered) - 4} more)", style="dim")
        self._show(text)

    def _show(self, text: Text) -> None:
        if text.plain != getattr(self, "_plain", None) or text.spans != getattr(
            self, "_spans", None
        ):
            self._plain, self._spans = text.plain, list(text.spans)
            self.update(text, layout=False)
