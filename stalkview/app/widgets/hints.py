"""Health: the tubes table's health cells and the problems summary under the table."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, ClassVar

from rich.text import Text
from textual.binding import Binding, BindingType
from textual.message import Message
from textual.widgets import OptionList, Static
from textual.widgets.option_list import Option

from stalkview.format import duration_words

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
    # problems summary under the table, and a long cell would push the table into a
    # scrollbar. Headlines are a few words by design: never cut mid-phrase.
    worst = ordered[0]
    level = hint_level(worst)
    headline = getattr(worst, "headline", None) or str(getattr(worst, "text", worst))
    if len(headline) > HEALTH_WIDTH:
        headline = headline.split(": ", 1)[0]
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


class ProblemList(OptionList):
    """Every current problem on the server, worst first, one line each.

    ``enter`` (or a click) on a problem posts ``ProblemChosen``: the screen shows the jobs it
    concerns. With no problem, one line says so, and what is worth knowing about the tube
    under the cursor follows it.
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("j", "cursor_down", "Down", show=False),
        Binding("k", "cursor_up", "Up", show=False),
    ]

    class ProblemChosen(Message):
        """The user asked for the jobs a problem concerns."""

        def __init__(self, hint: Any) -> None:
            super().__init__()
            self.hint = hint

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes, markup=False)
        self.problems: list[Any] = []
        self._shown: list[str] = []

    def show_message(self, text: Text) -> None:
        self._replace([], [Option(text, disabled=True)], [text.plain])

    def show_problems(
        self, problems: Sequence[Any], ages: Sequence[float | None], infos: Iterable[Any] = ()
    ) -> None:
        if not problems:
            text = Text("✓ no health warnings", style="dim green")
            for hint in worst_first(infos)[:3]:
                text.append("   ")
                text.append_text(hint_text(hint, with_tube=True))
            self._replace([], [Option(text, disabled=True)], [text.plain])
            return
        options, lines = [], []
        for hint, age in zip(problems, ages, strict=True):
            text = hint_text(hint, with_tube=True)
            if age is not None and age >= 60:
                text.append(f" · for {duration_words(age)}", style="dim")
            options.append(Option(text))
            lines.append(text.plain)
        self._replace(list(problems), options, lines)

    def _replace(self, problems: list[Any], options: list[Option], lines: list[str]) -> None:
        before, self.problems = self.problems, problems
        if lines == self._shown:
            return
        self._shown = lines
        highlighted = self.highlighted
        self.clear_options()
        self.add_options(options)
        if highlighted is None or not problems:
            return
        # The cursor stays on the same problem when the list reorders or grows.
        keys = [getattr(hint, "key", hint) for hint in problems]
        if highlighted < len(before):
            kept = getattr(before[highlighted], "key", before[highlighted])
            if kept in keys:
                self.highlighted = keys.index(kept)
                return
        self.highlighted = min(highlighted, len(problems) - 1)

    def on_focus(self) -> None:
        if self.highlighted is None and self.problems:
            self.highlighted = 0

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        index = event.option_index
        if 0 <= index < len(self.problems):
            self.post_message(self.ProblemChosen(self.problems[index]))

    @property
    def shown(self) -> list[str]:
        """What the list shows, one string a line (for tests and screenshots)."""
        return list(self._shown)
