"""Every action end to end in the harness app, checked against the server's state afterwards."""

from __future__ import annotations

import threading
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from textual.widgets import DataTable, Input, Static

from stalkview.app.screens.confirm import ConfirmScreen, ProgressScreen
from stalkview.app.screens.held import HeldScreen
from stalkview.app.screens.journal import JournalScreen
from stalkview.app.screens.prompt import PromptScreen
from stalkview.app.screens.put import PutScreen
from stalkview.app.widgets.joblist import JobList
from stalkview.client import Client, NotFoundError
from stalkview.client import commands as cmd
from stalkview.journal import Journal, JournalEntry
from tests.app.test_actions_ui import (
    HarnessApp,
    actions_idle,
    show_jobs,
    wait_async,
)
from tests.beanstalkd import Beanstalkd
from tests.pilot import notices, wait_for

SIZE = (120, 45)


async def bury_new(c: Client, tube: str, bodies: list[bytes], pri: int = 100) -> list[int]:
    """Put jobs into ``tube`` and bury them, pipelined (10,000 in well under a second)."""
    await c.use(tube)
    ids = await c.run_many([cmd.put(b, pri, 0, 60) for b in bodies], raise_on_error=True)
    calls: list[Any] = []
    for jid in ids:
        calls += [cmd.reserve_job(jid), cmd.bury(jid, pri)]
    await c.run_many(calls, raise_on_error=True)
    await c.use("default")
    return [int(j) for j in ids]


async def fill_prompt(pilot: Any, **values: str) -> None:
    app = pilot.app
    await wait_for(pilot, lambda: isinstance(app.screen, PromptScreen))
    for name, value in values.items():
        app.screen.query_one(f"#field-{name}", Input).value = value
    await pilot.press("enter")


async def list_buried(app: HarnessApp, c: Client, ids: list[int]) -> None:
    """List the buried jobs ``ids`` of emails in the harness. The stats-job of the first
    stands in for all (they differ only by id): reading 10,000 would only slow the test."""
    await show_jobs(app, c, ids[:1], "emails")
    app.harness.state_filter = "buried"
    first = app.harness.query_one(JobList).jobs[0]
    app.harness.query_one(JobList).set_jobs([first.replace(id=j) for j in ids])


async def test_bulk_delete_10000_buried_with_progress(
    server: Beanstalkd, journal_file: Path
) -> None:
    async with Client(server.address, encoding=None) as c:
        ids = await bury_new(c, "emails", [b"job %d" % i for i in range(10_000)])
        app = HarnessApp(server.address)
        async with app.run_test(size=SIZE) as pilot:
            await list_buried(app, c, ids)
            await pilot.press("X")
            await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen))
            question = str(app.screen.query_one("#confirm-question").content)  # type: ignore[attr-defined]
            assert question == "Delete all 10,000 buried jobs in emails?"
            seen: list[int] = []
            original = ProgressScreen.update_progress

            def spy(self: ProgressScreen, done: int, total: int) -> None:
                seen.append(done)
                original(self, done, total)

            ProgressScreen.update_progress = spy  # type: ignore[method-assign]
            try:
                await pilot.press("y")
                await actions_idle(pilot)
            finally:
                ProgressScreen.update_progress = original  # type: ignore[method-assign]
            assert seen[-1] == 10_000 and len(seen) >= 10 and seen == sorted(seen)
            await wait_for(pilot, lambda: any("deleted 10000 of 10000" in n for n in notices(app)))
        assert (await c.stats())["current-jobs-buried"] == 0
    assert len(Journal(journal_file).entries()) == 10_000


class GatedJournal(Journal):
    """A journal whose writes wait until the test opens the gate: a slow disk on demand."""

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self.writing = threading.Event()
        self.gate = threading.Event()
        self.writes = 0

    def append(self, records: Iterable[JournalEntry | dict[str, Any]]) -> None:
        self.writing.set()
        # Were the write on the event loop, the UI would freeze here until the
        # timeout, and the test below would see the write done before its key.
        self.gate.wait(GATE_TIMEOUT)
        super().append(records)
        self.writes += 1


GATE_TIMEOUT = 30.0


async def test_ui_answers_keys_while_a_5000_job_delete_journals(
    server: Beanstalkd, journal_file: Path
) -> None:
    async with Client(server.address, encoding=None) as c:
        ids = await bury_new(c, "emails", [b"job %d" % i for i in range(5_000)])
        app = HarnessApp(server.address)
        async with app.run_test(size=SIZE) as pilot:
            await list_buried(app, c, ids)
            journal = GatedJournal(journal_file)
            app.harness._journal = journal
            await pilot.press("X")
            await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen))
            await pilot.press("y")
            await wait_for(pilot, journal.writing.is_set)
            # The first batch is being journaled (held at the gate); the UI still answers.
            await wait_for(pilot, lambda: isinstance(app.screen, ProgressScreen))
            progress = app.screen
            await pilot.press("escape")

            def stopping() -> bool:
                status = progress.query("#progress-status").results(Static)
                return any("stopping after this batch" in str(s.content) for s in status)

            await wait_for(pilot, stopping)
            assert journal.writes == 0 and not journal.gate.is_set()
            journal.gate.set()
            await actions_idle(pilot)
            await wait_for(pilot, lambda: any(n.startswith("deleted") for n in notices(app)))
            summary = next(n for n in notices(app) if n.startswith("deleted"))
            assert summary.startswith("deleted 500 of 5000") and "cancelled" in summary
        # Exactly the journaled jobs are gone: write-before-delete held for the batch.
        replies = await c.run_many([cmd.stats_job(j) for j in ids])
        gone = {j for j, r in zip(ids, replies, strict=True) if isinstance(r, NotFoundError)}
    journaled = {e.id for e in Journal(journal_file).entries()}
    assert len(gone) == 500 and gone == journaled


async def test_race_another_client_deletes_during_bulk(server: Beanstalkd) -> None:
    async with Client(server.address, encoding=None) as c:
        ids = await bury_new(c, "emails", [b"x"] * 50)
        app = HarnessApp(server.address)
        async with app.run_test(size=SIZE) as pilot:
            await show_jobs(app, c, ids, "emails")
            await pilot.press("X")
            await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen))
            # A worker takes 5 jobs after the list was read: the action must report them.
            async with Client(server.address) as other:
                for jid in ids[-5:]:
                    await other.delete(jid)
            await pilot.press("y")
            await actions_idle(pilot)
            summary = next(n for n in notices(app) if n.startswith("deleted"))
            assert summary.startswith("deleted 45 of 50")
            assert "5 failed: already gone" in summary
        assert (await c.stats())["current-jobs-buried"] == 0


async def test_move_marked_keeps_body_priority_and_state(server: Beanstalkd) -> None:
    async with Client(server.address, encoding=None) as c:
        buried = await bury_new(c, "src", [b"[bold]b1", b"b2"], pri=42)
        app = HarnessApp(server.address)
        async with app.run_test(size=SIZE) as pilot:
            await show_jobs(app, c, buried, "src")
            app.harness.query_one(JobList).marked.update(buried)
            await pilot.press("m")
            await fill_prompt(pilot, tube="dst")
            await actions_idle(pilot)
            assert any("moved 2 of 2" in n for n in notices(app))
        for jid in buried:
            try:
                await c.stats_job(jid)
                raise AssertionError(f"original {jid} still exists")
            except NotFoundError:
                pass
        await c.use("dst")
        stats = await c.stats_tube("dst")
        assert stats["current-jobs-buried"] == 2
        job = await c.peek_buried()
        js = await c.stats_job(job)
        assert (job.body, js["pri"], js["ttr"]) == (b"[bold]b1", 42, 60)


async def test_kick_tube_and_kick_job(server: Beanstalkd) -> None:
    async with Client(server.address, encoding=None) as c:
        ids = await bury_new(c, "emails", [b"a", b"b", b"c"])
        app = HarnessApp(server.address)
        async with app.run_test(size=SIZE) as pilot:
            await show_jobs(app, c, ids, "emails")
            await pilot.press("K")  # jobs pane focused: kick-job the cursor job
            await wait_async(pilot, lambda: _state(c, ids[0]), timeout=5)
            app.harness.set_focus(None)
            await pilot.press("K")  # nothing focused: kick N in the tube
            await fill_prompt(pilot, bound="1")
            await actions_idle(pilot)
            assert any("kicked 1 buried jobs in emails" in n for n in notices(app))
        s = await c.stats_tube("emails")
        assert (s["current-jobs-ready"], s["current-jobs-buried"]) == (2, 1)


async def _state(c: Client, jid: int) -> bool:
    return bool((await c.stats_job(jid))["state"] == "ready")


async def test_pause_and_unpause(server: Beanstalkd) -> None:
    async with Client(server.address) as c:
        await c.use("emails")
        job = await c.put("x")
        app = HarnessApp(server.address)
        async with app.run_test(size=SIZE) as pilot:
            await show_jobs(app, c, [job], "emails")
            await pilot.press("p")
            await fill_prompt(pilot, seconds="1h")
            await actions_idle(pilot)
            assert (await c.stats_tube("emails"))["pause"] == 3600
            await pilot.press("p")
            await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen))
            await pilot.press("y")
            await actions_idle(pilot)
            assert (await c.stats_tube("emails"))["pause"] == 0


async def test_prompt_shows_validation_errors(server: Beanstalkd) -> None:
    async with Client(server.address) as c:
        await c.use("emails")
        job = await c.put("x")
        app = HarnessApp(server.address)
        async with app.run_test(size=SIZE) as pilot:
            await show_jobs(app, c, [job], "emails")
            await pilot.press("p")
            await fill_prompt(pilot, seconds="forever")
            err = str(app.screen.query_one("#error-seconds").content)  # type: ignore[attr-defined]
            assert "not a duration" in err
            await pilot.press("escape")
            await pilot.press("m")
            await fill_prompt(pilot, tube="-x")
            assert "-" in str(app.screen.query_one("#error-tube").content)  # type: ignore[attr-defined]
            await pilot.press("escape")
            await actions_idle(pilot)
        assert (await c.stats())["cmd-pause-tube"] == 0


async def test_duplicate_prefills_and_puts_copy(server: Beanstalkd) -> None:
    async with Client(server.address) as c:
        await c.use("emails")
        job = await c.put("hello", priority=9, ttr=33)
        app = HarnessApp(server.address)
        async with app.run_test(size=SIZE) as pilot:
            await show_jobs(app, c, [job], "emails")
            await pilot.press("y")
            await wait_for(pilot, lambda: isinstance(app.screen, PutScreen))
            form = app.screen
            assert form.values()["body"] == "hello"  # type: ignore[attr-defined]
            assert form.values()["pri"] == "9" and form.values()["ttr"] == "33"  # type: ignore[attr-defined]
            await pilot.press("ctrl+s")
            await actions_idle(pilot)
        assert (await c.stats_tube("emails"))["current-jobs-ready"] == 2


async def test_held_jobs_reserve_release_bury_touch_delete(server: Beanstalkd) -> None:
    async with Client(server.address) as c:
        await c.use("emails")
        ids = [await c.put(f"j{i}", ttr=100) for i in range(4)]
        app = HarnessApp(server.address)
        async with app.run_test(size=SIZE) as pilot:
            await show_jobs(app, c, ids, "emails")
            await pilot.press("r")  # reserve-job the cursor job
            await wait_for(pilot, lambda: isinstance(app.screen, HeldScreen))
            assert (await c.stats_job(ids[0]))["state"] == "reserved"
            held = app.screen
            assert isinstance(held, HeldScreen)
            for _ in range(3):
                await pilot.press("r")
                await fill_prompt(pilot, tube="emails", timeout="0")
                await wait_for(pilot, lambda: not held.busy and app.screen is held)
            assert len(app.harness.session().held) == 4
            table = held.query_one(DataTable)
            await wait_for(pilot, lambda: table.row_count == 4)
            table.move_cursor(row=0)
            await pilot.press("t")
            await wait_for(pilot, lambda: any("touched" in n for n in notices(app)))
            await pilot.press("d")
            await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen))
            await pilot.press("y")
            await wait_for(pilot, lambda: len(app.harness.session().held) == 3)
            table.move_cursor(row=0)
            await pilot.press("b")
            await fill_prompt(pilot, pri="7")
            await wait_for(pilot, lambda: len(app.harness.session().held) == 2)
            table.move_cursor(row=0)
            await pilot.press("e")
            await fill_prompt(pilot, pri="3", delay="0")
            await wait_for(pilot, lambda: len(app.harness.session().held) == 1)
            s = await c.stats_tube("emails")
            assert (s["current-jobs-ready"], s["current-jobs-buried"]) == (1, 1)
            assert s["current-jobs-reserved"] == 1 and s["total-jobs"] == 4
            assert (await c.stats())["cmd-touch"] == 1
        # The app closed the session: the last held job is back to ready.
        s = await c.stats_tube("emails")
        assert s["current-jobs-reserved"] == 0 and s["current-jobs-ready"] == 2


async def test_journal_restore_puts_job_back(server: Beanstalkd, journal_file: Path) -> None:
    async with Client(server.address) as c:
        await c.use("emails")
        job = await c.put("restore me", priority=5)
        app = HarnessApp(server.address)
        async with app.run_test(size=SIZE) as pilot:
            await show_jobs(app, c, [job], "emails")
            await pilot.press("x")
            await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen))
            await pilot.press("y")
            await actions_idle(pilot)
            await pilot.press("J")
            await wait_for(pilot, lambda: isinstance(app.screen, JournalScreen))
            screen = app.screen
            assert isinstance(screen, JournalScreen)
            await wait_for(pilot, lambda: len(screen.entries) == 1)  # read in a thread
            await pilot.press("u")
            await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen))
            await pilot.press("y")
            await wait_for(
                pilot, lambda: any(n.startswith("restored 1 of 1") for n in notices(app))
            )
            assert app.screen is screen
        new = await c.peek_ready()
        assert (new.body, (await c.stats_job(new))["pri"]) == ("restore me", 5)
        assert new.id != job
    (entry,) = Journal(journal_file).entries()
    assert entry.restored_as is not None


def _question(app: Any) -> str:
    return str(app.screen.query_one("#confirm-question").content)


async def _states(c: Client, ids: list[int]) -> list[str]:
    return [str((await c.stats_job(j))["state"]) for j in ids]


async def test_kick_marked_jobs_and_kick_all_listed_ask_with_the_exact_count(
    server: Beanstalkd,
) -> None:
    async with Client(server.address, encoding=None) as c:
        ids = await bury_new(c, "emails", [b"job %d" % i for i in range(6)])
        app = HarnessApp(server.address)
        async with app.run_test(size=SIZE) as pilot:
            await show_jobs(app, c, ids, "emails")
            app.harness.state_filter = "buried"
            await pilot.press("space", "j", "space", "j", "space")  # marks the first three
            await pilot.press("K")
            await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen))
            assert _question(app) == "Kick 3 marked jobs?"
            await pilot.press("y")
            await actions_idle(pilot)
            assert await _states(c, ids) == ["ready"] * 3 + ["buried"] * 3
            # Every listed job that can be kicked: the 3 still buried (the list is stale
            # for the 3 kicked ones, which are no longer kickable and are left out).
            await show_jobs(app, c, ids, "emails")
            await pilot.press("ctrl+k")
            await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen))
            assert _question(app) == "Kick all 3 buried jobs in emails?"
            await pilot.press("n")
            await actions_idle(pilot)
            assert await _states(c, ids) == ["ready"] * 3 + ["buried"] * 3
            await pilot.press("ctrl+k")
            await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen))
            await pilot.press("y")
            await actions_idle(pilot)
            await wait_for(pilot, lambda: any("kicked 3 of 3" in n for n in notices(app)))
        assert await _states(c, ids) == ["ready"] * 6


async def test_actions_that_cannot_apply_say_why_and_send_nothing(server: Beanstalkd) -> None:
    async with (
        Client(server.address, encoding=None, use="emails") as c,
        Client(server.address, watch="emails") as worker,
    ):
        held = await c.put(b"held by a worker")
        ready = await c.put(b"ready")
        await worker.reserve(timeout=1)
        app = HarnessApp(server.address)
        async with app.run_test(size=SIZE) as pilot:
            await show_jobs(app, c, [held, ready], "emails")
            assert app.harness.query_one(JobList).cursor_job.id == held  # type: ignore[union-attr]
            await pilot.press("x")
            await wait_for(pilot, lambda: any("reserved by another" in n for n in notices(app)))
            assert not isinstance(app.screen, ConfirmScreen)
            await pilot.press("j", "K")
            await wait_for(pilot, lambda: any(f"job {ready} is ready" in n for n in notices(app)))
            await pilot.press("ctrl+k")
            await wait_for(pilot, lambda: any("no buried or delayed" in n for n in notices(app)))
        assert await _states(c, [held, ready]) == ["reserved", "ready"]
        assert (await c.stats())["cmd-delete"] == 0
