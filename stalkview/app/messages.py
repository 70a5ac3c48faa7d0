"""Messages the app's workers post with their results (I/O stays in workers).

The app posts them to the main screen, which shows them (``@on`` handlers);
they then bubble up to the app, which keeps its own books (refresh counts,
connected or not). Each carries everything the screen needs to show it, so
the screen never reads the app's state back, and the ``generation`` of the
server it is about: after a switch to another server (the fleet app) results
about the previous one are dropped.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Protocol

from textual.message import Message

from stalkview.poll import Snapshot

if TYPE_CHECKING:
    from stalkview.fleet import ServerState
    from stalkview.inventory import Inventory, InventoryChange, JobInfo, ScanProgress
    from stalkview.model import Query, ServerRates, TubeRateBook
    from stalkview.model.logsize import FileFacts, LogReport


class ServerResult(Message):
    """A worker's result about the current server."""

    #: Which server it is about: the app's generation when the worker started.
    generation = 0


class ServerRefreshing(ServerResult):
    """A refresh of a live server started."""


class ServerRefreshed(ServerResult):
    """A refresh's snapshot, with the rates the trackers computed from it."""

    def __init__(
        self,
        snapshot: Snapshot,
        rates: ServerRates,
        shown_rates: dict[str, float | None],
        histories: dict[str, list[float]],
        tube_rates: TubeRateBook,
        own_watchers: int,
    ) -> None:
        super().__init__()
        self.snapshot = snapshot
        self.rates = rates
        #: The rates the server bar and the lifecycle show, and their sparkline histories.
        self.shown_rates = shown_rates
        self.histories = histories
        self.tube_rates = tube_rates
        #: stalkview's own connections: they count in ``default``'s watchers.
        self.own_watchers = own_watchers


class ServerLost(ServerResult):
    """A refresh failed for want of a connection; the next attempt is in ``retry_in`` seconds."""

    def __init__(self, reason: str, retry_in: float, attempt: int, since: float | None) -> None:
        super().__init__()
        self.reason = reason
        self.retry_in = retry_in
        self.attempt = attempt
        #: When the last refresh succeeded (``time.time()``), None if none did.
        self.since = since


class InventoryProgress(ServerResult):
    """The first scan's progress; ``inventory`` holds the jobs found so far (streamed)."""

    def __init__(self, progress: ScanProgress, inventory: Inventory) -> None:
        super().__init__()
        self.progress = progress
        self.inventory = inventory

    def can_replace(self, message: Message) -> bool:
        # A paced scan reports every few milliseconds: only the latest counts.
        return isinstance(message, InventoryProgress)


class InventoryUpdated(ServerResult):
    def __init__(self, inventory: Inventory, change: InventoryChange | None, first: bool) -> None:
        super().__init__()
        self.inventory = inventory
        self.change = change
        self.first = first


class BinlogUpdated(ServerResult):
    """The binlog report after an inventory pass; None when the server keeps no binlog.
    ``files``: what each file holds, when the log directory is read."""

    def __init__(self, report: LogReport | None, files: list[FileFacts] | None = None) -> None:
        super().__init__()
        self.report = report
        self.files = files


class BodiesLoaded(ServerResult):
    """Previews for the jobs list: None for a job that is gone."""

    def __init__(self, bodies: dict[int, bytes | None]) -> None:
        super().__init__()
        self.bodies = bodies


class JobLoaded(ServerResult):
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


class SearchProgress(ServerResult):
    def __init__(self, checked: int, total: int, matched: int) -> None:
        super().__init__()
        self.checked = checked
        self.total = total
        self.matched = matched


class SearchDone(ServerResult):
    def __init__(self, text: str, ids: frozenset[int], checked: int) -> None:
        super().__init__()
        self.text = text
        self.ids = ids
        self.checked = checked


class JobRefreshed(ServerResult):
    """Fresh stats of the job in the detail pane (``job`` None: it is gone)."""

    def __init__(self, job_id: int, job: JobInfo | None) -> None:
        super().__init__()
        self.job_id = job_id
        self.job = job


class FleetUpdated(Message):
    """A server of the fleet was polled (up or down)."""

    def __init__(self, state: ServerState) -> None:
        super().__init__()
        self.state = state


class SwitchServer(Message):
    """The fleet screen asks the app to point its connections at server ``index``."""

    def __init__(self, index: int) -> None:
        super().__init__()
        self.index = index


class ServerSource(Protocol):
    """What the main screen asks of the app that owns the connections: requests go
    down as calls that start workers; the results come back as the messages above."""

    @property
    def address(self) -> str: ...
    @property
    def read_only(self) -> bool: ...
    @property
    def server_label(self) -> str: ...
    def start_polling(self) -> None: ...
    def load_job(self, job_id: int, jump: bool = False) -> object: ...
    def refresh_job(self, job_id: int) -> object: ...
    def want_bodies(self, ids: Iterable[int]) -> None: ...
    def search_bodies(self, text: str, query: Query, candidates: list[JobInfo]) -> object: ...


def describe(exc: BaseException) -> str:
    """A one-line reason for a failure, without a traceback."""
    text = str(exc) or type(exc).__name__
    return text.splitlines()[0] if text else type(exc).__name__


__all__ = [
    "BodiesLoaded",
    "FleetUpdated",
    "InventoryProgress",
    "InventoryUpdated",
    "JobLoaded",
    "JobRefreshed",
    "SearchDone",
    "SearchProgress",
    "ServerLost",
    "ServerRefreshed",
    "ServerRefreshing",
    "ServerResult",
    "ServerSource",
    "SwitchServer",
    "describe",
]
