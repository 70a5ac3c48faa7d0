"""The stalkview App: its connections, its workers and the refresh loop.

Two dedicated connections keep browsing side-effect free and independent:
one for ``stats``/``list-tubes``/``stats-tube``/``stats-job`` (the live view),
one for the inventory scan and body peeks (``encoding=None``: bodies are
bytes). Neither ever uses or watches a tube. Actions and reserving open
connections of their own (:mod:`stalkview.app.job_actions`). All I/O runs in
workers; results come back as messages, so input is never blocked.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from textual import on, work
from textual.app import App
from textual.binding import Binding, BindingType
from textual.css.query import NoMatches
from textual.message import Message
from textual.notifications import SeverityLevel
from textual.timer import Timer

from stalkview.app.messages import (
    BinlogUpdated,
    BodiesLoaded,
    InventoryProgress,
    InventoryUpdated,
    JobLoaded,
    JobRefreshed,
    SearchDone,
    SearchProgress,
    ServerLost,
    ServerRefreshed,
    ServerRefreshing,
    ServerResult,
    ServerSource,
    describe,
)
from stalkview.app.palette import StalkviewCommands
from stalkview.app.screens.help import HelpScreen
from stalkview.app.screens.main import MainScreen
from stalkview.client import BeanstalkConnectionError, Client, Error, NotFoundError
from stalkview.format import printable
from stalkview.inventory import DEFAULT_BUDGET, Inventory, InventoryChange, JobInfo, ScanProgress
from stalkview.logprobe import BodySizes, LogDir
from stalkview.model import Query, RateTracker, ServerRates, TubeRateBook, rate_view
from stalkview.model.logsize import FileFacts, LogReport, LogWatch, enabled
from stalkview.poll import COMMAND_TIMEOUT, CONNECT_TIMEOUT, Snapshot, fetch_snapshot

PREVIEW_LIMIT = 4 * 1024
"""Bytes of a body fetched for a one-line preview."""
DETAIL_LIMIT = 256 * 1024
"""Bytes of a body shown in the detail pane; the rest is counted, not shown."""
SEARCH_LIMIT = 64 * 1024
"""Bytes of each body a body search reads (beanstalkd's default max job size)."""
PREVIEW_BATCH = 200
MAX_BACKOFF = 5.0


class _NoScreen(Exception):
    """The main screen is gone (the app is closing)."""


class StalkviewApp(App[int]):
    """A live view of one beanstalkd server, and the actions on its tubes and jobs."""

    # Absolute, so subclasses defined elsewhere (tests, benchmarks) find it too.
    CSS_PATH = Path(__file__).with_name("stalkview.tcss")
    TITLE = "stalkview"
    COMMANDS: ClassVar[set[Any]] = {*App.COMMANDS, StalkviewCommands}
    # Dialogs compact themselves below 32 lines (stalkview.tcss); MainScreen has its own.
    VERTICAL_BREAKPOINTS = [(0, "-short"), (32, "-tall")]  # noqa: RUF012 (Textual's type)
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("q", "quit", "Quit", id="quit"),
        Binding("question_mark", "help", "Help", id="help"),
        Binding("ctrl+r", "refresh_now", "Refresh now", show=False, id="refresh"),
        Binding("ctrl+c", "quit", "Quit", show=False, priority=True, id="quit-ctrl-c"),
    ]

    def notify(
        self,
        message: str,
        *,
        title: str = "",
        severity: SeverityLevel = "information",
        timeout: float | None = None,
        markup: bool = True,
    ) -> None:
        """Every notice shown literally and escaped: most carry server strings
        (error texts, tube names, bodies), which are never markup or escape codes.
        ``markup`` is accepted for Textual's signature and ignored."""
        shown = "\n".join(printable(line) for line in message.split("\n"))
        super().notify(
            shown, title=printable(title), severity=severity, timeout=timeout, markup=False
        )

    def __init__(
        self,
        address: str,
        *,
        interval: float = 1.0,
        read_only: bool = False,
        title: str | None = None,
        scan_budget: float = DEFAULT_BUDGET,
        binlog: str | None = None,
        log_banner: str | None = None,
        shown_address: str | None = None,
    ) -> None:
        super().__init__()
        if interval <= 0:
            raise ValueError(f"refresh interval {interval} must be positive: try --interval 1")
        self.address = address
        self.interval = interval
        self.read_only = read_only
        if title:
            self.title = title
        self.sub_title = address
        self.stats_client = Client(
            address, connect_timeout=CONNECT_TIMEOUT, command_timeout=COMMAND_TIMEOUT
        )
        self.inventory_client = Client(
            address, encoding=None, connect_timeout=CONNECT_TIMEOUT, command_timeout=COMMAND_TIMEOUT
        )
        #: Percent of one server CPU the inventory scan may take (--scan-budget).
        self.scan_budget = scan_budget
        source = None
        if binlog is not None:
            from stalkview.binlog import BinlogSource

            source = BinlogSource(binlog, "the log (a restored copy)" if log_banner else None)
        self.inventory = Inventory(
            self.inventory_client, batch_size=2000, budget=scan_budget, source=source
        )
        #: Set when the server is a private copy restored from a stopped server's log:
        #: what the banner says instead of "a live server".
        self.log_banner = log_banner
        #: What the server bar calls the server (a log's directory rather than the
        #: private socket it is served on).
        self.shown_address = shown_address or address
        self.snapshot: Snapshot | None = None
        self.rates = RateTracker()
        self.tube_rates = TubeRateBook()
        self.scan_progress: ScanProgress | None = None
        self.log_watch = LogWatch()
        self.body_sizes = BodySizes()
        self._log_dir_cache: LogDir | None = None
        #: What each binlog file holds, when the inventory reads the directory.
        self.log_facts: list[FileFacts] | None = None
        self.refreshes = 0
        self.inventory_refreshes = 0
        #: The parked jobs last named in a notice (named again only when they change).
        self._parked_named: frozenset[int] = frozenset()
        self.connected = False
        self.last_good: float | None = None
        self._failures = 0
        self._server_timer: Timer | None = None
        self._inventory_timer: Timer | None = None
        self._wanted: dict[int, None] = {}
        self._previews_running = False
        self._closing = False
        self._main_screen: MainScreen | None = None
        #: Bumped when the app is pointed at another server (the fleet app): results
        #: of workers started before that are dropped, never shown as the new server's.
        self.generation = 0

    # --- what the screen and the actions ask (the fleet app answers per server) ------

    @property
    def server_label(self) -> str:
        """What to call the current server in titles, file names and the journal."""
        return self.address

    @property
    def read_only_reason(self) -> str:
        return "started with --read-only"

    # --- lifecycle -----------------------------------------------------------------

    def get_default_screen(self) -> MainScreen:
        # Kept: by the time the app unmounts its screens are gone, and the main
        # screen's held jobs must still be given back.
        self._main_screen = MainScreen(id="main")
        return self._main_screen

    @property
    def main(self) -> MainScreen:
        screen = self.screen_stack[0] if self.screen_stack else None
        if not isinstance(screen, MainScreen):
            # Only during shutdown: a late worker result has nowhere to go.
            raise _NoScreen()
        return screen

    def start_polling(self) -> None:
        """Called by the main screen once it is mounted, so every result has a place to go.

        The inventory scan starts after the first server data is on screen: the
        first frame with data must not wait for a scan of a big server.
        """
        self.refresh_server()

    async def _on_message(self, message: Message) -> None:
        if isinstance(message, ServerResult) and message.generation != self.generation:
            return  # a result about the server the app showed before a switch
        try:
            await super()._on_message(message)
        except _NoScreen:
            pass
        except NoMatches:
            # A worker's result that arrives while the app shuts down finds the
            # screen's widgets already gone; at any other time it is a bug.
            if self._running:
                raise

    def _result(self, generation: int, message: ServerResult) -> None:
        """Post a worker's result to the main screen, stamped with the server it is about.

        The screen shows it; then it bubbles up here, where the app keeps its books.
        """
        if generation != self.generation:
            return
        message.generation = generation
        self._to_main(message)

    def _to_main(self, message: Message) -> None:
        with contextlib.suppress(_NoScreen):  # the app is closing
            self.main.post_message(message)

    async def action_quit(self) -> None:
        """Quit; with held jobs, ask first (they go back to ready)."""
        screen = self.screen_stack[0] if self.screen_stack else None
        if isinstance(screen, MainScreen) and screen.held_count():
            self._confirm_quit(screen)
        else:
            self.exit()

    @work(exclusive=True, group="quit", exit_on_error=False)
    async def _confirm_quit(self, screen: MainScreen) -> None:
        if await screen.confirm_quit():
            self.exit()

    async def on_unmount(self) -> None:
        self._closing = True
        if self._main_screen is not None:
            await self._main_screen.close_actions()
        for client in (self.stats_client, self.inventory_client):
            with contextlib.suppress(Error, OSError):
                await client.close()

    # --- the server refresh loop ---------------------------------------------------------

    def _schedule_server(self, delay: float) -> None:
        if self._server_timer is not None:
            self._server_timer.stop()
        if not self._closing:
            self._server_timer = self.set_timer(delay, self.refresh_server)

    @work(exclusive=True, group="server", exit_on_error=False)
    async def refresh_server(self) -> None:
        """One refresh, then the next is scheduled: refreshes never overlap."""
        gen = self.generation
        if self.snapshot is not None and self.connected:
            self._result(gen, ServerRefreshing())
        known = list(self.snapshot.tubes) if self.snapshot is not None else []
        try:
            await self.stats_client.open()
            snapshot = await fetch_snapshot(self.stats_client, known)
        except asyncio.CancelledError:
            raise
        except (BeanstalkConnectionError, Error, OSError) as exc:
            self._failures += 1
            delay = min(self.interval * 2 ** (self._failures - 1), MAX_BACKOFF)
            self._result(gen, ServerLost(describe(exc), delay, self._failures, self.last_good))
            self._schedule_server(delay)
            return
        self._failures = 0
        if gen == self.generation:
            self._result(gen, self._refreshed(snapshot))
        self._schedule_server(self.interval)

    def _refreshed(self, snapshot: Snapshot) -> ServerRefreshed:
        """Feed the rate trackers; the message with everything the screen shows of it."""
        self.rates.update(snapshot.stats, snapshot.at)
        self.tube_rates.update(snapshot.tubes.values(), snapshot.at)
        shown, histories = rate_view(self.rates)
        own = sum(1 for c in (self.stats_client, self.inventory_client) if c.connected)
        return ServerRefreshed(
            snapshot, self.server_rates(), shown, histories, self.tube_rates, own
        )

    @on(ServerRefreshed)
    def _server_refreshed(self, message: ServerRefreshed) -> None:
        was_connected = self.connected
        self.snapshot = message.snapshot
        self.connected = True
        self.last_good = time.time()
        self.refreshes += 1
        if self.refreshes == 1:
            self.call_after_refresh(self.refresh_inventory)
        if not was_connected and self.refreshes > 1:
            self.notify(f"Reconnected to {self.address}", title="Back to live")
            self.refresh_inventory()

    @on(ServerLost)
    def _server_lost(self, message: ServerLost) -> None:
        self.connected = False

    def server_rates(self) -> ServerRates:
        return ServerRates.from_tracker(self.rates)

    def action_refresh_now(self) -> None:
        """Refresh everything now, the detail pane's body included."""
        self.refresh_server()
        self.refresh_inventory()
        job_id = self.main.detail_job_id()
        if job_id is not None:
            self.load_job(job_id)

    # --- the inventory ---------------------------------------------------------------------

    def _schedule_inventory(self, delay: float) -> None:
        if self._inventory_timer is not None:
            self._inventory_timer.stop()
        if not self._closing:
            self._inventory_timer = self.set_timer(delay, self.refresh_inventory)

    @work(exclusive=True, group="inventory", exit_on_error=False)
    async def refresh_inventory(self) -> None:
        """Scan once, then refresh; pace refreshes by their own cost so a huge
        inventory never hogs the server."""
        if self._closing:
            return  # the app closed its connections: opening one now would leak it
        gen = self.generation
        start = time.perf_counter()
        first = not self.inventory.scanned
        try:
            await self.inventory_client.open()
            if first:
                change = await self.inventory.scan(
                    lambda progress: self._result(gen, InventoryProgress(progress, self.inventory))
                )
            else:
                # The rows on screen are re-read every time, whatever the counters say.
                self.inventory.shown = self.main.shown_job_ids()
                change = await self.inventory.refresh(None)
        except asyncio.CancelledError:
            raise
        except (BeanstalkConnectionError, Error, OSError):
            # The server refresh owns the banner and the backoff; just try again later.
            self._schedule_inventory(min(max(self.interval, 1.0) * 2, MAX_BACKOFF))
            return
        try:
            report = await self._binlog_report(None if first else change)
        except asyncio.CancelledError:
            raise
        except (BeanstalkConnectionError, Error, OSError):
            report = None  # the next pass tries again; the stats refresh reports the outage
        elapsed = time.perf_counter() - start
        if gen == self.generation:
            self.tube_rates.update_flows(self.inventory.flows, time.monotonic())
        self._result(gen, InventoryUpdated(self.inventory, change, first))
        self._result(gen, BinlogUpdated(report, self.log_facts))
        if self.inventory.meter.full_speed:
            # Unpaced: a pause of twice its time keeps a huge inventory from hogging the server.
            self._schedule_inventory(max(self.interval, 3 * elapsed))
        else:
            # The meter kept the refresh under its share of the server's CPU already.
            self._schedule_inventory(self.interval)

    async def _binlog_report(self, change: InventoryChange | None) -> LogReport | None:
        """The binlog against the live data, after an inventory pass (None without -b).

        When the inventory reads the server's log directory, the sizes, the bytes written
        and the live bodies are the files' own (read by that pass already); otherwise
        sizing the bodies peeks at most a sample of the jobs, each once (a body never
        changes). The writers are found among the jobs ``change`` names (all after a
        scan); a server without a binlog costs nothing here.
        """
        stats = self.inventory.server_stats
        now = time.monotonic()
        if not enabled(stats):
            return self.log_watch.update(stats, now)
        jobs = self.inventory.jobs
        log_dir = self._log_dir()
        disk: int | None = None
        appended: int | None = None
        if log_dir is not None:
            log_dir.note()
            live, exact = log_dir.live_bytes, True
            disk, appended = log_dir.disk_bytes, log_dir.appended
        else:
            live, exact = await self.body_sizes.live_bytes(self.inventory_client, jobs)
        self.log_facts = None if log_dir is None else log_dir.facts()
        snapshot = self.snapshot
        return self.log_watch.update(
            stats,
            now,
            tubes=None if snapshot is None else list(snapshot.tubes.values()),
            tubes_at=None if snapshot is None else snapshot.at,
            jobs=jobs,
            touched=None if change is None else change.added | change.changed | change.removed,
            jobs_complete=self.inventory.scanned,
            live_bytes=live,
            live_exact=exact,
            disk_bytes=disk,
            written_bytes=appended,
        )

    def _log_dir(self) -> LogDir | None:
        """The log directory the inventory reads (a BinlogSource), wrapped for the report."""
        from stalkview.binlog import BinlogSource

        source = self.inventory.source
        if not isinstance(source, BinlogSource):
            self._log_dir_cache = None
            return None
        cached = self._log_dir_cache
        if cached is None or cached.source is not source:
            cached = self._log_dir_cache = LogDir(str(source.log.directory), source)
        return cached

    @on(InventoryProgress)
    def _inventory_progress(self, message: InventoryProgress) -> None:
        self.scan_progress = message.progress

    @on(InventoryUpdated)
    def _inventory_updated(self, message: InventoryUpdated) -> None:
        self.inventory_refreshes += 1
        self._name_parked()

    def _name_parked(self) -> None:
        """Say once (and again when they change) that jobs are left parked."""
        from stalkview.ops import parked_note

        stats = self.snapshot.stats if self.snapshot is not None else {}
        parked = self.inventory.parked() if stats.get("current-jobs-delayed") else []
        ids = frozenset(j.id for j in parked)
        if ids == self._parked_named:
            return
        self._parked_named = ids
        if parked:
            fix = (
                f"'stalkview parked {self.address} --bury' finishes them, '--release' readies them"
            )
            self.notify(
                parked_note(len(parked), (j.tube for j in parked), fix),
                title="Parked jobs",
                severity="warning",
                timeout=30,
            )

    # --- bodies ------------------------------------------------------------------------------

    def want_bodies(self, ids: Iterable[int]) -> None:
        """Queue previews to fetch; one worker drains the queue in batches."""
        for job_id in ids:
            self._wanted[job_id] = None
        if not self._previews_running and self._wanted:
            self._previews_running = True
            self.load_previews()

    @work(group="previews", exit_on_error=False)
    async def load_previews(self) -> None:
        gen = self.generation
        try:
            while self._wanted:
                batch = list(self._wanted)[:PREVIEW_BATCH]
                for job_id in batch:
                    self._wanted.pop(job_id, None)
                try:
                    await self.inventory_client.open()
                    got = await self.inventory.peek_bodies(batch, PREVIEW_LIMIT)
                except (BeanstalkConnectionError, OSError):
                    return  # the list asks again when it is drawn after the reconnect
                bodies: dict[int, bytes | None] = {j: got.get(j) for j in batch}
                self._result(gen, BodiesLoaded(bodies))
        finally:
            self._previews_running = False

    @work(exclusive=True, group="detail", exit_on_error=False)
    async def load_job(self, job_id: int, jump: bool = False) -> None:
        """Fresh stats and the body of one job, for the detail pane."""
        gen = self.generation
        try:
            await self.stats_client.open()
            await self.inventory_client.open()
            stats = await self.stats_client.stats_job(job_id)
            body = await self.inventory.peek_body(job_id, None)
        except asyncio.CancelledError:
            raise
        except (BeanstalkConnectionError, OSError) as exc:
            self._result(gen, JobLoaded(job_id, None, None, None, describe(exc), jump))
            return
        except Error as exc:
            reason = (
                "no such job: it was deleted, or the id was never used"
                if (type(exc).__name__ == "NotFoundError")
                else describe(exc)
            )
            self._result(gen, JobLoaded(job_id, None, None, None, reason, jump))
            return
        job = JobInfo.from_stats(stats, time.monotonic())
        size = None if body is None else len(body)
        shown = None if body is None else body[:DETAIL_LIMIT]
        self._result(gen, JobLoaded(job_id, job, shown, size, "", jump))

    @work(exclusive=True, group="detail-stats", exit_on_error=False)
    async def refresh_job(self, job_id: int) -> None:
        """Fresh stats of the job in the detail pane, without its body (that never changes)."""
        gen = self.generation
        try:
            await self.stats_client.open()
            stats = await self.stats_client.stats_job(job_id)
        except asyncio.CancelledError:
            raise
        except NotFoundError:
            self._result(gen, JobRefreshed(job_id, None))
            return
        except (BeanstalkConnectionError, Error, OSError):
            return  # the banner tells; the next refresh tries again
        self._result(gen, JobRefreshed(job_id, JobInfo.from_stats(stats, time.monotonic())))

    # --- search ------------------------------------------------------------------------------

    @work(exclusive=True, group="search", exit_on_error=False)
    async def search_bodies(self, text: str, query: Query, candidates: list[JobInfo]) -> None:
        """Read the bodies of the stats-matching candidates and keep those that match."""
        gen = self.generation
        matched: set[int] = set()
        checked = 0
        step = 256
        for start in range(0, len(candidates), step):
            chunk = candidates[start : start + step]
            try:
                await self.inventory_client.open()
                bodies = await self.inventory.peek_bodies([j.id for j in chunk], SEARCH_LIMIT)
            except (BeanstalkConnectionError, OSError) as exc:
                self.notify(f"Search stopped: {describe(exc)}", severity="error")
                break
            for job in chunk:
                body = bodies.get(job.id)
                if body is not None and query.matches(job, body):
                    matched.add(job.id)
            checked += len(chunk)
            self._result(gen, SearchProgress(checked, len(candidates), len(matched)))
        self._result(gen, SearchDone(text, frozenset(matched), checked))

    # --- actions -------------------------------------------------------------------------------

    def action_help(self) -> None:
        if isinstance(self.screen, HelpScreen):
            return
        main = self.main
        self.push_screen(HelpScreen(main.binding_nodes(), note=main.layout_note()))


if TYPE_CHECKING:

    def _answers_the_screen(app: StalkviewApp) -> ServerSource:
        return app  # mypy checks that the app serves every request of the main screen
