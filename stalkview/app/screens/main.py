"""The main screen: server bar, tubes, jobs, and the job detail or lifecycle side pane.

The screen owns what is shown and where the user is (selected tube, state
filter, search, selected job); the app owns connections and data. Every piece
of server data reaches a widget as a rich ``Text`` or through a widget that
renders it literally: tube names and bodies are never markup.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, ClassVar, cast

from rich.text import Text
from textual import events, on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.dom import DOMNode
from textual.message import Message
from textual.screen import Screen
from textual.widget import Widget
from textual.widgets import ContentSwitcher, Input, ProgressBar, Static

from stalkview.app.job_actions import ACTION_BINDINGS, ActionsMixin
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
)
from stalkview.app.screens.jump import JumpScreen
from stalkview.app.widgets.banner import ConnectionBanner
from stalkview.app.widgets.footer import Footer
from stalkview.app.widgets.hints import ProblemList, health_cell
from stalkview.app.widgets.jobdetail import JobDetail
from stalkview.app.widgets.joblist import JobList
from stalkview.app.widgets.lifecycle import JobMark, Lifecycle
from stalkview.app.widgets.serverbar import ServerBar
from stalkview.app.widgets.servers import ServersTable
from stalkview.app.widgets.statebar import STATE_KEYS, StateBar
from stalkview.app.widgets.tubes import TubesTable
from stalkview.model import (
    Hint,
    Query,
    QueryError,
    TubeRates,
    parse_query,
    server_hints,
    tube_hints,
)
from stalkview.model.logsize import FileFacts, LogReport, LogWatch, enabled, log_hints
from stalkview.model.problems import (
    STORM_MIN_JOBS,
    ProblemBook,
    held_hints,
    poison_hints,
    problems,
    storm_hints,
    summary_hint,
)
from stalkview.poll import Snapshot, totals

if TYPE_CHECKING:
    from stalkview.inventory import Inventory, JobInfo

FLOW_LABELS = ("reserves", "releases", "timeouts", "buries", "kicks")
"""Rates a tube's diagram estimates from its jobs' counters (stats-tube has none of them)."""
QUERY_HELP = 'e.g. state=buried reserves>=3 age>1h body~"user_id": 42   (enter: run, esc: clear)'

PANES = ("servers-pane", "tubes-pane", "jobs-pane", "side")
NARROW = 110
"""Below this many columns the job detail opens over the jobs list (enter) instead of
beside it: at 80 columns a side pane would leave the body preview a dozen cells."""
WIDER = 140
"""From here the side pane takes its full share; between NARROW and WIDER a little less,
so the jobs list keeps the age beside the type and the body (120x30, a tmux split)."""
TALL = 40
"""From this many lines the tubes pane has its full height: 12 table lines (header
included) and up to 5 problems. A shorter screen gives the pane about a third of its
lines, so the jobs pane keeps at least 8 rows at 24 lines."""
TUBES_MAX_ROWS = 12
PROBLEMS_MAX_ROWS = 5
SERVERS_MAX_ROWS = 9


def tubes_pane_heights(screen_height: int) -> tuple[int, int]:
    """The most lines the tubes table (header included) and the problems summary get."""
    if screen_height >= TALL:
        return TUBES_MAX_ROWS, PROBLEMS_MAX_ROWS
    inner = screen_height // 3 - 1  # a third of the screen, less the pane's border
    problems = max(1, min(PROBLEMS_MAX_ROWS, inner // 3))
    return max(3, min(TUBES_MAX_ROWS, inner - problems)), problems


class MainScreen(ActionsMixin, Screen[None]):
    """Everything on one screen; tab / shift+tab move between the panes."""

    # Focus the tubes table straight away: a second focus change would rebuild the footer.
    AUTO_FOCUS = "#tubes"
    # Classes for the stylesheet: "-narrow" opens the detail over the jobs list; the
    # server bar drops its sparklines ("-medium"), then its totals ("-short"), then its
    # rates ("-tiny") as the terminal gets shorter.
    # (Textual types these "ClassVar[...] | None", so a ClassVar annotation here fails mypy.)
    HORIZONTAL_BREAKPOINTS = [  # noqa: RUF012
        (0, "-narrow"),
        (NARROW, "-wide"),
        (WIDER, "-wider"),
    ]
    # esc backs out of an input first (action_back), then restores a zoomed pane.
    ESCAPE_TO_MINIMIZE: ClassVar[bool | None] = False
    VERTICAL_BREAKPOINTS = [  # noqa: RUF012
        (0, "-tiny"),
        (20, "-short"),
        (32, "-medium"),
        (40, "-tall"),
    ]

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding(
            "slash",
            "filter",
            "Filter",
            id="filter",
            tooltip="Filter tubes by name (tubes pane) or search jobs (jobs pane)",
        ),
        Binding(
            "s",
            "search",
            "Search",
            show=False,  # "/" searches in the jobs pane; the footer has no room for both
            id="search",
            tooltip="Search jobs: stats conditions and body text or regex",
        ),
        Binding(
            "z",
            "zoom",
            "Zoom",
            id="zoom",
            tooltip="Zoom: the focused pane fills the screen; z again restores",
        ),
        # The same key while zoomed: the footer then says what it does.
        Binding("z", "unzoom", "Restore", id="unzoom", tooltip="Restore the zoomed pane"),
        Binding("colon", "jump", "Jump", id="jump", tooltip="Jump to a job by id"),
        Binding(
            "b",
            "binlog_jobs",
            "Binlog jobs",
            show=False,
            id="binlog-jobs",
            tooltip="The binlog: its size, what writes it, the jobs that keep its oldest file",
        ),
        Binding(
            "l",
            "toggle_lifecycle",
            "Lifecycle",
            id="lifecycle",
            tooltip="Show the lifecycle diagram or the job detail",
        ),
        *(
            Binding(
                key,
                f"state({value!r})" if value else "state(None)",
                label.capitalize(),
                # The state bar already shows "1 all 2 ready …": the footer has no room.
                show=False,
                id=f"state-{label}",
                tooltip=f"Show {label} jobs",
            )
            for key, value, label in STATE_KEYS
        ),
        Binding(
            "escape",
            "back",
            "Back",
            show=False,
            id="back",
            tooltip="Back out: close the input, or move back one pane",
        ),
        *ACTION_BINDINGS,
    ]

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.tube: str | None = None
        self.state_filter: str | None = None
        self.query_text = ""
        self.job_query: Query | None = None
        self.body_matches: frozenset[int] | None = None
        self.current_job_id: int | None = None
        self.current_job: JobInfo | None = None
        self.hints: list[Hint] = []
        #: When the last body search finished, and how many bodies it read.
        self._bodies_read: tuple[str, int] | None = None
        self._subtitle = ""
        self.log_report: LogReport | None = None
        self.log_files: list[FileFacts] | None = None
        #: The runaway-binlog hints of the last inventory pass (model/logsize.py).
        self.log_hints: list[Hint] = []
        #: Every hint of the last refresh by tube (None: the server), and the problems among
        #: them, worst first: what the summary under the tubes table lists.
        self.hints_by_tube: dict[str | None, list[Hint]] = {}
        self.problems: list[Hint] = []
        self.problem_book = ProblemBook()
        self._titles: dict[str, str] = {}
        self._tube_count = 0
        # The tubes table's and the problems' max heights (None: zoomed).
        self._tubes_heights: tuple[int, int] | None = (-1, -1)
        #: What the app's workers last reported (messages): the screen's own copy.
        self.snapshot: Snapshot | None = None
        self.refreshed: ServerRefreshed | None = None
        self.inventory: Inventory | None = None
        #: When the jobs list may next be redrawn while the first scan streams jobs in.
        self._next_stream = 0.0
        #: The server the results shown are about (the fleet app switches servers).
        self.generation = 0

    async def _on_message(self, message: Message) -> None:
        if isinstance(message, ServerResult) and message.generation != self.generation:
            return  # about the server shown before a switch
        await super()._on_message(message)

    @property
    def sv(self) -> ServerSource:
        """The app, for what the screen asks of it (see :class:`ServerSource`)."""
        return cast("ServerSource", self.app)

    # --- layout ----------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        shown = getattr(self.sv, "shown_address", self.sv.address)
        yield ServerBar(shown, read_only=self.sv.read_only, id="server-bar")
        log_banner = getattr(self.sv, "log_banner", None)
        if log_banner:
            # A log is shown through a private server restored from it: say so, always.
            yield Static(Text(log_banner), id="log-banner")
        yield ConnectionBanner(id="banner")
        yield from self.compose_servers()
        with Vertical(id="tubes-pane"):
            yield Input(
                placeholder="filter tubes by name (enter: keep, esc: clear)",
                id="tube-filter",
                classes="hidden",
            )
            yield TubesTable(id="tubes")
            yield Static("", id="tube-detail", classes="hidden")
            yield from self.compose_breakdown()
            yield ProblemList(id="hints")
        with Horizontal(id="lower"):
            with Vertical(id="jobs-pane"):
                yield StateBar(id="states")
                yield Input(placeholder=QUERY_HELP, id="job-query", classes="hidden")
                yield Static("", id="query-status", classes="hidden")
                yield ProgressBar(id="scan-progress", show_eta=False)
                yield Static("", id="scan-status", classes="hidden")
                yield JobList(id="jobs", empty_message="Scanning jobs…")
            with ContentSwitcher(initial="detail", id="side"):
                yield JobDetail(id="detail")
                with VerticalScroll(id="lifecycle-view"):
                    yield Lifecycle(id="lifecycle")
        yield Footer()

    # Hooks for the variant on several servers (:class:`~stalkview.app.screens.fleet.FleetScreen`).

    def compose_servers(self) -> ComposeResult:
        """Panes above the tubes (none for one server)."""
        return ()

    def compose_breakdown(self) -> ComposeResult:
        """Panes under the tubes table (none for one server)."""
        return ()

    def show_scope(self) -> None:
        """Once mounted: show what the panes are about (one server: the data says it all)."""

    def server_tag(self) -> str | None:
        """The server jobs and the detail are about, for titles (None: the only one)."""
        return None

    def tubes_title(self, count: int) -> Text:
        return Text(f"Tubes ({count:,})")

    def show_tubes(self) -> None:
        """Fill the tubes table from the last refresh."""
        snapshot = self.snapshot
        if snapshot is not None:
            self.query_one(TubesTable).update_tubes(snapshot.stats, snapshot.tubes)
            self._title_tubes(len(snapshot.tubes))

    def tube_changed(self) -> None:
        """The selected tube changed (after the jobs pane followed it)."""

    # --- mounting --------------------------------------------------------------------

    def on_mount(self) -> None:
        self.query_one("#tubes-pane").border_title = "Tubes"
        self.query_one("#jobs-pane").border_title = "Jobs"
        self.query_one("#side").border_title = "Job"
        self.query_one(StateBar).show(None, {})
        self.query_one(ProblemList).show_message(Text("connecting…", style="dim"))
        self.show_scope()
        self._action_state = self.disabled_reasons()  # what the footer was composed with
        self.sv.start_polling()

    # --- fitting the terminal --------------------------------------------------------

    def on_resize(self) -> None:
        self._fit_heights()
        self.layout_changed()

    def layout_changed(self) -> None:
        """The screen was resized or a pane zoomed (a hook for the fleet variant)."""

    def _fit_heights(self) -> None:
        """Cap the tubes pane so the jobs pane keeps its rows (not while zoomed)."""
        table = self.query_one(TubesTable)
        zoomed = self.maximized is not None
        height = self.size.height
        servers = self.query("#servers")
        if servers:
            # Several servers: their table scrolls too, so the jobs keep some room.
            lines = SERVERS_MAX_ROWS if height >= TALL else max(4, height // 6)
            servers.first().styles.max_height = None if zoomed else lines
            height -= lines + 2
        heights = None if zoomed else tubes_pane_heights(height)
        if self._tubes_heights == heights:
            return
        self._tubes_heights = heights
        table.styles.max_height = None if heights is None else heights[0]
        problems = self.query_one(ProblemList)
        problems.styles.max_height = PROBLEMS_MAX_ROWS if heights is None else heights[1]
        # The cursor rows stay in view when the table and the list get shorter.
        table.call_after_refresh(table.move_cursor, row=table.cursor_row, animate=False)
        if problems.highlighted is not None:
            problems.call_after_refresh(problems.scroll_to_highlight)

    @property
    def narrow(self) -> bool:
        return self.has_class("-narrow")

    @property
    def zoomed_pane(self) -> str | None:
        """The id of the pane that fills the screen, or None."""
        return None if self.maximized is None else self.maximized.id

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "zoom":
            return self.maximized is None
        if action == "unzoom":
            return self.maximized is not None
        return super().check_action(action, parameters)

    def action_unzoom(self) -> None:
        if self.maximized is not None:
            self.action_zoom()

    def action_zoom(self) -> None:
        if self.maximized is not None:
            self.minimize()
        else:
            pane = self.query_one(f"#{self._focused_pane_id()}")
            if pane.id == "side":
                self._open_side()
            self.maximized = pane
        self._fit_heights()
        self._show_tube_detail()
        self.layout_changed()
        self.refresh_bindings()  # "z Zoom" or "z Restore"

    def _focused_pane_id(self) -> str:
        servers = self.query("#servers-pane")
        focused = self.focused
        if servers and focused is not None and servers.first() in focused.ancestors_with_self:
            return "servers-pane"
        pane = self._focused_pane()
        return "side" if pane == "side" else f"{pane}-pane"

    def _open_side(self, focus: str = "#detail") -> None:
        """Show the side pane and focus it: beside the jobs (wide) or over them (narrow)."""
        self.add_class("-side-open")
        target = self.query_one(focus)
        # Until the class has taken effect the pane is not displayed and cannot focus.
        self.call_after_refresh(target.focus)

    def on_descendant_focus(self, event: events.DescendantFocus) -> None:
        in_side = self._focused_pane() == "side"
        self.set_class(in_side, "-side-open")
        maximized = self.maximized
        if maximized is not None and maximized.id in PANES:
            # Focus moved out of the zoomed pane (a jump, an action): follow it.
            pane = self.query_one(f"#{self._focused_pane_id()}")
            if pane is not maximized:
                self.maximized = pane

    def _show_tube_detail(self) -> None:
        """The zoomed tubes pane also shows every column of the selected tube."""
        detail = self.query_one("#tube-detail", Static)
        shown = self.zoomed_pane == "tubes-pane" and bool(self.query_one(TubesTable).hidden_columns)
        detail.set_class(not shown, "hidden")
        if shown:
            detail.update(self.query_one(TubesTable).describe_row())

    def layout_note(self) -> Text | None:
        """For the help screen: the columns this terminal's width leaves out."""
        tubes = self.query_one(TubesTable).hidden_columns
        jobs = self.query_one(JobList).hidden_columns
        if not tubes and not jobs:
            return None
        width, height = self.size
        note = Text(f"At {width}x{height} some columns are hidden (a wider terminal shows them):")
        if tubes:
            note.append("\n  tubes: ", style="bold")
            note.append(" ".join(tubes))
            note.append(" (z zooms the pane: every column of the selected tube)", style="dim")
        if self.query("#breakdown") and self.size.height < TALL:
            note.append("\n  tubes: ", style="bold")
            note.append("each server's share of the selected tube")
            note.append(" (z: on a screen under 40 lines it shows zoomed)", style="dim")
        if jobs:
            note.append("\n  jobs: ", style="bold")
            note.append(" ".join(jobs))
            note.append(" (enter: the job's detail has every field)", style="dim")
        return note

    @on(JobList.ColumnsChanged)
    def _job_columns_changed(self, event: JobList.ColumnsChanged) -> None:
        if self.inventory is not None and self.inventory.scanned:
            self.show_jobs()  # (while scanning, the title shows the progress)

    @on(TubesTable.ColumnsChanged)
    def _columns_changed(self, event: TubesTable.ColumnsChanged) -> None:
        self._title_tubes(self._tube_count)
        self._show_tube_detail()

    def binding_nodes(self) -> list[DOMNode]:
        """Where the help screen reads bindings from: the app, this screen, each pane."""
        nodes: list[DOMNode] = [self.app, self]
        for widget_type in (ServersTable, TubesTable, JobList, JobDetail):
            nodes.extend(self.query(widget_type))
        return nodes

    # --- server data -------------------------------------------------------------------

    def set_status(self, status: str, detail: str = "") -> None:
        self.query_one(ServerBar).set_status(status, detail)

    @on(ServerRefreshing)
    def _server_refreshing(self) -> None:
        self.set_status("refreshing")

    @on(ServerRefreshed)
    def _server_refreshed(self, message: ServerRefreshed) -> None:
        self.snapshot = message.snapshot
        self.refreshed = message
        self.show_snapshot()
        self.set_status("live", f"{message.snapshot.elapsed * 1000:.0f} ms")

    def show_snapshot(self) -> None:
        """Show the last refresh: server bar, health, tubes, problems, lifecycle."""
        refreshed = self.refreshed
        if refreshed is None:
            return
        snapshot = refreshed.snapshot
        self.query_one(ServerBar).show_stats(
            snapshot.stats, refreshed.shown_rates, refreshed.histories
        )
        if self.log_report is None and enabled(snapshot.stats):
            # Until the first job scan brings the full report: the span and size from stats.
            self.query_one(ServerBar).show_binlog(LogWatch().update(snapshot.stats, snapshot.at))
        self.query_one(ConnectionBanner).hide()
        self.remove_class("stale")
        by_tube = self._hints_by_tube(refreshed)
        found = problems(by_tube)
        self.problem_book.note(found, time.monotonic())
        self.hints_by_tube, self.problems = by_tube, found
        health: dict[str | None, Text] = {
            name: health_cell(hints) for name, hints in by_tube.items() if name is not None
        }
        # The (all tubes) row is the worst of its tubes, not the server's own hints only.
        server_info = [h for h in by_tube.get(None, []) if h.level == "info"]
        health[None] = health_cell(summary_hint(found) or server_info)
        self.show_tube_health(snapshot, health)
        self.hints = (by_tube.get(self.tube, []) if self.tube is not None else []) + by_tube[None]
        self._show_problems()
        self.update_lifecycle()

    def show_tube_health(self, snapshot: Snapshot, health: dict[str | None, Text]) -> None:
        """The tubes table with each tube's health cell, after a refresh."""
        self.query_one(TubesTable).update_tubes(snapshot.stats, snapshot.tubes, health)
        self._title_tubes(len(snapshot.tubes))

    def _hints_by_tube(self, refreshed: ServerRefreshed) -> dict[str | None, list[Hint]]:
        """Hints from the counters of the server and each tube, and from the known jobs."""
        snapshot, rates, own = refreshed.snapshot, refreshed.tube_rates, refreshed.own_watchers
        by_tube: dict[str | None, list[Hint]] = {
            None: server_hints(snapshot.stats, refreshed.rates)
        }
        for name, stats in snapshot.tubes.items():
            by_tube[name] = tube_hints(
                stats, rates.rates(name), own_watchers=own if name == "default" else 0
            )
        for hint in self.log_hints:
            by_tube.setdefault(hint.tube, []).append(hint)
        inventory = self.inventory
        if inventory is not None and inventory.scanned:
            now = time.monotonic()
            jobs = held_hints(inventory.select(None, "reserved"), snapshot.tubes, now)
            stormy = {
                name: inventory.select(name, "delayed")
                for name, stats in snapshot.tubes.items()
                if int(stats.get("current-jobs-delayed", 0) or 0) >= STORM_MIN_JOBS
            }
            jobs += storm_hints(stormy, now, rates.rates)
            rose = inventory.timeouts_rose
            known = inventory.jobs
            jobs += poison_hints((known[i] for i in rose if i in known), rose, now)
            for hint in jobs:
                by_tube.setdefault(hint.tube, []).append(hint)
        return by_tube

    @on(BinlogUpdated)
    def _binlog_updated(self, message: BinlogUpdated) -> None:
        self.log_files = message.files
        self.show_binlog(message.report)

    def show_binlog(self, report: LogReport | None) -> None:
        """The binlog line of the server bar; its hints join the problems at the next refresh."""
        self.log_report = report
        self.query_one(ServerBar).show_binlog(report)
        self.log_hints = log_hints(report)

    def action_binlog_jobs(self) -> None:
        """The binlog report; from it, ``enter`` lists the jobs keeping the oldest file."""
        report = self.log_report
        if report is None:
            self.notify("This server keeps no binlog (beanstalkd runs without -b)", title="Binlog")
            return
        from stalkview.app.screens.binlog import BinlogScreen

        def chosen(list_jobs: bool | None) -> None:
            if list_jobs:
                self.list_binlog_jobs()

        self.app.push_screen(BinlogScreen(report, self.sv.server_label, self.log_files), chosen)

    def list_binlog_jobs(self) -> None:
        """All tubes, every state, searched for ``file=N``: the jobs keeping the oldest file."""
        report = self.log_report
        if report is None:
            return
        if not report.pinners_known:
            self.notify("The job scan has not finished yet: try again in a moment", title="Binlog")
            return
        self.query_one(TubesTable).select_tube(None)
        self.tube = None
        self.state_filter = None
        query_input = self.query_one("#job-query", Input)
        query_input.value = f"file={report.oldest}"
        query_input.remove_class("hidden")
        # After the input's Changed event, which would put the help text back.
        self.call_after_refresh(self.run_query, query_input.value)

    def _show_problems(self) -> None:
        now = time.monotonic()
        ages = [self.problem_book.age(hint, now) for hint in self.problems]
        infos = [h for h in self.hints_by_tube.get(self.tube, []) if h.level == "info"]
        if self.tube is not None:
            infos += [h for h in self.hints_by_tube.get(None, []) if h.level == "info"]
        self.query_one(ProblemList).show_problems(self.problems, ages, infos)
        count = len(self.problems)
        subtitle = ""
        if count:
            noun = "problem" if count == 1 else "problems"
            subtitle = f"{count:,} {noun} · tab to the list, enter shows the jobs"
        if self._subtitle != subtitle:
            self._subtitle = subtitle
            self.query_one("#tubes-pane").border_subtitle = subtitle

    def _title_tubes(self, count: int) -> None:
        self._tube_count = count
        table = self.query_one(TubesTable)
        title = self.tubes_title(count)
        title.append(
            f"  sort: {table.sort_column} {'▼' if table.sort_reverse else '▲'}", style="dim"
        )
        if table.name_filter:
            title.append("  filter: ", style="dim")
            title.append(table.name_filter, style="bold")
        hidden = table.hidden_columns
        if hidden:
            # Said, not silently dropped: widen the terminal or zoom (z) to see them.
            title.append(f"  hidden: {' '.join(hidden)} (z)", style="dim")
        self._set_title("#tubes-pane", title)

    @on(ServerLost)
    def _server_lost(self, message: ServerLost) -> None:
        since = message.since
        when = time.strftime("%H:%M:%S", time.localtime(since)) if since else None
        self.query_one(ConnectionBanner).show_lost(
            self.sv.address, message.reason, message.retry_in, message.attempt, when
        )
        self.set_status("stale", f"retry in {message.retry_in:.1f}s")
        if since is not None:
            self.add_class("stale")

    def update_lifecycle(self) -> None:
        refreshed = self.refreshed
        if refreshed is None:
            return
        snapshot = refreshed.snapshot
        counts = totals(snapshot, self.tube)
        job = self.current_job
        mark = JobMark.of(job) if job is not None else None
        if self.tube is None:
            rates = refreshed.shown_rates
            self.query_one(Lifecycle).update_view(counts, rates, "whole server", mark)
            return
        # A tube's diagram shows that tube's flows only: server-wide rates drawn out of
        # a tube's READY box would say its jobs move when nobody takes them.
        scope = f"tube {self.tube}"
        tube_rates = refreshed.tube_rates.rates(self.tube) or TubeRates()
        estimated = frozenset(FLOW_LABELS)
        rates = {"puts": tube_rates.puts, "deletes": tube_rates.deletes}
        rates.update({label: getattr(tube_rates, label) for label in FLOW_LABELS})
        watching = int(snapshot.tubes.get(self.tube, {}).get("current-watching", 0) or 0)
        if watching and tube_rates.deletes:
            # A job reserved and deleted between two reads of the inventory leaves no trace
            # in its counters; with consumers watching, nearly every delete was a reserve.
            rates["reserves"] = max(rates["reserves"] or 0.0, tube_rates.deletes)
        self.query_one(Lifecycle).update_view(
            counts, rates, scope, mark, rates_scope="this tube", estimated=estimated
        )

    # --- tubes ------------------------------------------------------------------------------

    @on(TubesTable.TubeHighlighted)
    def _tube_highlighted(self, event: TubesTable.TubeHighlighted) -> None:
        self.refresh_action_bindings()
        if event.tube == self.tube and self.inventory is not None and self.inventory.scanned:
            return
        self.tube = event.tube
        self._clear_body_search()
        self.show_jobs()
        if self.snapshot is not None:
            self._show_problems()
        self.update_lifecycle()
        self._show_tube_detail()
        self.tube_changed()

    @on(ProblemList.ProblemChosen)
    def _problem_chosen(self, event: ProblemList.ProblemChosen) -> None:
        """Show the jobs a problem concerns: its tube, its state, its job."""
        hint: Hint = event.hint
        table = self.query_one(TubesTable)
        if hint.tube is not None and not table.select_tube(hint.tube) and table.name_filter:
            self._apply_tube_filter("")  # the tube was filtered out of the table
            self.query_one("#tube-filter", Input).add_class("hidden")
            table.select_tube(hint.tube)
        self.tube = hint.tube
        self.state_filter = hint.state
        self._clear_body_search()
        if self.job_query is not None:
            self.run_query("")
        self.show_jobs()
        job_list = self.query_one(JobList)
        if hint.job is not None:
            job_list.select_job_id(hint.job)
            self.current_job_id = hint.job
            self.sv.load_job(hint.job)
        job_list.focus()
        self.update_lifecycle()

    @on(TubesTable.TubeOpened)
    def _tube_opened(self, event: TubesTable.TubeOpened) -> None:
        self.query_one(JobList).focus()

    @on(Input.Changed, "#tube-filter")
    def _tube_filter_changed(self, event: Input.Changed) -> None:
        self._apply_tube_filter(event.value)

    @on(Input.Submitted, "#tube-filter")
    def _tube_filter_submitted(self, event: Input.Submitted) -> None:
        table = self.query_one(TubesTable)
        if not event.value:
            event.input.add_class("hidden")
        else:
            # Enter picks the match (the exact name, else the first row shown): its jobs show.
            match = self._tube_match(event.value)
            if match is not None:
                table.select_tube(match)
        table.focus()

    def _tube_match(self, text: str) -> str | None:
        table = self.query_one(TubesTable)
        shown = table.shown_tubes()
        if text in shown:
            return text
        return shown[0] if shown else None

    def _apply_tube_filter(self, text: str) -> None:
        self.query_one(TubesTable).name_filter = text
        self.show_tubes()

    # --- jobs -------------------------------------------------------------------------------

    def selected_jobs_unsearched(self) -> list[JobInfo]:
        """The jobs of the selected tube and state, before the search."""
        if self.inventory is None:
            return []
        return self.inventory.select(self.tube, self.state_filter)

    def selected_jobs(self) -> list[JobInfo]:
        """The jobs the jobs pane shows: tube, state filter, then the search."""
        jobs = self.selected_jobs_unsearched()
        query = self.job_query
        if query is None or query.is_empty:
            return jobs
        if query.needs_body or query.needs_type:
            matches = self.body_matches or frozenset()
            return [job for job in jobs if job.id in matches]
        return [job for job in jobs if query.matches_stats(job)]

    def show_jobs(self) -> None:
        inventory = self.inventory
        job_list = self.query_one(JobList)
        if inventory is None or not inventory.scanned:
            job_list.set_empty_message("Scanning jobs…")
        elif self.job_query is not None and not self.job_query.is_empty:
            job_list.set_empty_message(f"No job matches: {self.job_query}")
        else:
            job_list.set_empty_message("No jobs here")
        jobs = self.selected_jobs()
        job_list.show_tube_column(self.tube is None)
        job_list.set_jobs(jobs)
        counts = inventory.counts(self.tube) if inventory is not None else {}
        self.query_one(StateBar).show(self.state_filter, counts)
        title = Text("Jobs · ")
        server = self.server_tag()
        if server is not None:
            title.append(server, style="bold reverse")
            title.append(" · ")
        title.append("all tubes" if self.tube is None else self.tube, style="bold")
        title.append(f" · {self.state_filter or 'all states'} · {len(jobs):,}")
        if inventory is None or not inventory.scanned:
            title.append(" · scanning…", style="italic")
        if self.job_query is not None and not self.job_query.is_empty:
            title.append(f" · search: {self.job_query}", style="italic")
            self._count_matches(len(jobs))
        hidden = job_list.hidden_columns
        if hidden:
            title.append(f"  hidden: {' '.join(hidden)} (enter)", style="dim")
        self._set_title("#jobs-pane", title)

    def _count_matches(self, shown: int) -> None:
        """The search status says how many jobs the list shows, whatever changed since."""
        query = self.job_query
        if query is None or self.query_one("#job-query", Input).has_focus:
            return  # while a new search is typed, the status is its help or its error
        if not (query.needs_body or query.needs_type):
            self._query_status(Text(f"{shown:,} jobs match", style="green"))
        elif self._bodies_read is not None:
            at, checked = self._bodies_read
            self._query_status(
                Text(
                    f"{shown:,} jobs match (of {checked:,} bodies read at {at}; enter re-runs)",
                    style="green",
                )
            )

    def _set_title(self, selector: str, title: Text) -> None:
        # A border title change repaints the pane: only when the text differs.
        if self._titles.get(selector) != title.markup:
            self._titles[selector] = title.markup
            self.query_one(selector).border_title = title

    @on(InventoryProgress)
    def _inventory_progress(self, message: InventoryProgress) -> None:
        """The first scan's progress: how many found, how fast, how long at most, and
        which announced jobs are still missing (the two largest groups)."""
        progress = message.progress
        self.inventory = message.inventory
        bar = self.query_one("#scan-progress", ProgressBar)
        bar.update(total=max(progress.expected, progress.found, 1), progress=progress.found)
        status = self.query_one("#scan-status", Static)
        lines = [f"scanning: {progress.summary()}"]
        lines += [str(m) for m in progress.missing[:2]]
        if len(progress.missing) > 2:
            lines[-1] += f" (and {len(progress.missing) - 2} more tube/state groups)"
        # Tube names come from the server: shown as plain text, never as markup.
        status.update(Text("\n".join(lines), style="dim"))
        status.remove_class("hidden")
        # Jobs appear as the scan finds them, the heads first. Redrawing the list costs
        # more as it grows: at most a tenth of the UI's time goes to it.
        now = time.monotonic()
        if now >= self._next_stream and progress.found:
            started = time.perf_counter()
            self.show_jobs()
            self._next_stream = now + max(0.25, 10 * (time.perf_counter() - started))

    @on(InventoryUpdated)
    def _inventory_updated(self, message: InventoryUpdated) -> None:
        self.inventory = message.inventory
        self.query_one(ServerBar).show_source(message.inventory.found_by)
        # Without a change only ages and time-lefts moved: the list redraws those itself.
        if message.first or message.change:
            self.show_jobs()
        if message.first:
            self.query_one("#scan-progress", ProgressBar).add_class("hidden")
            self.query_one("#scan-status", Static).add_class("hidden")
        job_id = self.detail_job_id()
        if job_id is not None:
            self.sv.refresh_job(job_id)

    @on(BodiesLoaded)
    def _bodies_loaded(self, message: BodiesLoaded) -> None:
        self.query_one(JobList).set_bodies(message.bodies)

    @on(JobList.BodiesWanted)
    def _bodies_wanted(self, event: JobList.BodiesWanted) -> None:
        self.sv.want_bodies(event.ids)

    @on(JobList.Highlighted)
    def _job_highlighted(self, event: JobList.Highlighted) -> None:
        self.refresh_action_bindings()  # enables the job actions in the footer
        job = event.job
        if job is None:
            return
        if job.id != self.current_job_id:
            self.current_job_id = job.id
            self.current_job = job
            # The detail keeps the previous job until this one's body arrives (a
            # millisecond or so): no "loading" flash while scrolling with j/k.
            self.sv.load_job(job.id)
        self.update_lifecycle()

    @on(JobList.Selected)
    def _job_selected(self, event: JobList.Selected) -> None:
        self.query_one(ContentSwitcher).current = "detail"
        self._open_side()

    @on(JobLoaded)
    def _job_loaded(self, loaded: JobLoaded) -> None:
        detail = self.query_one(JobDetail)
        if loaded.job is None:
            if loaded.jump:
                self.notify(
                    f"Job {loaded.job_id}: {loaded.error}", severity="error", title="Jump to job"
                )
            else:
                detail.show_message(f"Job {loaded.job_id}: {loaded.error}")
            return
        if loaded.job_id != self.current_job_id and not loaded.jump:
            return  # the user moved on while it loaded
        self.current_job_id = loaded.job_id
        self.current_job = loaded.job
        shown = len(loaded.body) if loaded.body is not None else 0
        detail.show_job(
            loaded.job,
            loaded.body,
            truncated=loaded.size is not None and loaded.size > shown,
            total_size=loaded.size,
        )
        self.query_one("#side").border_title = self._job_title(loaded.job_id)
        if loaded.jump:
            self._reveal_job(loaded.job)
        self.update_lifecycle()

    def _job_title(self, job_id: int, suffix: str = "") -> Text:
        title = Text(f"Job {job_id}")
        server = self.server_tag()
        if server is not None:
            title.append(" · ")
            title.append(server, style="bold")
        title.append(suffix)
        return title

    def _detail_title(self) -> Text:
        detail = self.query_one(JobDetail)
        if detail.job is None:
            return Text("Job")
        return self._job_title(detail.job.id, " · gone" if detail.gone else "")

    def shown_job_ids(self) -> tuple[int, ...]:
        """Ids of the job rows on screen now (and the one in the detail pane)."""
        ids = self.query_one(JobList).visible_ids()
        shown = self.detail_job_id()
        return ids if shown is None else (*ids, shown)

    def detail_job_id(self) -> int | None:
        """The job the detail pane shows, while it is still there to follow."""
        detail = self.query_one(JobDetail)
        job = detail.job
        return None if job is None or detail.gone else job.id

    @on(JobRefreshed)
    def _job_refreshed(self, message: JobRefreshed) -> None:
        """Follow the shown job's live state: stats only, the body stays."""
        job_id, job = message.job_id, message.job
        detail = self.query_one(JobDetail)
        if detail.job is None or detail.job.id != job_id:
            return  # the user moved on meanwhile
        if job is None:
            detail.mark_gone()
            self.query_one("#side").border_title = self._detail_title()
        else:
            detail.update_job(job)
        if job_id == self.current_job_id:
            self.current_job = job if job is not None else self.current_job
            self.update_lifecycle()

    def _reveal_job(self, job: JobInfo) -> None:
        """After a jump: select the job's tube and state so the job shows in the list."""
        self.query_one(TubesTable).select_tube(job.tube)
        self.tube = job.tube
        if self.state_filter not in (None, job.state):
            self.state_filter = None
        self.show_jobs()
        self.query_one(JobList).select_job_id(job.id)
        self.query_one(ContentSwitcher).current = "detail"
        self._open_side()

    # --- search -----------------------------------------------------------------------------

    @on(Input.Changed, "#job-query")
    def _query_changed(self, event: Input.Changed) -> None:
        try:
            parse_query(event.value)
        except QueryError as exc:
            self._query_status(Text(f"✕ {exc.message}", style="bold red"))
            return
        self._query_status(Text(QUERY_HELP, style="dim"))

    @on(Input.Submitted, "#job-query")
    def _query_submitted(self, event: Input.Submitted) -> None:
        self.run_query(event.value)

    def run_query(self, text: str) -> bool:
        """Apply a search; False (with the error shown inline) when it does not parse."""
        try:
            query = parse_query(text)
        except QueryError as exc:
            self._query_status(Text(f"✕ {exc.message}", style="bold red"))
            return False
        self.query_text = text
        self.job_query = None if query.is_empty else query
        self.body_matches = None
        self._bodies_read = None
        if self.job_query is not None and (query.needs_body or query.needs_type):
            candidates = [
                job for job in self.selected_jobs_unsearched() if query.matches_stats(job)
            ]
            self._query_status(Text(f"searching {len(candidates):,} bodies…", style="cyan"))
            self.body_matches = frozenset()
            self.sv.search_bodies(text, query, candidates)
        elif self.job_query is None:
            self._query_status(None)
        self.show_jobs()
        self.query_one(JobList).focus()
        return True

    @on(SearchProgress)
    def _search_progress(self, message: SearchProgress) -> None:
        checked, total, matched = message.checked, message.total, message.matched
        self._query_status(
            Text(f"searching bodies: {checked:,}/{total:,}, {matched:,} match", style="cyan")
        )

    @on(SearchDone)
    def _search_done(self, message: SearchDone) -> None:
        text, ids, checked = message.text, message.ids, message.checked
        if text != self.query_text:
            return
        self.body_matches = ids
        self._bodies_read = (time.strftime("%H:%M:%S"), checked)
        self.show_jobs()

    def _query_status(self, text: Text | None) -> None:
        status = self.query_one("#query-status", Static)
        status.set_class(text is None, "hidden")
        status.update(text or "")

    def _clear_body_search(self) -> None:
        if self.job_query is not None and (self.job_query.needs_body or self.job_query.needs_type):
            self.job_query = None
            self.query_text = ""
            self.body_matches = None
            query_input = self.query_one("#job-query", Input)
            query_input.value = ""
            query_input.add_class("hidden")
            self._query_status(None)

    # --- actions ------------------------------------------------------------------------------

    def _focused_pane(self) -> str:
        focused = self.focused
        if focused is None:
            return "tubes"
        for pane in ("tubes-pane", "jobs-pane", "side"):
            node: Widget | None = focused
            while node is not None:
                if node.id == pane:
                    return pane.removesuffix("-pane")
                node = (
                    cast("Widget | None", node.parent) if isinstance(node.parent, Widget) else None
                )
        return "tubes"

    def action_filter(self) -> None:
        if self._focused_pane() == "tubes":
            tube_filter = self.query_one("#tube-filter", Input)
            tube_filter.remove_class("hidden")
            tube_filter.focus()
        else:
            self.action_search()

    def action_search(self) -> None:
        query_input = self.query_one("#job-query", Input)
        query_input.remove_class("hidden")
        if self.query_one("#query-status", Static).has_class("hidden"):
            self._query_status(Text(QUERY_HELP, style="dim"))
        query_input.focus()

    def action_jump(self) -> None:
        def jump(job_id: int | None) -> None:
            if job_id is not None:
                self.sv.load_job(job_id, jump=True)

        self.app.push_screen(JumpScreen(), jump)

    def action_toggle_lifecycle(self) -> None:
        switcher = self.query_one(ContentSwitcher)
        showing = switcher.current == "lifecycle-view"
        in_side = self._focused_pane() == "side"
        switcher.current = "detail" if showing else "lifecycle-view"
        self.query_one("#side").border_title = self._detail_title() if showing else "Lifecycle"
        if not showing:
            self.update_lifecycle()
        if in_side or self.narrow:
            # Narrow: no room beside the jobs, so the diagram (or the detail) opens over them.
            self._open_side("#detail" if showing else "#lifecycle-view")

    def action_state(self, state: str | None) -> None:
        self.state_filter = state
        self._clear_body_search()
        if self.job_query is not None:
            self.run_query(self.query_text)
        else:
            self.show_jobs()

    def action_back(self) -> None:
        focused = self.focused
        if focused is not None and focused.id == "tube-filter":
            cast(Input, focused).value = ""
            focused.add_class("hidden")
            self._apply_tube_filter("")
            self.query_one(TubesTable).focus()
        elif focused is not None and focused.id == "job-query":
            cast(Input, focused).value = ""
            focused.add_class("hidden")
            self.run_query("")
            self._query_status(None)
        elif self.maximized is not None:
            self.action_zoom()
        elif self._focused_pane() == "side":
            self.remove_class("-side-open")  # narrow: the jobs list shows again
            job_list = self.query_one(JobList)
            self.call_after_refresh(job_list.focus)
        elif self._focused_pane() == "jobs":
            self.query_one(TubesTable).focus()
        elif self.query_one(ContentSwitcher).current == "lifecycle-view":
            self.action_toggle_lifecycle()
