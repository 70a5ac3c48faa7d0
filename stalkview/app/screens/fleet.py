"""The main screen on several servers: a servers pane, fleet sums, a per-server breakdown.

Everything about jobs is about the *current* server, as on :class:`MainScreen`;
this variant adds the servers pane (fed by the app's
:class:`~stalkview.fleet.Fleet` pollers through :class:`FleetUpdated`
messages) and the "all servers" view, where the tubes pane shows each tube
summed over the fleet with a breakdown per server under it. Choosing another
server asks the app to switch its connections; the app then calls
:meth:`server_switched`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import ProgressBar, Static

from stalkview.app.messages import FleetUpdated, SwitchServer
from stalkview.app.screens.main import TALL, MainScreen
from stalkview.app.widgets.banner import ConnectionBanner
from stalkview.app.widgets.hints import ProblemList
from stalkview.app.widgets.jobdetail import JobDetail
from stalkview.app.widgets.joblist import JobList
from stalkview.app.widgets.serverbar import ServerBar
from stalkview.app.widgets.servers import BreakdownTable, ServersTable
from stalkview.app.widgets.tubes import TubesTable
from stalkview.fleet import fleet_rates, sum_stats, sum_tubes, tube_breakdown
from stalkview.poll import Snapshot

if TYPE_CHECKING:
    from stalkview.config import Target
    from stalkview.fleet import Fleet

#: How long fleet updates are gathered before the screen is redrawn once for all.
REDRAW_DELAY = 0.05


class FleetScreen(MainScreen):
    """:class:`MainScreen` with a servers pane; the tubes pane can show fleet sums."""

    def __init__(self, fleet: Fleet, targets: Sequence[Target], *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.fleet = fleet
        self.targets = list(targets)
        #: The server jobs, detail and actions are about.
        self.current = 0
        #: The tubes pane sums the fleet (True) or shows the current server.
        self.all_view = True
        self._redraw_pending = False

    # --- the hooks of MainScreen --------------------------------------------------------

    def compose_servers(self) -> ComposeResult:
        with Vertical(id="servers-pane"):
            yield ServersTable(id="servers")

    def compose_breakdown(self) -> ComposeResult:
        with Vertical(id="breakdown-pane"):
            yield Static("", id="breakdown-title")
            yield BreakdownTable(id="breakdown")

    def show_scope(self) -> None:
        self.query_one("#servers-pane").border_title = self._servers_title()
        self.show_all_view()

    def server_tag(self) -> str:
        return self.targets[self.current].label

    def tubes_title(self, count: int) -> Text:
        title = Text("Tubes · ")
        title.append("all servers" if self.all_view else self.server_tag(), style="bold")
        title.append(f" ({count:,})")
        return title

    def show_tubes(self) -> None:
        if self.all_view:
            self.show_fleet()
        else:
            super().show_tubes()

    def show_tube_health(self, snapshot: Snapshot, health: dict[str | None, Text]) -> None:
        if not self.all_view:  # fleet sums stay until the user picks a server
            super().show_tube_health(snapshot, health)

    def tube_changed(self) -> None:
        if self.all_view:
            self._show_breakdown()

    def layout_changed(self) -> None:
        if self.all_view and self.is_mounted:
            self._show_breakdown()

    # --- the fleet ------------------------------------------------------------------------

    @on(FleetUpdated)
    def _fleet_updated(self) -> None:
        if not self._redraw_pending:
            # Twenty servers answering within a few ms make one redraw, not twenty.
            self._redraw_pending = True
            self.set_timer(REDRAW_DELAY, self._redraw_fleet)

    def _redraw_fleet(self) -> None:
        self._redraw_pending = False
        if self.is_attached:
            self.show_fleet()

    def _servers_title(self) -> Text:
        states = self.fleet.states
        up = sum(1 for s in states if s.up)
        title = Text(f"Servers ({up} of {len(states)} up)")
        title.append("  enter: browse that server · (all servers): fleet sums", style="dim")
        return title

    def show_fleet(self) -> None:
        """Redraw what the fleet's pollers know: the servers pane, and fleet sums if shown."""
        states = self.fleet.states
        totals = sum_stats(states)
        self.query_one(ServersTable).show(
            states, totals, fleet_rates(states), current=self.current, all_view=self.all_view
        )
        self._set_title("#servers-pane", self._servers_title())
        if not self.all_view:
            return
        tubes = sum_tubes(states)
        self.query_one(TubesTable).update_tubes(totals, tubes, {})
        self._title_tubes(len(tubes))
        self._show_breakdown()

    def _show_breakdown(self) -> None:
        tube = self.query_one(TubesTable).selected_tube
        pane = self.query_one("#breakdown-pane")
        # A short screen keeps its lines for the jobs: the breakdown shows zoomed (z).
        fits = self.size.height >= TALL or self.zoomed_pane == "tubes-pane"
        pane.display = self.all_view and tube is not None and fits
        if tube is None or not pane.display:
            return
        states = self.fleet.states
        rows = tube_breakdown(states, tube)
        title = Text(" ")
        title.append(tube, style="bold")
        title.append(f" on each server ({len(rows)} of {len(states)} have it)", style="dim")
        self.query_one("#breakdown-title", Static).update(title)
        self.query_one(BreakdownTable).show(rows)

    def show_all_view(self) -> None:
        """Show the tubes pane for the current scope (fleet sums or the current server)."""
        self.query_one("#breakdown-pane").display = False
        # Health hints are about one server: beside fleet sums they would mislead.
        self.query_one(ProblemList).display = not self.all_view
        if self.all_view:
            self.show_fleet()
        elif self.refreshed is not None:
            self.show_snapshot()
        else:
            self.query_one(TubesTable).update_tubes({}, {}, {})
            self._title_tubes(0)
        self.show_jobs()

    # --- choosing a server --------------------------------------------------------------------

    @on(ServersTable.ServerChosen)
    def _server_chosen(self, event: ServersTable.ServerChosen) -> None:
        self.choose_server(event.index)
        if event.index is not None:
            self.query_one(TubesTable).focus()

    def choose_server(self, index: int | None) -> None:
        """Enter on a servers row: None is the all-servers view, else make ``index`` current."""
        if index is None:
            self.all_view = True
            self.show_fleet()
            self.show_all_view()
            return
        held = self.held_count()
        if index != self.current and held:
            self.notify(
                f"holding {held} reserved job{'s' if held != 1 else ''} on {self.server_tag()}: "
                "delete or release them (R) before switching server",
                severity="warning",
                title="Switch server",
            )
            return
        self.all_view = False
        if index == self.current:
            self.show_all_view()
            self.show_fleet()
            return
        self.post_message(SwitchServer(index))

    def server_switched(self, generation: int, index: int, read_only: bool) -> None:
        """The app now talks to server ``index``: forget the last one's jobs and detail.

        Results about the previous server (an older ``generation``) are dropped from now on.
        """
        self.generation = generation
        self.current = index
        self.snapshot = self.refreshed = self.inventory = None
        self.reset_actions()
        self.current_job_id = None
        self.current_job = None
        self._clear_body_search()
        bar = self.query_one(ServerBar)
        bar.address = self.targets[index].address
        bar.read_only = read_only
        bar.show_stats({}, {}, {})
        self.show_binlog(None)
        bar.set_status("connecting")
        self.query_one(ConnectionBanner).hide()
        self.remove_class("stale")
        self.query_one(JobList).clear_marks()
        self.query_one("#scan-progress", ProgressBar).remove_class("hidden")
        self.query_one("#scan-status", Static).update("")
        detail = self.query_one(JobDetail)
        detail.show_message(f"Jobs of {self.server_tag()}: pick one in the jobs pane")
        self.query_one("#side").border_title = Text("Job")
        self.show_all_view()
        self.refresh_bindings()
