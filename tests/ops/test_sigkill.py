"""SIGKILL in the middle of a bulk operation, against a real beanstalkd with a binlog (-b).

The server is killed while a batch is on the wire and restarted on the same
binlog directory, as a supervisor would. Each test counts jobs before and after:
none lost, none duplicated, none hidden (parked), and the report equal to the truth.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from stalkview import ops
from stalkview.actions import delete_jobs, kick_jobs, move_jobs
from stalkview.client import Client, NotFoundError
from stalkview.client import commands as cmd
from stalkview.journal import Journal, JournalEntry, restore
from stalkview.transfer import ImportLedger, import_jobs, import_key
from tests.beanstalkd import Beanstalkd

N = 3000
BATCH = 200
BIG_BATCH = 600
#: A delay this long means a job was parked by stalkview and never finished.
PARKED = 10 * 365 * 86400


@pytest.fixture
def binlog_server(beanstalkd_factory: Callable[..., Beanstalkd]) -> Beanstalkd:
    return beanstalkd_factory(binlog=True)


@pytest.fixture
def journal(tmp_path: Path) -> Journal:
    return Journal(tmp_path / "journal.jsonl")


class Killer:
    """SIGKILLs the server when the ``after``-th progress call comes (mid-operation:
    the next batch is already being sent), then restarts it on the same binlog
    unless ``restart`` is False."""

    def __init__(self, server: Beanstalkd, after: int = 3, restart: bool = True) -> None:
        self.server = server
        self.after = after
        self.restart = restart
        self.calls = 0
        self.killed = threading.Event()
        self.thread: threading.Thread | None = None

    def __call__(self, done: int, total: int | None = None) -> None:
        self.calls += 1
        if self.calls == self.after:
            self.thread = threading.Thread(target=self._kill)
            self.thread.start()

    def after_journal(self, journal: Journal, nth: int, delay: float) -> None:
        """Kill ``delay`` s after the journal's ``nth`` append: the destructive
        commands that follow it are then on the wire (a delete, a put, a bury)."""
        append = journal.append
        count = [0]

        def spy(records: Any) -> None:
            append(records)
            count[0] += 1
            if count[0] == nth:
                self.thread = threading.Thread(target=self._kill, args=(delay,))
                self.thread.start()

        journal.append = spy  # type: ignore[method-assign]

    def _kill(self, delay: float = 0.0) -> None:
        if delay:
            time.sleep(delay)
        self.server.kill()
        self.killed.set()
        if self.restart:
            self.server.restart()

    def join(self) -> None:
        if self.thread is not None:
            self.thread.join(30)
        assert self.killed.is_set(), "the operation ended before the server was killed"


async def fill(server: Beanstalkd, tube: str, n: int, state: str = "ready") -> list[int]:
    async with Client(server.address, encoding=None) as c:
        ids = await ops.run_in_tube(
            c, tube, [cmd.put(b"job %d" % i, 100 + i % 7, 0, 60) for i in range(n)]
        )
        if state == "buried":
            calls: list[Any] = []
            for jid in ids:
                calls += [ops.raw_call(cmd.reserve_job(jid)), cmd.bury(jid, 5)]
            await c.run_many(calls)
        return [int(j) for j in ids]


async def census(server: Beanstalkd) -> dict[int, tuple[str, str, int, bytes]]:
    """Every job on the server by id: (tube, state, delay, body)."""
    async with Client(server.address, encoding=None) as c:
        stats = await c.stats()
        jobs: dict[int, tuple[str, str, int, bytes]] = {}
        top = 20 * N
        fields = await c.stats_job_fields(list(range(1, top)))
        present = [f for f in fields if isinstance(f, tuple)]
        peeks = await c.run_many([ops.raw_call(cmd.peek(int(f[0]))) for f in present])
        for f, job in zip(present, peeks, strict=True):
            if isinstance(job, NotFoundError):
                continue
            jobs[int(f[0])] = (f[1].decode(), f[2].decode(), int(f[5]), bytes(job.body))
        counted = sum(stats[f"current-jobs-{s}"] for s in ("ready", "delayed", "buried"))
        assert counted + stats["current-jobs-reserved"] == len(jobs), "census missed jobs"
        return jobs


def assert_nothing_hidden(jobs: dict[int, tuple[str, str, int, bytes]]) -> None:
    parked = [
        j for j, (_t, state, delay, _b) in jobs.items() if state == "delayed" and delay >= PARKED
    ]
    assert parked == [], f"{len(parked)} jobs left parked"


@pytest.fixture(autouse=True)
def quick_reconnect(monkeypatch: pytest.MonkeyPatch) -> None:
    # A restarted server takes a moment; give it a few tries without slowing the suite.
    monkeypatch.setattr(ops, "RECONNECT_PAUSES", (0.05, 0.1, 0.2, 0.4, 0.8, 1.6))


#: When the kill comes: between batches, or this long after a batch was journaled
#: (its deletes, puts or buries on the wire). The report must be exact in every case.
WHEN = [None, 0.0, 0.002, 0.006]


@pytest.mark.parametrize("when", WHEN)
async def test_sigkill_during_bulk_delete(
    binlog_server: Beanstalkd, journal: Journal, when: float | None
) -> None:
    ids = await fill(binlog_server, "emails", N)
    killer = Killer(binlog_server, after=0 if when is not None else 3)
    if when is not None:
        killer.after_journal(journal, 3, when)
    async with Client(binlog_server.address, encoding=None, command_timeout=10) as client:
        report = await delete_jobs(
            client, ids, journal=journal, batch_size=BIG_BATCH, on_progress=killer
        )
    killer.join()
    jobs = await census(binlog_server)
    assert_nothing_hidden(jobs)
    assert report.aborted and "connection lost" in report.aborted
    assert report.uncertain == []
    # The report is the truth: exactly the reported ids are gone.
    assert set(report.succeeded) == set(ids) - set(jobs)
    assert set(report.failed) | set(jobs) >= set(jobs)
    assert len(report.succeeded) + len(jobs) == N
    # Every deleted job is in the journal, and a restore brings back exactly those.
    async with Client(binlog_server.address, encoding=None) as client:
        restored = await restore(client, journal.entries(), journal=journal)
    assert len(restored.succeeded) == len(report.succeeded)
    assert len(await census(binlog_server)) == N


@pytest.mark.parametrize("when", WHEN)
async def test_sigkill_during_bulk_move(
    binlog_server: Beanstalkd, journal: Journal, when: float | None
) -> None:
    ids = await fill(binlog_server, "emails", N // 2, state="buried")
    before = await census(binlog_server)
    killer = Killer(binlog_server, after=0 if when is not None else 2)
    if when is not None:
        killer.after_journal(journal, 2, when)
    async with Client(binlog_server.address, encoding=None, command_timeout=10) as client:
        report = await move_jobs(
            client, ids, "elsewhere", journal=journal, batch_size=BATCH, on_progress=killer
        )
    killer.join()
    jobs = await census(binlog_server)
    assert_nothing_hidden(jobs)
    assert report.uncertain == []
    # None lost, none duplicated: every body once, every job still buried.
    assert sorted(b for *_x, b in jobs.values()) == sorted(b for *_x, b in before.values())
    assert {state for _t, state, _d, _b in jobs.values()} == {"buried"}
    moved = {jid for jid, (tube, *_r) in jobs.items() if tube == "elsewhere"}
    assert len(report.succeeded) == len(moved)
    assert {report.new_ids[j] for j in report.succeeded} == moved
    stayed = {jid for jid, (tube, *_r) in jobs.items() if tube == "emails"}
    assert stayed == set(ids) - set(report.succeeded)
    assert set(report.failed) <= stayed  # the rest of stayed: never attempted


async def test_sigkill_during_bulk_kick(binlog_server: Beanstalkd) -> None:
    ids = await fill(binlog_server, "emails", N, state="buried")
    killer = Killer(binlog_server)
    async with Client(binlog_server.address, encoding=None, command_timeout=10) as client:
        report = await kick_jobs(client, ids, batch_size=BATCH, on_progress=killer)
    killer.join()
    jobs = await census(binlog_server)
    assert len(jobs) == N and report.uncertain == []
    ready = {jid for jid, (_t, state, *_r) in jobs.items() if state == "ready"}
    assert set(report.succeeded) == ready
    assert set(report.failed) | set(report.succeeded) | ready >= ready


async def test_an_unreachable_server_leaves_only_uncertain_ids(
    binlog_server: Beanstalkd, journal: Journal, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(ops, "RECONNECT_PAUSES", (0.01, 0.01))
    ids = await fill(binlog_server, "emails", 1000)
    killer = Killer(binlog_server, after=2, restart=False)
    async with Client(binlog_server.address, encoding=None, command_timeout=5) as client:
        report = await delete_jobs(
            client, ids, journal=journal, batch_size=BATCH, on_progress=killer
        )
    killer.join()
    assert "reconnecting failed" in str(report.aborted)
    assert report.uncertain and len(report.uncertain) <= BATCH
    assert f"uncertain: {len(report.uncertain)} (journaled, restorable)" in report.summary()
    binlog_server.restart()
    jobs = await census(binlog_server)
    assert set(report.succeeded).isdisjoint(jobs)
    assert len(report.succeeded) + len(report.uncertain) + len(report.failed) + (
        len(ids) - report.done
    ) == len(ids)
    await asyncio.sleep(0)


# --- a dropped connection at the worst moments of a move (no kill: the server lives on) ---


@pytest.mark.parametrize("word", [b"put", b"reserve-job"])
async def test_move_dropped_after_copies_were_sent(
    server: Beanstalkd, journal: Journal, monkeypatch: pytest.MonkeyPatch, word: bytes
) -> None:
    """The connection drops right after the second batch's puts (or its buries and
    deletes) are written, before any reply: the server releases the originals it
    held, and copies exist whose ids were never heard. The move must find them,
    delete the duplicates, put the originals back as they were, and say so."""
    from stalkview.client.connection import Connection

    ids = await fill(server, "emails", 300, state="buried")
    before = await census(server)
    send_many = Connection.send_many
    seen = [0]

    def dropping(self: Connection, commands: list[bytes]) -> Any:
        fut = send_many(self, commands)
        if commands and commands[0].startswith(word):
            seen[0] += 1
            if seen[0] == 3:  # the first batch's first copy, its other copies, then this
                self._loop.call_soon(self.close)
        return fut

    monkeypatch.setattr(Connection, "send_many", dropping)
    async with Client(server.address, encoding=None, command_timeout=10) as client:
        report = await move_jobs(client, ids, "elsewhere", journal=journal, batch_size=100)
    jobs = await census(server)
    assert_nothing_hidden(jobs)
    assert report.uncertain == [], report.summary()
    assert sorted(b for *_x, b in jobs.values()) == sorted(b for *_x, b in before.values())
    assert {state for _t, state, _d, _b in jobs.values()} == {"buried"}
    moved = {jid for jid, (tube, *_r) in jobs.items() if tube == "elsewhere"}
    assert {report.new_ids[j] for j in report.succeeded} == moved
    assert "reconnected and checked" in str(report.aborted)


# --- import: stopped part-way, reported, resumed without duplicates ------------------------


def import_lines(n: int) -> list[str]:
    states = ("ready", "buried", "buried", "delayed")
    return [
        json.dumps(
            {
                "tube": "imported",
                "pri": 10 + i % 5,
                "ttr": 60,
                "state": states[i % 4],
                "time-left": 3600 if states[i % 4] == "delayed" else 0,
                "body": f"record {i}",
            }
        )
        for i in range(n)
    ]


def assert_imported_once(jobs: dict[int, tuple[str, str, int, bytes]], n: int) -> None:
    bodies = sorted(b for t, _s, _d, b in jobs.values() if t == "imported")
    assert bodies == sorted(f"record {i}".encode() for i in range(n)), "lost or duplicated"
    states = {b: s for t, s, _d, b in jobs.values() if t == "imported"}
    expected = ("ready", "buried", "buried", "delayed")
    assert all(states[f"record {i}".encode()] == expected[i % 4] for i in range(n))


@pytest.mark.parametrize("restart", [True, False], ids=["server-back", "server-gone"])
async def test_sigkill_during_import_then_resume(
    binlog_server: Beanstalkd, tmp_path: Path, restart: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    if not restart:
        monkeypatch.setattr(ops, "RECONNECT_PAUSES", (0.01, 0.01))
    lines = import_lines(N)
    ledger = ImportLedger(tmp_path / "imports.json")
    key = import_key("digest-of-the-file", binlog_server.address)
    killer = Killer(binlog_server, after=2, restart=restart)
    report = await import_jobs(
        binlog_server.address, lines, batch_size=BATCH, on_progress=killer,
        resume_key=key, ledger=ledger, expected=N,
    )  # fmt: skip
    killer.join()
    assert report.stopped is not None and report.stopped_line is not None
    summary = report.summary()
    assert summary.startswith(f"put {len(report.put):,} of {N:,} jobs")
    assert f"stopped at line {report.stopped_line:,}: connection lost" in summary
    if not restart:
        assert any("stayed unreachable" in n for n in report.notes)
        binlog_server.restart()
    jobs = await census(binlog_server)
    if restart:
        # Checked on a new connection: the report is the truth, nothing parked.
        assert_nothing_hidden(jobs)
        assert len(jobs) == len(report.put)
    # The same import again: it continues, finishes what was parked, puts nothing twice.
    again = await import_jobs(
        binlog_server.address, lines, batch_size=BATCH, resume_key=key, ledger=ledger,
        expected=N,
    )  # fmt: skip
    assert again.ok, again.lines()[-3:]
    assert any(n.startswith("resumed an interrupted import") for n in again.notes)
    jobs = await census(binlog_server)
    assert_nothing_hidden(jobs)
    assert_imported_once(jobs, N)
    # A third run knows the file is in: nothing is put.
    third = await import_jobs(binlog_server.address, lines, resume_key=key, ledger=ledger)
    assert third.put == [] and "already imported" in third.notes[0]
    assert len(await census(binlog_server)) == N


# --- journal restore ------------------------------------------------------------------------


@pytest.mark.parametrize("when", [0.0, 0.003])
async def test_sigkill_during_restore_then_again(
    binlog_server: Beanstalkd, journal: Journal, when: float
) -> None:
    entries = [
        JournalEntry.from_job(
            "delete",
            binlog_server.address,
            i + 1,
            f"gone {i}".encode(),
            {"tube": "back", "pri": 9, "ttr": 60, "state": "buried" if i % 2 else "ready"},
        )
        for i in range(N // 2)
    ]
    journal.append(entries)
    killer = Killer(binlog_server, after=0)
    killer.after_journal(journal, 2, when)  # the restored notes of the 1st batch, then the 2nd
    async with Client(binlog_server.address, encoding=None, command_timeout=10) as client:
        report = await restore(client, journal.entries(), journal=journal, batch_size=BATCH)
    killer.join()
    jobs = await census(binlog_server)
    assert_nothing_hidden(jobs)
    uncertain = [r for r in report.results if str(r.reason).startswith("uncertain")]
    assert uncertain == []
    # The report is the truth: exactly the jobs it says came back are there, in their state.
    restored = {r.new_id for r in report.results if r.status == "ok"}
    assert restored == set(jobs)
    # A second restore puts back the rest, and nothing twice.
    async with Client(binlog_server.address, encoding=None) as client:
        await restore(client, journal.entries(), journal=journal, batch_size=BATCH)
    jobs = await census(binlog_server)
    assert sorted(b for *_x, b in jobs.values()) == sorted(
        f"gone {i}".encode() for i in range(N // 2)
    )
    states = {b: s for _t, s, _d, b in jobs.values()}
    assert all(
        states[f"gone {i}".encode()] == ("buried" if i % 2 else "ready") for i in range(N // 2)
    )
