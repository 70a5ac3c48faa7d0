"""The job inventory against real beanstalkd servers."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from stalkview.client import Client, commands
from stalkview.inventory import (
    STATES,
    Inventory,
    InventoryChange,
    JobInfo,
    Missing,
    ScanProgress,
)
from tests.beanstalkd import Beanstalkd

#: Counters a read-only inventory may move (everything else must stay put): the
#: head peeks act on the used tube, so ``use`` of an existing tube is allowed too.
ALLOWED = (
    "cmd-stats",
    "cmd-stats-job",
    "cmd-stats-tube",
    "cmd-peek",
    "cmd-list-tubes",
    "cmd-use",
    "cmd-peek-ready",
    "cmd-peek-delayed",
    "cmd-peek-buried",
)


async def put_many(c: Client, tube: str, bodies: list[bytes], **kw: Any) -> list[int]:
    calls: list[commands.Call[Any]] = [commands.use(tube)]
    pri, delay, ttr = kw.get("priority", 100), kw.get("delay", 0), kw.get("ttr", 60)
    calls += [commands.put(b, pri, delay, ttr) for b in bodies]
    return (await c.run_many(calls, raise_on_error=True))[1:]


async def truth(address: str) -> dict[int, dict[str, Any]]:
    """Every live job by brute force: stats-job of every id up to total-jobs (no early stop)."""
    async with Client(address, encoding=None) as c:
        total = (await c.stats())["total-jobs"]
        replies = await c.run_many([commands.stats_job(j) for j in range(1, total + 1)])
    return {r["id"]: r for r in replies if isinstance(r, dict)}


def cmd_counters(stats: dict[str, Any]) -> dict[str, int]:
    return {k: v for k, v in stats.items() if k.startswith("cmd-") and k not in ALLOWED}


@pytest.fixture
async def world(server: Beanstalkd) -> AsyncIterator[dict[str, Any]]:
    """All four states across three tubes, deleted ids in between, a job reserved
    by a second connection, a paused tube and a binary body."""
    async with (
        Client(server.address, encoding=None) as c,
        Client(server.address, encoding=None, watch="work") as worker,
    ):
        a = await put_many(c, "alpha", [b"a%d" % i for i in range(10)], priority=50)
        await put_many(c, "alpha", [b"urgent"], priority=0)
        d = await put_many(c, "beta", [b"later"] * 4, delay=600)
        await put_many(c, "work", [b"\xff\x00binary\x1b[2J", b"two", b"three"])
        for jid in a[::3]:
            await c.delete(jid)
        await c.delete(d[0])
        held = await worker.reserve(timeout=0)  # reserved by a second connection
        buried = await worker.reserve(timeout=0)
        await worker.bury(buried, priority=7)
        await c.pause_tube("beta", 600)
        yield {"address": server.address, "held": held.id, "buried": buried.id, "worker": worker}


async def test_scan_finds_exactly_the_live_jobs_with_all_fields(world: dict[str, Any]) -> None:
    expected = await truth(world["address"])
    async with Client(world["address"], encoding=None) as c:
        inv = Inventory(c, batch_size=4)
        change = await inv.scan()
    assert set(inv.jobs) == set(expected)
    assert change.added == frozenset(expected) and not change.removed and not change.changed
    for jid, stats in expected.items():
        mine = inv.jobs[jid].to_stats()
        assert {k: v for k, v in mine.items() if k not in ("age", "time-left")} == {
            k: v for k, v in stats.items() if k not in ("age", "time-left")
        }
    assert inv.jobs[world["held"]].state == "reserved"
    assert inv.jobs[world["buried"]].state == "buried"
    assert inv.counts() == {"ready": 8, "delayed": 3, "reserved": 1, "buried": 1}
    assert inv.counts("beta") == {"ready": 0, "delayed": 3, "reserved": 0, "buried": 0}
    assert inv.scanned


async def test_scan_is_side_effect_free(world: dict[str, Any]) -> None:
    async with Client(world["address"], encoding=None) as c:
        before_jobs = await truth(world["address"])
        before = await c.stats()
        before_tubes = sorted(await c.tubes())
        using = {t: (await c.stats_tube(t))["current-using"] for t in before_tubes}
        inv = Inventory(c, batch_size=5)
        await inv.scan()
        await inv.refresh()
        await inv.peek_bodies(inv.jobs)
        await inv.peek_body(world["held"])
        after = await c.stats()
        assert sorted(await c.tubes()) == before_tubes
        # The heads were peeked through `use`: the connection is back on default
        # and uses no other tube (nothing kept alive).
        assert await c.using() == "default"
        assert {t: (await c.stats_tube(t))["current-using"] for t in before_tubes} == using
    assert after["cmd-peek-buried"] > before["cmd-peek-buried"]  # the heads were read
    assert cmd_counters(after) == cmd_counters(before)
    assert after["cmd-stats-job"] > before["cmd-stats-job"]  # the counters do count
    after_jobs = await truth(world["address"])
    assert {j: s["reserves"] for j, s in after_jobs.items()} == {
        j: s["reserves"] for j, s in before_jobs.items()
    }
    assert {j: s["state"] for j, s in after_jobs.items()} == {
        j: s["state"] for j, s in before_jobs.items()
    }


async def test_select_orders_like_the_server(server: Beanstalkd) -> None:
    async with (
        Client(server.address, encoding=None) as c,
        Client(server.address, encoding=None, watch="q") as w,
    ):
        await put_many(c, "q", [b"x"], priority=5)  # 1
        await put_many(c, "q", [b"x"], priority=1)  # 2
        await put_many(c, "q", [b"x"], priority=5)  # 3
        await put_many(c, "q", [b"x"], delay=500)  # 4
        await put_many(c, "q", [b"x"], delay=100)  # 5
        await put_many(c, "r", [b"x"], priority=0)  # 6
        job = await w.reserve(timeout=0)  # takes 2 (pri 1)
        assert job.id == 2
        await w.bury(job)
        job = await w.reserve(timeout=0)  # takes 1 (pri 5, lower id than 3)
        await w.bury(job)
        inv = Inventory(c)
        await inv.scan()
        assert [j.id for j in inv.select("q", "ready")] == [3]
        assert [j.id for j in inv.select("q", "delayed")] == [5, 4]
        assert [j.id for j in inv.select(None, "buried")] == [1, 2]  # kick order
        assert [j.id for j in inv.select(state="ready")] == [6, 3]
        assert [j.id for j in inv.select("q")] == [3, 5, 4, 1, 2]
        assert [j.id for j in inv.select()] == [6, 3, 5, 4, 1, 2]
        with pytest.raises(ValueError, match="unknown job state"):
            inv.select(state="sleeping")


async def test_progress_reports_and_early_stop(server: Beanstalkd) -> None:
    async with Client(server.address, encoding=None) as c:
        ids = await put_many(c, "p", [b"x"] * 50)
        await c.run_many([commands.delete(j) for j in ids[:40]])  # live: the newest 10
        inv = Inventory(c, batch_size=5)
        reports: list[ScanProgress] = []
        await inv.scan(reports.append)
    assert set(inv.jobs) == set(ids[40:])
    last = reports[-1]
    assert (last.scanned, last.found, last.expected, last.done) == (10, 10, 10, True)
    # The head (the oldest ready job) first, before any id was scanned; then the
    # scan stopped once all 10 were found.
    assert [(r.scanned, r.found) for r in reports[:-1]] == [(0, 1), (5, 6), (10, 10)]
    assert reports[0].missing == (Missing("p", "ready", 9, 50),)
    assert str(reports[0].missing[0]) == "9 ready jobs in p not found yet: older than id 51"
    assert all(r.expected == 10 for r in reports)
    assert reports[-1].fraction == 1.0


async def test_cancel_mid_scan_leaves_a_consistent_partial_state(server: Beanstalkd) -> None:
    async with Client(server.address, encoding=None) as c:
        ids = await put_many(c, "c", [b"x"] * 100)
        inv = Inventory(c, batch_size=10)
        second_batch = asyncio.Event()

        def progress(p: ScanProgress) -> None:
            if p.scanned >= 20:
                second_batch.set()

        task = asyncio.create_task(inv.scan(progress))
        await second_batch.wait()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert not inv.scanned
        assert 20 <= len(inv.jobs) < 100
        # The head (the oldest ready job), then the newest, contiguous.
        assert set(inv.jobs) == {ids[0], *ids[-(len(inv.jobs) - 1) :]}
        assert sum(inv.counts().values()) == len(inv.jobs)
        assert len(inv.select()) == len(inv.jobs)
        # The connection is still usable and a new scan completes.
        await inv.scan()
        assert set(inv.jobs) == set(ids) and inv.scanned


async def test_refresh_reports_added_changed_removed(world: dict[str, Any]) -> None:
    address = world["address"]
    async with (
        Client(address, encoding=None) as c,
        Client(address, encoding=None, watch=["alpha"]) as w,
    ):
        inv = Inventory(c, batch_size=3)
        await inv.scan()
        assert not await inv.refresh()  # nothing happened: no change
        new = await put_many(c, "gamma", [b"n1", b"n2"])
        consumed = await w.reserve(timeout=0)
        await w.delete(consumed)
        taken = await w.reserve(timeout=0)  # ready -> reserved
        await c.kick_job(world["buried"])  # buried -> ready
        await world["worker"].release(world["held"], priority=3, delay=0)
        change = await inv.refresh()
    assert change == InventoryChange(
        added=frozenset(new),
        changed=frozenset({taken.id, world["buried"], world["held"]}),
        removed=frozenset({consumed.id}),
    )
    assert inv.jobs[taken.id].state == "reserved"
    assert inv.jobs[world["held"]].pri == 3
    assert set(inv.jobs) == set(await truth(address))


async def test_refresh_catches_random_deletes_and_kicks(server: Beanstalkd) -> None:
    async with (
        Client(server.address, encoding=None) as c,
        Client(server.address, encoding=None, watch="k") as w,
    ):
        ids = await put_many(c, "k", [b"x"] * 30)
        for _ in range(5):
            await w.bury(await w.reserve(timeout=0))
        inv = Inventory(c, batch_size=7)
        await inv.scan()
        await c.run_many([commands.delete(j) for j in (ids[12], ids[20], ids[29])])
        await c.use("k")
        assert await c.kick(2) == 2
        change = await inv.refresh()
        real = await truth(server.address)
    assert change.removed == {ids[12], ids[20], ids[29]}
    assert change.changed == {ids[0], ids[1]}
    assert {j: i.state for j, i in inv.jobs.items()} == {j: s["state"] for j, s in real.items()}


@pytest.mark.parametrize("body_size", [10, 2000])
async def test_refresh_after_random_deletes_and_a_move_is_exact(
    server: Beanstalkd, body_size: int
) -> None:
    async with (
        Client(server.address, encoding=None) as c,
        Client(server.address, encoding=None, watch="r1") as w,
    ):
        one = await put_many(c, "r1", [b"x" * body_size] * 400)
        two = await put_many(c, "r2", [b"y" * body_size] * 400)
        inv = Inventory(c, batch_size=50)
        await inv.scan()
        gone = set(one[5::37] + two[3::41])
        await c.run_many([commands.delete(j) for j in gone])
        await w.bury(await w.reserve(timeout=0))  # one[0] moves ready -> buried
        peeks = (await c.stats())["cmd-peek"]
        change = await inv.refresh()
        peeked = (await c.stats())["cmd-peek"] - peeks
        real = await truth(server.address)
    assert change.removed == gone
    assert change.changed == {one[0]}
    assert {j: i.state for j, i in inv.jobs.items()} == {j: s["state"] for j, s in real.items()}
    if body_size > 1000:
        assert peeked <= 200  # big bodies: one sample batch, then stats-job
    else:
        assert peeked > 200


async def test_scan_racing_with_puts_and_deletes_then_refresh_is_exact(server: Beanstalkd) -> None:
    async with (
        Client(server.address, encoding=None) as c,
        Client(server.address, encoding=None) as other,
    ):
        ids = await put_many(c, "race", [b"x"] * 3000)
        inv = Inventory(c, batch_size=50)
        started = asyncio.Event()

        def inv_progress(p: ScanProgress) -> None:
            started.set()

        async def churn() -> None:
            await started.wait()
            for n in range(20):
                batch = ids[n * 100 : n * 100 + 40]
                await other.run_many([commands.delete(j) for j in batch])
                await put_many(other, "race", [b"y"] * 30)
                await asyncio.sleep(0)

        await asyncio.gather(inv.scan(inv_progress), churn())
        await inv.refresh()
        real = await truth(server.address)
    assert set(inv.jobs) == set(real)
    assert {j: i.state for j, i in inv.jobs.items()} == {j: s["state"] for j, s in real.items()}


async def test_restart_with_binlog_finds_jobs_above_total_jobs(
    beanstalkd_factory: Callable[..., Beanstalkd],
) -> None:
    server = beanstalkd_factory(binlog=True)
    async with Client(server.address, encoding=None) as c:
        ids = await put_many(c, "kept", [b"x"] * 40)
        await c.run_many([commands.delete(j) for j in ids[:25]])
    server.restart()
    async with Client(server.address, encoding=None) as c:
        stats = await c.stats()
        assert stats["total-jobs"] < ids[-1]  # the trap: counters restarted, ids did not
        inv = Inventory(c, batch_size=8)
        await inv.scan()
        assert set(inv.jobs) == set(ids[25:])
        # Jobs put after the restart continue the old ids; refresh finds them too.
        newer = await put_many(c, "kept", [b"y"] * 3)
        assert min(newer) > ids[-1]
        change = await inv.refresh()
        assert change.added == set(newer)
        assert set(inv.jobs) == set(ids[25:]) | set(newer)


async def test_refresh_after_restart_rescans(beanstalkd_factory: Callable[..., Beanstalkd]) -> None:
    server = beanstalkd_factory(binlog=True)
    async with Client(server.address, encoding=None) as c:
        ids = await put_many(c, "t", [b"x"] * 5)
        inv = Inventory(c)
        await inv.scan()
        await c.delete(ids[0])
    server.restart()
    async with Client(server.address, encoding=None) as c:
        inv.client = c
        change = await inv.refresh()
    assert change.removed == {ids[0]}
    assert set(inv.jobs) == set(ids[1:])


async def test_peek_bodies(world: dict[str, Any]) -> None:
    async with Client(world["address"], encoding=None) as c:
        inv = Inventory(c)
        await inv.scan()
        work = [j.id for j in inv.select("work")]
        bodies = await inv.peek_bodies([*work, 999_999], limit=6)
        assert bodies[world["held"]] == b"\xff\x00bina"[:6]
        assert 999_999 not in bodies
        assert set(bodies) == set(work)
        assert await inv.peek_body(world["held"]) == b"\xff\x00binary\x1b[2J"
        assert await inv.peek_body(999_999) is None


async def test_select_cache_follows_changes(server: Beanstalkd) -> None:
    async with Client(server.address, encoding=None) as c:
        ids = await put_many(c, "s", [b"x"] * 5)
        inv = Inventory(c)
        await inv.scan()
        first = inv.select("s", "ready")
        first.clear()  # callers get copies
        assert len(inv.select("s", "ready")) == 5
        await c.delete(ids[2])
        await inv.refresh()
        assert [j.id for j in inv.select("s", "ready")] == [ids[0], ids[1], ids[3], ids[4]]
        assert [j.id for j in inv.select()] == [ids[0], ids[1], ids[3], ids[4]]


def test_jobinfo_round_trip_and_ageing() -> None:
    stats = {
        "id": 7,
        "tube": "123",
        "state": "delayed",
        "pri": 1,
        "age": 10,
        "delay": 30,
        "ttr": 60,
        "time-left": 20,
        "file": 0,
        "reserves": 1,
        "timeouts": 2,
        "releases": 3,
        "buries": 4,
        "kicks": 5,
    }
    info = JobInfo.from_stats(stats, seen=100.0)
    assert info.tube == "123" and info.time_left == 20
    assert info.to_stats() == stats
    assert info.time_left_now(105.0) == 15
    assert info.time_left_now(200.0) == 0
    assert info.age_now(105.0) == 15
    assert set(STATES) == {"ready", "delayed", "reserved", "buried"}
