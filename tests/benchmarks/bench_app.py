"""App benchmark: server refresh, launch to first data frame, the 100k-job jobs pane.

    .venv/bin/python -m tests.benchmarks.bench_app [--tubes 1000] [--jobs 100000] [--reps 7]

Server pinned to core 0, this process (and its children) to core 1. Prints JSON with:

- ``refresh_1000_tubes``: one refresh of ``--tubes`` tubes (``stats`` + ``list-tubes`` +
  every ``stats-tube``) by the app's pipelined ``fetch_snapshot`` vs greenstalk one
  command at a time, interleaved, medians (target <= 15 ms);
- ``first_frame_with_data``: a fresh ``python`` process that imports and runs the app
  (headless) until the first frame showing the server's data: its CPU time and wall
  time (target <= 0.6 s), against a typical server (a handful of tubes, like the
  demo) and against the ``--tubes`` server;
- ``app_refresh_1000_tubes``: in a running app at a 0.5 s interval against the
  ``--tubes`` server, the median event-loop time one refresh costs the UI
  (``MainScreen.show_snapshot``: server bar, hints, tubes table diff), steady state;
- ``jobs_pane_100k``: time from handing 100,000 jobs (from a real inventory scan) to
  the jobs pane until the next frame is painted (target <= 0.1 s), and the app
  process's memory (RSS) with them loaded.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import time
from typing import Any

import greenstalk

from stalkview.client import Client, commands
from stalkview.poll import fetch_snapshot
from tests.benchmarks.common import (
    emit,
    environment,
    interleave,
    median,
    pin_process,
    pinned_server,
    ratio,
    run_probe,
)

BATCH = 5000


async def make_tubes(address: str, count: int) -> None:
    """One job in each of ``count`` tubes, so they exist without anyone using them."""
    async with Client(address, encoding=None) as client:
        calls: list[commands.Call[Any]] = []
        for n in range(count):
            calls += [commands.use(f"tube-{n:04d}"), commands.put(b"x", 1024, 0, 60)]
        await client.run_many(calls, raise_on_error=True)
        await client.use("default")


#: A typical server: a handful of tubes with a few jobs each (like the demo's).
TYPICAL_TUBES = {"emails": 40, "reports": 12, "webhooks": 25, "thumbnails": 8, "billing": 3}


async def make_typical(address: str) -> None:
    async with Client(address, encoding=None) as client:
        calls: list[commands.Call[Any]] = []
        for tube, count in TYPICAL_TUBES.items():
            calls.append(commands.use(tube))
            calls += [commands.put(b'{"job": "%b"}' % tube.encode(), 1024, 0, 60)] * count
        await client.run_many(calls, raise_on_error=True)
        await client.use("default")


async def fill_jobs(address: str, count: int, tube: str) -> None:
    async with Client(address, encoding=None, use=tube) as client:
        for start in range(0, count, BATCH):
            n = min(BATCH, count - start)
            body = b'{"displayName": "App\\\\Jobs\\\\Bench", "n": %d}'
            calls = [commands.put(body % (start + k), 1024, 0, 60) for k in range(n)]
            await client.run_many(calls, raise_on_error=True)
        await client.use("default")


def bench_refresh(address: str, tubes: int, reps: int) -> dict[str, Any]:
    loop = asyncio.new_event_loop()
    client = Client(address)
    loop.run_until_complete(client.open())
    known = list(loop.run_until_complete(fetch_snapshot(client)).tubes)
    gs = greenstalk.Client(_host_port(address))

    def ours() -> float:
        start = time.perf_counter()
        snapshot = loop.run_until_complete(fetch_snapshot(client, known))
        elapsed = time.perf_counter() - start
        assert len(snapshot.tubes) >= tubes
        return elapsed

    def theirs() -> float:
        start = time.perf_counter()
        gs.stats()
        names = gs.tubes()
        for name in names:
            gs.stats_tube(name)
        return time.perf_counter() - start

    samples = interleave(reps, {"stalkview": ours, "greenstalk": theirs})
    gs.close()
    loop.run_until_complete(client.close())
    loop.close()
    ms = {name: round(median(values) * 1000, 2) for name, values in samples.items()}
    return {
        "tubes": tubes,
        "stalkview_ms": ms["stalkview"],
        "greenstalk_ms": ms["greenstalk"],
        "speedup": ratio(ms["greenstalk"], ms["stalkview"]),
        "target_ms": 15,
    }


def _host_port(address: str) -> tuple[str, int]:
    host, _, port = address.rpartition(":")
    return host, int(port)


FIRST_FRAME = """
import sys, time
from textual import on
from stalkview.app.app import StalkviewApp
from stalkview.app.messages import ServerRefreshed

class Probe(StalkviewApp):
    @on(ServerRefreshed)
    def _probe(self, message: ServerRefreshed) -> None:
        if not getattr(self, "_reported", False):
            self._reported = True
            self.call_after_refresh(self._report)

    def _report(self) -> None:
        print(f"{time.process_time():.4f}", flush=True)
        self.exit()

Probe(sys.argv[1], interval=1.0).run(headless=True, size=(160, 48))
"""


def bench_first_frame(address: str, reps: int) -> dict[str, Any]:
    cpu: list[float] = []
    wall: list[float] = []
    for _ in range(reps):
        start = time.perf_counter()
        line = run_probe(FIRST_FRAME, address, what="first-frame", timeout=60)
        wall.append(time.perf_counter() - start)
        cpu.append(float(line))
    return {
        "process_cpu_s": round(median(cpu), 3),
        "wall_s": round(median(wall), 3),
        "target_s": 0.6,
    }


APP_REFRESH = """
import asyncio, json, statistics, sys, time
from stalkview.app.app import StalkviewApp
from stalkview.app.screens.main import MainScreen

times = []
show = MainScreen.show_snapshot

def timed(self):
    start = time.perf_counter()
    show(self)
    times.append(time.perf_counter() - start)

MainScreen.show_snapshot = timed

async def main(address: str) -> None:
    app = StalkviewApp(address, interval=0.5)
    async with app.run_test(size=(160, 48)):
        while len(times) < 14:
            await asyncio.sleep(0.1)
        app.exit()
    steady = times[4:]  # the first ones fill the table and the inventory
    print(json.dumps({"refreshes": len(steady),
                      "ui_ms_median": round(statistics.median(steady) * 1000, 1),
                      "ui_ms_max": round(max(steady) * 1000, 1)}))

asyncio.run(main(sys.argv[1]))
"""


def bench_app_refresh(address: str, tubes: int) -> dict[str, Any]:
    line = run_probe(APP_REFRESH, address, what="app refresh", timeout=120)
    result: dict[str, Any] = {"tubes": tubes, "interval_s": 0.5}
    result.update(json.loads(line))
    return result


JOBS_PANE = """
import asyncio, json, sys, time
from stalkview.app.app import StalkviewApp
from stalkview.app.widgets.joblist import JobList

def rss_mb() -> float:
    for line in open("/proc/self/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0

async def main(address: str, expected: int) -> None:
    app = StalkviewApp(address, interval=1.0)
    async with app.run_test(size=(160, 48)) as pilot:
        while not (app.inventory.scanned and len(app.inventory.jobs) >= expected):
            await asyncio.sleep(0.05)
        await pilot.pause()
        jobs = app.inventory.select("bench", None)
        job_list = app.main.query_one(JobList)
        job_list.set_jobs([])
        await pilot.pause()
        painted = asyncio.get_running_loop().create_future()
        start = time.perf_counter()
        job_list.set_jobs(jobs)
        app.call_after_refresh(lambda: painted.set_result(time.perf_counter() - start))
        paint = await painted
        await pilot.pause()
        print(json.dumps({"jobs": len(jobs), "first_paint_s": round(paint, 4),
                          "rss_mb": round(rss_mb(), 1)}))
        app.exit()

asyncio.run(main(sys.argv[1], int(sys.argv[2])))
"""


def bench_jobs_pane(address: str, jobs: int) -> dict[str, Any]:
    line = run_probe(JOBS_PANE, address, str(jobs), what="jobs pane", timeout=300)
    result: dict[str, Any] = json.loads(line)
    result["target_first_paint_s"] = 0.1
    return result


def run(tubes: int = 1000, jobs: int = 100_000, reps: int = 7) -> dict[str, Any]:
    result: dict[str, Any] = {"benchmark": "app", "environment": {}}
    frames: dict[str, Any] = {}
    with pinned_server(cpu=0) as server:
        pinned = pin_process(1)
        result["environment"] = {**environment(), "client_pinned": pinned}
        asyncio.run(make_typical(server.address))
        frames["typical_server"] = {
            "tubes": len(TYPICAL_TUBES) + 1,
            **bench_first_frame(server.address, reps=5),
        }
    with pinned_server(cpu=0) as server:
        asyncio.run(make_tubes(server.address, tubes))
        result["refresh_1000_tubes"] = bench_refresh(server.address, tubes, reps)
        frames["many_tubes"] = {"tubes": tubes, **bench_first_frame(server.address, reps=5)}
        result["app_refresh_1000_tubes"] = bench_app_refresh(server.address, tubes)
    result["first_frame_with_data"] = frames
    with pinned_server(cpu=0) as server:
        asyncio.run(fill_jobs(server.address, jobs, "bench"))
        result["jobs_pane_100k"] = bench_jobs_pane(server.address, jobs)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tubes", type=int, default=1000)
    parser.add_argument("--jobs", type=int, default=100_000)
    parser.add_argument("--reps", type=int, default=7)
    parser.add_argument("--out", default=None)
    args = parser.parse_args()
    os.environ.setdefault("TEXTUAL", "")
    emit(run(args.tubes, args.jobs, args.reps), args.out)


if __name__ == "__main__":
    main()
