"""The jobs pane's state filter: one tab a state with its count, clickable."""

from __future__ import annotations

from collections.abc import Mapping

from rich.text import Text
from textual import events
from textual.message import Message
from textual.widgets import Static

from stalkview.app.widgets.serverbar import STATE_STYLES

#: (key, state or None for all, label) in display order.
STATE_KEYS: tuple[tuple[str, str | None, str], ...] = (
    ("1", None, "all"),
    ("2", "ready", "ready"),
    ("3", "delayed", "delayed"),
    ("4", "reserved", "reserved"),
    ("5", "buried", "buried"),
)


class StateBar(Static):
    """``1 all 12  2 ready 9 ...`` with the active filter highlighted."""

    class Chosen(Message):
        def __init__(self, state: str | None) -> None:
            super().__init__()
            self.state = state

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__("", id=id)
        self.state: str | None = None
        self.counts: dict[str, int] = {}
        self._spans: list[tuple[int, int, str | None]] = []
        self._last = ""

    def show(self, state: str | None, counts: Mapping[str, int]) -> None:
        self.state, self.counts = state, dict(counts)
        text = Text()
        self._spans = []
        for key, value, label in STATE_KEYS:
            count = sum(self.counts.values()) if value is None else self.counts.get(value, 0)
            start = len(text)
            active = value == state
            color = STATE_STYLES.get(value or "", "")
            text.append(f" {key} ", style="bold reverse" if active else "dim")
            text.append(f" {label} ", style=f"bold {color}" if active else color)
            text.append(f"{count:,} ", style="bold" if active else "")
            self._spans.append((start, len(text), value))
            text.append(" ")
        if text.markup != self._last:
            self._last = text.markup
            self.update(text, layout=False)

    def on_click(self, event: events.Click) -> None:
        for start, end, value in self._spans:
            if start <= event.x < end:
                self.post_message(self.Chosen(value))
                return
