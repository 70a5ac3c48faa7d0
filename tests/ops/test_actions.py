"""Safe job operations against a real private beanstalkd."""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import greenstalk
import pytest

from stalkview import ops
from stalkview.actions import (
    delete_jobs,
    kick_jobs,
    kick_tube,
    move_job,
    move_jobs,
    pause_tube,
    put_job,
)
from stalkview.client import Client, NotFoundError
from stalkview.client import commands as cmd
from stalkview.journal import Journal, JournalEntry, restore
from stalkview.ops import ActionError
from tests.beanstalkd import Beanstalkd
from tests.factories import BINARY, put_in


def gclient(server: Beanstalkd) -> greenstalk.Client[bytes]:
    assert server.port is not None
    return greenstalk.Client(("127.0.0.1", server.port), encoding=None)


async def bury_all(client: Client, ids: Iterable[int], pri: int) -> None:
    calls: list[Any] = []
    for jid in ids:
        calls += [ops.raw_call(cmd.reserve_job(jid)), cmd.bury(jid, pri)]
    for start in range(0, len(calls), 2000):
        await client.run_many(calls[start : start + 2000], raise_on_error=True)


async def make_job(client: Client, state: str, tube: str = "src", body: bytes = BINARY) -> int:
    delay = 100 if state == "delayed" else 0
    jid = await put_in(client, tube, body, priority=7, delay=delay, ttr=33)
    if state == "buried":
        await bury_all(client, [jid], 7)
    return jid


async def drain(server: Beanstalkd, client: Client) -> None:
    os.kill(server.pid, signal.SIGUSR1)
    # The server takes the signal in its own loop: wait for it to say so.
    for _ in range(500):
        if (await client.stats())["draining"] == "true":
            return
        await asyncio.sleep(0.01)
    raise AssertionError("server never entered drain mode")


# --- move ---------------------------------------------------------------------------


@pytest.mark.parametrize("state", ["ready", "delayed", "buried"])
async def test_move_keeps_body_priority_ttr_delay_and_state(
    client: Client, worker: Client, journal: Journal, state: str
) -> None:
    jid = await make_job(client, state)
    result = await move_job(client, jid, "dst", journal=journal)

    copy = await client.stats_job(result.new_id)
    assert (copy["tube"], copy["pri"], copy["ttr"], copy["state"]) == ("dst", 7, 33, state)
    if state == "delayed":
        assert 95 <= copy["time-left"] <= 100
    assert (await worker.peek(result.new_id)).body == BINARY
    with pytest.raises(NotFoundError):
        await client.stats_job(jid)
    assert result.state == state and result.warning is None
    assert f"moved job {jid} ({state}) to dst" in result.message
    assert await client.using() == "default"
    (entry,) = journal.entries()
    assert (entry.action, entry.id, entry.tube, entry.to_tube, entry.state) == (
        "move",
        jid,
        "src",
        "dst",
        state,
    )
    assert entry.body_bytes() == BINARY


async def test_move_of_job_reserved_by_worker_fails_and_changes_nothing(
    client: Client, worker: Client, journal: Journal
) -> None:
    jid = await make_job(client, "ready", tube="default")
    held = await worker.reserve(0)
    assert held.id == jid
    with pytest.raises(ActionError) as info:
        await move_job(client, jid, "dst", journal=journal)
    assert str(info.value) == f"job {jid} is reserved by a worker; try again when it is released"
    assert (await client.stats_job(jid))["state"] == "reserved"
    assert "dst" not in await client.tubes()
    assert journal.entries() == []
    await worker.delete(jid)  # the worker still holds it: nothing was taken away


async def test_move_of_missing_job_says_gone(client: Client, journal: Journal) -> None:
    with pytest.raises(ActionError, match="job 999 is already gone"):
        await move_job(client, 999, "dst", journal=journal)


@pytest.mark.parametrize("state", ["ready", "delayed", "buried"])
async def test_move_with_failing_put_gives_the_original_back(
    server: Beanstalkd, client: Client, journal: Journal, state: str
) -> None:
    jid = await make_job(client, state)
    await drain(server, client)
    with pytest.raises(ActionError) as info:
        await move_job(client, jid, "dst", journal=journal)
    message = str(info.value)
    assert "drain mode" in message and f"back as it was ({state})" in message
    stats = await client.stats_job(jid)
    assert (stats["tube"], stats["state"], stats["pri"], stats["ttr"]) == ("src", state, 7, 33)
    if state == "delayed":
        assert 95 <= stats["time-left"] <= 100
    (entry,) = journal.entries()
    assert entry.failed is not None and "drain mode" in entry.failed
    report = await restore(client, [entry])
    assert report.results[0].status == "skipped"  # restoring would double the job


async def test_bulk_move_with_progress(client: Client, worker: Client, journal: Journal) -> None:
    ids = [await put_in(client, "src", f"job {n}".encode(), priority=n) for n in range(250)]
    progress: list[tuple[int, int]] = []
    report = await move_jobs(
        client, ids, "dst", journal=journal, on_progress=lambda d, t: progress.append((d, t))
    )
    assert report.succeeded == ids and not report.failed
    assert progress == [(100, 250), (200, 250), (250, 250)]
    assert (await client.stats_tube("dst"))["current-jobs-ready"] == 250
    assert "src" not in await client.tubes()  # emptied, so the server dropped it
    for n, jid in enumerate(ids[:5]):
        new = report.new_ids[jid]
        assert (await worker.peek(new)).body == f"job {n}".encode()
        assert (await client.stats_job(new))["pri"] == n
    assert report.summary() == "moved 250 of 250 jobs to dst"


# --- journal before the command ---------------------------------------------------------


class CheckingJournal(Journal):
    """Proves, from another connection, that each journaled job is untouched when journaled."""

    def __init__(self, path: Path, server: Beanstalkd) -> None:
        super().__init__(path)
        self.g = gclient(server)
        self.seen: list[tuple[int, str]] = []

    def append(self, records: Iterable[JournalEntry | dict[str, Any]]) -> None:
        records = list(records)
        for r in records:
            if isinstance(r, JournalEntry):
                stats = self.g.stats_job(r.id)  # raises NotFoundError if already deleted
                self.seen.append((r.id, str(stats["state"])))
                if r.to_tube:
                    assert r.to_tube not in self.g.tubes()  # no copy put yet
        super().append(records)


async def test_every_deleted_or_moved_job_is_journaled_first_and_restorable(
    server: Beanstalkd, client: Client, worker: Client, tmp_path: Path
) -> None:
    journal = CheckingJournal(tmp_path / "j.jsonl", server)
    a = await put_in(client, "src", BINARY, priority=3, ttr=11)
    b = await put_in(client, "src", b"plain text", priority=4, ttr=12)
    c = await make_job(client, "buried", body=b"moved")
    report = await delete_jobs(client, [a, b], journal=journal)
    await move_job(client, c, "dst", journal=journal)
    assert report.succeeded == [a, b]
    assert journal.seen == [(a, "ready"), (b, "ready"), (c, "reserved")]
    for jid in (a, b, c):
        with pytest.raises(NotFoundError):
            await client.stats_job(jid)

    entries = journal.entries()
    restored = await restore(client, entries[:2], journal=journal)
    assert [r.status for r in restored.results] == ["ok", "ok"]
    for (body, pri, ttr), result in zip(
        [(BINARY, 3, 11), (b"plain text", 4, 12)], restored.results, strict=True
    ):
        assert result.new_id is not None
        assert (await worker.peek(result.new_id)).body == body
        stats = await client.stats_job(result.new_id)
        assert (stats["tube"], stats["pri"], stats["ttr"]) == ("src", pri, ttr)
    journal.g.close()


# --- bulk delete ---------------------------------------------------------------------


async def test_bulk_delete_of_10000_buried_jobs_with_progress(
    client: Client, journal: Journal
) -> None:
    ids = []
    calls = [cmd.put(b"x%d" % n, 50, 0, 60) for n in range(10_000)]
    await client.use("emails")
    for start in range(0, len(calls), 2000):
        ids += await client.run_many(calls[start : start + 2000], raise_on_error=True)
    await client.use("default")
    await bury_all(client, ids, 50)
    assert (await client.stats_tube("emails"))["current-jobs-buried"] == 10_000

    progress: list[tuple[int, int]] = []
    report = await delete_jobs(
        client,
        ids,
        journal=journal,
        on_progress=lambda d, t: progress.append((d, t)),
        what="buried jobs in emails",
    )
    assert len(report.succeeded) == 10_000 and not report.failed
    assert progress == [(n, 10_000) for n in range(500, 10_001, 500)]
    assert report.summary() == "deleted 10000 of 10000 buried jobs in emails"
    assert "emails" not in await client.tubes()
    entries = journal.entries()
    assert [e.id for e in entries] == ids
    assert entries[0].state == "buried" and entries[0].body == "x0"


async def test_bulk_delete_races_with_another_client(
    server: Beanstalkd, client: Client, worker: Client, tmp_path: Path
) -> None:
    ids = [await put_in(client, "emails", b"job %d" % n) for n in range(30)]
    held = await put_in(client, "held", b"held by a worker")
    await worker.watch("held")
    assert (await worker.reserve(0)).id == held
    # Racing client: deletes jobs of this batch after we inspected them, and
    # jobs of the next batch before we get to them.
    in_window, ahead = set(ids[2:5]), set(ids[12:14])

    class RacingJournal(Journal):
        raced = False

        def append(self, records: Iterable[JournalEntry | dict[str, Any]]) -> None:
            super().append(records)
            if not self.raced:
                self.raced = True
                g = gclient(server)
                for jid in in_window | ahead:
                    g.delete(jid)
                g.close()

    journal = RacingJournal(tmp_path / "j.jsonl")
    report = await delete_jobs(client, [*ids, held], journal=journal, batch_size=10)

    assert report.failed == {
        **{jid: ops.GONE_OR_RESERVED for jid in in_window},
        **{jid: ops.GONE for jid in ahead},
        held: ops.RESERVED,
    }
    assert sorted(report.succeeded) == sorted(set(ids) - in_window - ahead)
    assert report.summary() == (
        "deleted 25 of 31 jobs; 6 failed: 3 reserved by a worker or already gone, "
        "2 already gone, 1 reserved by a worker"
    )
    assert (await client.stats_job(held))["state"] == "reserved"
    assert "emails" not in await client.tubes()
    entries = journal.entries()
    assert {e.id for e in entries if e.failed is None} == set(report.succeeded)
    assert {e.id for e in entries if e.failed} == in_window


async def test_bulk_delete_cancel_stops_at_a_batch_boundary(
    client: Client, journal: Journal
) -> None:
    ids = [await put_in(client, "t", b"j") for _ in range(50)]
    cancel = asyncio.Event()
    report = await delete_jobs(
        client,
        ids,
        journal=journal,
        batch_size=20,
        cancel=cancel,
        on_progress=lambda d, t: cancel.set(),
    )
    assert report.cancelled and report.succeeded == ids[:20]
    assert (await client.stats_tube("t"))["current-jobs-ready"] == 30
    assert report.summary() == "deleted 20 of 50 jobs; cancelled (30 not attempted)"


async def test_cancelling_the_task_finishes_the_batch_in_flight(
    client: Client, journal: Journal
) -> None:
    ids = [await put_in(client, "t", b"j") for _ in range(40)]
    started = asyncio.Event()

    class SignallingJournal(Journal):
        def append(self, records: Iterable[JournalEntry | dict[str, Any]]) -> None:
            super().append(records)
            started.set()

    j = SignallingJournal(journal.path)
    task = asyncio.create_task(delete_jobs(client, ids, journal=j, batch_size=20))
    await started.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    # The first batch was journaled, so it was deleted too; the second never started.
    assert (await client.stats_tube("t"))["current-jobs-ready"] == 20
    assert len(j.entries()) == 20


async def test_unwritable_journal_sends_no_delete(client: Client, tmp_path: Path) -> None:
    jid = await put_in(client, "t", b"j")
    blocker = tmp_path / "file"
    blocker.write_text("")
    report = await delete_jobs(client, [jid], journal=Journal(blocker / "journal.jsonl"))
    assert report.aborted is not None and "could not write the journal" in report.aborted
    assert (await client.stats_job(jid))["state"] == "ready"
    assert report.not_attempted == 1


# --- kick, pause, put ----------------------------------------------------------------


async def test_kick_tube_never_creates_a_tube(client: Client) -> None:
    with pytest.raises(ActionError, match="tube 'nope' does not exist"):
        await kick_tube(client, "nope", 10)
    assert "nope" not in await client.tubes()


async def test_kick_tube_and_kick_jobs(client: Client) -> None:
    buried = [await make_job(client, "buried", tube="q") for _ in range(3)]
    ready = await make_job(client, "ready", tube="q")
    assert await kick_tube(client, "q", 2) == 2
    assert await client.using() == "default"
    report = await kick_jobs(client, [buried[2], ready])
    assert report.succeeded == [buried[2]]
    assert report.failed == {ready: ops.NOT_KICKABLE}
    assert (await client.stats_tube("q"))["current-jobs-ready"] == 4


async def test_pause_tube(client: Client) -> None:
    await make_job(client, "ready", tube="q")
    await pause_tube(client, "q", 60)
    assert (await client.stats_tube("q"))["pause"] == 60
    await pause_tube(client, "q", 0)
    assert (await client.stats_tube("q"))["pause"] == 0
    with pytest.raises(ActionError, match="tube 'gone' does not exist"):
        await pause_tube(client, "gone", 5)


async def test_put_job_restores_the_used_tube(
    server: Beanstalkd, client: Client, worker: Client
) -> None:
    await client.use("mine")
    jid = await put_job(client, "new-tube", BINARY, pri=9, delay=0, ttr=5)
    stats = await client.stats_job(jid)
    assert (stats["tube"], stats["pri"], stats["ttr"]) == ("new-tube", 9, 5)
    assert (await worker.peek(jid)).body == BINARY
    assert await client.using() == "mine"
    with pytest.raises(ActionError, match="tube name '-x' is invalid"):
        await put_job(client, "-x", b"")
    await drain(server, client)
    with pytest.raises(ActionError, match="not put into 'new-tube': the server is in drain mode"):
        await put_job(client, "new-tube", b"b")
    assert await client.using() == "mine"
