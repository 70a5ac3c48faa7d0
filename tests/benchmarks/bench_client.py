"""Client benchmark: greenstalk vs stalkview, server and client pinned to different cores.

    .venv/bin/python -m tests.benchmarks.bench_client [--jobs 20000] [--reps 5] [--out FILE]

Prints JSON: ops/s (median of interleaved repetitions) for put, reserve+delete,
peek and stats-job with 100-byte bodies, for

- ``greenstalk``: the sync reference, one command at a time;
- ``sequential``: stalkview, ``await`` one call at a time;
- ``gather``: stalkview, every call issued at once with ``asyncio.gather``;
- ``run_many``: stalkview, ``Client.run_many`` batches (all batches in flight);

and each one's ratio to greenstalk. ``scan`` is the inventory's workload: ids
scanned per second with run_many batches of stats-job over an id range where
every other id is deleted (half the replies are NOT_FOUND); ``scan_bulk`` is the
same through ``Client.stats_job_fields``, the path the inventory takes.
"""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Callable, Coroutine
from typing import Any

import greenstalk

from stalkview.client import Client, commands
from tests.benchmarks.common import (
    emit,
    environment,
    interleave,
    median,
    ops_per_s,
    pin_process,
    pinned_server,
    ratio,
)

OPS = ("put", "reserve+delete", "peek", "stats-job")
VARIANTS = ("greenstalk", "sequential", "gather", "run_many")
BATCH = 1000

Timings = dict[str, float]


def _clock() -> float:
    return asyncio.get_running_loop().time()


# --- greenstalk ---------------------------------------------------------------


def bench_greenstalk(address: tuple[str, int], jobs: int, body: bytes) -> Timings:
    import time

    out: Timings = {}
    with greenstalk.Client(address, encoding=None) as c:
        t = time.perf_counter()
        ids = [c.put(body) for _ in range(jobs)]
        out["put"] = time.perf_counter() - t
        t = time.perf_counter()
        for i in ids:
            c.peek(i)
        out["peek"] = time.perf_counter() - t
        t = time.perf_counter()
        for i in ids:
            c.stats_job(i)
        out["stats-job"] = time.perf_counter() - t
        t = time.perf_counter()
        for _ in ids:
            c.delete(c.reserve())
        out["reserve+delete"] = time.perf_counter() - t
    return out


# --- stalkview ----------------------------------------------------------------


async def bench_sequential(c: Client, jobs: int, body: bytes) -> Timings:
    out: Timings = {}
    t = _clock()
    ids = [await c.put(body) for _ in range(jobs)]
    out["put"] = _clock() - t
    t = _clock()
    for i in ids:
        await c.peek(i)
    out["peek"] = _clock() - t
    t = _clock()
    for i in ids:
        await c.stats_job(i)
    out["stats-job"] = _clock() - t
    t = _clock()
    for _ in ids:
        await c.delete(await c.reserve())
    out["reserve+delete"] = _clock() - t
    return out


async def bench_gather(c: Client, jobs: int, body: bytes) -> Timings:
    out: Timings = {}
    t = _clock()
    ids = await asyncio.gather(*(c.put(body) for _ in range(jobs)))
    out["put"] = _clock() - t
    t = _clock()
    await asyncio.gather(*(c.peek(i) for i in ids))
    out["peek"] = _clock() - t
    t = _clock()
    await asyncio.gather(*(c.stats_job(i) for i in ids))
    out["stats-job"] = _clock() - t
    t = _clock()
    # In chunks: the server scans a connection's reserved jobs on each reserve,
    # so 20,000 outstanding reservations would measure the server, not us.
    for start in range(0, jobs, BATCH):
        count = min(BATCH, jobs - start)
        reserved = await asyncio.gather(*(c.reserve() for _ in range(count)))
        await asyncio.gather(*(c.delete(j) for j in reserved))
    out["reserve+delete"] = _clock() - t
    return out


async def run_batches(c: Client, calls: list[commands.Call[Any]]) -> list[Any]:
    """All batches in flight at once; results flattened in call order."""
    batches = [calls[i : i + BATCH] for i in range(0, len(calls), BATCH)]
    results = await asyncio.gather(*(c.run_many(b) for b in batches))
    return [r for batch in results for r in batch]


async def bench_run_many(c: Client, jobs: int, body: bytes) -> Timings:
    out: Timings = {}
    t = _clock()
    ids = await run_batches(c, [commands.put(body, 2**16, 0, 60) for _ in range(jobs)])
    out["put"] = _clock() - t
    t = _clock()
    await run_batches(c, [commands.peek(i) for i in ids])
    out["peek"] = _clock() - t
    t = _clock()
    await run_batches(c, [commands.stats_job(i) for i in ids])
    out["stats-job"] = _clock() - t
    t = _clock()
    for start in range(0, jobs, BATCH):
        count = min(BATCH, jobs - start)
        reserved = await c.run_many([commands.reserve(None) for _ in range(count)])
        await c.run_many([commands.delete(j) for j in reserved])
    out["reserve+delete"] = _clock() - t
    return out


async def bench_scan(c: Client, jobs: int, body: bytes) -> float:
    """Seconds to stats-job a range of 2*jobs ids of which every other one is deleted."""
    ids = await run_batches(c, [commands.put(body, 2**16, 0, 60) for _ in range(2 * jobs)])
    await run_batches(c, [commands.delete(i) for i in ids[1::2]])
    t = _clock()
    results = await run_batches(c, [commands.stats_job(i) for i in range(ids[0], ids[-1] + 1)])
    elapsed = _clock() - t
    missing = sum(isinstance(r, Exception) for r in results)
    assert missing == jobs, f"expected {jobs} NOT_FOUND, got {missing}"
    await run_batches(c, [commands.delete(i) for i in ids[::2]])
    return elapsed


async def bench_scan_bulk(c: Client, jobs: int, body: bytes) -> float:
    """bench_scan's workload through Client.stats_job_fields (the inventory's path),
    with three batches in flight as the inventory keeps them."""
    ids = await run_batches(c, [commands.put(body, 2**16, 0, 60) for _ in range(2 * jobs)])
    await run_batches(c, [commands.delete(i) for i in ids[1::2]])
    span = range(ids[0], ids[-1] + 1)
    t = _clock()
    missing = 0
    step = 5 * BATCH
    pending: list[asyncio.Task[list[Any]]] = []
    for start in range(0, len(span), step):
        pending.append(asyncio.ensure_future(c.stats_job_fields(span[start : start + step])))
        if len(pending) == 3:
            missing += (await pending.pop(0)).count(None)
    for task in pending:
        missing += (await task).count(None)
    elapsed = _clock() - t
    assert missing == jobs, f"expected {jobs} NOT_FOUND, got {missing}"
    await run_batches(c, [commands.delete(i) for i in ids[::2]])
    return elapsed


AsyncBench = Callable[[Client, int, bytes], Coroutine[Any, Any, Timings]]


def _in_loop(address: str, bench: AsyncBench, jobs: int, body: bytes) -> Timings:
    async def main() -> Timings:
        async with Client(address, encoding=None) as c:
            return await bench(c, jobs, body)

    return asyncio.run(main())


def _scan(
    address: str,
    jobs: int,
    body: bytes,
    bench: Callable[[Client, int, bytes], Coroutine[Any, Any, float]],
) -> float:
    async def main() -> float:
        async with Client(address, encoding=None) as c:
            return await bench(c, jobs, body)

    return asyncio.run(main())


def run(jobs: int = 20_000, reps: int = 5, body_size: int = 100) -> dict[str, Any]:
    """Run the whole benchmark with its own pinned server; return the JSON document."""
    body = b"x" * body_size
    pinned = pin_process(1)
    timings: dict[str, list[Timings]] = {v: [] for v in VARIANTS}
    with pinned_server(cpu=0) as server:
        assert server.port is not None
        address = server.address
        host_port = ("127.0.0.1", server.port)

        def case(variant: str) -> Callable[[], float]:
            def go() -> float:
                if variant == "greenstalk":
                    result = bench_greenstalk(host_port, jobs, body)
                else:
                    bench = {
                        "sequential": bench_sequential,
                        "gather": bench_gather,
                        "run_many": bench_run_many,
                    }[variant]
                    result = _in_loop(address, bench, jobs, body)
                timings[variant].append(result)
                return sum(result.values())

            return go

        cases: dict[str, Callable[[], float]] = {v: case(v) for v in VARIANTS}
        cases["scan"] = lambda: _scan(address, jobs, body, bench_scan)
        cases["scan_bulk"] = lambda: _scan(address, jobs, body, bench_scan_bulk)
        samples = interleave(reps, cases)

    results: dict[str, dict[str, float]] = {}
    for variant in VARIANTS:
        results[variant] = {
            op: ops_per_s(jobs, median([t[op] for t in timings[variant]])) for op in OPS
        }
    ratios = {
        variant: {op: ratio(results[variant][op], results["greenstalk"][op]) for op in OPS}
        for variant in VARIANTS
        if variant != "greenstalk"
    }
    return {
        "benchmark": "client",
        "jobs": jobs,
        "body_bytes": body_size,
        "repetitions": reps,
        "run_many_batch": BATCH,
        "pinned": {"server_cpu": 0, "client_cpu": 1 if pinned else None},
        "ops_per_s": results,
        "ratio_to_greenstalk": ratios,
        "scan_50pct_missing_ids_per_s": ops_per_s(2 * jobs, median(samples["scan"])),
        "scan_bulk_50pct_missing_ids_per_s": ops_per_s(2 * jobs, median(samples["scan_bulk"])),
        "environment": environment(),
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=20_000)
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--out", help="also write the JSON to this file")
    args = parser.parse_args(argv)
    emit(run(args.jobs, args.reps), args.out)


if __name__ == "__main__":
    main()
