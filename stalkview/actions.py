"""Safe job operations: move, delete, kick, pause, put, and reserve sessions.

Pure asyncio on :mod:`stalkview.client`; the app wires forms and keys to these
functions, the CLI calls them too. Never imports textual.

Which connection to use: every function here that needs ``use`` sends
``list-tube-used`` first and puts the connection back on its previous tube
afterwards, so a caller's used tube is unchanged when the call returns. A
connection can only use one tube at a time, though, so *give actions a
dedicated Client*: commands another task sends on the same connection while
an action runs would go to the action's tube. Reserving always happens on a
connection of its own (:class:`ReserveSession`).

Failures of single operations raise :class:`ActionError`, whose message says
what happened and what to do. Bulk operations never raise for a job's
failure: they return a :class:`BulkReport` with a reason per job.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Coroutine, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from stalkview import format
from stalkview.client import (
    BeanstalkConnectionError,
    BuriedError,
    Client,
    DeadlineSoonError,
    DrainingError,
    Error,
    InternalError,
    JobTooBigError,
    NotFoundError,
    OutOfMemoryError,
    TimedOutError,
)
from stalkview.client import commands as cmd
from stalkview.client.address import AddressLike
from stalkview.client.commands import Call, Job
from stalkview.client.protocol import (
    DEFAULT_PRIORITY,
    DEFAULT_TTR,
    MAX_PRIORITY,
    MAX_SECONDS,
    check_tube,
)
from stalkview.journal import Journal, JournalEntry, note, remaining_delay

T = TypeVar("T")

#: ``on_progress(done, total)``: called after every batch.
ProgressCallback = Callable[[int, int], None]

GONE = "already gone (deleted or taken by a worker)"
RESERVED = "reserved by a worker; try again when it is released"
GONE_OR_RESERVED = "reserved by a worker or already gone"
NOT_KICKABLE = "not buried or delayed (or already gone)"
#: Copies of buried jobs are put delayed this long, so no worker can take them
#: in the moment before they are buried again; the delay never runs out.
HIDE_DELAY = MAX_SECONDS


class ActionError(Exception):
    """A single operation failed; the message says what happened and what to do."""


class JournalWriteError(ActionError):
    """The journal could not be written, so the destructive command was not sent."""


# --- low-level helpers -----------------------------------------------------------


def raw_call(call: Call[T]) -> Call[T]:
    """The call decoding job bodies as bytes whatever the client's encoding.

    Bodies are untrusted bytes: a utf-8 client would fail on a binary body.
    """
    decode = call.decode
    return Call(call.line, lambda reply, _encoding: decode(reply, None), call.state)


async def run_in_tube(client: Client, tube: str, calls: Sequence[Call[Any]]) -> list[Any]:
    """Run calls while the connection uses ``tube``, then put it back on its previous tube.

    ``use`` goes out (and must succeed) before the calls, so they can never land
    in the previous tube. Results as :meth:`Client.run_many` gives them.
    """
    head = await client.run_many([cmd.LIST_TUBE_USED, cmd.use(tube)], raise_on_error=True)
    previous = str(head[0])
    tail = [cmd.use(previous)] if previous != tube else []
    results = await client.run_many([*calls, *tail])
    if tail and isinstance(results[-1], BaseException):
        raise results[-1]
    return results[: len(calls)]


def plain_reason(exc: BaseException, verb: str = "command") -> str:
    """A server or connection error in plain words: what happened and what to do."""
    if isinstance(exc, NotFoundError):
        return GONE
    if isinstance(exc, DrainingError):
        return "the server is in drain mode and takes no new jobs; use another server or restart it"
    if isinstance(exc, JobTooBigError):
        return (
            "the body is larger than the server's max-job-size; shorten it or raise beanstalkd -z"
        )
    if isinstance(exc, OutOfMemoryError):
        return "the server is out of memory; delete jobs to free some and try again"
    if isinstance(exc, BuriedError):
        return "the server ran out of memory and buried the job"
    if isinstance(exc, InternalError):
        return "the server reported an internal error; check its log"
    if isinstance(exc, BeanstalkConnectionError):
        return f"the connection was lost ({exc}); check whether the {verb} happened"
    return f"{verb} failed: {exc or type(exc).__name__}"


def job_message(job_id: int, reason: str) -> str:
    """A reason from a report as a sentence about one job."""
    if reason.startswith(("reserved", "already", "not ")):
        return f"job {job_id} is {reason}"
    return f"job {job_id}: {reason}"


def _check_tube(tube: str) -> None:
    try:
        check_tube(tube)
    except (ValueError, TypeError) as exc:
        raise ActionError(str(exc)) from None


def _append(journal: Journal, records: Iterable[JournalEntry | dict[str, Any]]) -> None:
    try:
        journal.append(records)
    except OSError as exc:
        raise JournalWriteError(
            f"could not write the journal {journal.path} ({exc.strerror or exc}); nothing was "
            "changed. Free disk space or fix its permissions, or set STALKVIEW_JOURNAL to "
            "another file"
        ) from exc


# --- bulk reports and batching ---------------------------------------------------------

_PAST = {"delete": "deleted", "move": "moved", "kick": "kicked"}


@dataclass
class BulkReport:
    """What a bulk action did: succeeded ids, failed ids with a reason each."""

    action: str
    total: int = 0
    #: What the ids are, for the summary: "buried jobs in emails".
    what: str = "jobs"
    succeeded: list[int] = field(default_factory=list)
    failed: dict[int, str] = field(default_factory=dict)
    cancelled: bool = False
    #: Why the action stopped early (connection lost, journal not writable).
    aborted: str | None = None
    #: Moves: original id -> id of the copy.
    new_ids: dict[int, int] = field(default_factory=dict)

    @property
    def done(self) -> int:
        return len(self.succeeded) + len(self.failed)

    @property
    def not_attempted(self) -> int:
        return self.total - self.done

    def summary(self) -> str:
        """E.g. "deleted 312 of 314 buried jobs in emails; 2 failed: already gone"."""
        verb = _PAST.get(self.action, self.action)
        text = f"{verb} {len(self.succeeded)} of {self.total} {self.what}"
        if self.failed:
            text += f"; {len(self.failed)} failed: {_group_reasons(self.failed.values())}"
        if self.aborted:
            text += f"; stopped: {self.aborted}"
        elif self.cancelled:
            text += "; cancelled"
        if self.not_attempted:
            text += f" ({self.not_attempted} not attempted)"
        return text


def _short(reason: str) -> str:
    return reason.split(" (")[0].split(";")[0]


def _group_reasons(reasons: Iterable[str]) -> str:
    counts: dict[str, int] = {}
    for reason in reasons:
        counts[_short(reason)] = counts.get(_short(reason), 0) + 1
    if len(counts) == 1:
        return next(iter(counts))
    return ", ".join(f"{n} {reason}" for reason, n in sorted(counts.items(), key=lambda kv: -kv[1]))


async def _finish_even_if_cancelled(coro: Coroutine[Any, Any, None]) -> None:
    """Run a batch to its end: once its commands are on the wire, stopping halfway
    would leave jobs held or the journal without the outcome. A cancel is
    honoured as soon as the batch is done."""
    task = asyncio.ensure_future(coro)
    try:
        await asyncio.shield(task)
    except asyncio.CancelledError:
        await asyncio.wait([task])
        if not task.cancelled():
            task.exception()  # retrieved so it is not reported as lost
        raise


async def _run_batches(
    report: BulkReport,
    ids: Iterable[int],
    batch_size: int,
    on_progress: ProgressCallback | None,
    cancel: asyncio.Event | None,
    do_batch: Callable[[list[int]], Awaitable[None]],
) -> BulkReport:
    unique = list(dict.fromkeys(ids))
    report.total = len(unique)
    for start in range(0, len(unique), max(1, batch_size)):
        if cancel is not None and cancel.is_set():
            report.cancelled = True
            break
        chunk = unique[start : start + batch_size]

        async def run(chunk: list[int] = chunk) -> None:
            await do_batch(chunk)

        try:
            await _finish_even_if_cancelled(run())
        except BeanstalkConnectionError as exc:
            for jid in chunk:
                if jid not in report.failed and jid not in report.succeeded:
                    report.failed[jid] = (
                        "unknown (the connection was lost before the server answered); "
                        "check whether the job still exists"
                    )
            report.aborted = f"connection lost: {exc}"
        except JournalWriteError as exc:
            report.aborted = str(exc)
        if on_progress is not None:
            on_progress(report.done, report.total)
        if report.aborted:
            break
    return report


# --- delete ---------------------------------------------------------------------


def _inspect_problem(job: Any, stats: Any) -> str | None:
    """Why a job cannot be acted on, from its peek/stats-job replies; None if it can."""
    if isinstance(stats, NotFoundError):
        return GONE
    if isinstance(stats, BaseException):
        return plain_reason(stats, "stats-job")
    if stats.get("state") == "reserved":
        return RESERVED
    if isinstance(job, BaseException):
        return GONE if isinstance(job, NotFoundError) else plain_reason(job, "peek")
    return None


async def delete_jobs(
    client: Client,
    ids: Iterable[int],
    *,
    journal: Journal,
    server_label: str | None = None,
    on_progress: ProgressCallback | None = None,
    cancel: asyncio.Event | None = None,
    batch_size: int = 500,
    what: str = "jobs",
) -> BulkReport:
    """Delete jobs, journaling each one before its delete is sent.

    Per batch: peek + stats-job pipelined, journal, delete pipelined. Jobs held
    by a worker are left alone. ``cancel`` (or cancelling the task) stops at
    the next batch boundary; ``what`` describes the ids for the summary.
    """
    server = server_label or str(client.address)
    report = BulkReport("delete", what=what)

    async def batch(chunk: list[int]) -> None:
        calls: list[Call[Any]] = []
        for jid in chunk:
            calls += [raw_call(cmd.peek(jid)), cmd.stats_job(jid)]
        replies = await client.run_many(calls)
        entries = []
        for n, jid in enumerate(chunk):
            job, stats = replies[2 * n], replies[2 * n + 1]
            problem = _inspect_problem(job, stats)
            if problem is not None:
                report.failed[jid] = problem
            else:
                entries.append(JournalEntry.from_job("delete", server, jid, job.body, stats))
        if not entries:
            return
        _append(journal, entries)
        results = await client.run_many([cmd.delete(e.id) for e in entries])
        notes = []
        for entry, result in zip(entries, results, strict=True):
            if isinstance(result, BaseException):
                reason = (
                    GONE_OR_RESERVED
                    if isinstance(result, NotFoundError)
                    else plain_reason(result, "delete")
                )
                report.failed[entry.id] = reason
                notes.append(note("failed", entry, reason=reason))
            else:
                report.succeeded.append(entry.id)
        if notes:
            _append(journal, notes)

    return await _run_batches(report, ids, batch_size, on_progress, cancel, batch)


# --- kick --------------------------------------------------------------------------


async def kick_jobs(
    client: Client,
    ids: Iterable[int],
    *,
    on_progress: ProgressCallback | None = None,
    cancel: asyncio.Event | None = None,
    batch_size: int = 500,
    what: str = "jobs",
) -> BulkReport:
    """``kick-job`` each id (buried or delayed jobs become ready)."""
    report = BulkReport("kick", what=what)

    async def batch(chunk: list[int]) -> None:
        results = await client.run_many([cmd.kick_job(jid) for jid in chunk])
        for jid, result in zip(chunk, results, strict=True):
            if isinstance(result, NotFoundError):
                report.failed[jid] = NOT_KICKABLE
            elif isinstance(result, BaseException):
                report.failed[jid] = plain_reason(result, "kick")
            else:
                report.succeeded.append(jid)

    return await _run_batches(report, ids, batch_size, on_progress, cancel, batch)


async def _require_tube(client: Client, tube: str, doing: str) -> None:
    _check_tube(tube)
    if tube not in await client.tubes():
        raise ActionError(
            f"tube {tube!r} does not exist (an empty, unused tube vanishes): nothing to {doing}"
        )


async def kick_tube(client: Client, tube: str, bound: int) -> int:
    """Kick up to ``bound`` jobs of ``tube`` (buried ones, else delayed ones); return how many.

    Never creates the tube: it must be in ``list-tubes``.
    """
    if isinstance(bound, bool) or not isinstance(bound, int) or not 0 <= bound <= MAX_SECONDS:
        raise ActionError(
            f"kick bound {bound!r} is invalid: use a whole number from 0 to {MAX_SECONDS}"
        )
    await _require_tube(client, tube, "kick")
    (result,) = await run_in_tube(client, tube, [cmd.kick(bound)])
    if isinstance(result, BaseException):
        raise ActionError(f"kick in {tube!r} failed: {plain_reason(result, 'kick')}")
    return int(result)


async def pause_tube(client: Client, tube: str, seconds: int) -> None:
    """Pause ``tube`` for ``seconds`` (0 unpauses it)."""
    _check_tube(tube)
    if isinstance(seconds, bool) or not isinstance(seconds, int) or not 0 <= seconds <= MAX_SECONDS:
        raise ActionError(
            f"pause of {seconds!r} s is invalid: use 0 (unpause) to {MAX_SECONDS} seconds"
        )
    try:
        await client.pause_tube(tube, seconds)
    except NotFoundError:
        raise ActionError(
            f"tube {tube!r} does not exist (an empty, unused tube vanishes): nothing to pause"
        ) from None
    except Error as exc:
        if isinstance(exc, BeanstalkConnectionError):
            raise
        raise ActionError(f"pause of {tube!r} failed: {plain_reason(exc, 'pause')}") from None


async def put_job(
    client: Client,
    tube: str,
    body: bytes | str,
    *,
    pri: int = DEFAULT_PRIORITY,
    delay: int = 0,
    ttr: int = DEFAULT_TTR,
) -> int:
    """Put a job into ``tube`` (created if new); return its id. The used tube is restored."""
    _check_tube(tube)
    data = body.encode("utf-8") if isinstance(body, str) else bytes(body)
    try:
        call = cmd.put(data, pri, delay, ttr)
    except (ValueError, TypeError) as exc:
        raise ActionError(f"job not put: {exc}") from None
    (result,) = await run_in_tube(client, tube, [call])
    if isinstance(result, BaseException):
        raise ActionError(f"job not put into {tube!r}: {plain_reason(result, 'put')}")
    return int(result)


# --- move -------------------------------------------------------------------------


@dataclass
class MoveResult:
    job_id: int
    to_tube: str
    new_id: int
    #: The original's state before the move (the copy is in the same state).
    state: str
    #: Set when the copy exists but something needs the user's attention.
    warning: str | None = None

    @property
    def message(self) -> str:
        text = f"moved job {self.job_id} ({self.state}) to {self.to_tube} as job {self.new_id}"
        return f"{text}; {self.warning}" if self.warning else text


@dataclass
class _Claim:
    entry: JournalEntry
    stats: dict[str, Any]
    body: bytes

    @property
    def id(self) -> int:
        return self.entry.id

    @property
    def buried(self) -> bool:
        return self.stats.get("state") == "buried"


def _give_back(jid: int, stats: dict[str, Any]) -> Call[None]:
    """The command that returns a job we hold to the state its stats show."""
    pri = int(stats.get("pri", DEFAULT_PRIORITY))
    if stats.get("state") == "buried":
        return cmd.bury(jid, pri)
    return cmd.release(jid, pri, remaining_delay(stats))


def _claim_failure(stats: Any, exc: BaseException) -> str:
    if not isinstance(exc, NotFoundError):
        return plain_reason(exc, "reserve-job")
    if isinstance(stats, BaseException):
        return GONE if isinstance(stats, NotFoundError) else plain_reason(stats, "stats-job")
    if stats.get("state") == "reserved":
        return RESERVED
    return GONE_OR_RESERVED


class _Mover:
    """One bulk move; each batch: claim, journal, put copies, delete or give back originals."""

    def __init__(
        self,
        client: Client,
        to_tube: str,
        journal: Journal,
        server: str,
        report: BulkReport,
        bury_copies: bool,
    ) -> None:
        self.client = client
        self.to_tube = to_tube
        self.journal = journal
        self.server = server
        self.report = report
        self.bury_copies = bury_copies
        #: Original id -> its state before the move.
        self.states: dict[int, str] = {}

    async def batch(self, chunk: list[int]) -> None:
        claims = await self._claim(chunk)
        if not claims:
            return
        try:
            _append(self.journal, [c.entry for c in claims])
        except JournalWriteError:
            await self._give_back_all(claims, "not moved: the journal could not be written")
            raise
        try:
            new_ids = await self._put_copies(claims)
        except Error as exc:
            if isinstance(exc, BeanstalkConnectionError):
                raise
            reason = f"not moved: {plain_reason(exc, 'use')}"
            await self._give_back_all(claims, reason)
            _append(self.journal, [note("failed", c.entry, reason=reason) for c in claims])
            return
        await self._settle(claims, new_ids)

    async def _claim(self, chunk: list[int]) -> list[_Claim]:
        # stats-job first, in the same write: after reserve-job the state and the
        # remaining delay are gone.
        calls: list[Call[Any]] = []
        for jid in chunk:
            calls += [cmd.stats_job(jid), raw_call(cmd.reserve_job(jid))]
        replies = await self.client.run_many(calls)
        claims: list[_Claim] = []
        strays: list[tuple[int, dict[str, Any], str]] = []
        for n, jid in enumerate(chunk):
            stats, job = replies[2 * n], replies[2 * n + 1]
            if isinstance(job, BaseException):
                self.report.failed[jid] = _claim_failure(stats, job)
            elif isinstance(stats, BaseException) or stats.get("state") == "reserved":
                # A worker let go of it between our two commands: its state
                # before is unknown, so put it back as ready.
                known = stats if isinstance(stats, dict) else {}
                strays.append(
                    (
                        jid,
                        {"pri": known.get("pri", DEFAULT_PRIORITY), "state": "ready"},
                        "changed state during the move (a worker released it); try again",
                    )
                )
            elif stats.get("tube") == self.to_tube:
                strays.append((jid, stats, f"already in tube {self.to_tube}"))
            else:
                assert isinstance(job, Job)
                entry = JournalEntry.from_job(
                    "move", self.server, jid, job.body, stats, to_tube=self.to_tube
                )
                claims.append(_Claim(entry, stats, job.body))
                self.states[jid] = entry.state
        if strays:
            await self.client.run_many([_give_back(jid, stats) for jid, stats, _ in strays])
            for jid, _, reason in strays:
                self.report.failed[jid] = reason
        return claims

    async def _put_copies(self, claims: list[_Claim]) -> list[Any]:
        calls = []
        for c in claims:
            hide = c.buried and self.bury_copies
            delay = HIDE_DELAY if hide else c.entry.delay
            calls.append(cmd.put(c.body, c.entry.pri, delay, c.entry.ttr))
        return await run_in_tube(self.client, self.to_tube, calls)

    async def _settle(self, claims: list[_Claim], new_ids: list[Any]) -> None:
        calls: list[Call[Any]] = []
        plan: list[tuple[_Claim, Any, slice]] = []
        for claim, new_id in zip(claims, new_ids, strict=True):
            start = len(calls)
            if isinstance(new_id, BaseException):
                calls.append(_give_back(claim.id, claim.stats))
            else:
                if claim.buried and self.bury_copies:
                    calls += [raw_call(cmd.reserve_job(new_id)), cmd.bury(new_id, claim.entry.pri)]
                calls.append(cmd.delete(claim.id))
            plan.append((claim, new_id, slice(start, len(calls))))
        results = await self.client.run_many(calls)
        notes = []
        for claim, new_id, where in plan:
            outcome = results[where]
            if isinstance(new_id, BaseException):
                reason = self._put_failed(claim, new_id, outcome[0])
                self.report.failed[claim.id] = reason
                notes.append(note("failed", claim.entry, reason=reason))
            else:
                self._record_copy(claim, int(new_id), outcome)
        if notes:
            _append(self.journal, notes)

    def _put_failed(self, claim: _Claim, exc: BaseException, given_back: Any) -> str:
        reason = f"could not put the copy into {self.to_tube}: {plain_reason(exc, 'put')}"
        state = claim.stats.get("state", "ready")
        if isinstance(given_back, BaseException):
            return (
                f"{reason}; it could not be given back either: "
                "it returns to ready when this connection closes"
            )
        return f"{reason}; the job is back as it was ({state})"

    def _record_copy(self, claim: _Claim, new_id: int, outcome: list[Any]) -> None:
        self.report.new_ids[claim.id] = new_id
        deleted = outcome[-1]
        problems = []
        if any(isinstance(r, BaseException) for r in outcome[:-1]):
            problems.append(
                f"the copy (job {new_id}) could not be buried again: check it in {self.to_tube}"
            )
        if isinstance(deleted, BaseException):
            problems.append(
                f"copied as job {new_id} but the original could not be deleted "
                f"({plain_reason(deleted, 'delete')}): it may run twice; delete job {claim.id} "
                "if it still exists"
            )
        if problems:
            self.report.failed[claim.id] = "; ".join(problems)
        else:
            self.report.succeeded.append(claim.id)

    async def _give_back_all(self, claims: list[_Claim], reason: str) -> None:
        await self.client.run_many([_give_back(c.id, c.stats) for c in claims])
        for c in claims:
            self.report.failed[c.id] = reason


async def move_jobs(
    client: Client,
    ids: Iterable[int],
    to_tube: str,
    *,
    journal: Journal,
    server_label: str | None = None,
    on_progress: ProgressCallback | None = None,
    cancel: asyncio.Event | None = None,
    batch_size: int = 100,
    bury_copies: bool = True,
    what: str = "jobs",
) -> BulkReport:
    """Move jobs to ``to_tube`` without losing or doubling any (see :func:`move_job`).

    ``report.new_ids`` maps each original id to its copy. Batches are small
    because a batch's jobs are held (reserved) until their copies are put.
    """
    _check_tube(to_tube)
    report = BulkReport("move", what=f"{what} to {to_tube}")
    mover = _Mover(
        client, to_tube, journal, server_label or str(client.address), report, bury_copies
    )
    return await _run_batches(report, ids, batch_size, on_progress, cancel, mover.batch)


async def move_job(
    client: Client,
    job_id: int,
    to_tube: str,
    *,
    journal: Journal,
    server_label: str | None = None,
    bury_copies: bool = True,
) -> MoveResult:
    """Move one job to ``to_tube`` keeping its body, priority, ttr, remaining delay and state.

    The original is claimed with ``reserve-job`` (works on ready, delayed and
    buried jobs; no worker can take it meanwhile) after its stats are read,
    journaled, copied into ``to_tube``, then deleted. If the copy cannot be
    put, the original is given back as it was (released with its priority and
    remaining delay, or buried again). A buried job's copy is buried too unless
    ``bury_copies`` is False; it is put with a delay it never reaches (its
    stats-job ``delay`` shows that) so no worker can take it before the bury.

    Raises :class:`ActionError` when nothing was moved, e.g. "job 42 is
    reserved by a worker; try again when it is released".
    """
    _check_tube(to_tube)
    report = BulkReport("move", what=f"jobs to {to_tube}")
    mover = _Mover(
        client, to_tube, journal, server_label or str(client.address), report, bury_copies
    )
    await _run_batches(report, [job_id], 1, None, None, mover.batch)
    if report.aborted and not report.new_ids:
        raise ActionError(f"job {job_id} was not moved: {report.aborted}")
    new_id = report.new_ids.get(job_id)
    if new_id is None:
        raise ActionError(job_message(job_id, report.failed.get(job_id, "not moved")))
    state = mover.states.get(job_id, "unknown")
    return MoveResult(job_id, to_tube, new_id, state, warning=report.failed.get(job_id))


# --- the put form -------------------------------------------------------------------


@dataclass(frozen=True)
class ParsedPut:
    tube: str
    body: bytes
    pri: int
    delay: int
    ttr: int


def parse_duration(text: str) -> int | None:
    """Whole seconds from "90", "30s", "5m", "2h", "1d" or "1h30m"; None if it is not a duration."""
    seconds = format.parse_duration(text)
    return None if seconds is None or seconds != int(seconds) else int(seconds)


def _parse_priority(text: str) -> tuple[int | None, str | None]:
    value = text.strip()
    hint = (
        f"use a whole number from 0 (most urgent) to {MAX_PRIORITY}; "
        f"the usual default is {DEFAULT_PRIORITY}"
    )
    if not value:
        return None, f"priority is empty: {hint}"
    if value.startswith("-") and value[1:].isdigit():
        return None, f"priority {value} is negative: {hint}"
    if not value.isdigit():
        return None, f"priority {value!r} is not a whole number: {hint}"
    if int(value) > MAX_PRIORITY:
        return None, f"priority {value} is too large: {hint}"
    return int(value), None


def _parse_seconds(
    name: str, text: str, minimum: int, default: str
) -> tuple[int | None, str | None]:
    value = text.strip()
    hint = f"use seconds (30) or a duration such as 30s, 5m, 2h, 1d; the usual default is {default}"
    if not value:
        return None, f"{name} is empty: {hint}"
    if value.startswith("-"):
        return None, f"{name} {value} is negative: {hint}"
    seconds = parse_duration(value)
    if seconds is None:
        return None, f"{name} {value!r} is not a duration: {hint}"
    if seconds > MAX_SECONDS:
        return (
            None,
            f"{name} {value} is too long: the most is {MAX_SECONDS} seconds (about 136 years)",
        )
    if seconds < minimum:
        return (
            None,
            f"{name} {value} is too short: the server treats it as 1 second; use at least 1s",
        )
    return seconds, None


def validate_put_form(
    tube: str,
    body: str | bytes,
    pri: str,
    delay: str,
    ttr: str,
    max_job_size: int | None = None,
) -> tuple[ParsedPut | None, dict[str, str]]:
    """Check a put form; return (parsed, {}) or (None, {field: message}).

    Fields are "tube", "body", "pri", "delay", "ttr". ``max_job_size`` is the
    server's ``max-job-size`` from ``stats`` (None: not checked).
    """
    errors: dict[str, str] = {}
    try:
        check_tube(tube)
    except (ValueError, TypeError) as exc:
        errors["tube"] = str(exc)
    data = body.encode("utf-8") if isinstance(body, str) else bytes(body)
    if max_job_size is not None and len(data) > max_job_size:
        errors["body"] = (
            f"body is {len(data):,} bytes but the server accepts at most {max_job_size:,} "
            "(its max-job-size): shorten it"
        )
    priority, problem = _parse_priority(pri)
    if problem:
        errors["pri"] = problem
    delay_s, problem = _parse_seconds("delay", delay, 0, "0")
    if problem:
        errors["delay"] = problem
    ttr_s, problem = _parse_seconds("ttr", ttr, 1, f"{DEFAULT_TTR}s")
    if problem:
        errors["ttr"] = problem
    if errors:
        return None, errors
    assert priority is not None and delay_s is not None and ttr_s is not None
    return ParsedPut(tube, data, priority, delay_s, ttr_s), {}


# --- reserve sessions -------------------------------------------------------------------


@dataclass
class HeldJob:
    """A job a :class:`ReserveSession` holds. Times are ``time.monotonic()`` seconds."""

    id: int
    tube: str
    body: bytes
    pri: int
    ttr: int
    deadline: float
    #: The job's ``reserves`` count while we hold it: a different count means
    #: the TTR ran out and someone else reserved it since.
    reserves: int = 0
    #: The server answered DEADLINE_SOON while this job was the one closest to its deadline.
    server_warned: bool = False

    def seconds_left(self, now: float | None = None) -> float:
        return self.deadline - (time.monotonic() if now is None else now)

    @property
    def deadline_soon(self) -> bool:
        """True within the last second of the TTR (the server's own safety margin)."""
        return self.server_warned or self.seconds_left() <= 1.0

    @property
    def expired(self) -> bool:
        """The TTR ran out: the server has put the job back to ready."""
        return self.seconds_left() <= 0


class ReserveSession:
    """Reserve and handle jobs on a connection of its own, so the rest of the app keeps refreshing.

    Jobs held are in :attr:`held`, with a deadline for a live TTR countdown.
    Closing the session (or losing its connection) gives every held job back:
    the server puts them back to ready. A blocking :meth:`reserve_from` occupies
    the connection, so touch/release/... wait until it returns: keep its
    timeout short.

    With a ``journal``, :meth:`delete` journals the job before deleting it.
    """

    def __init__(
        self,
        address: AddressLike,
        *,
        journal: Journal | None = None,
        server_label: str | None = None,
        connect_timeout: float | None = 10.0,
    ) -> None:
        self.client = Client(address, encoding=None, connect_timeout=connect_timeout)
        self.journal = journal
        self.server_label = server_label or str(self.client.address)
        self.held: dict[int, HeldJob] = {}
        self._background: set[asyncio.Task[Any]] = set()

    async def open(self) -> None:
        await self.client.open()

    async def close(self) -> None:
        """Close the connection; the server gives every held job back to ready."""
        await self.client.close()
        self.held.clear()

    async def __aenter__(self) -> ReserveSession:
        await self.open()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    # --- getting jobs ----------------------------------------------------------

    async def reserve_from(self, tube: str, timeout: int) -> HeldJob | None:
        """Reserve the next job of ``tube``, waiting at most ``timeout`` seconds; None if none came.

        Watches only ``tube`` while it waits and goes back to watching
        ``default`` afterwards, so the tube is not kept alive or shown as
        consumed. Raises :class:`ActionError` when the tube does not exist or a
        held job is about to pass its TTR (DEADLINE_SOON).
        """
        await _require_tube(self.client, tube, "reserve")
        if tube != "default":
            await self.client.run_many(
                [cmd.watch(tube), cmd.ignore("default")], raise_on_error=True
            )
        try:
            job = await self.client.reserve(timeout)
            reserved_at = time.monotonic()
        except asyncio.CancelledError:
            self._unwatch_later(tube)
            raise
        except (TimedOutError, DeadlineSoonError) as exc:
            await self._unwatch(tube)
            if isinstance(exc, TimedOutError):
                return None
            raise ActionError(await self._deadline_soon_message()) from None
        await self._unwatch(tube)
        return await self._hold(job, reserved_at)

    def _unwatch_calls(self, tube: str) -> list[Call[int]]:
        if tube == "default" or not self.client.connected:
            return []
        return [cmd.watch("default"), cmd.ignore(tube)]

    async def _unwatch(self, tube: str) -> None:
        calls = self._unwatch_calls(tube)
        if calls:
            await self.client.run_many(calls)

    def _unwatch_later(self, tube: str) -> None:
        # The cancelled reserve still occupies the connection: these calls queue
        # behind it and must not block the caller who cancelled.
        calls = self._unwatch_calls(tube)
        if calls:
            task = asyncio.ensure_future(self.client.run_many(calls))
            self._background.add(task)
            task.add_done_callback(self._background.discard)

    async def _hold(self, job: Job, reserved_at: float) -> HeldJob:
        stats = await self.client.stats_job(job.id)
        return self._held(job, stats, reserved_at, int(stats["reserves"]))

    def _held(self, job: Job, stats: dict[str, Any], reserved_at: float, reserves: int) -> HeldJob:
        # The countdown runs from our own clock: stats-job's time-left is
        # rounded down to whole seconds.
        held = HeldJob(
            id=job.id,
            tube=str(stats["tube"]),
            body=bytes(job.body),
            pri=int(stats["pri"]),
            ttr=int(stats["ttr"]),
            deadline=reserved_at + int(stats["ttr"]),
            reserves=reserves,
        )
        self.held[job.id] = held
        return held

    async def reserve_job(self, job_id: int) -> HeldJob:
        """Reserve a job by id (ready, delayed or buried)."""
        if job_id in self.held:
            return self.held[job_id]
        started = time.monotonic()
        stats, job = await self.client.run_many([cmd.stats_job(job_id), cmd.reserve_job(job_id)])
        if isinstance(job, BaseException):
            raise ActionError(job_message(job_id, _claim_failure(stats, job)))
        if isinstance(stats, BaseException):
            return await self._hold(job, started)
        return self._held(job, stats, started, int(stats["reserves"]) + 1)

    async def _deadline_soon_message(self) -> str:
        await self.refresh()
        if self.held:
            closest = min(self.held.values(), key=lambda h: h.deadline)
            closest.server_warned = True
            return (
                f"job {closest.id} you hold is about to pass its TTR: touch, release, bury or "
                "delete it before reserving another"
            )
        return "a job you hold is about to pass its TTR: handle it before reserving another"

    async def refresh(self) -> list[int]:
        """Drop the jobs this session no longer holds (TTR ran out); return their ids."""
        ids = list(self.held)
        if not ids:
            return []
        replies = await self.client.run_many([cmd.stats_job(jid) for jid in ids])
        dropped = []
        for jid, stats in zip(ids, replies, strict=True):
            if (
                isinstance(stats, BaseException)
                or stats.get("state") != "reserved"
                or stats.get("reserves") != self.held[jid].reserves
            ):
                del self.held[jid]
                dropped.append(jid)
        return dropped

    # --- handling held jobs -------------------------------------------------------

    def _get(self, job_id: int) -> HeldJob:
        held = self.held.get(job_id)
        if held is None:
            raise ActionError(f"job {job_id} is not held by this session: reserve it first")
        return held

    async def _act(self, held: HeldJob, call: Call[None], verb: str) -> None:
        try:
            await self.client.run_many([call], raise_on_error=True)
        except NotFoundError:
            self.held.pop(held.id, None)
            raise ActionError(
                f"job {held.id} is no longer held: its TTR ran out and the server gave it back "
                f"to the queue, so it was not {verb}"
            ) from None
        except Error as exc:
            if isinstance(exc, BeanstalkConnectionError):
                self.held.clear()  # the server gives them all back when the connection goes
                raise
            raise ActionError(f"job {held.id} was not {verb}: {plain_reason(exc, verb)}") from None

    async def delete(self, job_id: int) -> None:
        held = self._get(job_id)
        entry = None
        if self.journal is not None:
            stats = {"tube": held.tube, "pri": held.pri, "ttr": held.ttr, "state": "reserved"}
            entry = JournalEntry.from_job("delete", self.server_label, job_id, held.body, stats)
            _append(self.journal, [entry])
        try:
            await self._act(held, cmd.delete(job_id), "deleted")
        except ActionError as exc:
            if entry is not None and self.journal is not None:
                _append(self.journal, [note("failed", entry, reason=str(exc))])
            raise
        self.held.pop(job_id, None)

    async def release(self, job_id: int, *, pri: int | None = None, delay: int = 0) -> None:
        """Give the job back to ready (or delayed by ``delay``) with ``pri`` or its own priority."""
        held = self._get(job_id)
        try:
            call = cmd.release(job_id, held.pri if pri is None else pri, delay)
        except (ValueError, TypeError) as exc:
            raise ActionError(f"job {job_id} was not released: {exc}") from None
        await self._act(held, call, "released")
        self.held.pop(job_id, None)

    async def bury(self, job_id: int, *, pri: int | None = None) -> None:
        held = self._get(job_id)
        try:
            call = cmd.bury(job_id, held.pri if pri is None else pri)
        except (ValueError, TypeError) as exc:
            raise ActionError(f"job {job_id} was not buried: {exc}") from None
        await self._act(held, call, "buried")
        self.held.pop(job_id, None)

    async def touch(self, job_id: int) -> HeldJob:
        """Ask for more time: the TTR countdown starts again."""
        held = self._get(job_id)
        await self._act(held, cmd.touch(job_id), "touched")
        held.deadline = time.monotonic() + held.ttr
        held.server_warned = False
        return held
