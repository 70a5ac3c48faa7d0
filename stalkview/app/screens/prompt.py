"""Small modal forms: kick N, pause a tube, move target, release and bury priority, reserve,
export to a file, import from one.

A :class:`PromptScreen` is a list of :class:`PromptField`; each field parses its
own text (:mod:`stalkview.app.screens.fields`) and its error shows under it.
The screen is dismissed with ``{name: parsed value}``, or None when cancelled.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.suggester import SuggestFromList
from textual.widgets import Button, Input, Label, Static

from stalkview.app.screens.confirm import DIALOG_CSS, ConfirmScreen
from stalkview.app.screens.dialog import Dialog
from stalkview.app.screens.fields import (
    parse_count,
    parse_delay,
    parse_existing_file,
    parse_new_file,
    parse_optional_tube,
    parse_pause,
    parse_priority,
    parse_timeout,
    parse_tube,
)
from stalkview.client.protocol import DEFAULT_PRIORITY

if TYPE_CHECKING:
    from stalkview.transfer import ImportReport

#: parse(text) -> (value, None) or (None, error message)
Parser = Callable[[str], tuple[Any, str | None]]


@dataclass
class PromptField:
    name: str
    label: str
    parse: Parser
    value: str = ""
    placeholder: str = ""
    suggestions: Sequence[str] = field(default_factory=tuple)


class PromptScreen(Dialog[dict[str, Any] | None]):
    """A few labelled inputs; enter submits, esc cancels."""

    DEFAULT_CSS = (
        "PromptScreen {"
        + DIALOG_CSS
        + """
        & .prompt-error { color: $text-error; height: auto; }
        & Label { margin-top: 1; }
    }"""
    )

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel", id="prompt-cancel"),
    ]

    def __init__(
        self, title: str | Text, fields: Sequence[PromptField], *, verb: str = "OK", note: str = ""
    ) -> None:
        super().__init__()
        self.title_text = Text(title) if isinstance(title, str) else title
        self.fields = list(fields)
        self.verb = verb
        self.note = note

    def compose(self) -> ComposeResult:
        with Vertical(id="prompt-dialog"):
            yield Static(self.title_text, id="prompt-title", classes="dialog-title")
            if self.note:
                yield Static(Text(self.note), classes="dialog-detail")
            for f in self.fields:
                yield Label(Text(f.label))
                suggester = (
                    SuggestFromList(f.suggestions, case_sensitive=True) if f.suggestions else None
                )
                yield Input(
                    f.value, placeholder=f.placeholder, id=f"field-{f.name}", suggester=suggester
                )
                yield Static("", id=f"error-{f.name}", classes="prompt-error")
            with Horizontal(classes="dialog-buttons"):
                yield Button("Cancel (esc)", id="prompt-cancel-button")
                yield Button(f"{self.verb} (enter)", id="prompt-ok", variant="primary")

    def on_mount(self) -> None:
        for static in self.query(".prompt-error"):
            static.display = False

    def errors(self) -> dict[str, str]:
        """The current error of each field that does not parse."""
        found = {}
        for f in self.fields:
            _, problem = f.parse(self.query_one(f"#field-{f.name}", Input).value)
            if problem is not None:
                found[f.name] = problem
        return found

    def show_errors(self, errors: dict[str, str]) -> None:
        for f in self.fields:
            static = self.query_one(f"#error-{f.name}", Static)
            static.update(Text(errors.get(f.name, "")))
            static.display = f.name in errors

    @on(Input.Changed)
    def _changed(self, event: Input.Changed) -> None:
        # Only clear errors as they are fixed; new ones wait for a submit.
        name = (event.input.id or "").removeprefix("field-")
        for f in self.fields:
            if f.name == name and f.parse(event.value)[1] is None:
                self.query_one(f"#error-{name}", Static).display = False

    @on(Input.Submitted)
    @on(Button.Pressed, "#prompt-ok")
    def submit(self) -> None:
        errors = self.errors()
        self.show_errors(errors)
        if errors:
            self.query_one(f"#field-{next(iter(errors))}", Input).focus()
            return
        values = {
            f.name: f.parse(self.query_one(f"#field-{f.name}", Input).value)[0] for f in self.fields
        }
        self.dismiss(values)

    @on(Button.Pressed, "#prompt-cancel-button")
    def action_cancel(self) -> None:
        self.dismiss(None)


# --- the prompts the actions use ---------------------------------------------------------


def kick_prompt(tube: str, buried: int, delayed: int) -> PromptScreen:
    kind = "buried" if buried else "delayed"
    default = buried or delayed or 1
    return PromptScreen(
        Text.assemble("Kick jobs in ", (tube, "bold")),
        [PromptField("bound", "How many (at most)", parse_count, str(default))],
        verb="Kick",
        note=(
            f"The server kicks buried jobs first, else delayed ones; {tube} has "
            f"{buried:,} buried and {delayed:,} delayed. Kicked jobs become ready ({kind} now)."
        ),
    )


def pause_prompt(tube: str) -> PromptScreen:
    return PromptScreen(
        Text.assemble("Pause tube ", (tube, "bold")),
        [
            PromptField(
                "seconds", "For how long (0 unpauses)", parse_pause, "5m", "e.g. 30s, 5m, 1h"
            )
        ],
        verb="Pause",
        note="No job of this tube is handed to workers until the pause runs out.",
    )


def move_prompt(what: str, tubes: Sequence[str], current: str | None) -> PromptScreen:
    return PromptScreen(
        f"Move {what} to another tube",
        [PromptField("tube", "Target tube (existing or new)", parse_tube, "", "tube name", tubes)],
        verb="Move",
        note=(
            "Each job keeps its body, priority, ttr, remaining delay and state; the original is "
            "held while the copy is put, so no worker can take it twice."
            + (f" Now in {current}." if current else "")
        ),
    )


def release_prompt(job_id: int, pri: int) -> PromptScreen:
    return PromptScreen(
        f"Release job {job_id}",
        [
            PromptField("pri", "Priority", parse_priority, str(pri)),
            PromptField("delay", "Delay", parse_delay, "0", "e.g. 0, 30s, 5m"),
        ],
        verb="Release",
    )


def bury_prompt(job_id: int, pri: int) -> PromptScreen:
    return PromptScreen(
        f"Bury job {job_id}",
        [PromptField("pri", "Priority", parse_priority, str(pri or DEFAULT_PRIORITY))],
        verb="Bury",
    )


def reserve_prompt(tubes: Sequence[str], tube: str | None) -> PromptScreen:
    return PromptScreen(
        "Reserve a job",
        [
            PromptField("tube", "From tube", parse_tube, tube or "", "tube name", tubes),
            PromptField("timeout", "Wait at most", parse_timeout, "5", "seconds, 0 to 60"),
        ],
        verb="Reserve",
        note=(
            "The job is held on a connection of its own until you delete, release, bury it "
            "or its TTR runs out; no worker gets it meanwhile."
        ),
    )


def export_prompt(what: str, server: str, default: str) -> PromptScreen:
    return PromptScreen(
        Text.assemble("Export ", what, " from ", (server, "bold")),
        [PromptField("path", "To file (JSON Lines)", parse_new_file, default)],
        verb="Export",
        note="One JSON object a line: every field of the job and its body (base64 if binary). "
        "Read-only: nothing on the server changes.",
    )


def import_prompt(server: str, tube: str | None) -> PromptScreen:
    return PromptScreen(
        Text.assemble("Import jobs into ", (server, "bold")),
        [
            PromptField(
                "path",
                "From file (an export or the journal)",
                parse_existing_file,
                "",
                "./stalkview-export-....jsonl",
            ),
            PromptField(
                "tube",
                "Into tube (empty: each job to its own tube)",
                parse_optional_tube,
                "",
                tube or "tube name",
            ),
        ],
        verb="Check",
        note="Priority, ttr and the remaining delay are kept; buried jobs come back buried. "
        "A dry run shows what would be put before anything is sent.",
    )


def import_confirm(path: Path, server: str, preview: ImportReport) -> ConfirmScreen:
    problems = [line for line in preview.lines(verbose=False)[:-1]][:5]
    detail = f"Dry run of {path}: {preview.summary()}."
    if problems:
        detail += "\n" + "\n".join(problems)
    return ConfirmScreen(
        Text.assemble("Import into ", (server, "bold"), "?"), Text(detail), verb="Import"
    )
