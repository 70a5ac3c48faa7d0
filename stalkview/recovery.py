"""A stopped or crashed server's jobs, from its binlog alone.

The log says which jobs a restart would bring back and how: reserved jobs come back
ready (reserves are not logged) and delayed jobs keep the delay left against the
wall clock now. :func:`log_jobs` lists them as :class:`~stalkview.inventory.JobInfo`
in the order the server would hand them out, and :func:`export_log` writes the same
JSON Lines as ``stalkview export``, so ``stalkview import NEWADDR FILE`` restores
them into any server. Never imports textual.
"""

from __future__ import annotations

import functools
import json
import time
from collections.abc import Callable
from datetime import datetime, timezone
from typing import TextIO

from stalkview.binlog import Binlog, LogJob
from stalkview.inventory import STATES, JobInfo
from stalkview.transfer import export_record

#: Bodies read per batch while exporting (one open of each file per batch).
EXPORT_BATCH = 512


def read_log(directory: str) -> Binlog:
    """The log in ``directory``, read; raises :class:`~stalkview.binlog.BinlogError`
    with a one-line message when it cannot be used."""
    from stalkview.binlog import BinlogError

    log = Binlog(directory)
    log.read()
    if not log.files:
        raise BinlogError(
            f"{directory} holds no binlog.N files: give the directory of beanstalkd's -b option"
        )
    return log


def label(directory: str) -> str:
    """How output names a log as the source of its jobs."""
    return f"binlog {directory}"


def _order(state: str, job: LogJob) -> tuple[int, ...]:
    if state == "ready":
        return (job.pri, job.id)  # the order reserve takes them
    if state == "delayed":
        return (job.deadline_at_ns, job.id)  # soonest first
    return (job.id,)  # buried: the order kick takes them


def select(
    log: Binlog, tube: str | None = None, state: str | None = None, now_ns: int | None = None
) -> list[tuple[LogJob, str]]:
    """(job, restored state) in server order: ready, delayed, then buried."""
    if state is not None and state not in STATES:
        raise ValueError(f"unknown job state {state!r}: use one of {', '.join(STATES)}")
    now = time.time_ns() if now_ns is None else now_ns
    by_state: dict[str, list[LogJob]] = {s: [] for s in STATES}
    for job in log.jobs.values():
        if tube is None or job.tube == tube:
            by_state[job.state_at(now)].append(job)
    out: list[tuple[LogJob, str]] = []
    for s in STATES:
        if state is None or s == state:
            out += [(j, s) for j in sorted(by_state[s], key=functools.partial(_order, s))]
    return out


def log_jobs(
    log: Binlog, tube: str | None = None, state: str | None = None, now_ns: int | None = None
) -> list[JobInfo]:
    """The log's jobs as the restored server's ``stats-job`` would show them."""
    now = time.time_ns() if now_ns is None else now_ns
    seen = time.monotonic()
    return [
        JobInfo.from_stats(job.to_stats(now), seen) for job, _s in select(log, tube, state, now)
    ]


ExportProgress = Callable[[int, int], None]


def export_log(
    log: Binlog,
    out: TextIO,
    *,
    tube: str | None = None,
    state: str | None = None,
    now_ns: int | None = None,
    on_progress: ExportProgress | None = None,
) -> int:
    """Write the log's jobs as export JSON Lines (server order); return how many.

    ``time-left`` of a delayed job is its delay left now, which is what import puts it
    back with; reserved jobs are written ready, as a restart would restore them.
    """
    now = time.time_ns() if now_ns is None else now_ns
    chosen = select(log, tube, state, now)
    source = label(str(log.directory))
    written = 0
    for start in range(0, len(chosen), EXPORT_BATCH):
        chunk = chosen[start : start + EXPORT_BATCH]
        bodies = dict((job.id, body) for job, body in log.bodies([j for j, _s in chunk]))
        lines = []
        for job, _state in chunk:
            record = export_record(job.to_stats(now), bodies[job.id], source)
            lines.append(json.dumps(record, ensure_ascii=False, separators=(",", ":")) + "\n")
        out.write("".join(lines))
        written += len(lines)
        if on_progress is not None:
            on_progress(written, len(chosen))
    out.flush()
    return written


def _when(ns: int) -> str:
    return datetime.fromtimestamp(ns / 1e9, tz=timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")


def describe(log: Binlog) -> str:
    """One line for a banner: the files, the jobs, and the time the log spans."""
    files = sorted(log.files)
    names = f"binlog.{files[0]}" if len(files) == 1 else f"binlog.{files[0]}-{files[-1]}"
    span = log.time_range()
    when = ""
    if span is not None:
        first, last = span
        when = f", oldest job put {_when(first)}, last write {_when(last)}"
    n = len(log.jobs)
    return f"{log.directory} ({names}): {n} job{'' if n == 1 else 's'}{when}"
