"""The app on several servers: a servers pane fed by a :class:`~stalkview.fleet.Fleet`.

Design: the single-server machinery of :class:`StalkviewApp` (live view,
inventory, job detail, actions) is pointed at one *current* server at a time;
choosing another server closes its connections and reopens them on the new
address, with the inventory, rates and held jobs reset. Job ids are per server,
so everything about jobs is always about the current server, and pane titles
say which one. Independently of that, a Fleet polls every server on its own
task and connection; its updates feed the servers pane and, in the
"all servers" view, the tubes pane with each tube summed over the fleet.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence

from textual import on, work
from textual.message import Message

from stalkview.app.app import StalkviewApp
from stalkview.client import Client, Error
from stalkview.config import Target
from stalkview.fleet import Fleet, ServerState
from stalkview.inventory import DEFAULT_BUDGET, Inventory
from stalkview.logprobe import BodySizes
from stalkview.model import RateTracker, TubeRateBook
from stalkview.model.logsize import LogWatch
from stalkview.poll import COMMAND_TIMEOUT, CONNECT_TIMEOUT

#: How long fleet updates are gathered before the screen is redrawn once for all.
REDRAW_DELAY = 0.05
#: The worker groups that talk to the current server (cancelled on a switch).
SERVER_GROUPS = ("server", "inventory", "previews", "detail", "detail-stats", "search")


class FleetUpdated(Message):
    """A server of the fleet was polled (up or down)."""

    def __init__(self, state: ServerState) -> None:
        super().__init__()
        self.state = state


class FleetApp(StalkviewApp):
    """Several servers; jobs, detail and actions on the current one."""

    def __init__(
        self,
        targets: Sequence[Target],
        *,
        interval: float = 1.0,
        read_only: bool = False,
        scan_budget: float = DEFAULT_BUDGET,
    ) -> None:
        if not targets:
            raise ValueError("no server to open: give at least one address")
        first = targets[0]
        super().__init__(
            first.address,
            interval=interval,
            read_only=read_only or first.read_only,
            scan_budget=scan_budget,
        )
        self.targets = list(targets)
        #: --read-only: every server read-only, whatever its saved setting.
        self.force_read_only = read_only
        self.current = 0
        #: The tubes pane sums the fleet (True) or shows the current server.
        self.all_view = True
        self.switches = 0
        self.fleet_updates = 0
        self.fleet = Fleet(
            self.targets,
            interval=interval,
            connect_timeout=CONNECT_TIMEOUT,
            command_timeout=COMMAND_TIMEOUT,
            on_update=self._fleet_polled,
        )
        self._redraw_pending = False
        self.sub_title = f"{len(self.targets)} servers"

    # --- what the screen and the actions ask -------------------------------------------

    @property
    def is_fleet(self) -> bool:
        return True

    @property
    def target(self) -> Target:
        return self.targets[self.current]

    @property
    def server_label(self) -> str:
        return self.target.label

    @property
    def read_only_reason(self) -> str:
        if self.force_read_only:
            return "started with --read-only"
        return f"{self.target.label} is read-only in the config"

    # --- lifecycle -----------------------------------------------------------------------

    def start_polling(self) -> None:
        super().start_polling()
        self.run_fleet()

    @work(group="fleet", exit_on_error=False)
    async def run_fleet(self) -> None:
        await self.fleet.run()

    async def on_unmount(self) -> None:
        # StalkviewApp.on_unmount runs too (Textual calls each class's handler).
        with contextlib.suppress(Exception):
            await self.fleet.stop()

    # --- fleet updates -------------------------------------------------------------------

    def _fleet_polled(self, state: ServerState) -> None:
        # Called on the event loop by the poller; the screen is updated from a message.
        self.post_message(FleetUpdated(state))

    @on(FleetUpdated)
    def _fleet_updated(self, message: FleetUpdated) -> None:
        self.fleet_updates += 1
        if not self._redraw_pending:
            # Twenty servers answering within a few ms make one redraw, not twenty.
            self._redraw_pending = True
            self.set_timer(REDRAW_DELAY, self._redraw_fleet)

    def _redraw_fleet(self) -> None:
        self._redraw_pending = False
        if self._closing:
            return
        with contextlib.suppress(Exception):
            self.main.show_fleet()

    # --- choosing a server -----------------------------------------------------------------

    def choose_server(self, index: int | None) -> None:
        """Enter on a servers row: None is the all-servers view, else make ``index`` current."""
        if index is None:
            self.all_view = True
            self.main.show_fleet()
            self.main.show_all_view()
            return
        if index != self.current and self.main.held_count():
            held = self.main.held_count()
            self.notify(
                f"holding {held} reserved job{'s' if held != 1 else ''} on {self.server_label}: "
                "delete or release them (R) before switching server",
                severity="warning",
                title="Switch server",
            )
            return
        self.all_view = False
        if index == self.current:
            self.main.show_all_view()
            self.main.show_fleet()
            return
        self.switch_server(index)

    @work(exclusive=True, group="switch", exit_on_error=False)
    async def switch_server(self, index: int) -> None:
        """Point the live view, inventory, detail and actions at another server."""
        self.generation += 1
        for group in SERVER_GROUPS:
            self.workers.cancel_group(self, group)
        for timer in (self._server_timer, self._inventory_timer):
            if timer is not None:
                timer.stop()
        self._wanted.clear()
        old = (self.stats_client, self.inventory_client)
        target = self.targets[index]
        self.current = index
        self.address = target.address
        self.read_only = self.force_read_only or target.read_only
        self._reset_connections(target.address)
        self.switches += 1
        main = self.main
        await main.close_actions()
        main.server_switched(self.generation)
        self.refresh_server()
        for client in old:
            with contextlib.suppress(Error, OSError):
                await client.close()

    def _reset_connections(self, address: str) -> None:
        self.stats_client = Client(
            address, connect_timeout=CONNECT_TIMEOUT, command_timeout=COMMAND_TIMEOUT
        )
        self.inventory_client = Client(
            address, encoding=None, connect_timeout=CONNECT_TIMEOUT, command_timeout=COMMAND_TIMEOUT
        )
        self.inventory = Inventory(self.inventory_client, batch_size=2000, budget=self.scan_budget)
        self.snapshot = None
        self.rates = RateTracker()
        self.tube_rates = TubeRateBook()
        self.scan_progress = None
        self.log_watch = LogWatch()
        self.body_sizes = BodySizes()
        self.refreshes = 0
        self.inventory_refreshes = 0
        self.connected = False
        self.last_good = None
        self._failures = 0
        self._previews_running = False
