"""Shared helpers for the benchmark scripts in tests/benchmarks/.

Benchmarks are scripts, not tests: run them as ``python -m tests.benchmarks.<name>``.
Numbers only mean something side by side, from one run, with the server and
the client on different cores (the regime of a real network round trip), so
every script should:

1. start its own server pinned to a core, and pin itself to another::

       with pinned_server(cpu=0) as server:      # a tests.beanstalkd.Beanstalkd
           pin_process(1)                        # False when the core does not exist
           ...

2. time each case with :func:`timed` (returns seconds), and interleave the
   repetitions of the cases being compared so a noisy neighbour hurts all of
   them alike::

       samples = interleave(reps=5, cases={"a": run_a, "b": run_b})
       # {"a": [seconds, ...], "b": [...]}; each case is a zero-argument callable
       # returning the seconds (or any number) to keep.

3. report medians, ops/s and ratios with :func:`median`, :func:`ops_per_s` and
   :func:`ratio`, and print one JSON document with :func:`emit` (also written to
   a file when a path is given).

:func:`environment` describes the machine for the JSON output.
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from tests.beanstalkd import Beanstalkd, tempdir

__all__ = [
    "emit",
    "environment",
    "interleave",
    "median",
    "ops_per_s",
    "pin_process",
    "pinned_server",
    "ratio",
    "timed",
]


@contextmanager
def pinned_server(
    cpu: int | None = 0,
    *,
    unix: bool = False,
    binlog: bool = False,
    max_job_size: int | None = None,
) -> Iterator[Beanstalkd]:
    """A private beanstalkd pinned by ``taskset -c cpu`` (cpu=None: unpinned), stopped by pid."""
    directory = tempdir("stalkview-bench-")
    server = Beanstalkd(
        socket_path=str(directory / "beanstalkd.sock") if unix else None,
        binlog_dir=str(directory) if binlog else None,
        max_job_size=max_job_size,
        cpu=cpu if cpu is not None and cpu < (os.cpu_count() or 1) else None,
    )
    server.start()
    try:
        yield server
    finally:
        server.stop()


def pin_process(cpu: int = 1) -> bool:
    """Pin this process (all its threads) to one core; False if that core does not exist."""
    if not hasattr(os, "sched_setaffinity") or cpu >= (os.cpu_count() or 1):
        return False
    os.sched_setaffinity(0, {cpu})
    return True


def timed(fn: Callable[[], Any]) -> float:
    """Seconds ``fn()`` took, by the monotonic performance counter."""
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def interleave(reps: int, cases: Mapping[str, Callable[[], float]]) -> dict[str, list[float]]:
    """Run every case ``reps`` times, one of each per round, rotating the order each round."""
    names = list(cases)
    samples: dict[str, list[float]] = {name: [] for name in names}
    for rep in range(reps):
        shift = rep % len(names) if names else 0
        for name in names[shift:] + names[:shift]:
            samples[name].append(cases[name]())
    return samples


def median(values: list[float]) -> float:
    return float(statistics.median(values))


def ops_per_s(count: int, seconds: float) -> float:
    """Operations per second, rounded to a whole number (0 for a zero duration)."""
    return float(round(count / seconds)) if seconds > 0 else 0.0


def ratio(value: float, reference: float) -> float:
    """value / reference to two decimals (0 when there is no reference)."""
    return round(value / reference, 2) if reference else 0.0


def environment() -> dict[str, Any]:
    """Facts about the run that a reader of the JSON needs to compare numbers."""
    affinity = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None
    return {
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "client_affinity": affinity,
    }


def emit(result: Mapping[str, Any], path: str | Path | None = None) -> None:
    """Print ``result`` as indented JSON, and write it to ``path`` too when given."""
    text = json.dumps(result, indent=2, sort_keys=False)
    print(text)
    if path is not None:
        Path(path).write_text(text + "\n")


def run_probe(script: str, *args: str, what: str, timeout: float) -> str:
    """Run ``script`` in a fresh interpreter (its own process: own RSS, own import cost)
    and return its last line of output; a failing probe raises with its stderr."""
    out = subprocess.run(
        [sys.executable, "-c", script, *args],
        capture_output=True, text=True, check=False, timeout=timeout,
    )  # fmt: skip
    if out.returncode:
        raise RuntimeError(f"{what} probe failed: {out.stderr[-3000:]}")
    return out.stdout.strip().splitlines()[-1]
