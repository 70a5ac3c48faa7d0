"""The `?` screen, generated from the bindings that are live where it was opened."""

from __future__ import annotations

from collections.abc import Iterable
from typing import ClassVar

from rich.table import Table
from rich.text import Text
from textual.app import App, ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.dom import DOMNode
from textual.widgets import Static

from stalkview.app.screens.dialog import Dialog

PANE_NAMES = {
    "StalkviewApp": "Everywhere",
    "MainScreen": "Main screen",
    "TubesTable": "Tubes pane",
    "JobList": "Jobs pane",
    "JobDetail": "Job detail",
}


def binding_rows(
    app: App[object], nodes: Iterable[DOMNode]
) -> list[tuple[str, list[tuple[str, str]]]]:
    """(section, [(keys, description)]) for every node, each action listed once per node."""
    sections: list[tuple[str, list[tuple[str, str]]]] = []
    for node in nodes:
        rows: dict[str, tuple[list[str], str]] = {}
        for _key, binding in node._bindings:
            description = binding.tooltip or binding.description
            if not description or binding.system:
                continue
            keys, _ = rows.setdefault(binding.action, ([], description))
            display = app.get_key_display(binding)
            if display not in keys:
                keys.append(display)
        if rows:
            name = PANE_NAMES.get(type(node).__name__, type(node).__name__)
            sections.append((name, [(" ".join(k), d) for k, d in rows.values()]))
    return sections


def help_table(sections: list[tuple[str, list[tuple[str, str]]]]) -> Table:
    table = Table.grid(padding=(0, 2))
    table.add_column(justify="right", style="bold")
    table.add_column()
    for index, (section, rows) in enumerate(sections):
        if index:
            table.add_row("", "")
        table.add_row(Text(section, style="bold underline"), "")
        for keys, description in rows:
            table.add_row(Text(keys, style="bold cyan"), Text(description))
    return table


class HelpScreen(Dialog[None]):
    """Every key of every pane, from the live bindings."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,q,question_mark", "close", "Close help", id="help-close"),
    ]

    def __init__(self, nodes: Iterable[DOMNode], *, note: Text | None = None) -> None:
        super().__init__()
        self.nodes = list(nodes)
        #: What the terminal's size leaves out, and how to see it.
        self.note = note

    def compose(self) -> ComposeResult:
        sections = binding_rows(self.app, self.nodes)
        with VerticalScroll(id="help-dialog"):
            yield Static(Text("stalkview keys", style="bold"), id="help-title")
            if self.note:
                yield Static(self.note, id="help-note")
            yield Static(help_table(sections), id="help-body")
            yield Static(
                Text(
                    "Every action is also in the command palette (ctrl+p). esc closes.", style="dim"
                ),
                id="help-footer",
            )

    def action_close(self) -> None:
        self.dismiss(None)
