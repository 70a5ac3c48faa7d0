"""The journal: every job stalkview deletes or moves, written down before the command goes out.

One JSON object a line (JSON Lines), append-only, fsync'd. A job record uses
the field names of ``stalkview jobs --json`` where they overlap (``id``,
``tube``, ``state``, ``pri``, ``ttr``, ``delay``) so exports and the journal
share one format::

    {"time": "2024-05-01T03:12:44.123Z", "action": "delete", "server": "127.0.0.1:11300",
     "tube": "emails", "id": 42, "pri": 1024, "ttr": 60, "delay": 0, "state": "buried",
     "body": "hello", "body_encoding": "utf-8"}

``delay`` is the delay left when the job was journaled (0 unless delayed).
Moves add ``to_tube``. Bodies that are not UTF-8 are stored as base64.

Two kinds of note records follow a job record and refer to it by
(server, id, time): ``{"action": "failed", ..., "of_time", "reason"}`` when the
command did not happen after all (so a restore would duplicate a job), and
``{"action": "restored", ..., "of_time", "new_id", "to_server", "to_tube"}``.
Readers fold them into the job record they refer to.

Never imports textual: the CLI and the app share this module.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import os
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Literal

from stalkview.client import BeanstalkConnectionError, Client, Error, ProtocolError
from stalkview.client import commands as cmd
from stalkview.client.protocol import check_tube
from stalkview.format import duration_words, json_line, printable
from stalkview.ops import HIDE_DELAY, bury_parked, find_puts, plain_reason, reconnect, run_in_tube
from stalkview.paths import journal_path

NOTE_ACTIONS = frozenset({"failed", "restored"})
_REQUIRED = ("time", "action", "server", "tube", "id", "pri", "ttr", "delay", "body")
_INTS = ("id", "pri", "ttr", "delay")


def utc_now() -> str:
    """The current time as ISO-8601 UTC with milliseconds, e.g. ``2024-05-01T03:12:44.123Z``."""
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def encode_body(body: bytes) -> tuple[str, str]:
    """A body as (text, encoding): the text itself if it is UTF-8, else base64."""
    try:
        return body.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        return base64.b64encode(body).decode("ascii"), "base64"


@dataclass
class JournalEntry:
    """One journaled job. ``index`` (1-based) is its position in the journal when read back."""

    time: str
    action: str
    server: str
    tube: str
    id: int
    pri: int
    ttr: int
    delay: int
    state: str
    body: str
    body_encoding: str = "utf-8"
    to_tube: str | None = None
    index: int = 0
    #: Set when a note says the command did not happen (the job was not deleted/moved).
    failed: str | None = None
    #: Set when a note says the job was restored: "job 57 in emails on 127.0.0.1:11300".
    restored_as: str | None = None

    @classmethod
    def from_job(
        cls,
        action: str,
        server: str,
        job_id: int,
        body: bytes,
        stats: dict[str, Any],
        *,
        to_tube: str | None = None,
    ) -> JournalEntry:
        """A record from a job's body and its ``stats-job`` reply."""
        state = str(stats.get("state", ""))
        text, encoding = encode_body(body)
        return cls(
            time=utc_now(),
            action=action,
            server=server,
            tube=str(stats["tube"]),
            id=job_id,
            pri=int(stats["pri"]),
            ttr=int(stats["ttr"]),
            delay=remaining_delay(stats),
            state=state,
            body=text,
            body_encoding=encoding,
            to_tube=to_tube,
        )

    @property
    def key(self) -> tuple[str, int, str]:
        """What note records use to refer to this entry."""
        return (self.server, self.id, self.time)

    def body_bytes(self) -> bytes:
        if self.body_encoding == "base64":
            return base64.b64decode(self.body.encode("ascii"), validate=True)
        return self.body.encode("utf-8")

    def to_record(self) -> dict[str, Any]:
        record: dict[str, Any] = {
            "time": self.time,
            "action": self.action,
            "server": self.server,
            "tube": self.tube,
            "id": self.id,
            "pri": self.pri,
            "ttr": self.ttr,
            "delay": self.delay,
            "state": self.state,
            "body": self.body,
            "body_encoding": self.body_encoding,
        }
        if self.to_tube is not None:
            record["to_tube"] = self.to_tube
        return record

    @classmethod
    def from_record(cls, record: dict[str, Any], index: int = 0) -> JournalEntry:
        """Raise ValueError/KeyError/TypeError if the record is not a well-formed job record."""
        for name in _REQUIRED:
            if name not in record:
                raise KeyError(name)
        for name in _INTS:
            if isinstance(record[name], bool) or not isinstance(record[name], int):
                raise TypeError(name)
        encoding = record.get("body_encoding", "utf-8")
        if encoding not in ("utf-8", "base64") or not isinstance(record["body"], str):
            raise ValueError("body")
        to_tube = record.get("to_tube")
        entry = cls(
            time=str(record["time"]),
            action=str(record["action"]),
            server=str(record["server"]),
            tube=str(record["tube"]),
            id=record["id"],
            pri=record["pri"],
            ttr=record["ttr"],
            delay=record["delay"],
            state=str(record.get("state", "")),
            body=record["body"],
            body_encoding=encoding,
            to_tube=None if to_tube is None else str(to_tube),
            index=index,
        )
        entry.body_bytes()  # bad base64 makes the line unreadable, not a later restore
        return entry


def remaining_delay(stats: dict[str, Any]) -> int:
    """The delay a job has left: ``time-left`` for delayed jobs, else 0."""
    if stats.get("state") == "delayed":
        return max(0, int(stats.get("time-left", 0)))
    return 0


def note(
    action: Literal["failed", "restored"], entry: JournalEntry, **fields: Any
) -> dict[str, Any]:
    """A note record about ``entry`` (see the module docstring)."""
    return {
        "time": utc_now(),
        "action": action,
        "server": entry.server,
        "id": entry.id,
        "of_time": entry.time,
        **fields,
    }


@dataclass
class JournalContents:
    entries: list[JournalEntry]
    #: Lines that could not be read (a truncated last line after a crash, hand edits).
    skipped: int = 0


class Journal:
    """The append-only journal file. ``Journal()`` uses ``$STALKVIEW_JOURNAL`` or the data dir."""

    def __init__(self, path: str | os.PathLike[str] | None = None) -> None:
        self.path = Path(path) if path is not None else journal_path()
        #: How many unreadable lines the last :meth:`entries` call skipped.
        self.skipped_lines = 0
        # Appends run in worker threads (asyncio.to_thread): two at once must not
        # interleave their lines.
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"<Journal {self.path}>"

    # --- writing -------------------------------------------------------------

    def append(self, records: Iterable[JournalEntry | dict[str, Any]]) -> None:
        """Append records and fsync before returning.

        Callers append *before* sending the destructive command: if this
        raises (disk full, no permission), the command must not be sent.
        """
        lines = []
        for record in records:
            data = record.to_record() if isinstance(record, JournalEntry) else record
            lines.append(json_line(data))
        if not lines:
            return
        payload = ("\n".join(lines) + "\n").encode("utf-8")
        with self._lock:
            self._write(payload)

    def _write(self, payload: bytes) -> None:
        created = not self.path.exists()
        if created:
            self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        # Bodies can be sensitive: the file is private to the user.
        fd = os.open(self.path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            size = os.fstat(fd).st_size
            if size and os.pread(fd, 1, size - 1) != b"\n":
                # A crash cut the last line short; start ours on a fresh line so
                # only that one line is lost, not ours as well.
                payload = b"\n" + payload
            view = memoryview(payload)
            while view:
                written = os.write(fd, view)
                view = view[written:]
            os.fsync(fd)
        finally:
            os.close(fd)
        if created:
            _fsync_dir(self.path.parent)

    # --- reading -------------------------------------------------------------

    def read(self) -> JournalContents:
        """Every job record, with notes folded in; unreadable lines are counted and skipped."""
        try:
            data = self.path.read_bytes()
        except FileNotFoundError:
            return JournalContents([])
        entries: list[JournalEntry] = []
        by_key: dict[tuple[str, int, str], JournalEntry] = {}
        skipped = 0
        for raw in data.split(b"\n"):
            if not raw.strip():
                continue
            try:
                record = json.loads(raw)
                if not isinstance(record, dict):
                    raise TypeError("not an object")
                if record.get("action") in NOTE_ACTIONS:
                    _apply_note(record, by_key)
                    continue
                entry = JournalEntry.from_record(record, index=len(entries) + 1)
            except (ValueError, KeyError, TypeError, binascii.Error):
                skipped += 1
                continue
            entries.append(entry)
            by_key[entry.key] = entry
        return JournalContents(entries, skipped)

    def entries(self) -> list[JournalEntry]:
        """Every job record; sets :attr:`skipped_lines` to the number of unreadable lines."""
        contents = self.read()
        self.skipped_lines = contents.skipped
        return contents.entries


def _apply_note(record: dict[str, Any], by_key: dict[tuple[str, int, str], JournalEntry]) -> None:
    entry = by_key.get((str(record["server"]), int(record["id"]), str(record["of_time"])))
    if entry is None:
        return  # a note about a record that was lost: nothing to attach it to
    if record["action"] == "failed":
        entry.failed = str(record.get("reason", "it did not happen"))
    else:
        entry.restored_as = (
            f"job {record.get('new_id')} in {record.get('to_tube')} on {record.get('to_server')}"
        )


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass  # some filesystems refuse fsync on directories; the data itself is synced
    finally:
        os.close(fd)


# --- restore -------------------------------------------------------------------


RestoreStatus = Literal["ok", "failed", "skipped", "planned"]


@dataclass
class RestoreResult:
    entry: JournalEntry
    status: RestoreStatus
    tube: str
    new_id: int | None = None
    reason: str | None = None

    def describe(self) -> str:
        e = self.entry
        head = f"#{e.index} job {e.id} ({e.action}d from {e.tube})"
        state = restored_state(e)
        if self.status == "ok":
            if self.reason:
                return f"{head}: {self.reason}"
            return f"{head}: restored as job {self.new_id} in {self.tube}, {state_words(e)}"
        if self.status == "planned":
            note = f"; it was {e.state}" if e.state not in ("", state) else ""
            return (
                f"{head}: would be put into {self.tube} as {state_words(e)} "
                f"(pri {e.pri}, ttr {e.ttr}{note})"
            )
        return f"{head}: {self.status}: {self.reason}"


def restored_state(entry: JournalEntry) -> str:
    """The state a restore gives the job: buried stays buried, delayed keeps its
    remaining delay, anything else (ready, reserved) comes back ready."""
    if entry.state == "buried":
        return "buried"
    return "delayed" if entry.delay > 0 else "ready"


def state_words(entry: JournalEntry) -> str:
    """ "buried", "ready", "delayed 2h 5m" (the remaining delay journaled)."""
    state = restored_state(entry)
    return f"delayed {duration_words(entry.delay)}" if state == "delayed" else state


@dataclass
class RestoreReport:
    results: list[RestoreResult] = field(default_factory=list)
    dry_run: bool = False

    def by_status(self, status: RestoreStatus) -> list[RestoreResult]:
        return [r for r in self.results if r.status == status]

    @property
    def succeeded(self) -> list[RestoreResult]:
        return self.by_status("ok")

    @property
    def failed(self) -> list[RestoreResult]:
        return self.by_status("failed")

    def summary(self) -> str:
        total = len(self.results)
        if self.dry_run:
            planned = len(self.by_status("planned"))
            text = f"would restore {planned} of {_jobs(total)}"
        else:
            text = f"restored {len(self.succeeded)} of {_jobs(total)}"
        if self.failed:
            text += f"; {len(self.failed)} failed"
        skipped = self.by_status("skipped")
        if skipped:
            text += f"; {len(skipped)} skipped"
        return text

    def lines(self) -> list[str]:
        return [r.describe() for r in self.results] + [self.summary()]


def _jobs(n: int) -> str:
    return f"{n} job" if n == 1 else f"{n} jobs"


def _skip_reason(entry: JournalEntry, again: bool) -> str | None:
    if entry.failed is not None:
        return f"the {entry.action} did not happen ({entry.failed}): nothing to restore"
    if entry.restored_as is not None and not again:
        return (
            f"already restored as {entry.restored_as}; restore it again explicitly to duplicate it"
        )
    return None


def plan_restore(
    entries: Sequence[JournalEntry],
    *,
    tube: str | None = None,
    again: bool = False,
    dry_run: bool = True,
) -> RestoreReport:
    """What :func:`restore` would do: each entry planned or skipped (and why)."""
    report = RestoreReport(dry_run=dry_run)
    for entry in entries:
        reason = _skip_reason(entry, again)
        status: RestoreStatus = "skipped" if reason else ("planned" if dry_run else "failed")
        report.results.append(RestoreResult(entry, status, tube or entry.tube, reason=reason))
    return report


async def restore(
    client: Client,
    entries: Sequence[JournalEntry],
    *,
    tube: str | None = None,
    journal: Journal | None = None,
    again: bool = False,
    dry_run: bool = False,
    batch_size: int = 500,
) -> RestoreReport:
    """Re-put journaled jobs, each into its own tube (or ``tube``), with its pri, ttr and delay.

    Each job keeps its state: buried stays buried (put parked, then buried, so
    no worker takes it in between), delayed keeps its journaled remaining
    delay, ready and reserved come back ready. Entries whose command did not
    happen are skipped, and so are entries already restored unless ``again``.
    With ``journal``, a ``restored`` note is appended for each success. The
    client's used tube is restored afterwards.
    """
    report = plan_restore(entries, tube=tube, again=again, dry_run=dry_run)
    slots: dict[str, list[int]] = {}
    for position, result in enumerate(report.results):
        if result.status == "failed":  # provisional until the put succeeds
            slots.setdefault(result.tube, []).append(position)
    server = str(client.address)
    ids = _IdMark()
    for target, positions in slots.items():
        for start in range(0, len(positions), batch_size):
            batch = [report.results[i] for i in positions[start : start + batch_size]]
            if not ids.highest and len(batch) > 1:
                # The first job alone: its id tells where later ids start, so
                # puts a lost connection leaves unanswered can be found.
                await _restore_batch(client, target, batch[:1], ids)
                await _restore_batch(client, target, batch[1:], ids)
            else:
                await _restore_batch(client, target, batch, ids)
            done = [r for r in batch if r.status == "ok"]
            if journal is not None and done:
                notes = [
                    note("restored", r.entry, new_id=r.new_id, to_server=server, to_tube=target)
                    for r in done
                ]
                await asyncio.to_thread(journal.append, notes)
    return report


class _IdMark:
    """The highest job id a restore has been given: unanswered puts come after it."""

    highest = 0


async def _restore_batch(
    client: Client, target: str, batch: list[RestoreResult], ids: _IdMark
) -> None:
    try:
        check_tube(target)
    except ValueError as exc:
        for result in batch:
            result.reason = str(exc)
        return
    calls = []
    sendable = []
    for result in batch:
        e = result.entry
        # A buried job goes back parked (a delay that never ends), then is
        # buried: no worker can take a poison job in between.
        delay = HIDE_DELAY if restored_state(e) == "buried" else e.delay
        try:
            calls.append(cmd.put(e.body_bytes(), e.pri, delay, e.ttr))
            sendable.append(result)
        except (ValueError, TypeError, binascii.Error) as exc:
            result.reason = f"the journal record is damaged: {exc}"
    if not calls:
        return
    before = ids.highest
    try:
        replies = await run_in_tube(client, target, calls)
    except (BeanstalkConnectionError, ProtocolError) as exc:
        # The puts may or may not have happened: find out on a new connection,
        # so a second restore never puts a job twice.
        replies = await _recover_puts(client, target, sendable, before, exc)
    except Error as exc:
        for result in sendable:
            result.reason = f"not restored: {exc}"
        return
    for result, reply in zip(sendable, replies, strict=True):
        if reply is None:
            continue  # the reason is set
        if isinstance(reply, BaseException):
            result.reason = plain_reason(reply, "put")
        else:
            result.status = "ok"
            result.new_id = int(reply)
            ids.highest = max(ids.highest, result.new_id)
    parked = [r for r in sendable if r.status == "ok" and restored_state(r.entry) == "buried"]
    try:
        outcomes = await bury_parked(client, [(r.new_id or 0, r.entry.pri) for r in parked])
    except Error as exc:
        outcomes = [exc] * len(parked)
    for result, failed in zip(parked, outcomes, strict=True):
        if failed is not None:
            # Still "ok": the job is back (the note stops a second restore
            # duplicating it), but it is parked, and the report says so.
            result.reason = (
                f"put back as job {result.new_id} but not buried again "
                f"({plain_reason(failed, 'bury')}): it waits parked in {result.tube}; "
                "bury or delete it by hand"
            )


async def _recover_puts(
    client: Client, target: str, sendable: list[RestoreResult], after: int, exc: Exception
) -> list[Any]:
    """After a lost connection: each put's id if it happened, else None with the reason set."""
    lost = f"the connection was lost ({exc})"
    try:
        await reconnect(client)
        wanted = [(target, r.entry.body_bytes(), r.entry.pri) for r in sendable]
        found, conclusive = await find_puts(client, after, wanted) if after else ({}, False)
    except Error as again:
        for result in sendable:
            result.reason = (
                f"uncertain: {lost} and the server stayed unreachable ({again}); "
                f"look in {target} before restoring it again"
            )
        return [None] * len(sendable)
    out: list[Any] = []
    for n, result in enumerate(sendable):
        if n in found:
            out.append(found[n])
        elif conclusive:
            result.reason = f"not restored: {lost} before its put reached the server"
            out.append(None)
        else:
            result.reason = (
                f"uncertain: {lost} and its put could not be checked; look in {target} "
                "before restoring it again"
            )
            out.append(None)
    return out


# --- command-line helpers ----------------------------------------------------------


class SelectorError(ValueError):
    """A journal entry selector that does not parse or selects nothing."""


def select_entries(entries: Sequence[JournalEntry], selectors: Sequence[str]) -> list[JournalEntry]:
    """Entries picked by selectors: ``all``, ``3`` (entry #3), ``5-9``, ``id:123`` (job id).

    Keeps journal order and never returns an entry twice.
    """
    if not selectors:
        raise SelectorError(
            "no entries selected: give all, an entry number N, a range N-M or id:JOB"
        )
    by_index = {e.index: e for e in entries}
    chosen: set[int] = set()
    for selector in selectors:
        chosen |= _select_one(selector.strip(), entries, by_index)
    return [e for e in entries if e.index in chosen]


def _select_one(
    selector: str, entries: Sequence[JournalEntry], by_index: dict[int, JournalEntry]
) -> set[int]:
    if selector == "all":
        return set(by_index)
    if selector.startswith("id:"):
        text = selector[3:]
        if not text.isdigit():
            raise SelectorError(f"selector {selector!r}: the job id must be a number, e.g. id:123")
        found = {e.index for e in entries if e.id == int(text)}
        if not found:
            raise SelectorError(f"selector {selector!r}: no journal entry is about job {text}")
        return found
    first, dash, last = selector.partition("-")
    if not first.isdigit() or (dash and not last.isdigit()):
        raise SelectorError(
            f"selector {selector!r} is not understood: use all, an entry number N, "
            "a range N-M or id:JOB (see the # column of 'stalkview journal list')"
        )
    low, high = int(first), int(last) if dash else int(first)
    if low > high:
        raise SelectorError(
            f"range {selector!r} runs backwards: write it low-high, e.g. {high}-{low}"
        )
    count = len(entries)
    if low < 1 or high > count:
        raise SelectorError(
            f"entry {selector} is not in the journal: it has entries 1-{count}"
            if count
            else "the journal is empty: nothing to select"
        )
    return set(range(low, high + 1))


def _row(e: JournalEntry) -> list[str]:
    body = e.body_bytes()
    preview = printable(e.body, 40) if e.body_encoding == "utf-8" else f"<{len(body)} bytes binary>"
    where = f"{e.tube}->{e.to_tube}" if e.to_tube else e.tube
    status = ""
    if e.failed is not None:
        status = f"not done: {printable(e.failed, 40)}"
    elif e.restored_as is not None:
        status = f"restored as {e.restored_as}"
    return [
        str(e.index),
        e.time,
        e.action,
        printable(e.server),
        printable(where),
        str(e.id),
        e.state,
        str(e.pri),
        str(e.ttr),
        str(e.delay),
        str(len(body)),
        preview,
        status,
    ]


_HEADER = [
    "#",
    "time",
    "action",
    "server",
    "tube",
    "id",
    "state",
    "pri",
    "ttr",
    "delay",
    "size",
    "body",
    "note",
]


def journal_list(path: str | os.PathLike[str] | None = None, *, json: bool = False) -> str:
    """The journal as a table (or JSON Lines with ``json``, each record plus its ``index``)."""
    journal = Journal(path)
    contents = journal.read()
    if json:
        return "".join(_json_line(e) + "\n" for e in contents.entries)
    if not contents.entries and contents.skipped:
        return (
            f"the journal {journal.path} has no readable entry: "
            f"{_all_damaged(contents.skipped)} (cut short by a crash or edited by hand)\n"
        )
    if not contents.entries:
        return f"the journal {journal.path} is empty: nothing has been deleted or moved yet\n"
    rows = [_HEADER] + [_row(e) for e in contents.entries]
    widths = [max(len(r[i]) for r in rows) for i in range(len(_HEADER))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows]
    return "\n".join(lines) + _skipped_note(contents.skipped) + "\n"


def _all_damaged(n: int) -> str:
    return "its one line is damaged" if n == 1 else f"all {n} lines are damaged"


def _json_line(e: JournalEntry) -> str:
    record = e.to_record()
    record["index"] = e.index
    if e.failed is not None:
        record["failed"] = e.failed
    if e.restored_as is not None:
        record["restored_as"] = e.restored_as
    return json_line(record, separators=(", ", ": "))


def _skipped_note(skipped: int) -> str:
    if not skipped:
        return ""
    lines = "line" if skipped == 1 else "lines"
    return f"\n({skipped} damaged {lines} skipped: cut short by a crash or edited by hand)"


async def journal_restore(
    address: str | None,
    path: str | os.PathLike[str] | None,
    selectors: Sequence[str],
    *,
    tube: str | None = None,
    dry_run: bool = False,
    again: bool = False,
    check_writable: Callable[[str], None] | None = None,
) -> RestoreReport:
    """Restore selected entries to ``address`` (None: each entry's own server).

    Raises :class:`SelectorError` for a bad selector, ValueError for a bad
    ``tube`` name, and the client's connection errors (which name the address).
    ``check_writable`` is called with every server to be written before the
    first write, and raises to refuse (a server saved read-only).
    """
    if tube is not None:
        check_tube(tube)
    journal = Journal(path)
    entries = journal.entries()
    if not entries and journal.skipped_lines:
        raise SelectorError(
            f"the journal {journal.path} has no readable entry: "
            f"{_all_damaged(journal.skipped_lines)} (cut short by a crash or edited by hand)"
        )
    chosen = select_entries(entries, selectors)
    groups: dict[str, list[JournalEntry]] = {}
    for entry in chosen:
        groups.setdefault(address or entry.server, []).append(entry)
    report = RestoreReport(dry_run=dry_run)
    if check_writable is not None and not dry_run:
        for server in groups:
            check_writable(server)
    for server, group in groups.items():
        if dry_run:
            part = plan_restore(group, tube=tube, again=again)
        else:
            async with Client(server, encoding=None) as client:
                part = await restore(client, group, tube=tube, journal=journal, again=again)
        report.results.extend(part.results)
    order = {id(e): n for n, e in enumerate(chosen)}
    report.results.sort(key=lambda r: order[id(r.entry)])
    return report
