"""Mutation-test one core module against its own tests, then print its score.

    .venv/bin/python -m tests.mutate protocol        # or: search, health, inventory
    .venv/bin/python -m tests.mutate search --fresh  # forget earlier results first
    .venv/bin/python -m tests.mutate protocol --only '*_parse_data*'  # some mutants again

mutmut (configured in pyproject.toml) copies the tree to ``mutants/`` (git-ignored)
and runs each mutant against the tests that reach the mutated function. The tests of
the other core modules are deselected, so a module is scored by its own tests only:
the inventory tests drive the parser too, and would otherwise hide its holes.
The score is (killed + timed out) / generated. It takes minutes and runs at low
priority on one worker (the machine may be shared); it is not part of CI. A run
stopped while it was still generating mutants can leave a truncated copy in
``mutants/`` that mutmut takes for current: run with ``--fresh`` after that.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path

#: Module name -> (mutmut's name prefix for its mutants, its own test files).
MODULES: dict[str, tuple[str, list[str]]] = {
    "protocol": ("stalkview.client.protocol.", ["tests/client/test_protocol.py"]),
    "search": ("stalkview.model.search.", ["tests/model/test_model_search.py"]),
    "health": ("stalkview.model.health.", ["tests/model/test_model_health.py"]),
    "inventory": ("stalkview.inventory.", ["tests/inventory"]),
}
#: Every test path in pyproject's ``pytest_add_cli_args_test_selection``.
ALL_TESTS = [path for _, paths in MODULES.values() for path in paths]
#: Tests that assert wall-clock latency: under mutmut's call tracing on a shared machine they
#: fail without any mutant, and mutmut then refuses to start.
TIMED = [
    "tests/inventory/test_scan_budget.py::test_scan_at_the_default_budget_stays_under_it_and_spares_a_worker"
]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("module", choices=sorted(MODULES))
    parser.add_argument("--fresh", action="store_true", help="delete mutants/ first")
    parser.add_argument(
        "--only",
        action="append",
        metavar="GLOB",
        help="re-run only these mutants, e.g. '*check_job_id*' (repeatable); the score "
        "still counts every mutant of the module",
    )
    parser.add_argument(
        "--children",
        type=int,
        default=1,
        help="mutants tested at once (default 1; the inventory's tests mostly wait on beanstalkd)",
    )
    args = parser.parse_args()
    root = Path(__file__).resolve().parent.parent
    os.chdir(root)
    if args.fresh:
        shutil.rmtree("mutants", ignore_errors=True)
    prefix, own = MODULES[args.module]
    others = [path for path in ALL_TESTS if path not in own]
    env = dict(os.environ)
    env["PYTEST_ADDOPTS"] = " ".join(f"--deselect {path}" for path in [*others, *TIMED])
    mutmut = [sys.executable, "-m", "mutmut"]
    names = [prefix + glob.lstrip(".") for glob in args.only] if args.only else [prefix + "*"]
    run = subprocess.run(
        ["nice", "-n", "10", *mutmut, "run", "--max-children", str(args.children), *names], env=env
    )
    if run.returncode != 0:
        return run.returncode
    report(args.module, prefix)
    return 0


def report(module: str, prefix: str) -> None:
    """Print the module's score and its surviving mutants (``mutmut show NAME`` shows one)."""
    results = subprocess.run(
        [sys.executable, "-m", "mutmut", "results", "--all", "true"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    status: dict[str, str] = {}
    for line in results.splitlines():
        name, sep, state = line.strip().partition(": ")
        if sep and name.startswith(prefix):
            status[name] = state
    counts = Counter(status.values())
    total = len(status)
    caught = counts["killed"] + counts["timeout"]
    print(json.dumps(dict(sorted(counts.items()))))
    for name, state in sorted(status.items()):
        if state not in ("killed", "timeout"):
            print(f"  {state}: {name}")
    score = caught / total if total else 0.0
    print(f"{module}: {caught}/{total} killed or timed out = {score:.1%}")


if __name__ == "__main__":
    sys.exit(main())
