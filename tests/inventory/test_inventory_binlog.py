"""The binlog-assisted inventory against real servers: the same jobs as the id scan,
for a cost that follows the live jobs; and finding a local server's binlog."""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from stalkview.binlog import BinlogSource
from stalkview.binlogfind import find_binlog
from stalkview.cli import main
from stalkview.client import Client
from stalkview.inventory import Inventory
from tests.beanstalkd import Beanstalkd
from tests.inventory.test_binlog import connect, mixed_workload

IDENTITY = ("tube", "state", "pri", "delay", "ttr", "file", "reserves", "buries", "kicks")


@pytest.fixture
def logged(tmp_path: Path) -> Iterator[Beanstalkd]:
    directory = tmp_path / "binlog"
    directory.mkdir()
    server = Beanstalkd(binlog_dir=str(directory))
    yield server.start()
    server.stop()


def snapshot(inventory: Inventory) -> dict[int, tuple[Any, ...]]:
    return {
        jid: tuple(getattr(job, f) for f in IDENTITY) for jid, job in sorted(inventory.jobs.items())
    }


async def scanned(address: str) -> dict[int, tuple[Any, ...]]:
    async with Client(address, encoding=None) as c:
        inventory = Inventory(c)
        await inventory.scan()
        return snapshot(inventory)


async def stats_jobs_sent(address: str) -> int:
    async with Client(address, encoding=None) as c:
        return int((await c.stats())["cmd-stats-job"])


async def test_binlog_assisted_inventory_equals_the_scan(logged: Beanstalkd) -> None:
    with connect(logged) as c:
        churn = [c.put(b"churn %d" % n) for n in range(3000)]
        for jid in churn[:-5]:
            c.delete(jid)
    logged.restart()  # ids go on from 3001 while total-jobs starts again from 0
    _ids, worker = mixed_workload(logged)
    try:
        async with Client(logged.address, encoding=None) as c:
            before = await stats_jobs_sent(logged.address)
            inventory = Inventory(c, source=BinlogSource(logged.binlog_dir or ""))
            await inventory.scan()
            cost = await stats_jobs_sent(logged.address) - before
            assert snapshot(inventory) == await scanned(logged.address)
            assert inventory.found_by == f"binlog {logged.binlog_dir}"
            assert inventory.counts()["reserved"] == 1
            # One stats-job per live job (and a few for jobs that moved meanwhile),
            # where the id scan reads thousands of ids.
            assert len(inventory) == 5 + 7
            assert cost <= 2 * len(inventory) + 10, cost
    finally:
        worker.close()


async def test_refresh_reads_what_the_log_names_and_what_it_cannot(logged: Beanstalkd) -> None:
    with connect(logged, "work") as c:
        ids = [c.put(b"job %d" % n, priority=n) for n in range(50)]
    async with Client(logged.address, encoding=None) as client:
        inventory = Inventory(client, source=BinlogSource(logged.binlog_dir or ""))
        await inventory.scan()
        with connect(logged, "work") as c:
            for jid in ids[:20]:
                c.delete(jid)
            fresh = [c.put(b"new %d" % n, delay=600) for n in range(5)]
            c.bury(c.reserve_job(ids[30]))
            c.kick_job(ids[30])
            c.bury(c.reserve_job(ids[31]))
            held = c.reserve()  # not logged: the counts tell
            before = await stats_jobs_sent(logged.address)
            change = await inventory.refresh()
            cost = await stats_jobs_sent(logged.address) - before
            assert snapshot(inventory) == await scanned(logged.address)
            assert inventory.jobs[held.id].state == "reserved"
        assert set(change.removed) == set(ids[:20])
        assert set(fresh) <= change.added
        # The new ids, the changed jobs and the head of the tube whose counts moved:
        # not the 55 jobs of the tube, nor the id range.
        assert cost < 40, cost


async def test_jobs_the_log_lacks_are_found_by_an_id_scan_and_said(
    logged: Beanstalkd, tmp_path: Path
) -> None:
    with connect(logged) as c:
        early = [c.put(b"early %d" % n) for n in range(3)]
        stale = tmp_path / "stale-copy"
        shutil.copytree(logged.binlog_dir or "", stale)
        later = [c.put(b"later %d" % n) for n in range(4)]
    async with Client(logged.address, encoding=None) as c:
        inventory = Inventory(c, source=BinlogSource(stale))
        await inventory.scan()
    assert sorted(inventory.jobs) == sorted(early + later)
    assert inventory.found_by == f"binlog {stale} + id scan (4 jobs not in the log)"


async def test_a_log_that_is_not_the_servers_is_not_used(
    server: Beanstalkd, logged: Beanstalkd
) -> None:
    with connect(logged) as c:
        c.put(b"in the other server")
    with connect(server) as c:
        mine = c.put(b"mine")
    async with Client(server.address, encoding=None) as c:
        inventory = Inventory(c, source=BinlogSource(logged.binlog_dir or ""))
        await inventory.scan()
        assert list(inventory.jobs) == [mine]
        assert inventory.found_by.startswith("id scan (the server writes no binlog")
    async with Client(logged.address, encoding=None) as c:
        inventory = Inventory(c, source=BinlogSource("/nonexistent/binlog"))
        await inventory.scan()
        assert len(inventory.jobs) == 1
        assert inventory.found_by.startswith("id scan (binlog /nonexistent/binlog unreadable:")


def test_a_local_servers_binlog_is_found(
    logged: Beanstalkd, server: Beanstalkd, tmp_path: Path
) -> None:
    assert find_binlog(logged.address) == logged.binlog_dir
    assert find_binlog(f"localhost:{logged.port}") == logged.binlog_dir
    assert find_binlog(server.address) is None  # runs without -b
    assert find_binlog("192.0.2.1:11300") is None  # not this machine
    unix = Beanstalkd(socket_path=str(tmp_path / "b.sock"), binlog_dir=str(tmp_path))
    unix.start()
    try:
        assert find_binlog(unix.address) == str(tmp_path)
    finally:
        unix.stop()


def test_jobs_says_where_the_inventory_came_from(
    logged: Beanstalkd, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("STALKVIEW_CONFIG", "/nonexistent/config.toml")
    with connect(logged) as c:
        c.put(b"x")
    assert main(["jobs", logged.address]) == 0
    err = capsys.readouterr().err
    assert err == f"1 job, found by binlog {logged.binlog_dir}\n"


async def test_after_a_restart_the_id_scan_finds_a_lone_job_above_total_jobs(
    logged: Beanstalkd,
) -> None:
    """After a restart with a binlog, ids run ahead of total-jobs (0): the head of the
    tube satisfies the counters on its own and must not be dropped as "above the scan"."""
    with connect(logged, "emails") as c:
        c.put(b"before")
        jid = c.put(b"survivor")
        c.delete(jid - 1)
    logged.restart()
    async with Client(logged.address, encoding=None) as c:
        inventory = Inventory(c)
        await inventory.scan()
        assert list(inventory.jobs) == [jid]
        await inventory.refresh()
        assert list(inventory.jobs) == [jid]


async def test_a_busy_server_needs_no_id_scan(logged: Beanstalkd) -> None:
    """Workers putting and deleting all the time keep a job or two in flight that the
    log named after it was read: that is no reason to fall back to the id scan."""
    import threading

    with connect(logged, "steady") as c:
        kept = [c.put(b"kept %d" % n) for n in range(200)]
    stop = threading.Event()
    cycles: list[int] = []

    def worker() -> None:
        with connect(logged, "busy") as w:
            while not stop.is_set():
                w.delete(w.reserve_job(w.put(b"in flight")))
                cycles.append(1)

    thread = threading.Thread(target=worker)
    thread.start()
    try:
        while len(cycles) < 20:
            await asyncio.sleep(0.01)
        async with Client(logged.address, encoding=None) as client:
            inventory = Inventory(client, source=BinlogSource(logged.binlog_dir or ""))
            await inventory.scan()
    finally:
        stop.set()
        thread.join()
    assert inventory.found_by == f"binlog {logged.binlog_dir}"
    assert set(kept) <= set(inventory.jobs)
    assert len(set(inventory.jobs) - set(kept)) <= 1
