"""The command palette: every action of the app, read from the live bindings.

A binding added to any pane shows up here (and on the help screen) without a
second list to maintain; a few actions with no key of their own (sorting by a
given column) are added from the tubes table's columns.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import partial

from textual.actions import parse
from textual.command import DiscoveryHit, Hit, Hits, Provider
from textual.dom import DOMNode
from textual.markup import escape

from stalkview.app.widgets.tubes import COLUMNS, TubesTable

#: Bindings that are plumbing, not something to pick from a list.
SKIP_ACTIONS = {"command_palette", "back", "explain"}


@dataclass(frozen=True)
class PaletteCommand:
    title: str
    help: str
    run: Callable[[], object]


def _run_action(node: DOMNode, action: str) -> None:
    # A disabled action says why, as its key does; run_action would silently do nothing.
    _, name, parameters = parse(action)
    if not node.check_action(name, parameters):
        why = getattr(node, "_why_disabled", None)
        reason = why(name) if callable(why) else None
        node.app.notify(reason or f"{name.replace('_', ' ')} is not available here",
                        severity="warning", title="Not available")  # fmt: skip
        return
    # Run after the palette has closed, with the node as the action's namespace.
    node.app.call_later(node.app.run_action, action, node)


def palette_commands(nodes: list[DOMNode]) -> Iterator[PaletteCommand]:
    """One command per action bound on these nodes, then the per-column sorts."""
    seen: set[tuple[int, str]] = set()
    for node in nodes:
        for _key, binding in node._bindings:
            action = binding.action
            if binding.system or action in SKIP_ACTIONS or (id(node), action) in seen:
                continue
            seen.add((id(node), action))
            keys = node.app.get_key_display(binding)
            title = binding.description or action.replace("_", " ").capitalize()
            # The palette reads help as markup: "[/]" (the filter key) must stay text.
            help_text = escape(f"{binding.tooltip or title}  [{keys}]")
            yield PaletteCommand(title, help_text, partial(_run_action, node, action))
    for node in nodes:
        if isinstance(node, TubesTable):
            for column in COLUMNS:
                yield PaletteCommand(
                    f"Sort tubes by {column.label}",
                    "Sort the tubes pane (again to reverse)",
                    partial(node.sort_by, column.key),
                )


class StalkviewCommands(Provider):
    """Every action, searchable by its description."""

    def _commands(self) -> list[PaletteCommand]:
        from stalkview.app.screens.main import MainScreen

        screen = self.app.screen_stack[0]
        nodes: list[DOMNode] = (
            screen.binding_nodes() if isinstance(screen, MainScreen) else [self.app]
        )
        return list(palette_commands(nodes))

    async def discover(self) -> Hits:
        for command in self._commands():
            yield DiscoveryHit(command.title, command.run, help=command.help)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for command in self._commands():
            score = matcher.match(command.title)
            if score > 0:
                yield Hit(score, matcher.highlight(command.title), command.run, help=command.help)
