"""`stalkview --demo` as a user runs it: a real process on a pseudo-terminal.

The demo must come up with the app on screen and a live workload behind it,
and leave no beanstalkd process and no temporary directory behind however it
ends: `q`, Ctrl+C typed, SIGINT, SIGTERM.
"""

from __future__ import annotations

import fcntl
import os
import pty
import signal
import struct
import subprocess
import sys
import termios
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

import pytest

SCRIPT = Path(sys.executable).with_name("stalkview")
ROOT = Path(__file__).resolve().parents[2]


def readme_quick_start() -> list[str]:
    """The commands of the README's Quick start section, as written."""
    text = (ROOT / "README.md").read_text()
    section = text.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    blocks = section.split("```sh\n")[1:]
    return [block.split("\n```", 1)[0].strip() for block in blocks]


def _descendants(pid: int) -> list[int]:
    """Pids below ``pid`` in the process tree (from /proc)."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # The command name is in parentheses and may contain spaces: split after it.
        parents[int(entry.name)] = int(stat.rsplit(")", 1)[1].split()[1])
    found: list[int] = []
    frontier = [pid]
    while frontier:
        parent = frontier.pop()
        children = [child for child, ppid in parents.items() if ppid == parent]
        found += children
        frontier += children
    return found


def _alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def _wait(condition: Callable[[], object], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} within {timeout}s")
        time.sleep(0.05)


@dataclass
class DemoProcess:
    proc: subprocess.Popen[bytes]
    master: int
    tmp: Path
    output: bytearray = field(default_factory=bytearray)

    def screen_text(self) -> str:
        return self.output.decode("utf-8", "replace")

    def beanstalkd(self) -> list[int]:
        pids = []
        for pid in _descendants(self.proc.pid):
            try:
                if Path(f"/proc/{pid}/comm").read_text().strip() == "beanstalkd":
                    pids.append(pid)
            except OSError:
                pass
        return pids

    def type(self, data: bytes) -> None:
        os.write(self.master, data)


@pytest.fixture
def demo_argv() -> list[str]:
    return [str(SCRIPT), "--demo"]


@pytest.fixture
def demo(tmp_path: Path, demo_argv: list[str]) -> Iterator[DemoProcess]:
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 48, 160, 0, 0))
    env = {**os.environ, "TMPDIR": str(tmp), "TERM": "xterm-256color"}
    env["STALKVIEW_JOURNAL"] = str(tmp_path / "journal.jsonl")
    proc = subprocess.Popen(
        demo_argv,
        stdin=slave,
        cwd=ROOT,
        stdout=slave,
        stderr=slave,
        env=env,
        start_new_session=True,
        close_fds=True,
    )
    os.close(slave)
    running = DemoProcess(proc, master, tmp)

    def pump() -> None:
        while True:
            try:
                chunk = os.read(master, 65536)
            except OSError:
                return
            if not chunk:
                return
            running.output += chunk

    reader = threading.Thread(target=pump, daemon=True)
    reader.start()
    try:
        yield running
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)
        os.close(master)
        reader.join(5)


def _wait_until_live(demo: DemoProcess) -> list[int]:
    # The README's command runs .ci/setup first (a pip install): allow for it.
    _wait(lambda: demo.beanstalkd(), 90, "the demo did not start its beanstalkd")
    servers = demo.beanstalkd()
    _wait(
        lambda: "stalkview" in demo.screen_text() and "emails" in demo.screen_text(),
        20,
        "the app did not show the demo's tubes",
    )
    assert list(demo.tmp.iterdir()), "the demo's temporary directory is missing"
    return servers


def _gone(pid: int) -> bool:
    return not _alive(pid)


def _assert_left_nothing(demo: DemoProcess, servers: list[int]) -> None:
    demo.proc.wait(20)
    for pid in servers:
        _wait(partial(_gone, pid), 5, f"beanstalkd {pid} still running")
    assert list(demo.tmp.iterdir()) == [], "the demo left its temporary directory behind"
    assert "Traceback" not in demo.screen_text()


def test_readme_quick_start_is_two_commands_and_ci_runs_the_second() -> None:
    demo_command, test_command = readme_quick_start()
    assert demo_command == "bash .ci/setup && .venv/bin/stalkview --demo"
    ci = (ROOT / ".ci" / "run").read_text().strip().splitlines()
    assert ci[-1] == test_command


@pytest.mark.parametrize(
    "demo_argv", [["bash", "-c", readme_quick_start()[0]]], ids=["readme-command"]
)
def test_demo_shows_live_counts(demo: DemoProcess) -> None:
    from stalkview.client import Client

    _wait_until_live(demo)
    (socket_dir,) = demo.tmp.iterdir()
    address = str(next(socket_dir.glob("*.sock")))

    import asyncio

    async def puts() -> int:
        async with Client(address) as c:
            return int((await c.stats())["cmd-put"])

    first = asyncio.run(puts())
    _wait(lambda: asyncio.run(puts()) > first, 15, "the workload put no job")
    # The app redraws what changed: more frames keep arriving while the demo runs.
    size = len(demo.output)
    _wait(lambda: len(demo.output) > size + 1000, 15, "the screen did not change")
    demo.type(b"q")
    assert demo.proc.wait(20) == 0


@pytest.mark.parametrize(
    "how",
    ["q", "ctrl+c", "SIGINT", "SIGTERM"],
)
def test_demo_leaves_nothing_behind(demo: DemoProcess, how: str) -> None:
    servers = _wait_until_live(demo)
    assert servers
    if how == "q":
        demo.type(b"q")
    elif how == "ctrl+c":
        demo.type(b"\x03")
    else:
        demo.proc.send_signal(getattr(signal, how))
    _assert_left_nothing(demo, servers)
