"""Fixtures: private beanstalkd servers, one per test, stopped by pid."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import pytest

from stalkview.client import Client
from tests.beanstalkd import BEANSTALKD, Beanstalkd
from tests.hostile import HostileServer, Script

if BEANSTALKD is None:  # pragma: no cover - .ci/run installs it
    raise pytest.UsageError("beanstalkd is not on PATH: apt-get install -y beanstalkd")


@pytest.fixture
def beanstalkd_factory(tmp_path: Path) -> Iterator[Callable[..., Beanstalkd]]:
    """Start any number of servers: ``beanstalkd_factory(unix=True, binlog=True, ...)``.

    ``binlog_size`` is the binlog's file size (``-s``): small files make a long log quickly.
    """
    started: list[Beanstalkd] = []

    def start(
        *,
        unix: bool = False,
        binlog: bool = False,
        max_job_size: int | None = None,
        binlog_size: int | None = None,
    ) -> Beanstalkd:
        n = len(started)
        server = Beanstalkd(
            socket_path=str(tmp_path / f"beanstalkd-{n}.sock") if unix else None,
            binlog_dir=None,
            max_job_size=max_job_size,
            binlog_size=binlog_size,
        )
        if binlog:
            binlog_dir = tmp_path / f"binlog-{n}"
            binlog_dir.mkdir()
            server.binlog_dir = str(binlog_dir)
        started.append(server.start())
        return server

    yield start
    for server in started:
        server.stop()


@pytest.fixture
def server(beanstalkd_factory: Callable[..., Beanstalkd]) -> Beanstalkd:
    """A fresh private beanstalkd on a free loopback port."""
    return beanstalkd_factory()


@pytest.fixture
def unix_server(beanstalkd_factory: Callable[..., Beanstalkd]) -> Beanstalkd:
    """A fresh private beanstalkd on a Unix socket in a temporary directory."""
    return beanstalkd_factory(unix=True)


@pytest.fixture
async def client(server: Beanstalkd) -> AsyncIterator[Client]:
    async with Client(server.address) as c:
        yield c


@pytest.fixture
async def bclient(server: Beanstalkd) -> AsyncIterator[Client]:
    """A bytes client (encoding=None) on the same server as ``client``."""
    async with Client(server.address, encoding=None) as c:
        yield c


@pytest.fixture(autouse=True)
def journal_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test journals into its own file, never the user's real journal."""
    path = tmp_path / "journal.jsonl"
    monkeypatch.setenv("STALKVIEW_JOURNAL", str(path))
    return path


@pytest.fixture
def hostile() -> Iterator[Callable[[Script], HostileServer]]:
    """Start fake servers for faults a real one cannot produce: ``hostile(script)``."""
    started: list[HostileServer] = []

    def start(script: Script) -> HostileServer:
        server = HostileServer(script)
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()
