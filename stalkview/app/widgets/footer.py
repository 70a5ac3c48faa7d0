"""The footer: the keys that fit the width, whole, rebuilt only when what it shows changes."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rich.cells import cell_len
from textual import events
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import Footer as TextualFooter
from textual.widgets._footer import FooterKey

ALWAYS = frozenset({"help"})
"""Actions the footer shows whatever the width: `?` leads to every other key."""
KEY_PADDING = 3
"""Cells a footer key takes besides its key and description: " k " and "Desc "."""
PALETTE_PADDING = 5
"""The palette key's extra cells: its border, the padding, the key and description."""
MIN_KEYS_WITH_PALETTE = 4


def key_width(key_display: str, description: str) -> int:
    return cell_len(key_display) + cell_len(description) + KEY_PADDING


def fit_keys(
    keys: Sequence[tuple[str, int]], width: int, always: frozenset[str] = ALWAYS
) -> list[str]:
    """The actions of ``keys`` ((action, cells) in footer order) that fit ``width`` whole.

    The ``always`` ones first; then the others in order, each one that still fits
    (a long key left out does not hide the short ones after it).
    """
    room = width - sum(cells for action, cells in keys if action in always)
    chosen = {action for action, _ in keys if action in always}
    for action, cells in keys:
        if action not in chosen and cells <= room:
            chosen.add(action)
            room -= cells
    return [action for action, _ in keys if action in chosen]


class Footer(TextualFooter):
    """Textual's footer, fitted to the width, minus the rebuilds that change nothing.

    A key either shows whole or not at all (`?` always: the help lists the rest);
    the palette key goes when even the other keys would not fit beside it.

    Textual's footer recomposes (unmounts and remounts every key, each restyled)
    on every bindings signal: focus changes, ``refresh_bindings`` calls, the
    screen resuming. Several land before the first frame, and a cursor move can
    send one. Here the signals of one frame are coalesced into one check, and
    the footer is rebuilt only when the keys it would show differ.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._shown: tuple[Any, ...] | None = None
        self._check_pending = False
        #: The actions the footer shows now (for tests and the help screen).
        self.shown_actions: list[str] = []

    def bindings_changed(self, screen: Screen[Any]) -> None:
        self._bindings_ready = True
        if not screen.app.app_focus:
            return
        if self.is_attached and screen is self.screen:
            self._schedule_check()

    def _schedule_check(self) -> None:
        if not self._check_pending:
            self._check_pending = True
            self.call_after_refresh(self._recompose_if_changed)

    def on_resize(self, event: events.Resize) -> None:
        if self._bindings_ready:
            self._schedule_check()

    async def _recompose_if_changed(self) -> None:
        self._check_pending = False
        if not self.is_attached:
            return
        shown = self._signature()
        if shown != self._shown:
            self._shown = shown
            await self.recompose()

    def _width(self) -> int:
        return self.size.width or self.app.size.width

    def _signature(self) -> tuple[Any, ...]:
        keys = tuple(
            (binding.key, binding.action, binding.description, enabled, tooltip)
            for (_, binding, enabled, tooltip) in self.screen.active_bindings.values()
            if binding.show
        )
        return (keys, self._width(), self.compact, self.show_command_palette)

    def _keys(self) -> list[tuple[Binding, bool, str]]:
        """One binding per action, in the order Textual's footer shows them."""
        seen: dict[str, tuple[Binding, bool, str]] = {}
        for _, binding, enabled, tooltip in self.screen.active_bindings.values():
            if binding.show and binding.action not in seen:
                seen[binding.action] = (binding, enabled, tooltip)
        return list(seen.values())

    def compose(self) -> ComposeResult:
        if not self._bindings_ready:
            return
        keys = self._keys()
        width = self._width()
        palette = self._palette()
        display = self.app.get_key_display
        sizes = [(b.action, key_width(display(b), b.description)) for b, _, _ in keys]
        cells = 0
        if palette is not None:
            cells = key_width(display(palette), palette.description) + PALETTE_PADDING
            cells -= KEY_PADDING
            # The palette key goes first on a very narrow footer: `?` lists the palette too.
            if len(fit_keys(sizes, width - cells)) < MIN_KEYS_WITH_PALETTE:
                palette, cells = None, 0
        chosen = set(fit_keys(sizes, width - cells))
        self.shown_actions = [b.action for b, _, _ in keys if b.action in chosen]
        for binding, enabled, tooltip in keys:
            if binding.action in chosen:
                yield FooterKey(
                    binding.key,
                    self.app.get_key_display(binding),
                    binding.description,
                    binding.action,
                    disabled=not enabled,
                    tooltip=tooltip,
                ).data_bind(compact=TextualFooter.compact)
        if palette is not None:
            self.shown_actions.append(palette.action)
            yield FooterKey(
                palette.key,
                self.app.get_key_display(palette),
                palette.description,
                palette.action,
                classes="-command-palette",
                tooltip=palette.tooltip or palette.description,
            )

    def _palette(self) -> Binding | None:
        if not (self.show_command_palette and self.app.ENABLE_COMMAND_PALETTE):
            return None
        entry = self.screen.active_bindings.get(self.app.COMMAND_PALETTE_BINDING)
        return None if entry is None else entry[1]
