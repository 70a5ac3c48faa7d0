"""The put form: a new job, or a duplicate of a selected one with its fields prefilled.

Validation is :func:`~stalkview.app.screens.fields.validate_put_form`; its message for each
field shows right under the field, as soon as the field is edited and for every
field on a put attempt. Dismissed with the :class:`ParsedPut`, or None.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.suggester import SuggestFromList
from textual.widgets import Button, Input, Label, Static, TextArea

from stalkview.app.screens.confirm import DIALOG_CSS
from stalkview.app.screens.dialog import Dialog
from stalkview.app.screens.fields import ParsedPut, validate_put_form
from stalkview.client.protocol import DEFAULT_PRIORITY, DEFAULT_TTR

FIELDS = ("tube", "body", "pri", "delay", "ttr")


def body_text(body: bytes) -> tuple[str, str]:
    """A body for the editor, and a warning when it cannot be edited losslessly."""
    try:
        return body.decode("utf-8"), ""
    except UnicodeDecodeError:
        return body.decode("utf-8", errors="replace"), (
            "the original body is not UTF-8: undecodable bytes show as \ufffd and are put as "
            "that character; use the CLI to copy binary bodies exactly"
        )


class PutScreen(Dialog[ParsedPut | None]):
    """Tube, body, priority, delay and ttr; ctrl+s puts, esc cancels."""

    DEFAULT_CSS = (
        "PutScreen {"
        + DIALOG_CSS
        + """
        & > Vertical { width: 90; max-height: 95%; }
        & #put-fields { height: auto; max-height: 1fr; }
        & .put-error { color: $text-error; height: auto; }
        & .put-warning { color: $text-warning; height: auto; }
        & Label { margin-top: 1; }
        & #put-body { height: 10; }
        & #put-numbers { height: auto; }
        & #put-numbers > Vertical { width: 1fr; height: auto; margin-right: 1; }
    }"""
    )

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+s", "submit", "Put", id="put-submit", priority=True),
        Binding("escape", "cancel", "Cancel", id="put-cancel"),
    ]

    def __init__(
        self,
        tubes: Sequence[str] = (),
        *,
        tube: str | None = None,
        body: bytes = b"",
        pri: int = DEFAULT_PRIORITY,
        delay: int = 0,
        ttr: int = DEFAULT_TTR,
        max_job_size: int | None = None,
        title: str = "Put a new job",
    ) -> None:
        super().__init__()
        self.tubes = list(tubes)
        self.initial = {
            "tube": tube or "",
            "pri": str(pri),
            "delay": str(delay),
            "ttr": str(ttr),
        }
        self.body, self.body_warning = body_text(body)
        self.max_job_size = max_job_size
        self.title_text = title
        #: Fields the user has changed: their errors show live.
        self.touched: set[str] = set()

    def compose(self) -> ComposeResult:
        with Vertical(id="put-dialog"):
            yield Static(Text(self.title_text), classes="dialog-title")
            with VerticalScroll(id="put-fields"):
                yield Label("Tube (existing or new)")
                yield Input(
                    self.initial["tube"],
                    placeholder="tube name",
                    id="put-tube",
                    suggester=SuggestFromList(self.tubes, case_sensitive=True),
                )
                yield Static("", id="put-error-tube", classes="put-error")
                limit = f" (at most {self.max_job_size:,} bytes)" if self.max_job_size else ""
                yield Label(f"Body{limit}")
                yield TextArea(self.body, id="put-body", soft_wrap=True, tab_behavior="focus")
                yield Static(Text(self.body_warning), id="put-warning", classes="put-warning")
                yield Static("", id="put-error-body", classes="put-error")
                with Horizontal(id="put-numbers"):
                    for name, label in (
                        ("pri", "Priority (0 = urgent)"),
                        ("delay", "Delay (e.g. 0, 30s, 5m)"),
                        ("ttr", "TTR (time to run)"),
                    ):
                        with Vertical():
                            yield Label(label)
                            yield Input(self.initial[name], id=f"put-{name}")
                for name in ("pri", "delay", "ttr"):
                    yield Static("", id=f"put-error-{name}", classes="put-error")
            with Horizontal(classes="dialog-buttons"):
                yield Button("Cancel (esc)", id="put-cancel-button")
                yield Button("Put (ctrl+s)", id="put-ok", variant="primary")

    def on_mount(self) -> None:
        for static in self.query(".put-error"):
            static.display = False
        self.query_one("#put-warning").display = bool(self.body_warning)
        first = "#put-body" if self.initial["tube"] else "#put-tube"
        self.query_one(first).focus()

    def values(self) -> dict[str, str]:
        return {
            "tube": self.query_one("#put-tube", Input).value.strip(),
            "body": self.query_one("#put-body", TextArea).text,
            "pri": self.query_one("#put-pri", Input).value,
            "delay": self.query_one("#put-delay", Input).value,
            "ttr": self.query_one("#put-ttr", Input).value,
        }

    def validate(self) -> tuple[ParsedPut | None, dict[str, str]]:
        v = self.values()
        return validate_put_form(
            v["tube"], v["body"], v["pri"], v["delay"], v["ttr"], self.max_job_size
        )

    def show_errors(self, errors: dict[str, str], fields: Sequence[str] = FIELDS) -> None:
        for name in fields:
            static = self.query_one(f"#put-error-{name}", Static)
            static.update(Text(errors.get(name, "")))
            static.display = name in errors

    def error_text(self, name: str) -> str:
        """The message shown under a field (for tests and screen readers)."""
        return str(self.query_one(f"#put-error-{name}", Static).content)

    @on(Input.Changed)
    @on(TextArea.Changed)
    def _changed(self, event: Input.Changed | TextArea.Changed) -> None:
        widget = event.input if isinstance(event, Input.Changed) else event.text_area
        name = (widget.id or "").removeprefix("put-")
        if name in FIELDS:
            self.touched.add(name)
        _, errors = self.validate()
        self.show_errors(errors, [f for f in FIELDS if f in self.touched])

    @on(Input.Submitted)
    @on(Button.Pressed, "#put-ok")
    def action_submit(self) -> None:
        parsed, errors = self.validate()
        self.touched.update(FIELDS)
        self.show_errors(errors)
        if parsed is None:
            first = next(f for f in FIELDS if f in errors)
            self.query_one(f"#put-{first}").focus()
            return
        self.dismiss(parsed)

    @on(Button.Pressed, "#put-cancel-button")
    def action_cancel(self) -> None:
        self.dismiss(None)
