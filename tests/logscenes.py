"""Binlog scenes on a real beanstalkd (``-b`` with a small ``-s``): a pinned oldest file and
release churn (beanstalkd#622). Shared by the binlog tests of several layers."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from typing import Any

from stalkview.client import Client, commands
from stalkview.client.errors import Error, TimedOutError

#: The file size the scenes use (``-s``): ten files are 640 KiB.
FILE_SIZE = 65536
#: Counters that move when a job changes: a read-only tool must leave them alone.
# Not cmd-use: the inventory peeks each tube's heads through `use` of existing
# tubes on its own connection (the tests check no tube is created or kept alive).
CHANGE_COUNTERS = (
    "cmd-put", "cmd-reserve", "cmd-reserve-with-timeout", "cmd-delete", "cmd-release",
    "cmd-bury", "cmd-kick", "cmd-touch", "cmd-pause-tube", "cmd-watch",
    "cmd-ignore", "binlog-records-written",
)  # fmt: skip


async def wait_stats(
    client: Client, holds: Callable[[dict[str, Any]], bool], timeout: float = 60.0
) -> dict[str, Any]:
    """Poll ``stats`` until ``holds(stats)``; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        stats = await client.stats()
        if holds(stats):
            return stats
        if time.monotonic() > deadline:
            raise AssertionError(f"stats never held within {timeout}s: {stats}")
        await asyncio.sleep(0.05)


def files(stats: dict[str, Any]) -> int:
    return int(stats["binlog-current-index"]) - int(stats["binlog-oldest-index"]) + 1


def runaway_files(jobs: int, tube: str = "retry", body: int = 20) -> int:
    """Files the log must span to be a runaway one: at least 10, and 12x (a margin over
    10x) the live jobs' own records (namelen, name, Jobrec, body, CRLF), plus the pinned job."""
    records = jobs * (4 + len(tube) + 80 + body + 2) + 200
    return max(10, -(-12 * records // FILE_SIZE))


async def pin_old_job(client: Client, tube: str = "emails") -> int:
    """Bury a job in the first binlog file, then fill that file with puts and deletes of
    another tube, so the buried job alone keeps ``binlog.1``. Returns its id."""
    await client.use(tube)
    job = await client.put(b'{"to": "ops@example.com"}')
    await client.watch(tube)
    await client.ignore("default")
    reserved = await client.reserve(timeout=5)
    assert reserved.id == job
    await client.bury(job)
    await client.use("filler")
    while int((await client.stats())["binlog-current-index"]) == 1:
        filler = await client.put(b"x" * 4000)
        await client.delete(filler)
    await client.use("default")
    await client.watch("default")
    await client.ignore(tube)
    return job


class Churn:
    """``jobs`` jobs of ``tube`` reserved and released with ``delay=1`` in a loop, like a
    worker that retries with a delay for ever (every release writes a binlog record)."""

    def __init__(self, address: str, tube: str = "retry", jobs: int = 500) -> None:
        # 500 jobs release 500 times a second (delay=1): ~42 KiB of records a second.
        self.address = address
        self.tube = tube
        self.count = jobs
        self.ids: list[int] = []
        self.releases = 0
        self._task: asyncio.Task[None] | None = None
        self._client: Client | None = None

    async def start(self) -> Churn:
        self._client = client = Client(self.address, encoding=None, watch=self.tube)
        await client.open()
        await client.use(self.tube)
        self.ids = list(
            await client.run_many(
                [commands.put(b"r" * 20, 100, 0, 60) for _ in range(self.count)],
                raise_on_error=True,
            )
        )
        self._task = asyncio.create_task(self._loop())
        return self

    async def _loop(self) -> None:
        client = self._client
        assert client is not None
        while True:
            try:
                first = await client.reserve(timeout=2)  # waits for the delays to run out
            except TimedOutError:
                continue
            more = await client.run_many([commands.reserve(0)] * (self.count - 1))
            jobs = [first, *(j for j in more if not isinstance(j, Error))]
            await client.run_many([commands.release(j.id, 100, 1) for j in jobs])
            self.releases += len(jobs)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if self._client is not None:
            await self._client.close()
            self._client = None
