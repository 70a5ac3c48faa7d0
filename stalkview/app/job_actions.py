"""Every action that changes the server, as a mixin for the main screen.

The host screen provides ``tube`` (the selected tube or None), ``state_filter``
and a :class:`JobList` with id ``jobs``; the app provides ``address`` and
``read_only``. Actions run in workers (group "actions") on a connection of
their own, so browsing never shares a used tube with them; reserving runs on
the :class:`ReserveSession`'s connection. Bulk actions show a
:class:`ProgressScreen` that can stop them; results come back as one
notification (:meth:`BulkReport.summary`), failures in plain words.

Enabling is :meth:`check_action`: mutating actions are disabled (shown dimmed)
in read-only mode and when there is nothing to act on. Each key has a second,
hidden binding to :meth:`action_explain` that runs only when the first is
disabled, so the key says why instead of doing nothing.

The dialogs, :mod:`stalkview.actions`, the journal, reserving and transfer are
imported inside the flows, when an action first runs: only to keep them out of
the app's start-up (together ~0.12 of ~1.05 s for ``import stalkview.app.app``,
``python -X importtime``, 2026-11-29).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.text import Text
from textual import work
from textual.binding import Binding, BindingType
from textual.screen import Screen

from stalkview.client import BeanstalkConnectionError, Client, Error, NotFoundError
from stalkview.format import duration_words
from stalkview.ops import ActionError, BulkReport, plain_reason
from stalkview.poll import ACTION_COMMAND_TIMEOUT, CONNECT_TIMEOUT

if TYPE_CHECKING:
    from stalkview.app.screens.fields import ParsedPut
    from stalkview.app.screens.put import PutScreen
    from stalkview.inventory import JobInfo
    from stalkview.journal import Journal, JournalEntry, RestoreReport
    from stalkview.reserve import ReserveSession


#: action -> (key, footer label, help text)
ACTION_KEYS: dict[str, tuple[str, str, str]] = {
    "put": ("n", "New job", "Put a new job (form with tube, body, priority, delay, ttr)"),
    "duplicate": ("y", "Duplicate", "Put a copy of the selected job, fields prefilled to edit"),
    "delete": ("x", "Delete", "Delete the marked jobs, or the selected one (asks first)"),
    "delete_all": ("X", "Delete all", "Delete every job listed: this tube and state (asks first)"),
    "kick": ("K", "Kick", "Kick the marked jobs, else the selected one (jobs pane); N of the tube"),
    "kick_all": ("ctrl+k", "Kick all", "Kick every buried or delayed job listed (asks first)"),
    "move": ("m", "Move", "Move the marked/selected jobs to another tube, keeping them intact"),
    "move_all": ("M", "Move all", "Move every job listed to another tube"),
    "pause": ("p", "Pause", "Pause the selected tube for a while, or unpause it"),
    "reserve": ("R", "Reserve", "Held jobs: reserve from a tube; delete, release, bury, touch"),
    "reserve_job": ("r", "Reserve job", "Reserve the selected job (reserve-job) and hold it"),
    "journal": ("J", "Journal", "Deleted and moved jobs; restore them"),
    "export": (
        "e", "Export", "Export the marked jobs, or the jobs listed, to a JSON Lines file",
    ),
    "import_jobs": (
        "i", "Import", "Put the jobs of a JSON Lines file into this server (dry run first)",
    ),
}  # fmt: skip
MUTATING = frozenset(ACTION_KEYS) - {"journal", "export"}
_MUTATING_ORDER = tuple(sorted(MUTATING))
#: Variants of a footer action stay out of the footer (it must fit 160 columns);
#: they are on the help screen and in the command palette like every action.
FOOTER_HIDDEN = frozenset(
    {"duplicate", "move_all", "kick_all", "reserve_job", "export", "import_jobs"}
)
VERBS = {
    "put": "put", "duplicate": "duplicate", "delete": "delete", "delete_all": "delete all",
    "kick": "kick", "kick_all": "kick all", "move": "move", "move_all": "move all",
    "pause": "pause/unpause",
    "reserve": "reserve", "reserve_job": "reserve-job", "import_jobs": "import",
}  # fmt: skip


def action_bindings() -> list[BindingType]:
    """Each action's binding, then its hidden explanation for when it is disabled."""
    bindings: list[BindingType] = []
    for action, (key, label, tooltip) in ACTION_KEYS.items():
        bindings.append(
            Binding(
                key,
                action,
                label,
                show=action not in FOOTER_HIDDEN,
                id=f"action-{action}",
                tooltip=tooltip,
            )
        )
        if action in MUTATING:
            bindings.append(Binding(key, f"explain({action!r})", "", show=False))
    return bindings


KICKABLE_STATES = frozenset({"buried", "delayed"})


def jobs_phrase(n: int, state: str | None, tube: str | None) -> str:
    """E.g. "312 buried jobs in emails", "1 job in all tubes"."""
    noun = "job" if n == 1 else "jobs"
    kind = f"{state} {noun}" if state else noun
    return f"{n:,} {kind} in {tube if tube is not None else 'all tubes'}"


#: For the host screen's BINDINGS: Textual reads BINDINGS from DOMNode classes only.
ACTION_BINDINGS = action_bindings()


class ActionsMixin:
    """Actions for a screen that shows tubes and jobs (see the module docstring).

    The host lists :data:`ACTION_BINDINGS` in its own ``BINDINGS``.
    """

    tube: str | None
    state_filter: str | None
    _actions_client: Client | None = None
    _journal: Journal | None = None
    #: The enabled state the footer shows (None: not known yet).
    _action_state: tuple[str | None, ...] | None = None
    _action_check_pending = False
    #: The last list asked about for kick-all and the answer (see _lists_kickable).
    _kickable_seen: tuple[Sequence[JobInfo], bool] | None = None
    reserve_session: ReserveSession | None = None

    # --- what the actions act on ---------------------------------------------------

    @property
    def _screen(self) -> Screen[Any]:
        assert isinstance(self, Screen)
        return self

    @property
    def read_only(self) -> bool:
        return bool(getattr(self._screen.app, "read_only", False))

    @property
    def address(self) -> str:
        return str(self._screen.app.address)  # type: ignore[attr-defined]

    @property
    def server_label(self) -> str:
        """The current server's saved name or address (the fleet app has several)."""
        return str(getattr(self._screen.app, "server_label", self.address))

    def reset_actions(self) -> None:
        """Forget the connections of the last server (after :meth:`close_actions`)."""
        self._actions_client = None
        self.reserve_session = None

    @property
    def journal(self) -> Journal:
        from stalkview.journal import Journal

        if self._journal is None:
            self._journal = Journal()
        return self._journal

    def _job_list(self) -> Any:
        from stalkview.app.widgets.joblist import JobList

        try:
            return self._screen.query_one("#jobs", JobList)
        except Exception:  # not mounted yet
            return None

    def _jobs_focused(self) -> bool:
        focused = self._screen.focused
        if focused is None:
            return False
        return any(node.id in ("jobs", "jobs-pane", "side") for node in focused.ancestors_with_self)

    def cursor_job(self) -> JobInfo | None:
        job_list = self._job_list()
        return None if job_list is None else job_list.cursor_job

    def selection(self) -> list[int]:
        """The marked jobs, else the job under the cursor when the jobs pane has focus."""
        job_list = self._job_list()
        if job_list is None:
            return []
        if job_list.marked:
            return sorted(job_list.marked)
        job = job_list.cursor_job
        return [job.id] if job is not None and self._jobs_focused() else []

    def listed(self) -> list[JobInfo]:
        return list(self.listed_view())

    def listed_view(self) -> Sequence[JobInfo]:
        """The jobs listed (not a copy: read, never keep)."""
        job_list = self._job_list()
        return () if job_list is None else job_list.jobs

    def _selection_phrase(self, ids: Sequence[int]) -> str:
        job_list = self._job_list()
        if job_list is not None and job_list.marked:
            return f"{len(ids):,} marked job{'s' if len(ids) != 1 else ''}"
        job = self.cursor_job()
        if job is not None and len(ids) == 1 and job.id == ids[0]:
            return f"job {job.id} ({job.state}, in {job.tube})"
        return f"{len(ids):,} jobs"

    # --- enabling ----------------------------------------------------------------------

    def _why_disabled(self, action: str) -> str | None:
        if action not in MUTATING:
            return None
        if self.read_only:
            why = getattr(self._screen.app, "read_only_reason", "started with --read-only")
            return f"read-only mode: {VERBS[action]} is disabled ({why})"
        if not self._has_what(action):
            if action == "pause":
                return "nothing to pause: select a tube in the tubes pane"
            if action == "kick":
                return "nothing to kick: select a tube, or a job in the jobs pane"
            if action == "kick_all":
                return "nothing to kick: no buried or delayed job is listed"
            return f"nothing to {VERBS[action]}: select a job in the jobs pane or mark some (space)"
        return self._why_not_this_job(action)

    def _why_not_this_job(self, action: str) -> str | None:
        """Why the one job an action would act on cannot take it (None: it can).

        Marked jobs are checked one by one when the action runs (its report says which
        failed and why); the job under the cursor is known now, so say it before asking.
        """
        if action not in ("delete", "move", "kick") or self._has_marks():
            return None
        if action == "kick" and not self._jobs_focused():
            return None  # the tubes pane: kick N jobs of the tube
        job = self.cursor_job()
        if job is None:
            return None
        if action == "kick" and job.state not in KICKABLE_STATES:
            return f"job {job.id} is {job.state}: only buried or delayed jobs can be kicked"
        session = self.reserve_session
        held_here = session is not None and job.id in session.held
        if job.state == "reserved" and not held_here:
            return (
                f"job {job.id} is reserved by another connection: only its worker can "
                f"{VERBS[action]} it (or wait until its TTR runs out)"
            )
        return None

    def refresh_action_bindings(self) -> None:
        """Refresh the bindings, once the current messages are handled, if an action's
        enabled state changed by then.

        Each refresh rebuilds the footer (some 60 widgets restyled): on every
        cursor move, and in the first frame with data, that is most of the cost.
        The check waits for the handler that asked to finish changing the state.
        """
        if not self._action_check_pending:
            self._action_check_pending = True
            self._screen.call_later(self._refresh_if_changed)

    def _refresh_if_changed(self) -> None:
        self._action_check_pending = False
        state = self.disabled_reasons()
        if state != self._action_state:
            self._action_state = state
            self._screen.refresh_bindings()

    def disabled_reasons(self) -> tuple[str | None, ...]:
        """Why each mutating action is disabled (None: enabled), in a fixed order."""
        return tuple(self._why_disabled(action) for action in _MUTATING_ORDER)

    def _has_what(self, action: str) -> bool:
        """Whether there is something for ``action`` to act on. Only the one asked is
        computed: the footer asks every action, and a listing can hold 100,000 jobs."""
        if action in ("duplicate", "reserve_job"):
            return self.cursor_job() is not None
        if action in ("delete", "move"):
            return self._has_selection()
        if action in ("delete_all", "move_all"):
            job_list = self._job_list()
            return job_list is not None and bool(job_list.jobs)
        if action == "kick":
            return self.tube is not None or self._has_selection()
        if action == "kick_all":
            state = self.state_filter
            jobs = self.listed_view()
            if state is not None:
                return state in KICKABLE_STATES and bool(jobs)
            return self._lists_kickable(jobs)
        if action == "pause":
            return self.tube is not None
        return True

    def _lists_kickable(self, jobs: Sequence[JobInfo]) -> bool:
        """Whether a buried or delayed job is listed: once per list, since the footer
        asks on every key and a list can hold 1,000,000 jobs. Lists run ready,
        delayed, reserved, buried: from the end, a kickable job is met early."""
        seen = self._kickable_seen
        if seen is not None and seen[0] is jobs:
            return seen[1]
        answer = any(job.state in KICKABLE_STATES for job in reversed(jobs))
        self._kickable_seen = (jobs, answer)
        return answer

    def _has_selection(self) -> bool:
        job_list = self._job_list()
        if job_list is None:
            return False
        return bool(job_list.marked) or (job_list.cursor_job is not None and self._jobs_focused())

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "explain":
            return bool(parameters) and self._why_disabled(str(parameters[0])) is not None
        if action in MUTATING and self._why_disabled(action) is not None:
            return None
        return True

    def action_explain(self, action: str) -> None:
        reason = self._why_disabled(action)
        if reason:
            self._screen.notify(reason, severity="warning", title=VERBS.get(action, action))

    # --- plumbing ------------------------------------------------------------------------

    async def actions_client(self) -> Client:
        if self._actions_client is None:
            self._actions_client = Client(
                self.address,
                encoding=None,
                connect_timeout=CONNECT_TIMEOUT,
                command_timeout=ACTION_COMMAND_TIMEOUT,
            )
        await self._actions_client.open()
        return self._actions_client

    async def close_actions(self) -> None:
        """Close the actions connection and the reserve session (held jobs go back to ready)."""
        for closer in (self._actions_client, self.reserve_session):
            if closer is not None:
                with contextlib.suppress(Error, OSError):
                    await closer.close()

    def _after_change(self) -> None:
        refresh = getattr(self._screen.app, "action_refresh_now", None)
        if callable(refresh):
            refresh()
        self._screen.refresh_bindings()

    def _fail(self, title: str, exc: BaseException) -> None:
        message = str(exc) if isinstance(exc, ActionError) else plain_reason(exc, title.lower())
        self._screen.notify(message, severity="error", title=title)

    async def _guarded(self, title: str, run: Callable[[], Awaitable[None]]) -> None:
        try:
            await run()
        except (ActionError, Error, OSError) as exc:
            self._fail(title, exc)
        finally:
            self._after_change()

    async def _ask(self, screen: Any) -> Any:
        return await self._screen.app.push_screen_wait(screen)

    async def run_bulk(
        self,
        title: str,
        ids: list[int],
        go: Callable[..., Awaitable[BulkReport]],
    ) -> BulkReport:
        """Run a bulk function under a progress dialog; notify its summary."""
        from stalkview.app.screens.confirm import ProgressScreen

        progress = ProgressScreen(title, len(ids))
        await self._screen.app.push_screen(progress)
        try:
            report = await go(on_progress=progress.update_progress, cancel=progress.cancel)
        finally:
            progress.dismiss(None)
        failed = bool(report.failed or report.aborted)
        self._screen.notify(
            report.summary(),
            severity="warning" if failed else "information",
            title=title,
            timeout=10 if failed else 5,
        )
        job_list = self._job_list()
        if job_list is not None:
            job_list.clear_marks()
        return report

    # --- put and duplicate -------------------------------------------------------------

    async def _server_facts(self) -> tuple[list[str], int | None]:
        client = await self.actions_client()
        tubes = sorted(await client.tubes())
        stats = await client.stats()
        size = stats.get("max-job-size")
        return tubes, int(size) if size is not None else None

    def action_put(self) -> None:
        self.put_flow(None)

    def action_duplicate(self) -> None:
        job = self.cursor_job()
        if job is not None:
            self.put_flow(job.id)

    @work(exclusive=True, group="actions", exit_on_error=False)
    async def put_flow(self, source: int | None) -> None:
        from stalkview.actions import put_job

        async def run() -> None:
            tubes, max_size = await self._server_facts()
            form = await self._put_form(tubes, max_size, source)
            if form is None:
                return
            parsed: ParsedPut | None = await self._ask(form)
            if parsed is None:
                return
            client = await self.actions_client()
            new_id = await put_job(
                client, parsed.tube, parsed.body, pri=parsed.pri, delay=parsed.delay, ttr=parsed.ttr
            )
            where = f"delayed {duration_words(parsed.delay)}" if parsed.delay else "ready"
            self._screen.notify(f"put job {new_id} into {parsed.tube} ({where})", title="Put")

        await self._guarded("Put", run)

    async def _put_form(
        self, tubes: list[str], max_size: int | None, source: int | None
    ) -> PutScreen | None:
        from stalkview.app.screens.put import PutScreen

        if source is None:
            return PutScreen(tubes, tube=self.tube, max_job_size=max_size)
        client = await self.actions_client()
        try:
            job = await client.peek(source)
            stats = await client.stats_job(source)
        except NotFoundError:
            raise ActionError(
                f"job {source} is gone (deleted or taken): nothing to duplicate"
            ) from None
        return PutScreen(
            tubes,
            tube=str(stats["tube"]),
            body=bytes(job.body),
            pri=int(stats["pri"]),
            ttr=int(stats["ttr"]),
            max_job_size=max_size,
            title=f"Duplicate job {source}",
        )

    # --- delete ---------------------------------------------------------------------------

    def action_delete(self) -> None:
        ids = self.selection()
        if ids:
            self.delete_flow(ids, self._selection_phrase(ids))

    def action_delete_all(self) -> None:
        jobs = self.listed()
        if jobs:
            what = jobs_phrase(len(jobs), self.state_filter, self.tube)
            self.delete_flow([j.id for j in jobs], f"all {what}" if len(jobs) > 1 else what)

    @work(exclusive=True, group="actions", exit_on_error=False)
    async def delete_flow(self, ids: list[int], what: str) -> None:
        from stalkview.actions import delete_jobs
        from stalkview.app.screens.confirm import ConfirmScreen

        async def run() -> None:
            question = Text(f"Delete {what}?")
            detail = (
                "Each job is written to the journal first (J), so it can be restored. "
                "Jobs a worker holds are left alone."
            )
            if not await self._ask(ConfirmScreen(question, detail, verb="Delete")):
                return
            client = await self.actions_client()

            async def go(**progress: Any) -> BulkReport:
                return await delete_jobs(
                    client, ids, journal=self.journal, server_label=self.address, what=what,
                    **progress,
                )  # fmt: skip

            await self.run_bulk("Delete", ids, go)

        await self._guarded("Delete", run)

    # --- kick ---------------------------------------------------------------------------------

    def action_kick(self) -> None:
        """The marked jobs, else the selected one (jobs pane); in the tubes pane, N jobs of
        the tube. More than one job is kicked only after a confirmation with the count."""
        ids = self.selection() if self._jobs_focused() or self._has_marks() else []
        if ids:
            self.kick_jobs_flow(ids, self._selection_phrase(ids))
        elif self.tube is not None:
            self.kick_tube_flow(self.tube)

    def action_kick_all(self) -> None:
        """Every buried or delayed job listed (this tube, state and search)."""
        jobs = [job for job in self.listed_view() if job.state in KICKABLE_STATES]
        if jobs:
            listed = jobs_phrase(len(jobs), self.state_filter, self.tube)
            if self.state_filter is None:
                listed = listed.replace(" jobs in ", " buried or delayed jobs in ", 1)
                listed = listed.replace(" job in ", " buried or delayed job in ", 1)
            self.kick_jobs_flow([j.id for j in jobs], f"all {listed}" if len(jobs) > 1 else listed)

    def _has_marks(self) -> bool:
        job_list = self._job_list()
        return bool(job_list is not None and job_list.marked)

    @work(exclusive=True, group="actions", exit_on_error=False)
    async def kick_jobs_flow(self, ids: list[int], what: str) -> None:
        from stalkview.actions import kick_jobs
        from stalkview.app.screens.confirm import ConfirmScreen

        async def run() -> None:
            if len(ids) > 1:
                question = Text(f"Kick {what}?")
                detail = f"{len(ids):,} jobs become ready: workers will take them again."
                if not await self._ask(ConfirmScreen(question, detail, verb="Kick")):
                    return
            client = await self.actions_client()

            async def go(**progress: Any) -> BulkReport:
                return await kick_jobs(client, ids, what=what, **progress)

            await self.run_bulk("Kick", ids, go)

        await self._guarded("Kick", run)

    @work(exclusive=True, group="actions", exit_on_error=False)
    async def kick_tube_flow(self, tube: str) -> None:
        from stalkview.actions import kick_tube
        from stalkview.app.screens.prompt import kick_prompt

        async def run() -> None:
            client = await self.actions_client()
            stats = await self._tube_stats(client, tube, "kick")
            buried, delayed = int(stats["current-jobs-buried"]), int(stats["current-jobs-delayed"])
            if not buried and not delayed:
                self._screen.notify(f"{tube} has no buried or delayed job: nothing to kick")
                return
            values = await self._ask(kick_prompt(tube, buried, delayed))
            if values is None:
                return
            kicked = await kick_tube(client, tube, values["bound"])
            kind = "buried" if buried else "delayed"
            self._screen.notify(f"kicked {kicked:,} {kind} jobs in {tube}", title="Kick")

        await self._guarded("Kick", run)

    async def _tube_stats(self, client: Client, tube: str, verb: str) -> dict[str, Any]:
        """The tube's stats, or an ActionError saying there is nothing to ``verb``."""
        try:
            return await client.stats_tube(tube)
        except NotFoundError:
            raise ActionError(f"tube {tube!r} does not exist any more: nothing to {verb}") from None

    # --- pause -------------------------------------------------------------------------------

    def action_pause(self) -> None:
        if self.tube is not None:
            self.pause_flow(self.tube)

    @work(exclusive=True, group="actions", exit_on_error=False)
    async def pause_flow(self, tube: str) -> None:
        from stalkview.actions import pause_tube
        from stalkview.app.screens.confirm import ConfirmScreen
        from stalkview.app.screens.prompt import pause_prompt

        async def run() -> None:
            client = await self.actions_client()
            stats = await self._tube_stats(client, tube, "pause")
            if int(stats.get("pause-time-left", 0)) > 0:
                left = duration_words(int(stats["pause-time-left"]))
                question = Text(f"Unpause {tube}? It is paused for {left} more.")
                if not await self._ask(ConfirmScreen(question, verb="Unpause")):
                    return
                await pause_tube(client, tube, 0)
                self._screen.notify(f"unpaused {tube}", title="Pause")
                return
            values = await self._ask(pause_prompt(tube))
            if values is None:
                return
            await pause_tube(client, tube, values["seconds"])
            seconds = values["seconds"]
            self._screen.notify(
                f"paused {tube} for {duration_words(seconds)}" if seconds else f"unpaused {tube}",
                title="Pause",
            )

        await self._guarded("Pause", run)

    # --- move -------------------------------------------------------------------------------

    def action_move(self) -> None:
        ids = self.selection()
        if ids:
            self.move_flow(ids, self._selection_phrase(ids))

    def action_move_all(self) -> None:
        jobs = self.listed()
        if jobs:
            self.move_flow(
                [j.id for j in jobs], jobs_phrase(len(jobs), self.state_filter, self.tube)
            )

    @work(exclusive=True, group="actions", exit_on_error=False)
    async def move_flow(self, ids: list[int], what: str) -> None:
        from stalkview.actions import move_jobs
        from stalkview.app.screens.prompt import move_prompt

        async def run() -> None:
            client = await self.actions_client()
            tubes = sorted(await client.tubes())
            values = await self._ask(move_prompt(what, tubes, self.tube))
            if values is None:
                return
            target = values["tube"]

            async def go(**progress: Any) -> BulkReport:
                return await move_jobs(
                    client, ids, target, journal=self.journal, server_label=self.address,
                    what=what, **progress,
                )  # fmt: skip

            await self.run_bulk("Move", ids, go)

        await self._guarded("Move", run)

    # --- reserve ----------------------------------------------------------------------------

    def session(self) -> ReserveSession:
        from stalkview.reserve import ReserveSession

        if self.reserve_session is None:
            self.reserve_session = ReserveSession(
                self.address, journal=self.journal, server_label=self.address
            )
        return self.reserve_session

    def held_count(self) -> int:
        return len(self.reserve_session.held) if self.reserve_session is not None else 0

    def _tube_names(self) -> list[str]:
        # The host screen's copy of the last refresh (MainScreen.snapshot).
        snapshot = getattr(self, "snapshot", None)
        return sorted(snapshot.tubes) if snapshot is not None else []

    def open_held(self) -> None:
        from stalkview.app.screens.held import HeldScreen

        self._screen.app.push_screen(
            HeldScreen(
                self.session(), tubes=self._tube_names, tube=self.tube, read_only=self.read_only
            ),
            lambda _: self._after_change(),
        )

    def action_reserve(self) -> None:
        self.open_held()

    def action_reserve_job(self) -> None:
        job = self.cursor_job()
        if job is not None:
            self.reserve_job_flow(job.id)

    @work(exclusive=True, group="actions", exit_on_error=False)
    async def reserve_job_flow(self, job_id: int) -> None:
        async def run() -> None:
            session = self.session()
            await session.open()
            held = await session.reserve_job(job_id)
            self._screen.notify(
                f"holding job {held.id}: {duration_words(held.ttr)} to run", title="Reserve job"
            )
            self.open_held()

        await self._guarded("Reserve job", run)

    async def confirm_quit(self) -> bool:
        """Whether to quit: asks first when jobs are held."""
        from stalkview.app.screens.confirm import ConfirmScreen

        held = self.held_count()
        if not held:
            return True
        noun = "job" if held == 1 else "jobs"
        they = "It goes" if held == 1 else "They go"
        return bool(
            await self._ask(
                ConfirmScreen(
                    Text(f"Quit while holding {held} reserved {noun}?"),
                    f"{they} back to ready when stalkview quits: a worker can take "
                    f"{'it' if held == 1 else 'them'} at once.",
                    verb="Quit",
                )
            )
        )

    # --- journal ------------------------------------------------------------------------------

    def action_journal(self) -> None:
        from stalkview.app.screens.journal import JournalScreen

        self._screen.app.push_screen(
            JournalScreen(
                self.journal, self.restore_entries, server=self.address, read_only=self.read_only
            ),
            lambda _: self._after_change(),
        )

    async def restore_entries(self, entries: Sequence[JournalEntry]) -> RestoreReport:
        from stalkview.journal import restore

        if self.read_only:
            raise ActionError("read-only mode: restore is disabled (started with --read-only)")
        client = await self.actions_client()
        try:
            return await restore(client, entries, journal=self.journal)
        except BeanstalkConnectionError as exc:
            raise ActionError(plain_reason(exc, "restore")) from None

    # --- export and import -------------------------------------------------------------------

    def action_export(self) -> None:
        marked = self._has_marks()
        ids = self.selection() if marked else [j.id for j in self.listed()]
        if marked:
            what = self._selection_phrase(ids)
        else:
            what = jobs_phrase(len(ids), self.state_filter, self.tube)
        if not ids:
            self._screen.notify(f"nothing to export: no {what}", severity="warning", title="Export")
            return
        self.export_flow(ids, what)

    @work(exclusive=True, group="actions", exit_on_error=False)
    async def export_flow(self, ids: list[int], what: str) -> None:
        from stalkview.app.screens.confirm import ProgressScreen
        from stalkview.app.screens.prompt import export_prompt
        from stalkview.transfer import default_export_path, write_export

        async def run() -> None:
            default = default_export_path(self.server_label, self.tube, self.state_filter)
            values = await self._ask(export_prompt(what, self.server_label, default))
            if values is None:
                return
            path: Path = values["path"]
            client = await self.actions_client()
            progress = ProgressScreen(f"Export {what}", len(ids))
            await self._screen.app.push_screen(progress)
            try:
                count = await write_export(
                    client, path, ids, self.tube, self.state_filter, self.server_label,
                    progress.update_progress,
                )  # fmt: skip
            finally:
                progress.dismiss(None)
            self._screen.notify(
                f"exported {count:,} job{'s' if count != 1 else ''} from {self.server_label} "
                f"to {path}",
                title="Export",
            )

        await self._guarded("Export", run)

    def action_import_jobs(self) -> None:
        self.import_flow()

    @work(exclusive=True, group="actions", exit_on_error=False)
    async def import_flow(self) -> None:
        from stalkview.app.screens.confirm import ProgressScreen
        from stalkview.app.screens.prompt import import_confirm, import_prompt
        from stalkview.transfer import file_digest, import_jobs, import_key, read_jsonl

        async def run() -> None:
            values = await self._ask(import_prompt(self.server_label, self.tube))
            if values is None:
                return
            path: Path = values["path"]
            tube: str | None = values["tube"]
            lines = await asyncio.to_thread(read_jsonl, path)
            preview = await import_jobs(self.address, lines, tube=tube, dry_run=True)
            good = len(preview.jobs) - len(preview.failed)
            if not good:
                raise ActionError(f"{path} has no job to import: {preview.summary()}")
            if not await self._ask(import_confirm(path, self.server_label, preview)):
                return
            client = await self.actions_client()
            progress = ProgressScreen(f"Import {path.name}", good)
            await self._screen.app.push_screen(progress)
            try:
                # The same progress record as the command line's: a re-run of an
                # interrupted import continues where it stopped.
                digest = await asyncio.to_thread(file_digest, path)
                report = await import_jobs(
                    client, lines, tube=tube,
                    on_progress=lambda done: progress.update_progress(done, good),
                    resume_key=f"{import_key(digest, str(client.address))} tube={tube or ''}",
                    expected=len(preview.jobs),
                )  # fmt: skip
            finally:
                progress.dismiss(None)
            self._screen.notify(
                "\n".join([*report.notes, f"{self.server_label}: {report.summary()}"]),
                severity="information" if report.ok else "warning",
                title="Import",
                timeout=5 if report.ok else 10,
            )

        await self._guarded("Import", run)
