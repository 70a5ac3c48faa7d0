"""Messages the app's workers post with their results (I/O stays in workers)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual.message import Message

from stalkview.poll import Snapshot

if TYPE_CHECKING:
    from stalkview.inventory import InventoryChange, JobInfo, ScanProgress


class ServerRefreshed(Message):
    def __init__(self, snapshot: Snapshot) -> None:
        super().__init__()
        self.snapshot = snapshot


class ServerLost(Message):
    """A refresh failed for want of a connection; the next attempt is in ``retry_in`` seconds."""

    def __init__(self, reason: str, retry_in: float, attempt: int) -> None:
        super().__init__()
        self.reason = reason
        self.retry_in = retry_in
        self.attempt = attempt


class InventoryProgress(Message):
    def __init__(self, progress: ScanProgress) -> None:
        super().__init__()
        self.progress = progress

    def can_replace(self, message: Message) -> bool:
        # A paced scan reports every few milliseconds: only the latest counts.
        return isinstance(message, InventoryProgress)


class InventoryUpdated(Message):
    def __init__(self, change: InventoryChange | None, first: bool) -> None:
        super().__init__()
        self.change = change
        self.first = first


class BodiesLoaded(Message):
    """Previews for the jobs list: None for a job that is gone."""

    def __init__(self, bodies: dict[int, bytes | None]) -> None:
        super().__init__()
        self.bodies = bodies


class JobLoaded(Message):
    """A job for the detail pane: its stats and (part of) its body, or why it is missing."""

    def __init__(
        self,
        job_id: int,
        job: JobInfo | None,
        body: bytes | None,
        size: int | None,
        error: str = "",
        jump: bool = False,
    ) -> None:
        super().__init__()
        self.job_id = job_id
        self.job = job
        self.body = body
        self.size = size
        self.error = error
        self.jump = jump


class SearchProgress(Message):
    def __init__(self, checked: int, total: int, matched: int) -> None:
        super().__init__()
        self.checked = checked
        self.total = total
        self.matched = matched


class SearchDone(Message):
    def __init__(self, text: str, ids: frozenset[int], checked: int) -> None:
        super().__init__()
        self.text = text
        self.ids = ids
        self.checked = checked


def describe(exc: BaseException) -> str:
    """A one-line reason for a failure, without a traceback."""
    text = str(exc) or type(exc).__name__
    return text.splitlines()[0] if text else type(exc).__name__


__all__ = [
    "BodiesLoaded",
    "InventoryProgress",
    "InventoryUpdated",
    "JobLoaded",
    "SearchDone",
    "SearchProgress",
    "ServerLost",
    "ServerRefreshed",
    "describe",
]


class JobRefreshed(Message):
    """Fresh stats of the job in the detail pane (``job`` None: it is gone)."""

    def __init__(self, job_id: int, job: JobInfo | None) -> None:
        super().__init__()
        self.job_id = job_id
        self.job = job
