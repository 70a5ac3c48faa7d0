"""The base of every dialog: dismissed once, however fast the keys come.

A quick double Enter (or Enter then Escape) queues two key events before the
first dismiss has popped the screen. Textual then pops twice: the second pop
takes the screen *under* the dialog, or raises ``ScreenStackError: Can't pop
screen`` when only the main screen is left. Every dialog inherits this guard,
so none needs an ``if`` of its own.
"""

from __future__ import annotations

from typing import TypeVar

from textual.app import ScreenStackError
from textual.await_complete import AwaitComplete
from textual.screen import ModalScreen

T = TypeVar("T")


class Dialog(ModalScreen[T]):
    """A modal screen whose first dismiss wins; later ones (and ones after it left) do nothing."""

    _dismissing = False

    def dismiss(self, result: T | None = None) -> AwaitComplete:
        # Not the top screen: it was already popped (or never shown); popping
        # now would take another screen with it.
        if self._dismissing or not self._on_top():
            done: AwaitComplete = AwaitComplete.nothing()  # type: ignore[no-untyped-call]
            return done
        self._dismissing = True
        return super().dismiss(result)

    def _on_top(self) -> bool:
        try:
            return self.app.screen is self
        except ScreenStackError:
            return False
