"""The app on several servers: a :class:`~stalkview.fleet.Fleet` feeds the servers pane.

Design: the single-server machinery of :class:`StalkviewApp` (live view,
inventory, job detail, actions) is pointed at one *current* server at a time;
choosing another server closes its connections and reopens them on the new
address, with the inventory, rates and held jobs reset. Job ids are per server,
so everything about jobs is always about the current server, and pane titles
say which one. Independently of that, a Fleet polls every server on its own
task and connection; its updates go to the :class:`FleetScreen` (the servers
pane and, in the "all servers" view, the tubes pane with each tube summed over
the fleet).
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence

from textual import on, work

from stalkview.app.app import StalkviewApp
from stalkview.app.messages import FleetUpdated, SwitchServer
from stalkview.app.screens.fleet import FleetScreen
from stalkview.binlog import BinlogSource
from stalkview.binlogfind import find_binlog
from stalkview.client import Client, Error
from stalkview.config import Target
from stalkview.fleet import Fleet, ServerState
from stalkview.inventory import DEFAULT_BUDGET, Inventory
from stalkview.logprobe import BodySizes
from stalkview.model import RateTracker, TubeRateBook
from stalkview.model.logsize import LogWatch
from stalkview.poll import COMMAND_TIMEOUT, CONNECT_TIMEOUT

#: The worker groups that talk to the current server (cancelled on a switch).
SERVER_GROUPS = ("server", "inventory", "previews", "detail", "detail-stats", "search")


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
            binlog=_binlog_of(first),
        )
        self.targets = list(targets)
        #: --read-only: every server read-only, whatever its saved setting.
        self.force_read_only = read_only
        self.current = 0
        self.switches = 0
        self.fleet_updates = 0
        self.fleet = Fleet(
            self.targets,
            interval=interval,
            connect_timeout=CONNECT_TIMEOUT,
            command_timeout=COMMAND_TIMEOUT,
            on_update=self._fleet_polled,
        )
        self.sub_title = f"{len(self.targets)} servers"

    # --- what the screen and the actions ask -------------------------------------------

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

    def get_default_screen(self) -> FleetScreen:
        self._main_screen = FleetScreen(self.fleet, self.targets, id="main")
        return self._main_screen

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
        # Called on the event loop by the poller; the screen redraws from the message.
        self._to_main(FleetUpdated(state))

    @on(FleetUpdated)
    def _fleet_updated(self) -> None:
        self.fleet_updates += 1  # bubbled up from the screen, which showed it

    # --- choosing a server -----------------------------------------------------------------

    @on(SwitchServer)
    def _switch_asked(self, message: SwitchServer) -> None:
        self.switch_server(message.index)

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
        assert isinstance(main, FleetScreen)
        main.server_switched(self.generation, index, self.read_only)
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
        binlog = _binlog_of(self.targets[self.current])
        self.inventory = Inventory(
            self.inventory_client,
            batch_size=2000,
            budget=self.scan_budget,
            source=BinlogSource(binlog) if binlog else None,
        )
        self.snapshot = None
        self.rates = RateTracker()
        self.tube_rates = TubeRateBook()
        self.scan_progress = None
        self.log_watch = LogWatch()
        self.body_sizes = BodySizes()
        self._log_dir_cache = None
        self.log_facts = None
        self.refreshes = 0
        self.inventory_refreshes = 0
        self.connected = False
        self.last_good = None
        self._failures = 0
        self._previews_running = False


def _binlog_of(target: Target) -> str | None:
    """The server's log: saved in the config, or found for a beanstalkd on this machine."""
    return target.binlog or find_binlog(target.address)
