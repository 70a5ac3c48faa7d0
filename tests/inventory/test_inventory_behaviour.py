"""The inventory's promises, pinned against a real beanstalkd.

What a refresh finds after each kind of change (counts() and select() included), and what
it costs: the server's own cmd-* counters count every job read a scan or refresh sends, and
the bounds below are the refresh cost the README promises, not any particular algorithm.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from stalkview.client import Client, commands
from stalkview.inventory import (
    STATES,
    Inventory,
    InventoryChange,
    JobInfo,
    ScanProgress,
    live_count,
)
from tests.beanstalkd import Beanstalkd

#: Every command that reads one job (an existence check or its stats).
JOB_READS = ("cmd-stats-job", "cmd-peek", "cmd-peek-ready", "cmd-peek-delayed", "cmd-peek-buried")


async def put_many(c: Client, tube: str, count: int, **kw: Any) -> list[int]:
    calls: list[commands.Call[Any]] = [commands.use(tube)]
    pri, delay = kw.get("priority", 100), kw.get("delay", 0)
    calls += [commands.put(b"x%d" % n, pri, delay, 60) for n in range(count)]
    ids = (await c.run_many(calls, raise_on_error=True))[1:]
    await c.use("default")  # a tube nobody uses can go away once empty
    return ids


async def job_reads(address: str) -> int:
    """Job reads the server has answered so far (our own ``stats`` reads none)."""
    async with Client(address, encoding=None) as c:
        stats = await c.stats()
    return sum(int(stats.get(key, 0)) for key in JOB_READS)


async def server_view(address: str) -> dict[int, dict[str, Any]]:
    """Every live job, by brute force (stats-job of every id up to the highest ever issued)."""
    async with Client(address, encoding=None) as c:
        top = (await c.put(b"probe")) - 1  # ids only grow: the next id bounds them all
        await c.delete(top + 1)
        replies = await c.run_many([commands.stats_job(j) for j in range(1, top + 1)])
    return {r["id"]: r for r in replies if isinstance(r, dict)}


async def assert_agrees_with_server(inv: Inventory, address: str) -> None:
    """jobs, counts() and select() say what the server says, in the server's order."""
    real = await server_view(address)
    assert {j: i.state for j, i in inv.jobs.items()} == {j: s["state"] for j, s in real.items()}
    assert {j: i.pri for j, i in inv.jobs.items()} == {j: s["pri"] for j, s in real.items()}
    tubes = sorted({s["tube"] for s in real.values()})
    assert inv.tubes == tubes
    for tube in [None, *tubes]:
        jobs = [s for s in real.values() if tube is None or s["tube"] == tube]
        assert inv.counts(tube) == {st: sum(s["state"] == st for s in jobs) for st in STATES}
        ready = sorted(
            (s for s in jobs if s["state"] == "ready"), key=lambda s: (s["pri"], s["id"])
        )
        assert [j.id for j in inv.select(tube, "ready")] == [s["id"] for s in ready]
        buried = sorted(s["id"] for s in jobs if s["state"] == "buried")
        assert [j.id for j in inv.select(tube, "buried")] == buried
        for state in ("delayed", "reserved"):
            wanted = {s["id"] for s in jobs if s["state"] == state}
            assert {j.id for j in inv.select(tube, state)} == wanted
        assert len(inv.select(tube)) == len(jobs)


# --- refresh after each kind of change --------------------------------------------------------


async def test_counts_and_select_follow_every_state_change(server: Beanstalkd) -> None:
    address = server.address
    async with (
        Client(address, encoding=None) as c,
        Client(address, encoding=None, watch="s") as worker,
    ):
        ids = [*await put_many(c, "s", 3, priority=20), *await put_many(c, "other", 2)]
        inv = Inventory(c, batch_size=2)
        await inv.scan()
        await assert_agrees_with_server(inv, address)

        job = await worker.reserve(timeout=0)  # ready -> reserved
        assert job.id == ids[0]
        change = await inv.refresh()
        assert change.changed == {ids[0]} and not change.added and not change.removed
        assert inv.counts("s") == {"ready": 2, "delayed": 0, "reserved": 1, "buried": 0}
        assert [j.id for j in inv.select("s", "reserved")] == [ids[0]]
        await assert_agrees_with_server(inv, address)

        await worker.release(job, priority=5, delay=0)  # back to ready, now first in line
        assert (await inv.refresh()).changed == {ids[0]}
        assert [j.id for j in inv.select("s", "ready")] == [ids[0], ids[1], ids[2]]
        assert inv.jobs[ids[0]].pri == 5
        await assert_agrees_with_server(inv, address)

        await worker.release(await worker.reserve(timeout=0), priority=5, delay=600)
        assert (await inv.refresh()).changed == {ids[0]}
        assert inv.counts("s") == {"ready": 2, "delayed": 1, "reserved": 0, "buried": 0}
        await assert_agrees_with_server(inv, address)

        await worker.bury(await worker.reserve(timeout=0), priority=9)  # ids[1]: -> buried
        assert (await inv.refresh()).changed == {ids[1]}
        assert [j.id for j in inv.select(state="buried")] == [ids[1]]
        await assert_agrees_with_server(inv, address)

        await c.kick_job(ids[1])  # buried -> ready
        await c.kick_job(ids[0])  # delayed -> ready
        assert (await inv.refresh()).changed == {ids[0], ids[1]}
        assert inv.counts() == {"ready": 5, "delayed": 0, "reserved": 0, "buried": 0}
        await assert_agrees_with_server(inv, address)

        await c.delete(ids[2])
        await c.delete(ids[4])
        change = await inv.refresh()
        assert change.removed == {ids[2], ids[4]} and not change.changed
        assert ids[2] not in inv and ids[4] not in inv
        await assert_agrees_with_server(inv, address)
        assert not await inv.refresh()  # nothing else happened


async def test_a_rescan_drops_the_jobs_that_are_gone(server: Beanstalkd) -> None:
    async with Client(server.address, encoding=None) as c:
        ids = await put_many(c, "r", 30)
        inv = Inventory(c, batch_size=4)
        await inv.scan()
        gone = {*ids[:5], ids[14], *ids[-2:]}  # the oldest, one inside, the newest
        await c.run_many([commands.delete(j) for j in gone])
        change = await inv.scan()
    assert change.removed == gone and not change.added and not change.changed
    assert set(inv.jobs) == set(ids) - gone
    assert inv.counts("r")["ready"] == 30 - len(gone)
    assert not {j.id for j in inv.select()} & gone


async def test_a_tube_vanishing_during_refresh(server: Beanstalkd) -> None:
    address = server.address
    async with Client(address, encoding=None) as c, Client(address, encoding=None) as other:
        (brief,) = await put_many(c, "brief", 1)
        kept = await put_many(c, "kept", 2)
        inv = Inventory(c, batch_size=4)
        await inv.scan()
        assert inv.tubes == ["brief", "kept"]
        real_run_many = c.run_many
        raced: list[bool] = []

        async def run_many(calls: list[commands.Call[Any]], **kw: Any) -> list[Any]:
            replies = await real_run_many(calls, **kw)
            if any(call.line == commands.LIST_TUBES.line for call in calls) and not raced:
                # Listed, but gone before its stats-tube: the last job deleted.
                await other.delete(brief)
                raced.append(True)
            return replies

        c.run_many = run_many  # type: ignore[method-assign,assignment]
        change = await inv.refresh()
        assert raced
        assert "brief" not in await other.tubes()
    assert change.removed == {brief}
    assert inv.tubes == ["kept"]
    assert inv.counts("brief") == dict.fromkeys(STATES, 0)
    assert [j.id for j in inv.select()] == kept


async def test_refresh_finds_jobs_above_every_known_id(server: Beanstalkd) -> None:
    """A put that fails after taking an id (EXPECTED_CRLF) pushes ids past total-jobs."""
    async with Client(server.address, encoding=None) as c:
        ids = await put_many(c, "up", 3)
        inv = Inventory(c, batch_size=8)
        await inv.scan()
        host, port = server.address.rsplit(":", 1)
        reader, writer = await asyncio.open_connection(host, int(port))
        writer.write(b"use up\r\nput 0 0 60 1\r\nabc")  # a body that does not end in CRLF
        assert await reader.readline() == b"USING up\r\n"
        assert await reader.readline() == b"EXPECTED_CRLF\r\n"
        writer.close()
        await writer.wait_closed()
        (above,) = await put_many(c, "up", 1)
        stats = await c.stats()
        assert above > stats["total-jobs"]  # the trap
        before = await job_reads(server.address)
        reports: list[ScanProgress] = []
        change = await inv.refresh(reports.append)
        reads = await job_reads(server.address) - before
    assert change.added == {above}
    assert set(inv.jobs) == {*ids, above}
    assert inv.counts("up")["ready"] == 4
    assert reads <= 2 * inv.batch_size  # a look past the top costs about one batch
    assert reports[-1].done and reports[-1].found == 4 and reports[-1].expected == 4


# --- progress ---------------------------------------------------------------------------------


async def test_refresh_progress_reports(server: Beanstalkd) -> None:
    async with (
        Client(server.address, encoding=None) as c,
        Client(server.address, encoding=None, watch="p") as worker,
    ):
        ids = await put_many(c, "p", 40)
        inv = Inventory(c, batch_size=5)
        await inv.scan()
        await c.run_many([commands.delete(j) for j in ids[3::7]])
        await worker.bury(await worker.reserve(timeout=0))
        await put_many(c, "p", 6)
        reports: list[ScanProgress] = []
        await inv.refresh(reports.append)
        live = live_count(await c.stats())
    assert reports, "a refresh reports its progress"
    assert [r.done for r in reports] == [False] * (len(reports) - 1) + [True]
    assert reports[-1].found == len(inv.jobs) == live
    assert all(r.expected == live for r in reports)
    scanned = [r.scanned for r in reports]
    assert scanned == sorted(scanned) and scanned[-1] > 0
    assert reports[-1].fraction == 1.0


def test_progress_fraction() -> None:
    assert ScanProgress(5, 3, 4, False).fraction == 0.75
    assert ScanProgress(5, 9, 4, False).fraction == 1.0
    assert ScanProgress(5, 0, 0, False).fraction == 0.0
    assert ScanProgress(5, 0, 0, True).fraction == 1.0


# --- after a restart with a binlog: ids above total-jobs ------------------------------------------


@pytest.fixture
async def restarted(beanstalkd_factory: Callable[..., Beanstalkd]) -> dict[str, Any]:
    """A server restarted from its binlog: 15 jobs at ids 26-40, total-jobs back to 0."""
    server = beanstalkd_factory(binlog=True)
    async with Client(server.address, encoding=None) as c:
        ids = await put_many(c, "kept", 40)
        await c.run_many([commands.delete(j) for j in ids[:25]])
    server.restart()
    async with Client(server.address, encoding=None) as c:
        stats = await c.stats()
    assert stats["total-jobs"] < 26 and live_count(stats) == 15
    return {"server": server, "ids": ids[25:]}


async def test_the_gap_limit_bounds_the_look_past_total_jobs(restarted: dict[str, Any]) -> None:
    address = restarted["server"].address
    async with Client(address, encoding=None) as c:
        before = await job_reads(address)
        short = Inventory(c, batch_size=8, gap_limit=10)
        await short.scan()
        reads = await job_reads(address) - before
        assert short.scanned
        # It gave up after ~gap_limit empty ids: the jobs at 26+ were out of its reach,
        # but for the tube's head, read directly (heads first) and kept.
        assert reads <= short.gap_limit + short.batch_size
        assert list(short.jobs) == restarted["ids"][:1]
        wide = Inventory(c, batch_size=8, gap_limit=30)
        await wide.scan()
        assert set(wide.jobs) == set(restarted["ids"])


async def test_the_id_offset_learnt_after_a_restart_keeps_refresh_cheap(
    restarted: dict[str, Any],
) -> None:
    address = restarted["server"].address
    async with Client(address, encoding=None) as c:
        inv = Inventory(c, batch_size=100)
        await inv.scan()
        assert set(inv.jobs) == set(restarted["ids"])
        newer = await put_many(c, "kept", 3)
        assert min(newer) == 41
        before = await job_reads(address)
        change = await inv.refresh()
        reads = await job_reads(address) - before
    assert change.added == set(newer)
    assert reads <= len(newer) + 2  # the new ids, read where they are: no probing past the top


# --- what a refresh costs (README: refresh cost targets) -----------------------------------------

N = 1000


@pytest.fixture
async def scanned(server: Beanstalkd) -> AsyncIterator[dict[str, Any]]:
    """N ready jobs in one tube, 20 buried in another, one reserved; a full scan done."""
    async with (
        Client(server.address, encoding=None) as c,
        Client(server.address, encoding=None, watch=["q", "b"]) as worker,
    ):
        ids = await put_many(c, "q", N)
        buried = await put_many(c, "b", 20, priority=1)
        for jid in buried:
            await worker.bury(await worker.reserve_job(jid))
        (held,) = await put_many(c, "h", 1)
        await worker.reserve_job(held)
        inv = Inventory(c, batch_size=200)
        before = await job_reads(server.address)
        await inv.scan()
        scan_reads = await job_reads(server.address) - before
        assert scan_reads >= N
        yield {"c": c, "worker": worker, "inv": inv, "ids": ids, "buried": buried,
               "address": server.address, "scan_reads": scan_reads}  # fmt: skip


async def refresh_reads(world: dict[str, Any]) -> int:
    """Job reads one refresh costs; the inventory then agrees with the server."""
    before = await job_reads(world["address"])
    await world["inv"].refresh()
    reads = await job_reads(world["address"]) - before
    await assert_agrees_with_server(world["inv"], world["address"])
    return reads


async def test_refresh_cost_when_nothing_changed(scanned: dict[str, Any]) -> None:
    # Only what changes by itself is read again: the reserved job (its TTR runs out).
    assert await refresh_reads(scanned) <= 3


async def test_refresh_cost_after_workers_take_1pct_from_the_head(scanned: dict[str, Any]) -> None:
    worker: Client = scanned["worker"]
    for _ in range(N // 100):
        job = await worker.reserve(timeout=0)
        assert job.id in scanned["ids"][:20]
        await worker.delete(job)
    assert await refresh_reads(scanned) <= scanned["scan_reads"] // 10  # README: <= 0.1


async def test_refresh_cost_after_kicks_from_the_buried_head(scanned: dict[str, Any]) -> None:
    c: Client = scanned["c"]
    await c.use("b")
    assert await c.kick(3) == 3
    await c.use("default")
    assert await refresh_reads(scanned) <= scanned["scan_reads"] // 10
    assert scanned["inv"].counts("b") == {"ready": 3, "delayed": 0, "reserved": 0, "buried": 17}


async def test_refresh_cost_of_new_jobs(scanned: dict[str, Any]) -> None:
    await put_many(scanned["c"], "q", N // 100)
    assert await refresh_reads(scanned) <= N // 100 + 3


async def test_refresh_cost_after_random_deletes(scanned: dict[str, Any]) -> None:
    # Nothing says which jobs went: each known job may be checked, but once at most.
    gone = scanned["ids"][37::97]
    await scanned["c"].run_many([commands.delete(j) for j in gone])
    known = len(scanned["inv"])
    reads = await refresh_reads(scanned)
    assert reads <= known + known // 10
    assert not set(gone) & set(scanned["inv"].jobs)


# --- moves away from a queue's head, at full speed, bodies --------------------------------------


async def test_a_move_from_the_back_of_a_queue_is_found(server: Beanstalkd) -> None:
    """reserve-job takes the last job in line: no head probe sees it; re-reading the tube does."""
    address = server.address
    async with Client(address, encoding=None) as c, Client(address, encoding=None) as worker:
        (last,) = await put_many(c, "m", 1, priority=1000)  # oldest id, last in line
        await put_many(c, "m", 20, priority=1)
        inv = Inventory(c, batch_size=4)
        await inv.scan()
        assert inv.select("m", "ready")[-1].id == last
        await worker.reserve_job(last)
        change = await inv.refresh()
        assert change.changed == {last} and not change.removed
        assert inv.jobs[last].state == "reserved"
        await assert_agrees_with_server(inv, address)


async def test_random_deletes_at_full_speed(server: Beanstalkd) -> None:
    async with Client(server.address, encoding=None) as c:
        ids = await put_many(c, "f", 700)
        inv = Inventory(c, batch_size=50, budget=100)
        await inv.scan()
        gone = set(ids[450::61])  # past the first sample batch of peeks
        await c.run_many([commands.delete(j) for j in gone])
        before = await job_reads(server.address)
        reports: list[ScanProgress] = []
        change = await inv.refresh(reports.append)
        reads = await job_reads(server.address) - before
        await assert_agrees_with_server(inv, server.address)
    assert change.removed == gone
    assert reads <= len(ids) + len(ids) // 10
    assert reports[-1].scanned >= reads - 2 * len(gone)  # progress counts what was read


async def test_peek_body_and_peek_bodies_limits(server: Beanstalkd) -> None:
    async with Client(server.address, encoding=None) as c:
        ids = await put_many(c, "b", 600)  # more than one batch of peeks
        inv = Inventory(c, budget=100)
        await inv.scan()
        assert await inv.peek_body(ids[0]) == b"x0"
        assert await inv.peek_body(ids[123], limit=2) == b"x1"
        assert await inv.peek_body(ids[123], limit=0) == b""
        bodies = await inv.peek_bodies(ids)
        assert bodies == {jid: b"x%d" % n for n, jid in enumerate(ids)}
        short = await inv.peek_bodies(reversed(ids), limit=2)
        assert short == {jid: (b"x%d" % n)[:2] for n, jid in enumerate(ids)}


def test_inventory_change_is_true_when_anything_changed() -> None:
    none: frozenset[int] = frozenset()
    assert not InventoryChange(none, none, none)
    assert InventoryChange(frozenset({1}), none, none)
    assert InventoryChange(none, frozenset({1}), none)
    assert InventoryChange(none, none, frozenset({1}))


def test_jobinfo_clocks_of_reserved_and_ready_jobs() -> None:
    stats = {
        "id": 1, "tube": "t", "state": "reserved", "pri": 0, "age": 10, "delay": 0, "ttr": 60,
        "time-left": 30, "file": 0, "reserves": 1, "timeouts": 0, "releases": 0, "buries": 0,
        "kicks": 0,
    }  # fmt: skip
    now = time.monotonic()
    reserved = JobInfo.from_stats(stats, seen=now)
    assert reserved.time_left_now(now + 10) == 20
    assert 29 <= reserved.time_left_now() <= 30  # defaults to now
    assert reserved.age_now(now) == 10  # no time passed: no ageing
    assert 10 <= reserved.age_now() <= 11
    ready = JobInfo.from_stats({**stats, "state": "ready", "time-left": 0}, seen=now)
    assert ready.time_left_now(now + 10) == 0
