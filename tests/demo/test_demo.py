"""Demo mode: the private server, the seeded state, the live workload, cleanup on every exit."""

from __future__ import annotations

import asyncio
import os
import select
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from stalkview.client import Client
from stalkview.client import commands as cmd
from stalkview.demo import (
    BeanstalkdNotFound,
    DemoServer,
    DemoServerError,
    demo_environment,
    find_beanstalkd,
    plan_seed,
    run_demo,
    seed,
)
from stalkview.demo.workload import PAUSED_TUBE
from tests.beanstalkd import Beanstalkd

ROOT = Path(__file__).resolve().parents[2]
STATES = ("ready", "delayed", "reserved", "buried")


def wait_for(condition: Callable[[], Any], timeout: float, what: str) -> Any:
    """Poll ``condition`` every 50 ms until it returns something truthy; fail after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        if result:
            return result
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(0.05)


def alive(pid: int) -> bool:
    """Whether a process exists and is not a zombie (an orphan's reaper may be slow)."""
    stat = Path(f"/proc/{pid}/stat")
    if Path("/proc/self/stat").exists():
        try:
            return stat.read_text().rsplit(")", 1)[1].split()[0] != "Z"
        except (OSError, IndexError):
            return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def stats(address: str) -> dict[str, Any]:
    async def fetch() -> dict[str, Any]:
        async with Client(address) as client:
            return await client.stats()

    return asyncio.run(fetch())


# --- the plan and the seeded state ------------------------------------------------------


def test_plan_is_a_function_of_the_seed() -> None:
    plan = plan_seed(42)
    assert plan == plan_seed(42)
    assert [j.body for j in plan] != [j.body for j in plan_seed(7)]
    assert 300 <= len(plan) <= 800
    bodies = [j.body for j in plan]
    assert any(b.startswith(b"\x89PNG\r\n\x1a\n") for b in bodies)
    assert any(b.startswith(b"\x1f\x8b") for b in bodies), "a gzip body"
    assert sum(len(b) > 30_000 for b in bodies) >= 3
    assert max(len(b) for b in bodies) < 65_535, "the default max job size"
    assert any(b"[bold red]" in b and b"\x1b[2J" in b for b in bodies)
    assert any(
        b'"error":"SMTP 550 mailbox unavailable"' in j.body for j in plan if j.state == "buried"
    )
    assert any(b'"displayName":"App\\\\Jobs\\\\' in b for b in bodies), "Laravel-shaped"
    assert any(b'{"class":"ThumbnailJob","args":[' in b for b in bodies), "Backburner-shaped"
    assert any(b'{"type":"webhook.deliver"' in b for b in bodies)


async def _server_state(address: str, total: int) -> dict[str, Any]:
    async with Client(address, encoding=None) as client:
        tubes = sorted(await client.tubes())
        tube_stats = await client.run_many([cmd.stats_tube(t) for t in tubes], raise_on_error=True)
        peeks = await client.run_many(
            [cmd.peek(i) for i in range(1, total + 1)], raise_on_error=True
        )
        job_stats = await client.run_many(
            [cmd.stats_job(i) for i in range(1, total + 1)], raise_on_error=True
        )
        server_stats = await client.stats()
    return {
        "tubes": tubes,
        "counts": {
            s["name"]: {state: s[f"current-jobs-{state}"] for state in STATES} for s in tube_stats
        },
        "paused": {s["name"]: s["pause"] for s in tube_stats if s["pause"]},
        "jobs": [
            (
                p.body,
                j["tube"],
                j["state"],
                j["pri"],
                j["ttr"],
                j["releases"],
                j["buries"],
                j["kicks"],
                j["timeouts"],
            )
            for p, j in zip(peeks, job_stats, strict=True)
        ],
        "server": server_stats,
    }


async def test_seeding_is_deterministic_and_covers_every_case(
    beanstalkd_factory: Callable[..., Beanstalkd],
) -> None:
    first, second = beanstalkd_factory(unix=True), beanstalkd_factory(unix=True)
    summary, summary2 = await asyncio.gather(seed(first.address), seed(second.address))
    assert summary == summary2
    state = await _server_state(first.address, summary.total)
    other = await _server_state(second.address, summary.total)
    for key in ("tubes", "counts", "paused", "jobs"):
        assert state[key] == other[key], f"the two seeded servers differ in {key}"

    expected_tubes = {"emails", "thumbnails", "webhooks", "reports", "default", PAUSED_TUBE}
    assert set(state["tubes"]) == expected_tubes
    assert state["counts"] == summary.counts
    assert 300 <= summary.total <= 800
    for st in ("ready", "delayed", "buried"):
        assert sum(c[st] for c in state["counts"].values()) > 0, st
    assert state["paused"] == {PAUSED_TUBE: summary.paused_seconds}

    jobs = {i + 1: job for i, job in enumerate(state["jobs"])}
    binary = summary.ids("binary")
    assert binary and all(_not_utf8(jobs[i][0]) for i in binary)
    assert len(summary.ids("large")) >= 3 and all(
        len(jobs[i][0]) > 30_000 for i in summary.ids("large")
    )
    assert all(jobs[i][2] == "buried" for i in summary.ids("buried"))
    assert max(jobs[i][5] for i in summary.ids("poison")) >= 3, "poison candidates released"
    assert all(jobs[i][8] == 1 for i in summary.ids("timed-out"))
    assert any(jobs[i][7] >= 1 for i in summary.ids("buried")), "some buried jobs were kicked"
    assert state["server"]["job-timeouts"] == len(summary.ids("timed-out"))
    markup = summary.ids("markup")
    assert markup and b"\x1b[" in jobs[markup[0]][0]


def _not_utf8(body: bytes) -> bool:
    try:
        body.decode("utf-8")
    except UnicodeDecodeError:
        return True
    return False


# --- the live workload -------------------------------------------------------------------

# kick-job has no counter of its own in 1.12; the workload also uses plain kick.
MOVING = (
    "cmd-put",
    "cmd-reserve",
    "cmd-reserve-with-timeout",
    "cmd-delete",
    "cmd-release",
    "cmd-bury",
    "cmd-touch",
    "cmd-kick",
    "job-timeouts",
)


def test_workload_moves_every_arrow_and_closes_its_connections() -> None:
    with demo_environment(42, workload=False, rate=25, stall_every=1, kick_every=1) as (
        address,
        demo,
    ):
        before = stats(address)
        demo.start_workload()
        seen_reserved = False

        def all_moved() -> bool:
            nonlocal seen_reserved
            now = stats(address)
            seen_reserved = seen_reserved or now["current-jobs-reserved"] > 0
            return seen_reserved and all(now[k] > before[k] for k in MOVING)

        wait_for(all_moved, 15, f"every counter of {MOVING} and a reserved job to move")
        assert demo.workload.error is None
        assert demo.workload.stats.stalls >= 1
        demo.stop_workload()
        assert not demo.workload.running
        # Our stats() connection is the only one left once the workload has closed its own.
        wait_for(
            lambda: stats(address)["current-connections"] == 1,
            5,
            "the workload's connections to close",
        )


def test_all_four_states_show_while_the_demo_runs() -> None:
    with demo_environment(42) as (address, demo):

        def reserved_too() -> bool:
            now = stats(address)
            return all(now[f"current-jobs-{state}"] > 0 for state in STATES)

        wait_for(reserved_too, 10, "a job in each of the four states")
        assert demo.summary.total == len(plan_seed(42))


# --- the server's lifecycle ---------------------------------------------------------------


def test_stop_kills_the_server_and_removes_its_directory() -> None:
    server = DemoServer().start()
    pid, directory = server.pid, server.directory
    assert alive(pid) and Path(server.address).is_socket()
    server.stop()
    server.stop()  # idempotent
    assert not alive(pid)
    assert not directory.exists()
    with DemoServer() as again:
        pid, directory = again.pid, again.directory
    assert not alive(pid) and not directory.exists()


def test_a_server_that_fails_to_start_says_why_and_leaves_nothing(tmp_path: Path) -> None:
    fake = tmp_path / "beanstalkd"
    fake.write_text("#!/bin/sh\necho 'beanstalkd: cannot bind: address in use' >&2\nexit 3\n")
    fake.chmod(0o755)
    before = set(Path(os.environ.get("TMPDIR", "/tmp")).glob("stalkview-demo-*"))
    with pytest.raises(DemoServerError, match=r"status 3.*cannot bind"):
        DemoServer(executable=str(fake)).start()
    assert set(Path(os.environ.get("TMPDIR", "/tmp")).glob("stalkview-demo-*")) <= before


def test_missing_beanstalkd_gives_install_instructions(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(BeanstalkdNotFound) as info:
        find_beanstalkd()
    message = str(info.value)
    assert "apt-get install beanstalkd" in message and "brew install beanstalkd" in message
    assert run_demo() == 1
    err = capsys.readouterr().err
    assert "beanstalkd was not found on PATH" in err and "Traceback" not in err


# --- cleanup when the owning process is signalled ----------------------------------------------

ENVIRONMENT_SCRIPT = """
    import time
    from stalkview.demo import demo_environment
    with demo_environment(42, rate=10) as (address, demo):
        print("READY", demo.server.pid, demo.server.directory, flush=True)
        while True:
            time.sleep(3600)
"""

# run_demo with the app unavailable: it serves the demo until Ctrl+C.
RUN_DEMO_SCRIPT = """
    import sys
    sys.modules["stalkview.app"] = None
    from stalkview.demo import run_demo
    sys.exit(run_demo())
"""


def _die_with_test_run() -> Callable[[], None] | None:
    # If pytest itself is killed, the demo process must not outlive it.
    if not sys.platform.startswith("linux"):
        return None
    import ctypes

    prctl = ctypes.CDLL(None, use_errno=True).prctl
    return lambda: prctl(1, int(signal.SIGKILL), 0, 0, 0)  # PR_SET_PDEATHSIG


@pytest.fixture
def spawn() -> Iterator[Callable[[str], subprocess.Popen[bytes]]]:
    """Start a demo script in a subprocess; kill it at teardown if the test did not end it."""
    started: list[subprocess.Popen[bytes]] = []

    def start(script: str) -> subprocess.Popen[bytes]:
        proc = subprocess.Popen(
            [sys.executable, "-c", textwrap.dedent(script)],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            preexec_fn=_die_with_test_run(),
        )
        started.append(proc)
        return proc

    yield start
    for proc in started:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)  # lets it clean up its server and directory
            try:
                proc.communicate(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.communicate()


def _read_line(proc: subprocess.Popen[bytes], prefix: str, timeout: float = 15) -> str:
    """The first stdout line starting with ``prefix``, read without blocking past ``timeout``."""
    assert proc.stdout is not None
    fd = proc.stdout.fileno()
    buffer = b""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], 0.05)
        if not ready:
            continue
        chunk = os.read(fd, 4096)
        if not chunk:
            break
        buffer += chunk
        complete = buffer.rpartition(b"\n")[0]  # a chunk can end mid-line
        for line in complete.decode(errors="replace").splitlines():
            if line.startswith(prefix):
                return line
    proc.kill()
    _, err = proc.communicate()
    pytest.fail(
        f"no line starting {prefix!r} from the demo process; stdout:\n{buffer!r}\n"
        f"stderr:\n{err.decode(errors='replace')}"
    )


def _children(pid: int) -> list[int]:
    children = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(p) for p in children.read_text().split()]


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM, signal.SIGHUP])
def test_signalled_demo_environment_leaves_nothing_behind(
    sig: signal.Signals, spawn: Callable[[str], subprocess.Popen[bytes]]
) -> None:
    proc = spawn(ENVIRONMENT_SCRIPT)
    _, pid, directory = _read_line(proc, "READY").split()
    assert alive(int(pid)) and Path(directory).is_dir()
    proc.send_signal(sig)
    proc.communicate(timeout=15)
    if sig != signal.SIGINT:
        assert proc.returncode == 128 + sig
    wait_for(lambda: not alive(int(pid)), 5, f"beanstalkd {pid} to be gone")
    assert not Path(directory).exists()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux's")
def test_server_dies_with_a_killed_owner(spawn: Callable[[str], subprocess.Popen[bytes]]) -> None:
    proc = spawn(ENVIRONMENT_SCRIPT)
    _, pid, directory = _read_line(proc, "READY").split()
    try:
        proc.kill()  # no handler, no atexit: only the kernel can clean up
        proc.communicate(timeout=15)
        wait_for(lambda: not alive(int(pid)), 5, f"beanstalkd {pid} to die with its parent")
    finally:
        import shutil

        shutil.rmtree(directory, ignore_errors=True)


@pytest.mark.skipif(not Path("/proc/self/task").exists(), reason="finds the child in /proc")
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM, signal.SIGHUP])
def test_run_demo_without_the_app_serves_until_signalled(
    sig: signal.Signals, spawn: Callable[[str], subprocess.Popen[bytes]]
) -> None:
    proc = spawn(RUN_DEMO_SCRIPT)
    line = _read_line(proc, "The demo beanstalkd is running")
    address = line.split(" at ", 1)[1].strip()
    assert Path(address).is_socket()
    (pid,) = _children(proc.pid)
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=15)
    assert proc.returncode == (0 if sig == signal.SIGINT else 128 + sig), err
    assert b"Traceback" not in err
    wait_for(lambda: not alive(pid), 5, f"beanstalkd {pid} to be gone")
    assert not Path(address).parent.exists()
