"""The binlog report (``b``): how big the log is, what writes it, which jobs keep it, and
what to do about it. ``enter`` lists the jobs that keep the oldest file."""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from stalkview.model.logsize import HELP, FileFacts, LogReport, files_lines, report_lines


class BinlogScreen(ModalScreen[bool]):
    """Dismissed with True when the user wants the jobs of the oldest file listed."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter", "list_jobs", "List the jobs in the oldest file", id="binlog-list"),
        Binding("escape,q,b", "close", "Close", id="binlog-close"),
    ]

    def __init__(
        self, report: LogReport, server: str, files: list[FileFacts] | None = None
    ) -> None:
        super().__init__()
        self.report = report
        self.server = server
        self.files = files

    def compose(self) -> ComposeResult:
        report = self.report
        with VerticalScroll(id="binlog-dialog"):
            # Plain Text throughout: tube names come from the server.
            yield Static(Text(f"Binlog of {self.server}", style="bold"), id="binlog-title")
            yield Static(Text("\n".join(report_lines(report))), id="binlog-report")
            if self.files:
                # The table and the oldest held file's jobs; the totals are the report's.
                lines = files_lines(self.files, 0, 0)
                table = lines[lines.index("") + 1 :]
                yield Static(Text("\n".join(["What each file holds:", *table])), id="binlog-files")
            yield Static(Text(HELP.rstrip()), id="binlog-help")
            hint = f"enter: list the jobs in binlog.{report.oldest}   esc: close"
            yield Static(Text(hint, style="dim"), id="binlog-footer")

    def action_list_jobs(self) -> None:
        self.dismiss(True)

    def action_close(self) -> None:
        self.dismiss(False)
