"""The connection banner: says the data is stale, why, and when the next attempt is."""

from __future__ import annotations

import contextlib

from rich.text import Text
from textual.widgets import Static

from stalkview.client import AddressError, parse_address
from stalkview.format import printable


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
        text.append(f"  {address}: {_sentence(reason, address)}  ")
        if since:
            text.append(f"Showing data from {since} (stale). ")
        text.append(f"Reconnecting in {retry_in:.1f}s (attempt {attempt}).", style="bold")
        self.message = text.plain
        self.update(text)
        self.display = True

    def hide(self) -> None:
        self.message = ""
        self.display = False


def _sentence(reason: str, address: str) -> str:
    """The reason once, escaped, ending in one stop: client errors already name the address."""
    names = [address]
    with contextlib.suppress(AddressError):
        names.append(str(parse_address(address)))
    for name in names:
        if reason.startswith(f"{name}: "):
            reason = reason[len(name) + 2 :]
            break
    reason = printable(reason)
    return reason if reason.endswith((".", "?", "!")) else reason + "."
