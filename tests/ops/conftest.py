"""Fixtures of the operations' tests (actions, reserve sessions)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from stalkview.client import Client
from stalkview.journal import Journal
from tests.beanstalkd import Beanstalkd


@pytest.fixture
def journal(tmp_path: Path) -> Journal:
    return Journal(tmp_path / "journal.jsonl")


@pytest.fixture
async def worker(server: Beanstalkd) -> AsyncIterator[Client]:
    """Another connection, standing in for a worker or a colleague."""
    async with Client(server.address, encoding=None) as c:
        yield c
