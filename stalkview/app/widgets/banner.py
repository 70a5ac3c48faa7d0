"""The connection banner: says the data is stale, why, and when the next attempt is."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static


class ConnectionBanner(Static):
    """Hidden while the connection is live."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__("", id=id)
        self.display = False
        self.message = ""

    def show_lost(
        self, address: str, reason: str, retry_in: float, attempt: int, since: str | None
    ) -> None:
        text = Text()
        text.append(" ✕ connection lost ", style="bold reverse")
        text.append(f"  {address}: {reason}.  ")
        if since:
            text.append(f"Showing data from {since} (stale). ")
        text.append(f"Reconnecting in {retry_in:.1f}s (attempt {attempt}).", style="bold")
        self.message = text.plain
        self.update(text)
        self.display = True

    def hide(self) -> None:
        self.message = ""
        self.display = False
