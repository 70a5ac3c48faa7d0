"""The journal browser: every job stalkview deleted or moved, and restoring them.

Restores go to the server the app is connected to, each job into its own tube
with its priority, ttr and remaining delay (:func:`stalkview.journal.restore`).
Entries whose command did not happen, or that were restored already, are
skipped and the summary says so. Restoring asks first.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import ClassVar

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.widgets import DataTable, Static

from stalkview.app.screens.confirm import DIALOG_CSS, ConfirmScreen
from stalkview.app.screens.dialog import Dialog
from stalkview.app.widgets.footer import Footer
from stalkview.format import printable
from stalkview.journal import Journal, JournalContents, JournalEntry, RestoreReport

#: restore(entries) -> report; the app provides it with its actions connection.
Restorer = Callable[[Sequence[JournalEntry]], Awaitable[RestoreReport]]


def entry_note(e: JournalEntry) -> Text:
    if e.failed is not None:
        return Text(f"not done: {printable(e.failed, 50)}", style="dim")
    if e.restored_as is not None:
        return Text(f"restored as {printable(e.restored_as, 60)}", style="green")
    return Text("")


def entry_preview(e: JournalEntry) -> Text:
    if e.body_encoding == "base64":
        return Text(f"<{len(e.body_bytes())} bytes binary>", style="dim")
    return Text(printable(e.body, 50))


class JournalScreen(Dialog[None]):
    """Newest entries first; space marks, u restores the marked or the selected, A all."""

    DEFAULT_CSS = (
        "JournalScreen {"
        + DIALOG_CSS
        + """
        & > Vertical { width: 95%; height: 85%; }
        & #journal-table { height: 1fr; }
        & #journal-status { height: auto; color: $text-muted; }
    }"""
    )

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("space", "mark", "Mark", id="journal-mark", tooltip="Mark or unmark an entry"),
        Binding("u", "restore", "Restore", id="journal-restore", tooltip="Restore marked/selected"),
        Binding("A", "restore_all", "Restore all", id="journal-restore-all"),
        Binding("escape", "close", "Close", id="journal-close"),
    ]

    def __init__(
        self, journal: Journal, restorer: Restorer, *, server: str, read_only: bool = False
    ) -> None:
        super().__init__()
        self.journal = journal
        self.restorer = restorer
        self.server = server
        self.read_only = read_only
        self.entries: list[JournalEntry] = []
        self.marked: set[int] = set()

    def compose(self) -> ComposeResult:
        with Vertical(id="journal-dialog"):
            yield Static(
                Text(f"Journal · {self.journal.path}", style="bold"), classes="dialog-title"
            )
            yield DataTable(id="journal-table", cursor_type="row", zebra_stripes=True)
            yield Static("", id="journal-status")
        yield Footer()

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        for label in ("", "#", "time", "action", "server", "tube", "id", "state", "pri", "ttr"):
            table.add_column(label, key=label or "mark")
        table.add_column("body", key="body")
        table.add_column("note", key="note")
        self.query_one("#journal-status", Static).update(
            Text(f"reading {printable(str(self.journal.path))}…", style="dim")
        )
        self.load()
        table.focus()

    @work(group="journal-read", exclusive=True, exit_on_error=False)
    async def load(self) -> None:
        """Read the journal in a thread (it can be long), then show it."""
        try:
            contents = await asyncio.to_thread(self.journal.read)
        except OSError as exc:
            status = f"cannot read the journal {self.journal.path}: {exc.strerror or exc}"
            self.query_one("#journal-status", Static).update(Text(printable(status)))
            return
        self.show(contents)

    def show(self, contents: JournalContents) -> None:
        self.entries = contents.entries
        table = self.query_one(DataTable)
        table.clear()
        for e in reversed(self.entries):
            where = f"{e.tube} → {e.to_tube}" if e.to_tube else e.tube
            table.add_row(
                Text("●" if e.index in self.marked else " ", style="bold"),
                Text(str(e.index)),
                Text(e.time.replace("T", " ")[:19]),
                Text(e.action),
                Text(printable(e.server, 24)),
                Text(printable(where, 30)),
                Text(str(e.id)),
                Text(e.state),
                Text(str(e.pri)),
                Text(str(e.ttr)),
                entry_preview(e),
                entry_note(e),
                key=str(e.index),
            )
        status = f"{len(self.entries):,} entries"
        if contents.skipped:
            status += f" ({contents.skipped} damaged lines skipped)"
        if not self.entries and contents.skipped:
            status = f"No readable entry: all {contents.skipped} lines of the journal are damaged."
        elif not self.entries:
            status = "The journal is empty: nothing has been deleted or moved yet."
        status += f" · restores go to {self.server}"
        self.query_one("#journal-status", Static).update(Text(status))
        self.refresh_bindings()

    def selected(self) -> JournalEntry | None:
        table = self.query_one(DataTable)
        if not table.row_count:
            return None
        key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
        return next((e for e in self.entries if str(e.index) == key), None)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in ("restore", "restore_all") and (self.read_only or not self.entries):
            return None
        return True

    def action_close(self) -> None:
        self.dismiss(None)

    def action_mark(self) -> None:
        entry = self.selected()
        if entry is None:
            return
        self.marked ^= {entry.index}
        table = self.query_one(DataTable)
        table.update_cell(
            str(entry.index), "mark", Text("●" if entry.index in self.marked else " ", style="bold")
        )
        table.action_cursor_down()

    def action_restore(self) -> None:
        if self.marked:
            chosen = [e for e in self.entries if e.index in self.marked]
        else:
            entry = self.selected()
            chosen = [entry] if entry is not None else []
        if chosen:
            self.restore(chosen)

    def action_restore_all(self) -> None:
        self.restore(list(self.entries))

    @work(group="journal", exclusive=True, exit_on_error=False)
    async def restore(self, chosen: list[JournalEntry]) -> None:
        what = (
            f"journal entry #{chosen[0].index} (job {chosen[0].id})"
            if len(chosen) == 1
            else (f"{len(chosen):,} journal entries")
        )
        question = Text.assemble(f"Restore {what} into ", (self.server, "bold"), "?")
        detail = (
            "Each job is put again into its tube with its priority, ttr and delay. Entries "
            "already restored or never done are skipped."
        )
        if not await self.app.push_screen_wait(ConfirmScreen(question, detail, verb="Restore")):
            return
        try:
            report = await self.restorer(chosen)
        except Exception as exc:  # any failure becomes a notice, never a traceback
            self.notify(f"restore failed: {exc}", severity="error", title="Restore")
            return
        failed = report.failed
        message = report.summary()
        if failed:
            message += f": {failed[0].describe()}"
        self.notify(message, severity="error" if failed else "information", title="Restore")
        self.marked.clear()
        self.load()
