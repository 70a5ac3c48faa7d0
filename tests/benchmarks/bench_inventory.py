"""Inventory benchmark: full scan and 1%-changed refresh vs a sequential greenstalk scan.

    .venv/bin/python -m tests.benchmarks.bench_inventory [--jobs 100000] [--reps 3] [--out FILE]

The server (pinned to core 0) holds ``--jobs`` live jobs across 10 tubes with
every other id deleted (so twice as many ids), 10% of them delayed. The
client is pinned to core 1. Prints JSON with:

- ``full_scan``: ids/s of :meth:`Inventory.scan` (median of ``--reps`` fresh inventories);
- ``greenstalk``: ids/s of a sequential greenstalk ``stats_job`` scan over a sample of ids;
- ``refresh_worker_1pct``: :meth:`Inventory.refresh` after 1% of the jobs changed the way
  workers change them (reserve+delete, reserve and hold, reserve+bury, kick, new puts),
  its time as a fraction of the full scan, and whether it reached the exact truth;
- ``refresh_random_delete_1pct``: the worst case, 1% deleted at random ids;
- ``memory``: the inventory's own size (tracemalloc) and the process's peak RSS.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import resource
import time
import tracemalloc
from typing import Any

import greenstalk

from stalkview.client import Client, commands
from stalkview.inventory import Inventory
from tests.benchmarks.common import (
    emit,
    environment,
    median,
    ops_per_s,
    pin_process,
    pinned_server,
    ratio,
)

TUBES = [f"bench-{n}" for n in range(10)]
BATCH = 5000


async def fill(address: str, live: int) -> int:
    """Put 2*live jobs round-robin over the tubes, delete every other id; return the last id."""
    async with Client(address, encoding=None) as c:
        per_tube = 2 * live // len(TUBES)
        last = 0
        for start in range(0, per_tube, BATCH):
            for tube in TUBES:
                n = min(BATCH, per_tube - start)
                calls: list[commands.Call[Any]] = [commands.use(tube)]
                for k in range(n):
                    delay = 3600 if k % 10 == 0 else 0
                    calls.append(commands.put(b"payload-%d" % k, 1000 + k % 7, delay, 120))
                ids = await c.run_many(calls, raise_on_error=True)
                last = max(last, max(ids[1:]))
        for start in range(1, last + 1, 2 * BATCH):
            dels = [commands.delete(j) for j in range(start, min(last + 1, start + 2 * BATCH), 2)]
            await c.run_many(dels, raise_on_error=True)
        return last


async def full_scan(address: str) -> tuple[float, int, Inventory]:
    client = Client(address, encoding=None)
    await client.open()
    inv = Inventory(client)  # the defaults the CLI uses
    ids_probed = 0

    def progress(p: Any) -> None:
        nonlocal ids_probed
        ids_probed = p.scanned

    start = time.perf_counter()
    await inv.scan(progress)
    return time.perf_counter() - start, ids_probed, inv


def greenstalk_scan(address: str, last: int, sample: int) -> tuple[float, int]:
    host, port = address.rsplit(":", 1)
    with greenstalk.Client((host, int(port))) as g:
        ids = range(last, max(0, last - sample), -1)
        start = time.perf_counter()
        for jid in ids:
            try:  # noqa: SIM105 - suppress() would slow the reference loop
                g.stats_job(jid)
            except greenstalk.NotFoundError:
                pass
        return time.perf_counter() - start, len(ids)


async def worker_changes(address: str, count: int) -> None:
    """1% changed the way a queue changes: consumers, a stuck worker, buries, kicks, producers."""
    async with Client(address, encoding=None, watch=TUBES) as w:
        share = count // 5
        for _ in range(2 * share):  # consumed: reserve then delete
            job = await w.reserve(timeout=0)
            await w.delete(job)
        for _ in range(share // 2):  # failed: reserve then bury
            job = await w.reserve(timeout=0)
            await w.bury(job)
        await w.use(TUBES[0])
        await w.kick(share // 4)
        await w.run_many([commands.put(b"new", 500, 0, 120) for _ in range(share)])
        holder = Client(address, encoding=None, watch=TUBES)
        await holder.open()
        for _ in range(count - 2 * share - share // 2 - share // 4 - share):
            await holder.reserve(timeout=0)  # held (reserved) until the holder closes
        _HELD.append(holder)


_HELD: list[Client] = []


async def random_deletes(address: str, inv: Inventory, count: int) -> None:
    idle = sorted(j for j, info in inv.jobs.items() if info.state != "reserved")
    victims = random.sample(idle, count)
    async with Client(address, encoding=None) as c:
        await c.run_many([commands.delete(j) for j in victims])


async def timed_refresh(inv: Inventory) -> float:
    start = time.perf_counter()
    await inv.refresh()
    return time.perf_counter() - start


async def exact(address: str, inv: Inventory) -> bool:
    _t, _n, truth = await full_scan(address)
    await truth.client.close()

    def summary(i: Inventory) -> dict[int, tuple[Any, ...]]:
        return {j: (x.tube, x.state, x.pri, x.reserves, x.kicks) for j, x in i.jobs.items()}

    return summary(inv) == summary(truth)


async def inventory_size(address: str) -> int:
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    _t, _n, inv = await full_scan(address)
    inv.select()  # the sorted view the UI keeps
    size = tracemalloc.get_traced_memory()[0] - before
    await inv.client.close()
    tracemalloc.stop()
    return size


async def bench(address: str, live: int, reps: int, sample: int) -> dict[str, Any]:
    started = time.perf_counter()
    last = await fill(address, live)
    fill_s = time.perf_counter() - started

    scan_times: list[float] = []
    gs_rates: list[float] = []
    probed = 0
    inv: Inventory | None = None
    for _ in range(reps):  # interleaved: a noisy neighbour hurts both alike
        seconds, probed, scanned = await full_scan(address)
        scan_times.append(seconds)
        if inv is not None:
            await inv.client.close()
        inv = scanned
        g_seconds, g_ids = greenstalk_scan(address, last, sample)
        gs_rates.append(g_ids / g_seconds)
    assert inv is not None
    found = len(inv.jobs)
    scan_s = median(scan_times)

    refresh_times = []
    correct = []
    for _ in range(reps):
        await worker_changes(address, live // 100)
        refresh_times.append(await timed_refresh(inv))
        correct.append(await exact(address, inv))
    for holder in _HELD:
        await holder.close()
    await inv.refresh()

    worst_times = []
    worst_correct = []
    for _ in range(reps):
        await random_deletes(address, inv, live // 100)
        worst_times.append(await timed_refresh(inv))
        worst_correct.append(await exact(address, inv))
    await inv.client.close()

    inv_bytes = await inventory_size(address)
    refresh_s = median(refresh_times)
    worst_s = median(worst_times)
    return {
        "live_jobs": found,
        "ids": last,
        "fill_seconds": round(fill_s, 2),
        "full_scan": {
            "seconds": round(scan_s, 3),
            "ids_probed": probed,
            "ids_per_s": ops_per_s(probed, scan_s),
        },
        "greenstalk": {"ids_per_s": round(median(gs_rates)), "sample_ids": sample},
        "speedup_vs_greenstalk": ratio(probed / scan_s, median(gs_rates)),
        "refresh_worker_1pct": {
            "seconds": round(refresh_s, 4),
            "fraction_of_full_scan": ratio(refresh_s, scan_s),
            "exact": all(correct),
        },
        "refresh_random_delete_1pct": {
            "seconds": round(worst_s, 4),
            "fraction_of_full_scan": ratio(worst_s, scan_s),
            "exact": all(worst_correct),
        },
        "memory": {
            "inventory_bytes": inv_bytes,
            "bytes_per_job": round(inv_bytes / max(1, found)),
            "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        },
    }


def run(jobs: int = 100_000, reps: int = 3, sample: int = 20_000) -> dict[str, Any]:
    with pinned_server(cpu=0) as server:
        pinned = pin_process(1)
        result = asyncio.run(bench(server.address, jobs, reps, sample))
    return {"benchmark": "inventory", "pinned": pinned, **environment(), **result}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--jobs", type=int, default=100_000, help="live jobs (ids: twice as many)")
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--sample", type=int, default=20_000, help="ids greenstalk scans")
    parser.add_argument("--out", help="also write the JSON here")
    args = parser.parse_args()
    emit(run(args.jobs, args.reps, args.sample), args.out)


if __name__ == "__main__":
    main()
