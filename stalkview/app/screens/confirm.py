"""Confirmation and progress dialogs for actions that change the server.

A confirmation states exactly what and how many ("Delete all 312 buried jobs in
emails?") and starts on Cancel: an enter pressed out of habit changes nothing.
Texts are built with ``Text`` so tube names never become markup.
"""

from __future__ import annotations

import asyncio
from typing import ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.widgets import Button, ProgressBar, Static

from stalkview.app.screens.dialog import Dialog

DIALOG_CSS = """
    align: center middle;
    & > Vertical {
        width: 72;
        height: auto;
        max-height: 90%;
        border: thick $accent;
        background: $surface;
        padding: 1 2;
    }
    & .dialog-title { text-style: bold; margin-bottom: 1; }
    & .dialog-detail { color: $text-muted; margin-bottom: 1; }
    & .dialog-buttons { height: auto; align-horizontal: right; margin-top: 1; }
    & .dialog-buttons Button { margin-left: 2; }
"""


class ConfirmScreen(Dialog[bool]):
    """Ask before a change; dismissed with True only on an explicit yes."""

    DEFAULT_CSS = "ConfirmScreen {" + DIALOG_CSS + "& > Vertical { border: thick $error; } }"

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("y", "confirm", "Yes", id="confirm-yes"),
        Binding("n,escape", "cancel", "No", id="confirm-no"),
        Binding("left,right", "switch", "Switch button", show=False),
    ]

    def __init__(self, question: str | Text, detail: str | Text = "", *, verb: str = "Yes") -> None:
        super().__init__()
        self.question = Text(question) if isinstance(question, str) else question
        self.detail = Text(detail) if isinstance(detail, str) else detail
        self.verb = verb

    def compose(self) -> ComposeResult:
        with Vertical(id="confirm-dialog"):
            # The question and what will happen scroll when long; the buttons stay below.
            with VerticalScroll(id="confirm-body"):
                yield Static(self.question, id="confirm-question", classes="dialog-title")
                if self.detail:
                    yield Static(self.detail, id="confirm-detail", classes="dialog-detail")
            yield Static(
                Text("y or enter on the button: confirm · n or esc: cancel", style="dim"),
                id="confirm-keys",
            )
            with Horizontal(classes="dialog-buttons"):
                yield Button("Cancel", id="confirm-cancel")
                yield Button(f"{self.verb} (y)", id="confirm-ok", variant="error")

    def on_mount(self) -> None:
        self.query_one("#confirm-cancel", Button).focus()

    @on(Button.Pressed, "#confirm-ok")
    def action_confirm(self) -> None:
        self.dismiss(True)

    @on(Button.Pressed, "#confirm-cancel")
    def action_cancel(self) -> None:
        self.dismiss(False)

    def action_switch(self) -> None:
        cancel = self.query_one("#confirm-cancel", Button)
        ok = self.query_one("#confirm-ok", Button)
        (ok if cancel.has_focus else cancel).focus()


class ProgressScreen(Dialog[None]):
    """A bulk action's progress; esc or the button asks the action to stop after its batch."""

    DEFAULT_CSS = "ProgressScreen {" + DIALOG_CSS + "}"

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,c", "cancel_action", "Cancel", id="progress-cancel"),
    ]

    def __init__(self, title: str | Text, total: int) -> None:
        super().__init__()
        self.title_text = Text(title) if isinstance(title, str) else title
        self.total = total
        self.cancel = asyncio.Event()
        self.done = 0

    def compose(self) -> ComposeResult:
        with Vertical(id="progress-dialog"):
            yield Static(self.title_text, id="progress-title", classes="dialog-title")
            yield ProgressBar(total=max(self.total, 1), show_eta=False, id="progress-bar")
            yield Static(self._status(), id="progress-status", classes="dialog-detail")
            with Horizontal(classes="dialog-buttons"):
                yield Button("Cancel (esc)", id="progress-cancel-button")

    def _status(self) -> Text:
        if self.cancel.is_set():
            return Text(f"{self.done:,} of {self.total:,} done · stopping after this batch…")
        return Text(f"{self.done:,} of {self.total:,} done")

    def update_progress(self, done: int, total: int) -> None:
        """The ``on_progress`` callback of the bulk functions."""
        self.done, self.total = done, total
        if not self.is_mounted:
            return
        self.query_one(ProgressBar).update(total=max(total, 1), progress=done)
        self.query_one("#progress-status", Static).update(self._status())

    @on(Button.Pressed, "#progress-cancel-button")
    def action_cancel_action(self) -> None:
        self.cancel.set()
        if self.is_mounted:
            self.query_one("#progress-status", Static).update(self._status())
