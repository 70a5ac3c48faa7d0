"""Jump to a job by id: a small modal that returns the id, or None when cancelled."""

from __future__ import annotations

from typing import ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.widgets import Input, Label, Static

from stalkview.app.screens.dialog import Dialog

MAX_JOB_ID = 2**63 - 1


def parse_job_id(text: str) -> int:
    """The job id typed, or ValueError with a message that says how to fix it."""
    cleaned = text.strip().lstrip("#")
    if not cleaned:
        raise ValueError("type a job id, e.g. 42")
    if not cleaned.isdigit():
        raise ValueError(f"job id {text.strip()!r} is not a number: type digits only, e.g. 42")
    value = int(cleaned)
    if not 0 < value <= MAX_JOB_ID:
        raise ValueError(f"job id {value} is out of range: ids start at 1")
    return value


class JumpScreen(Dialog[int | None]):
    """Ask for a job id."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel", id="jump-cancel"),
    ]

    def compose(self) -> ComposeResult:
        with Vertical(id="jump-dialog"):
            yield Label("Jump to job id", id="jump-title")
            yield Input(placeholder="job id, e.g. 42", id="jump-input")
            yield Static("", id="jump-error")

    @on(Input.Submitted, "#jump-input")
    def submit(self, event: Input.Submitted) -> None:
        try:
            job_id = parse_job_id(event.value)
        except ValueError as exc:
            self.query_one("#jump-error", Static).update(str(exc))
            return
        self.dismiss(job_id)

    def action_cancel(self) -> None:
        self.dismiss(None)
