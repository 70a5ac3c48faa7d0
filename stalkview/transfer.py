"""Export jobs to JSON Lines and import them into a server (the same server or another).

An export record is a job's ``stats-job`` reply under the server's field names
plus ``server``, ``body`` and ``body_encoding``::

    {"id": 42, "tube": "emails", "state": "delayed", "pri": 1024, "age": 3, "delay": 60,
     "ttr": 60, "time-left": 57, ..., "server": "127.0.0.1:11300",
     "body": "hello", "body_encoding": "utf-8"}

``body_encoding`` is ``utf-8`` (the body as text) or ``base64`` (binary bodies).

Import keeps priority, ttr and the *remaining* delay. In an export record that is
``time-left`` of a delayed job (``delay`` there is the delay it was put with); a
record without ``time-left`` is a journal record, whose ``delay`` is already the
remaining delay. Buried jobs come back buried (put hidden behind a delay that
never runs out, then ``reserve-job`` + ``bury``, as moves do); reserved jobs come
back ready. Never imports textual.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import hashlib
import json
import os
import re
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from stalkview.client import (
    BeanstalkConnectionError,
    Client,
    Error,
    NotFoundError,
    ProtocolError,
)
from stalkview.client import commands as cmd
from stalkview.client.commands import Call, Job
from stalkview.client.protocol import MAX_PRIORITY, MAX_SECONDS, check_tube
from stalkview.format import json_line
from stalkview.inventory import DEFAULT_BUDGET, STATES, CandidateSource, Inventory, JobInfo
from stalkview.journal import encode_body
from stalkview.ops import (
    HIDE_DELAY,
    PARKED_DELAY,
    ActionError,
    bury_parked,
    find_puts,
    plain_reason,
    raw_call,
    reconnect,
    run_in_tube,
)
from stalkview.paths import journal_path

ExportProgress = Callable[[int, int], None]
"""``on_progress(written, total)`` after each batch of an export."""
ImportProgress = Callable[[int], None]
"""``on_progress(jobs_handled)`` after each batch of an import."""

EXPORT_BATCH = 128
IMPORT_BATCH = 500


# --- export ---------------------------------------------------------------------------------


def export_record(stats: dict[str, Any], body: bytes, server: str) -> dict[str, Any]:
    """One export line's object: the stats-job fields, then server and body."""
    text, encoding = encode_body(body)
    return {**stats, "server": server, "body": text, "body_encoding": encoding}


async def export_jobs(
    address: str | Client,
    *,
    tube: str | None = None,
    state: str | None = None,
    ids: Iterable[int] | None = None,
    out: TextIO,
    server_label: str | None = None,
    on_progress: ExportProgress | None = None,
    batch_size: int = EXPORT_BATCH,
    scan_budget: float = DEFAULT_BUDGET,
    source: CandidateSource | None = None,
) -> int:
    """Write the selected jobs to ``out`` as JSON Lines, in server order; return how many.

    Jobs are found with an inventory scan (read-only), then their stats and full
    bodies are read again in pipelined batches of ``batch_size`` (so ``time-left``
    is fresh and memory stays bounded) and written batch by batch. Jobs deleted
    meanwhile are left out. ``address`` may be an open client (``encoding=None``).
    The scan takes at most ``scan_budget`` percent of one server CPU; ``source``
    (the server's binlog) gives the inventory its candidate ids.
    """
    if state is not None and state not in STATES:
        raise ValueError(f"unknown job state {state!r}: use one of {', '.join(STATES)}")
    opened: contextlib.AbstractAsyncContextManager[Client] = (
        contextlib.nullcontext(address)
        if isinstance(address, Client)
        else Client(address, encoding=None)
    )
    async with opened as client:
        return await _export(
            client,
            tube,
            state,
            ids,
            out,
            server_label,
            on_progress,
            batch_size,
            scan_budget,
            source,
        )


async def _export(
    client: Client,
    tube: str | None,
    state: str | None,
    ids: Iterable[int] | None,
    out: TextIO,
    server_label: str | None,
    on_progress: ExportProgress | None,
    batch_size: int,
    scan_budget: float,
    source: CandidateSource | None = None,
) -> int:
    inventory = Inventory(client, budget=scan_budget, source=source)
    await inventory.scan()
    jobs: list[JobInfo] = inventory.select(tube, state)
    if ids is not None:
        wanted = set(ids)
        jobs = [j for j in jobs if j.id in wanted]
    server = server_label or str(client.address)
    written = 0
    for start in range(0, len(jobs), batch_size):
        chunk = [j.id for j in jobs[start : start + batch_size]]
        lines = await _export_batch(client, chunk, server, tube, state)
        # A batch can be megabytes (bodies up to max-job-size): written in a
        # thread, so the event loop (a UI) keeps answering.
        await asyncio.to_thread(out.write, "".join(lines))
        written += len(lines)
        if on_progress is not None:
            on_progress(written, len(jobs))
    await asyncio.to_thread(out.flush)
    return written


async def _export_batch(
    client: Client, chunk: Sequence[int], server: str, tube: str | None, state: str | None
) -> list[str]:
    calls: list[Call[Any]] = []
    for jid in chunk:
        calls += [cmd.stats_job(jid), raw_call(cmd.peek(jid))]
    replies = await client.run_many(calls)
    lines = []
    for n in range(len(chunk)):
        stats, job = replies[2 * n], replies[2 * n + 1]
        for reply in (stats, job):
            if isinstance(reply, Error) and not isinstance(reply, NotFoundError):
                raise reply
        if not isinstance(stats, dict) or not isinstance(job, Job):
            continue  # deleted since the scan
        if (tube is not None and stats.get("tube") != tube) or (
            state is not None and stats.get("state") != state
        ):
            continue  # it moved out of the selection since the scan
        record = export_record(stats, bytes(job.body), server)
        lines.append(json_line(record) + "\n")
    return lines


# --- export and import files ---------------------------------------------------------------


def _file_part(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("_") or "server"


def default_export_path(server: str, tube: str | None, state: str | None) -> str:
    """E.g. ``./stalkview-export-prod-eu-emails-buried-20250101-120000.jsonl``."""
    parts = [_file_part(server), _file_part(tube) if tube is not None else "all-tubes"]
    if state:
        parts.append(state)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    return f"./stalkview-export-{'-'.join(parts)}-{stamp}.jsonl"


def read_jsonl(path: Path) -> list[str]:
    """The lines of a JSON Lines file to import; :class:`ActionError` says why it cannot be read."""
    try:
        return path.read_text(encoding="utf-8").splitlines()
    except UnicodeDecodeError as exc:
        raise ActionError(
            f"{path} is not UTF-8 text ({exc.reason}): give a JSON Lines file"
        ) from None
    except OSError as exc:
        raise ActionError(f"cannot read {path}: {exc.strerror or exc}") from None


async def write_export(
    client: Client,
    path: Path,
    ids: list[int],
    tube: str | None,
    state: str | None,
    server: str,
    on_progress: ExportProgress,
) -> int:
    """Export into a new file; a failed export leaves no partial file behind."""
    try:
        out = await asyncio.to_thread(path.open, "x", encoding="utf-8")
    except OSError as exc:
        raise ActionError(f"cannot create {path}: {exc.strerror or exc}") from None
    try:
        with out:
            return await export_jobs(
                client, ids=ids, tube=tube, state=state, out=out, server_label=server,
                on_progress=on_progress,
            )  # fmt: skip
    except BaseException:
        with contextlib.suppress(OSError):
            path.unlink()
        raise


# --- import ---------------------------------------------------------------------------------


class RecordError(ValueError):
    """A line that is not a job record; the message names the line and the problem."""


@dataclass
class ImportJob:
    """One job read from a line: what will be put, and where."""

    line: int
    tube: str
    pri: int
    ttr: int
    delay: int
    #: The state it will have: ready, delayed or buried.
    state: str
    body: bytes = field(repr=False)
    #: The state in the file when it differs from ``state`` (a reserved job comes back ready).
    was: str | None = None
    #: The id it had where it came from, if the record says.
    source_id: int | None = None
    new_id: int | None = None
    error: str | None = None

    def describe(self, dry_run: bool) -> str:
        what = f"line {self.line}: job" + (f" {self.source_id}" if self.source_id else "")
        detail = f"pri {self.pri}, ttr {self.ttr}, delay {self.delay}, {len(self.body)} bytes"
        note = f" (was {self.was}: imported {self.state})" if self.was else ""
        if self.error is not None:
            return f"{what} into {self.tube}: failed: {self.error}"
        if dry_run:
            return f"{what} would be put into {self.tube} as {self.state} ({detail}){note}"
        return f"{what} put into {self.tube} as job {self.new_id}, {self.state} ({detail}){note}"


@dataclass
class ImportReport:
    """What an import did (or, with ``dry_run``, would do)."""

    dry_run: bool = False
    #: Every job read, in file order (bodies are dropped once put, to bound memory).
    jobs: list[ImportJob] = field(default_factory=list)
    #: Lines that are not job records: (line number, message).
    invalid: list[tuple[int, str]] = field(default_factory=list)
    #: How many job records the file holds, when known beforehand ("put N of M").
    expected: int | None = None
    #: Why the import stopped early, and the first line it did not finish.
    stopped: str | None = None
    stopped_line: int | None = None
    #: Records a resumed import skipped: put by an earlier, interrupted run.
    resumed: int = 0
    #: Notes for the user about resuming and parked jobs, shown before the summary.
    notes: list[str] = field(default_factory=list)

    @property
    def put(self) -> list[ImportJob]:
        return [j for j in self.jobs if j.new_id is not None]

    @property
    def failed(self) -> list[ImportJob]:
        return [j for j in self.jobs if j.error is not None]

    def by_tube(self) -> dict[str, int]:
        """How many jobs went (or would go) into each tube."""
        out: dict[str, int] = {}
        for j in self.jobs:
            if j.error is None and (self.dry_run or j.new_id):
                out[j.tube] = out.get(j.tube, 0) + 1
        return out

    @property
    def ok(self) -> bool:
        return not self.invalid and not self.failed and self.stopped is None

    def summary(self) -> str:
        good = [j for j in self.jobs if j.error is None and (self.dry_run or j.new_id)]
        tubes = ", ".join(f"{t} {n}" for t, n in self.by_tube().items())
        verb = "would put" if self.dry_run else "put"
        count = (
            f"{len(good):,} of {self.expected - self.resumed:,} jobs"
            if (self.stopped and self.expected is not None)
            else _jobs(len(good))
        )
        text = f"{verb} {count}" + (f" ({tubes})" if tubes else "")
        if self.stopped:
            text += f"; stopped at line {self.stopped_line:,}: {self.stopped}"
        changed = [j for j in good if j.was]
        if changed:
            states = sorted({f"{j.was} -> {j.state}" for j in changed})
            text += f"; {_jobs(len(changed))} change state ({', '.join(states)})"
        if self.failed:
            text += f"; {len(self.failed)} failed"
        if self.invalid:
            text += f"; {len(self.invalid)} invalid lines skipped"
        if self.dry_run:
            text += "; dry run: nothing was sent"
        return text

    def lines(self, *, verbose: bool | None = None) -> list[str]:
        """Problems, then (in a dry run, or with ``verbose``) one line a job, then the summary."""
        show_all = self.dry_run if verbose is None else verbose
        out = [f"line {n}: {message}" for n, message in self.invalid]
        out += [j.describe(self.dry_run) for j in self.jobs if show_all or j.error is not None]
        out += self.notes
        out.append(self.summary())
        return out


def _jobs(n: int) -> str:
    return f"{n} job" if n == 1 else f"{n} jobs"


def _field_int(record: dict[str, Any], name: str, default: int | None, high: int) -> int:
    value = record.get(name, default)
    if value is None:
        raise RecordError(f"{name!r} is missing")
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= high:
        raise RecordError(f"{name!r} must be a whole number 0-{high}, not {value!r}")
    return value


def _remaining_delay(record: dict[str, Any], state: str) -> int:
    if "time-left" in record:  # an export: "delay" is the delay the job was put with
        left = _field_int(record, "time-left", 0, MAX_SECONDS)
        return left if state == "delayed" else 0
    return _field_int(record, "delay", 0, MAX_SECONDS)  # a journal record: already remaining


def _body(record: dict[str, Any]) -> bytes:
    body = record.get("body")
    if not isinstance(body, str):
        raise RecordError("'body' is missing or not a string")
    encoding = record.get("body_encoding", "utf-8")
    if encoding == "utf-8":
        return body.encode("utf-8")
    if encoding == "base64":
        try:
            return base64.b64decode(body.encode("ascii"), validate=True)
        except (binascii.Error, UnicodeEncodeError):
            raise RecordError("'body' is not valid base64 (body_encoding is base64)") from None
    raise RecordError(f"body_encoding {encoding!r} is unknown: use utf-8 or base64")


def parse_record(text: str, line: int, tube: str | None = None) -> ImportJob:
    """One JSON Lines record as an :class:`ImportJob`; raises :class:`RecordError`."""
    try:
        record = json.loads(text)
    except json.JSONDecodeError as exc:
        raise RecordError(f"not JSON ({exc.msg} at column {exc.colno})") from None
    except RecursionError:
        raise RecordError("not a job record: JSON nested too deeply") from None
    except ValueError as exc:  # e.g. an integer of thousands of digits
        raise RecordError(f"not a job record: {exc}".split(";")[0]) from None
    if not isinstance(record, dict):
        raise RecordError("not a JSON object: each line must be one job record {...}")
    target = tube if tube is not None else record.get("tube")
    if not isinstance(target, str):
        raise RecordError("'tube' is missing: give --tube or add the job's tube to the record")
    try:
        check_tube(target)
    except ValueError as exc:
        raise RecordError(str(exc)) from None
    state = record.get("state", "ready")
    if state not in STATES:
        raise RecordError(f"state {state!r} is unknown: use one of {', '.join(STATES)}")
    delay = _remaining_delay(record, str(state))
    new_state = "buried" if state == "buried" else ("delayed" if delay else "ready")
    source_id = record.get("id")
    return ImportJob(
        line=line,
        tube=target,
        pri=_field_int(record, "pri", None, MAX_PRIORITY),
        ttr=max(1, _field_int(record, "ttr", None, MAX_SECONDS)),
        delay=0 if new_state == "buried" else delay,
        state=new_state,
        body=_body(record),
        was=str(state) if state != new_state else None,
        source_id=source_id if isinstance(source_id, int) else None,
    )


def _numbered(lines: Iterable[str]) -> Iterator[tuple[int, str]]:
    for n, text in enumerate(lines, start=1):
        if text.strip():
            yield n, text


def _check_sizes(jobs: Iterable[ImportJob], max_job_size: int | None) -> None:
    """Mark the jobs the server would refuse as too big (its ``max-job-size``)."""
    if max_job_size is None:
        return
    for job in jobs:
        if len(job.body) > max_job_size:
            job.error = (
                f"the body is {len(job.body):,} bytes, larger than the server's "
                f"max-job-size ({max_job_size:,} bytes)"
            )


def _batches(
    lines: Iterable[str], tube: str | None, report: ImportReport, size: int, skip: int = 0
) -> Iterator[list[ImportJob]]:
    """Job records in batches; lines up to ``skip`` (a resumed import's) are passed over."""
    batch: list[ImportJob] = []
    for n, text in _numbered(lines):
        if n <= skip:
            continue
        try:
            job = parse_record(text, n, tube)
        except RecordError as exc:
            report.invalid.append((n, str(exc)))
            continue
        report.jobs.append(job)
        batch.append(job)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


async def import_jobs(
    address: str | Client,
    lines: Iterable[str],
    *,
    tube: str | None = None,
    dry_run: bool = False,
    on_progress: ImportProgress | None = None,
    batch_size: int = IMPORT_BATCH,
    max_job_size: int | None = None,
    resume_key: str | None = None,
    restart: bool = False,
    expected: int | None = None,
    ledger: ImportLedger | None = None,
) -> ImportReport:
    """Put the jobs of JSON Lines records (exports or journal records) into a server.

    Each job goes into its own tube unless ``tube`` is given, keeping priority,
    ttr and remaining delay; buried jobs are buried again, reserved ones come
    back ready. Lines are read and put in batches (pipelined ``use`` + ``put``
    per tube), so a large file is never held in memory. Invalid lines are
    reported with their line number and skipped; ``dry_run`` validates and
    reports without connecting.

    With ``resume_key`` (:func:`import_key`: the file's content hash and the
    target), progress is kept in the :class:`ImportLedger` after every batch:
    an import that stops part-way (a lost connection) reports how far it got,
    and running it again continues there without putting anything twice,
    first finishing jobs it left parked. ``restart`` ignores the record.
    """
    if tube is not None:
        check_tube(tube)
    report = ImportReport(dry_run=dry_run, expected=expected)
    if dry_run:
        for batch in _batches(lines, tube, report, batch_size):
            _check_sizes(batch, max_job_size)
            if on_progress is not None:
                on_progress(len(report.jobs))
        return report
    run = _ImportRun(report, tube, on_progress, batch_size, resume_key, restart, ledger)
    if isinstance(address, Client):
        await run.run(address, lines)
    else:
        async with Client(address, encoding=None) as client:
            await run.run(client, lines)
    return report


# --- resuming interrupted imports ----------------------------------------------------------


def ledger_path() -> Path:
    """Where import progress is kept: beside the journal (``imports.json``)."""
    return journal_path().with_name("imports.json")


def file_digest(path: str | Path) -> str:
    """The SHA-256 of a file's content: the same file under another name resumes too."""
    digest = hashlib.sha256()
    with open(path, "rb") as stream:
        for chunk in iter(lambda: stream.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def import_key(digest: str, address: str) -> str:
    """The ledger key of importing a file (by content) into a server."""
    return f"{digest} {address}"


class ImportLedger:
    """Import progress by file content and target: how far an import got.

    One small JSON object; written whole, to a temporary file renamed over the
    old one, so a crash leaves the previous record, never half a record.
    """

    def __init__(self, path: Path | None = None) -> None:
        self.path = path if path is not None else ledger_path()

    def _read(self) -> dict[str, Any]:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        return data if isinstance(data, dict) else {}

    def get(self, key: str) -> dict[str, Any] | None:
        record = self._read().get(key)
        return record if isinstance(record, dict) else None

    def set(self, key: str, record: dict[str, Any]) -> None:
        data = self._read()
        data[key] = record
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(self.path.name + ".tmp")
        tmp.write_text(json.dumps(data, indent=1), encoding="utf-8")
        os.replace(tmp, self.path)


class _ImportRun:
    """One import: batches, progress records, and what to do when the connection goes."""

    def __init__(
        self,
        report: ImportReport,
        tube: str | None,
        on_progress: ImportProgress | None,
        batch_size: int,
        key: str | None,
        restart: bool,
        ledger: ImportLedger | None,
    ) -> None:
        self.report = report
        self.tube = tube
        self.on_progress = on_progress
        self.batch_size = batch_size
        self.key = key
        self.ledger = (ledger or ImportLedger()) if key is not None else None
        self.restart = restart
        #: The highest job id the server gave this import: unanswered puts come after it.
        self.highest = 0
        self.done_line = 0
        self.jobs_done = 0
        self.batch_from = 0

    def _save(self, **fields: Any) -> None:
        if self.ledger is None or self.key is None:
            return
        record = {
            "done_line": self.done_line,
            "jobs_done": self.jobs_done,
            "highest": self.highest,
            "time": time.strftime("%Y-%m-%d %H:%M:%S"),
            **fields,
        }
        try:
            self.ledger.set(self.key, record)
        except OSError as exc:
            self.report.notes.append(
                f"could not write the import progress record {self.ledger.path} "
                f"({exc.strerror or exc}): a re-run cannot resume"
            )
            self.ledger = None

    async def run(self, client: Client, lines: Iterable[str]) -> None:
        report = self.report
        record = None
        if self.ledger is not None and self.key is not None and not self.restart:
            record = self.ledger.get(self.key)
        pending_to = 0
        search_from = 0
        if record is not None:
            if record.get("complete"):
                report.notes.append(
                    f"this file was already imported into this server ({record.get('time')}): "
                    "nothing put; --restart imports it again"
                )
                report.resumed = int(record.get("jobs_done", 0))
                report.expected = report.resumed if report.expected is not None else None
                return
            self.done_line = int(record.get("done_line", 0))
            self.jobs_done = int(record.get("jobs_done", 0))
            self.highest = int(record.get("highest", 0))
            pending_to = int(record.get("pending_to", 0))
            search_from = int(record.get("search_from", self.highest))
            report.resumed = self.jobs_done
            report.notes.append(
                f"resumed an interrupted import of this file: {_jobs(self.jobs_done)} "
                f"(lines 1-{self.done_line:,}) were put by the earlier run "
                f"(progress record {self.ledger.path if self.ledger else ''}); "
                "--restart ignores it and puts every line"
            )
            await self._finish_parked(client, [int(i) for i in record.get("parked", [])])
        first = True
        for batch in _batches(lines, self.tube, report, self.batch_size, self.done_line):
            in_doubt = [j for j in batch if j.line <= pending_to]
            # Ids after this one are the batch's: where a search for its puts starts.
            self.batch_from = self.highest
            try:
                if in_doubt:
                    await self._resolve(client, in_doubt, search_from)
                await self._put_batch(client, [j for j in batch if j.new_id is None], first)
            except (BeanstalkConnectionError, ProtocolError) as exc:
                await self._stopped(client, batch, exc)
                return
            first = False
            self.done_line = batch[-1].line
            self.jobs_done += sum(1 for j in batch if j.new_id is not None)
            self._save()
            for job in batch:
                job.body = b""  # put: the report keeps the metadata only
            if self.on_progress is not None:
                self.on_progress(len(report.jobs))
        self._save(complete=True)

    async def _put_batch(self, client: Client, jobs: list[ImportJob], first: bool) -> None:
        todo = [j for j in jobs if j.error is None]
        sent = list(todo)
        if first and todo and not self.highest:
            # The first job alone: its id tells where this import's ids start,
            # so puts a lost connection leaves unanswered can be found later.
            await _put_group(client, todo[0].tube, todo[:1])
            self._seen(todo[:1])
            if todo[0].new_id is not None:
                self.batch_from = todo[0].new_id - 1
            todo = todo[1:]
        by_tube: dict[str, list[ImportJob]] = {}
        for job in todo:
            by_tube.setdefault(job.tube, []).append(job)
        for name, group in by_tube.items():
            await _put_group(client, name, group)
            self._seen(group)
        await _bury_again(client, [j for j in sent if j.state == "buried" and j.new_id])

    def _seen(self, jobs: list[ImportJob]) -> None:
        ids = [j.new_id for j in jobs if j.new_id is not None]
        if ids:
            self.highest = max(self.highest, *ids)

    async def _resolve(self, client: Client, jobs: list[ImportJob], after: int) -> None:
        """Jobs whose put a lost connection may have swallowed: find the ones that
        were put (ids after ``after``; they are not put again), bury those that should be."""
        if not after:
            for job in jobs:
                job.error = (
                    "its put was in flight when the connection was lost and cannot be "
                    f"checked: look for it in {job.tube} before putting it again"
                )
            return
        wanted = [(j.tube, j.body, j.pri) for j in jobs]
        found, conclusive = await find_puts(client, after, wanted)
        for n, job in enumerate(jobs):
            if n in found:
                job.new_id = found[n]
            elif not conclusive:
                job.error = (
                    "its put was in flight when the connection was lost and the search "
                    f"for it was not conclusive: look for it in {job.tube}"
                )
        self._seen([j for j in jobs if j.new_id is not None])
        await _bury_again(client, [j for j in jobs if j.state == "buried" and j.new_id])

    async def _finish_parked(self, client: Client, ids: list[int]) -> None:
        if not ids:
            return
        replies = await client.run_many([cmd.stats_job(jid) for jid in ids])
        parked = [
            (jid, int(r["pri"]))
            for jid, r in zip(ids, replies, strict=True)
            if isinstance(r, dict) and r.get("state") == "delayed" and r["delay"] >= PARKED_DELAY
        ]
        outcomes = await bury_parked(client, parked)
        buried = sum(1 for o in outcomes if o is None)
        if parked:
            self.report.notes.append(
                f"{_jobs(len(parked))} left parked by the interrupted import: "
                f"{buried:,} buried, as the file says"
                + (f"; {len(parked) - buried} could not be" if buried < len(parked) else "")
            )

    async def _stopped(self, client: Client, batch: list[ImportJob], exc: Exception) -> None:
        """The connection went during a batch: say how far the import got, check the
        batch on a new connection, and keep the progress for a re-run."""
        report = self.report
        report.stopped = f"connection lost ({exc})"
        open_jobs = [j for j in batch if j.new_id is None and j.error is None]
        try:
            await reconnect(client)
            await self._resolve(client, open_jobs, self.highest)
        except Error as again:
            report.notes.append(
                f"the server stayed unreachable ({again}): "
                f"{_jobs(len(open_jobs))} of the last batch may or may not be in it; "
                "run the same import again: it checks them before going on"
            )
            report.stopped_line = batch[0].line
            self._save(
                pending_to=batch[-1].line, search_from=self.batch_from, parked=self._parked(batch)
            )
            return
        # Checked: the lines of the batch are done up to the first job not put.
        not_put = [j for j in batch if j.new_id is None and j.error is None]
        done = [j for j in batch if j.new_id is not None]
        self.jobs_done += len(done)
        if not_put:
            report.stopped_line = not_put[0].line
            self.done_line = not_put[0].line - 1
            self.jobs_done -= sum(1 for j in done if j.line > self.done_line)
            pending = max(j.line for j in batch)
            self._save(pending_to=pending, search_from=self.batch_from, parked=self._parked(batch))
        else:
            report.stopped_line = batch[-1].line + 1
            self.done_line = batch[-1].line
            self._save(parked=self._parked(batch))
        report.notes.append(
            "reconnected and checked the batch in flight; run the same import again to "
            "continue where it stopped (nothing is put twice)"
        )

    @staticmethod
    def _parked(batch: list[ImportJob]) -> list[int]:
        """Ids put parked whose bury is not confirmed (they are checked on resume)."""
        return [j.new_id for j in batch if j.state == "buried" and j.new_id is not None]


async def _put_group(client: Client, tube: str, jobs: list[ImportJob]) -> None:
    calls = [
        # A buried job is put out of reach behind a delay that never ends, then
        # buried: no worker can take it in between.
        cmd.put(j.body, j.pri, HIDE_DELAY if j.state == "buried" else j.delay, j.ttr)
        for j in jobs
    ]
    try:
        replies = await run_in_tube(client, tube, calls)
    except Error as exc:
        if isinstance(exc, BeanstalkConnectionError):
            raise
        for j in jobs:
            j.error = plain_reason(exc, "use")
        return
    for job, reply in zip(jobs, replies, strict=True):
        if isinstance(reply, BaseException):
            job.error = plain_reason(reply, "put")
        else:
            job.new_id = int(reply)


async def _bury_again(client: Client, jobs: list[ImportJob]) -> None:
    outcomes = await bury_parked(client, [(j.new_id or 0, j.pri) for j in jobs])
    for job, failed in zip(jobs, outcomes, strict=True):
        if failed is not None:
            job.error = (
                f"put as job {job.new_id} but it could not be buried "
                f"({plain_reason(failed, 'bury')}): it waits delayed in {job.tube}; "
                "bury or delete it by hand"
            )
