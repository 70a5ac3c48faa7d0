"""Reading what the binlog report needs from a live server, side-effect free.

Only ``stats``, ``list-tubes``, ``stats-tube``, ``stats-job`` and ``peek`` are sent (the
inventory's scan, plus peeks for body sizes). Never imports textual.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from stalkview.client import commands as cmd
from stalkview.client.client import Client
from stalkview.client.errors import Error
from stalkview.inventory import Inventory
from stalkview.model.joblike import JobLike
from stalkview.model.logsize import (
    FULL_RECORD,
    FileFacts,
    LogReport,
    LogWatch,
    enabled,
    file_facts,
)

if TYPE_CHECKING:
    from stalkview.binlog import BinlogSource

#: Bodies sized at most per report; past that the live data is extrapolated from a spread sample.
SIZE_SAMPLE = 2000
#: Peeks per write: bodies may be 64 KiB each.
_PEEK_BATCH = 256


class BodySizes:
    """Body sizes of live jobs by id, read once with ``peek`` (a job's body never changes)."""

    def __init__(self, sample: int = SIZE_SAMPLE) -> None:
        self.sample = sample
        self.sizes: dict[int, int] = {}

    def _wanted(self, jobs: Mapping[int, JobLike]) -> list[int]:
        """Every id, or ``sample`` of them spread over the inventory's order."""
        if len(jobs) <= self.sample:
            return list(jobs)
        step = len(jobs) / self.sample
        picks = {int(n * step) for n in range(self.sample)}
        return [jid for index, jid in enumerate(jobs) if index in picks]

    async def live_bytes(self, client: Client, jobs: Mapping[int, JobLike]) -> tuple[int, bool]:
        """(bytes of the bodies of ``jobs``, exact): exact unless extrapolated from a sample."""
        for gone in [i for i in self.sizes if i not in jobs]:
            del self.sizes[gone]
        wanted = self._wanted(jobs)
        missing = [i for i in wanted if i not in self.sizes]
        for start in range(0, len(missing), _PEEK_BATCH):
            chunk = missing[start : start + _PEEK_BATCH]
            for jid, size in zip(chunk, await client.peek_sizes(chunk), strict=True):
                if isinstance(size, int):
                    self.sizes[jid] = size
                elif isinstance(size, Error):
                    raise size
        known = [self.sizes[i] for i in wanted if i in self.sizes]
        if len(wanted) == len(jobs) and len(known) == len(wanted):
            return sum(known), True
        if not known:
            return 0, not jobs
        return round(sum(known) / len(known) * len(jobs)), False


async def sample(
    client: Client,
    window: float,
    *,
    log_dir: LogDir | None = None,
    clock: Callable[[], float] = time.monotonic,
) -> LogReport | None:
    """Two full readings ``window`` seconds apart; None when the server keeps no binlog.

    With ``log_dir`` the sizes, the bytes written and the live data come from the files
    (no peeks); the directory is read in a thread, off the event loop.
    """
    watch = LogWatch()
    inventory = Inventory(client)
    sizes = BodySizes()
    report = None
    for reading in range(2):
        if reading:
            await asyncio.sleep(window)
        (stats,) = await client.run_many([cmd.STATS], raise_on_error=True)
        if not enabled(stats):
            return None
        await inventory.scan()
        jobs = inventory.jobs
        now = clock()
        tubes = await client.stats_tubes(await client.tubes())
        if log_dir is not None:
            await asyncio.to_thread(log_dir.read)
            live, exact = log_dir.live_bytes, True
        else:
            live, exact = await sizes.live_bytes(client, jobs)
        report = watch.update(
            inventory.server_stats,
            now,
            tubes=[t for t in tubes if isinstance(t, dict)],
            jobs=jobs,
            jobs_complete=True,
            live_bytes=live,
            live_exact=exact,
            disk_bytes=None if log_dir is None else log_dir.disk_bytes,
            written_bytes=None if log_dir is None else log_dir.appended,
        )
    return report


class LogDir:
    """A binlog directory read alongside the server: real sizes, bytes appended, live
    bodies (``stalkview.binlog`` reads it, incrementally and read-only)."""

    def __init__(self, directory: str, source: BinlogSource | None = None) -> None:
        from stalkview.binlog import BinlogSource

        self.directory = directory
        #: ``source``: a log some other part reads already (the app's inventory).
        self.source = source if source is not None else BinlogSource(directory)
        self.log = self.source.log
        self._ends: dict[int, int] = {}
        #: Bytes appended to the files since the first look.
        self.appended = 0

    def mismatch(self, stats: dict[str, Any]) -> str | None:
        """Why this directory cannot be the log of the server with these ``stats``."""
        return self.source.mismatch(stats)

    def read(self) -> None:
        self.log.read()
        self.note()

    def note(self) -> None:
        """Count the bytes appended since the last look (the log was read meanwhile)."""
        ends = {seq: f.end for seq, f in self.log.files.items()}
        if self._ends:
            self.appended += sum(max(0, end - self._ends.get(seq, 0)) for seq, end in ends.items())
        self._ends = ends

    @property
    def disk_bytes(self) -> int:
        return sum(f.size for f in self.log.files.values())

    @property
    def live_bytes(self) -> int:
        return sum(j.body_size for j in self.log.jobs.values())

    @property
    def live_record_bytes(self) -> int:
        """The live jobs' full records: namelen, name, Jobrec, body and its CRLF."""
        return sum(
            FULL_RECORD + len(j.tube.encode()) + j.body_size + 2 for j in self.log.jobs.values()
        )

    def facts(self) -> list[FileFacts]:
        return file_facts(self.log.files, self.log.jobs, time.time_ns())
