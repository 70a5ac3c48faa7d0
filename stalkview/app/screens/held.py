"""Jobs held by a :class:`ReserveSession`, with a live TTR countdown.

The session has a connection of its own, so the main view keeps refreshing.
Every command runs in a worker; failures come back as notifications in the
session's own words. Leaving this screen keeps the jobs held (the main screen
says how many); quitting the app asks first.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any, ClassVar

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.widgets import DataTable, Static

from stalkview.app.screens.confirm import DIALOG_CSS, ConfirmScreen
from stalkview.app.screens.dialog import Dialog
from stalkview.app.screens.prompt import bury_prompt, release_prompt, reserve_prompt
from stalkview.app.widgets.footer import Footer
from stalkview.client import BeanstalkConnectionError, Error
from stalkview.model import preview
from stalkview.ops import ActionError, plain_reason
from stalkview.reserve import HeldJob, ReserveSession

TICK = 0.25
REFRESH_EVERY = 2.0
MUTATING = frozenset({"reserve", "delete", "release", "bury", "touch"})


def countdown(held: HeldJob, now: float) -> Text:
    left = held.seconds_left(now)
    if left <= 0:
        return Text("expired: back to ready", style="dim")
    text = Text(f"{left:5.1f}s")
    if held.deadline_soon:
        text.stylize("bold reverse red")
        text.append(" DEADLINE_SOON", style="bold red")
    elif left < max(5.0, held.ttr * 0.2):
        text.stylize("yellow")
    return text


class HeldScreen(Dialog[None]):
    """The held jobs; r reserves another, d/e/b/t act on the one under the cursor."""

    DEFAULT_CSS = (
        "HeldScreen {"
        + DIALOG_CSS
        + """
        & > Vertical { width: 110; height: 80%; }
        & #held-table { height: 1fr; }
        & #held-status { height: auto; color: $text-muted; }
    }"""
    )

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("r", "reserve", "Reserve", id="held-reserve", tooltip="Reserve a job from a tube"),
        Binding("d", "delete", "Delete", id="held-delete", tooltip="Delete the held job"),
        Binding("e", "release", "Release", id="held-release", tooltip="Release the held job"),
        Binding("b", "bury", "Bury", id="held-bury", tooltip="Bury the held job"),
        Binding("t", "touch", "Touch", id="held-touch", tooltip="Touch: restart its TTR"),
        Binding("escape", "close", "Close", id="held-close", tooltip="Back (jobs stay held)"),
    ]

    def __init__(
        self,
        session: ReserveSession,
        *,
        tubes: Callable[[], Sequence[str]] = list,
        tube: str | None = None,
        read_only: bool = False,
    ) -> None:
        super().__init__()
        self.session = session
        self.tubes = tubes
        self.tube = tube
        self.read_only = read_only
        self.busy = False
        self._last_refresh = time.monotonic()

    def compose(self) -> ComposeResult:
        with Vertical(id="held-dialog"):
            yield Static(Text("Held jobs", style="bold"), classes="dialog-title")
            yield DataTable(id="held-table", cursor_type="row", zebra_stripes=True)
            yield Static("", id="held-status")
        yield Footer()

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        table.add_column("id", key="id")
        table.add_column("tube", key="tube")
        table.add_column("pri", key="pri")
        table.add_column("ttr", key="ttr")
        table.add_column("time left", key="left", width=30)
        table.add_column("body", key="body")
        self.show_held()
        self.set_interval(TICK, self._tick)
        table.focus()

    # --- display --------------------------------------------------------------------

    def show_held(self) -> None:
        table = self.query_one(DataTable)
        now = time.monotonic()
        wanted = {str(jid): held for jid, held in self.session.held.items()}
        for key in [k.value for k in table.rows if k.value not in wanted]:
            if key is not None:
                table.remove_row(key)
        for key, held in wanted.items():
            if key in table.rows:
                table.update_cell(key, "left", countdown(held, now))
            else:
                table.add_row(
                    Text(str(held.id)),
                    Text(held.tube),
                    Text(str(held.pri)),
                    Text(f"{held.ttr}s"),
                    countdown(held, now),
                    Text(preview(held.body, 60)),
                    key=key,
                )
        count = len(wanted)
        status = (
            f"{count} job{'s' if count != 1 else ''} held on a connection of its own; they go "
            "back to ready when their TTR runs out or the app quits."
            if count
            else "No job held. r reserves one from a tube."
        )
        self.query_one("#held-status", Static).update(Text(status))

    def _tick(self) -> None:
        self.show_held()
        if (
            self.session.held
            and not self.busy
            and time.monotonic() - self._last_refresh > REFRESH_EVERY
        ):
            self._last_refresh = time.monotonic()
            self.drop_expired()

    @work(group="held-refresh", exclusive=True, exit_on_error=False)
    async def drop_expired(self) -> None:
        try:
            dropped = await self.session.refresh()
        except (Error, OSError):
            return
        if dropped:
            ids = ", ".join(str(j) for j in dropped)
            self.notify(f"TTR ran out for job {ids}: the server gave it back to ready")
            self.show_held()

    def selected(self) -> HeldJob | None:
        table = self.query_one(DataTable)
        if not table.row_count:
            return None
        key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
        return self.session.held.get(int(key)) if key is not None else None

    # --- actions ----------------------------------------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in MUTATING:
            if self.read_only:
                return None
            if action != "reserve" and not self.session.held:
                return None
        return True

    def action_close(self) -> None:
        self.dismiss(None)

    def action_reserve(self) -> None:
        self.run_op("reserve")

    def action_delete(self) -> None:
        self.run_op("delete")

    def action_release(self) -> None:
        self.run_op("release")

    def action_bury(self) -> None:
        self.run_op("bury")

    def action_touch(self) -> None:
        self.run_op("touch")

    @work(group="held", exclusive=True, exit_on_error=False)
    async def run_op(self, op: str) -> None:
        self.busy = True
        try:
            message = await self._op(op)
        except ActionError as exc:
            self.notify(str(exc), severity="error", title=op.capitalize())
        except BeanstalkConnectionError as exc:
            self.notify(
                f"{plain_reason(exc, op)}; the held jobs went back to ready",
                severity="error",
                title=op.capitalize(),
            )
        except (Error, OSError) as exc:
            self.notify(plain_reason(exc, op), severity="error", title=op.capitalize())
        else:
            if message:
                self.notify(message, title=op.capitalize())
        finally:
            self.busy = False
            self.show_held()
            self.refresh_bindings()

    async def _op(self, op: str) -> str | None:
        if op == "reserve":
            return await self._reserve()
        held = self.selected()
        if held is None:
            return None
        session = self.session
        if op == "touch":
            await session.touch(held.id)
            return f"touched job {held.id}: {held.ttr}s to run again"
        if op == "delete":
            question = Text.assemble(f"Delete held job {held.id} from ", (held.tube, "bold"), "?")
            if not await self.app.push_screen_wait(
                ConfirmScreen(
                    question, "It is journaled first, so it can be restored.", verb="Delete"
                )
            ):
                return None
            await session.delete(held.id)
            return f"deleted job {held.id}"
        if op == "release":
            values = await self.app.push_screen_wait(release_prompt(held.id, held.pri))
            if values is None:
                return None
            await session.release(held.id, pri=values["pri"], delay=values["delay"])
            return f"released job {held.id} (pri {values['pri']}, delay {values['delay']}s)"
        values = await self.app.push_screen_wait(bury_prompt(held.id, held.pri))
        if values is None:
            return None
        await session.bury(held.id, pri=values["pri"])
        return f"buried job {held.id} (pri {values['pri']})"

    async def _reserve(self) -> str | None:
        values: dict[str, Any] | None = await self.app.push_screen_wait(
            reserve_prompt(list(self.tubes()), self.tube)
        )
        if values is None:
            return None
        tube, timeout = values["tube"], values["timeout"]
        self.tube = tube
        self.query_one("#held-status", Static).update(
            Text(f"waiting up to {timeout}s for a job in {tube}…")
        )
        await self.session.open()
        job = await self.session.reserve_from(tube, timeout)
        if job is None:
            return f"no job became ready in {tube} within {timeout}s"
        return f"reserved job {job.id} from {tube}: {job.ttr}s to run"
