"""Run every stalkview benchmark and print one JSON document.

    .venv/bin/python -m tests.benchmarks                 # client, inventory, app, fleet, scale
    .venv/bin/python -m tests.benchmarks --only client   # one section
    .venv/bin/python -m tests.benchmarks --quick         # smaller sizes, a smoke run

Each section starts its own beanstalkd pinned to core 0 and pins the client to
core 1, and compares with greenstalk in the same run (see common.py).
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

from tests.benchmarks import bench_app, bench_client, bench_fleet, bench_inventory, bench_scale
from tests.benchmarks.common import emit, environment

FULL: dict[str, Callable[[], dict[str, Any]]] = {
    "client": lambda: bench_client.run(),
    "inventory": lambda: bench_inventory.run(),
    "app": lambda: bench_app.run(),
    "fleet": lambda: bench_fleet.run(),
    "scale": lambda: bench_scale.run(),
}
QUICK: dict[str, Callable[[], dict[str, Any]]] = {
    "client": lambda: bench_client.run(jobs=2_000, reps=3),
    "inventory": lambda: bench_inventory.run(jobs=10_000, reps=1, sample=2_000),
    "app": lambda: bench_app.run(tubes=100, jobs=10_000, reps=3),
    "fleet": lambda: bench_fleet.run(servers=5, tubes=50, reps=3),
    "scale": lambda: bench_scale.run(
        ids=500_000, live=10_000, old=100, steady=50_000, steady_seconds=8, settle=1.0
    ),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", help="comma-separated sections: " + ",".join(FULL))
    parser.add_argument("--quick", action="store_true", help="small sizes: check it runs")
    parser.add_argument("--out", help="also write the JSON to this file")
    args = parser.parse_args()
    sections = FULL if not args.quick else QUICK
    names = args.only.split(",") if args.only else list(sections)
    unknown = [n for n in names if n not in sections]
    if unknown:
        parser.error(f"unknown section(s) {', '.join(unknown)}: choose from {', '.join(sections)}")
    results: dict[str, Any] = {"environment": environment()}
    for name in names:
        results[name] = sections[name]()
    emit(results, args.out)


if __name__ == "__main__":
    main()
