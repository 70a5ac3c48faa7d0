"""Safe job operations: move, delete, kick, pause and put.

Pure asyncio on :mod:`stalkview.client`, built on the shared pieces of
:mod:`stalkview.ops`; the app's job actions (:mod:`stalkview.app.job_actions`)
and :mod:`stalkview.reserve` call these functions. Never imports textual.

Which connection to use: every function here that needs ``use`` sends
``list-tube-used`` first and puts the connection back on its previous tube
afterwards, so a caller's used tube is unchanged when the call returns. A
connection can only use one tube at a time, though, so *give actions a
dedicated Client*: commands another task sends on the same connection while
an action runs would go to the action's tube. Reserving always happens on a
connection of its own (:class:`stalkview.reserve.ReserveSession`).

Failures of single operations raise :class:`ActionError`, whose message says
what happened and what to do. Bulk operations never raise for a job's
failure: they return a :class:`BulkReport` with a reason per job.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from stalkview.client import BeanstalkConnectionError, Client, Error, NotFoundError
from stalkview.client import commands as cmd
from stalkview.client.commands import Call, Job
from stalkview.client.protocol import DEFAULT_PRIORITY, DEFAULT_TTR, MAX_SECONDS, check_tube
from stalkview.journal import Journal, JournalEntry, note, remaining_delay
from stalkview.ops import (
    GONE,
    GONE_OR_RESERVED,
    HIDE_DELAY,
    NOT_KICKABLE,
    RESERVED,
    ActionError,
    BulkReport,
    JournalWriteError,
    ProgressCallback,
    bury_parked,
    find_puts,
    job_message,
    plain_reason,
    raw_call,
    reconnect,
    run_batches,
    run_in_tube,
)

# --- low-level helpers -----------------------------------------------------------


def _check_tube(tube: str) -> None:
    """Raise :class:`ActionError` saying why ``tube`` is not a valid tube name."""
    try:
        check_tube(tube)
    except (ValueError, TypeError) as exc:
        raise ActionError(str(exc)) from None


async def append_journal(
    journal: Journal, records: Iterable[JournalEntry | dict[str, Any]]
) -> None:
    """Append to the journal, or raise :class:`JournalWriteError`: the command must not go out.

    The write and its fsync run in a thread, so the event loop (a UI) keeps
    answering while the disk works; the caller still waits for it before
    sending the command.
    """
    batch = list(records)
    try:
        await asyncio.to_thread(journal.append, batch)
    except OSError as exc:
        raise JournalWriteError(
            f"could not write the journal {journal.path} ({exc.strerror or exc}); nothing was "
            "changed. Free disk space or fix its permissions, or set STALKVIEW_JOURNAL to "
            "another file"
        ) from exc


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
    report = BulkReport("delete", what=what, uncertain_note="journaled, restorable")
    #: The entries journaled in the current batch: a delete may have been sent for these.
    journaled: dict[int, JournalEntry] = {}

    async def batch(chunk: list[int]) -> None:
        journaled.clear()
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
        await append_journal(journal, entries)
        journaled.update((e.id, e) for e in entries)
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
            await append_journal(journal, notes)

    async def recover(uncertain: list[int]) -> dict[int, str | None]:
        await reconnect(client)
        replies = await client.run_many([cmd.stats_job(jid) for jid in uncertain])
        outcome: dict[int, str | None] = {}
        notes = []
        for jid, stats in zip(uncertain, replies, strict=True):
            entry = journaled.get(jid)
            if isinstance(stats, NotFoundError):
                # Gone: deleted by us if its delete was sent, else by someone else.
                outcome[jid] = None if entry is not None else GONE
            elif isinstance(stats, dict):
                outcome[jid] = NOT_DONE
                if entry is not None:
                    notes.append(note("failed", entry, reason=NOT_DONE))
        if notes:
            await append_journal(journal, notes)
        return outcome

    return await run_batches(report, ids, batch_size, on_progress, cancel, batch, recover)


#: Why a job the lost connection left in doubt turned out untouched.
NOT_DONE = "not done: the connection was lost before the command reached the server (unchanged)"


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

    async def recover(uncertain: list[int]) -> dict[int, str | None]:
        await reconnect(client)
        replies = await client.run_many([cmd.stats_job(jid) for jid in uncertain])
        outcome: dict[int, str | None] = {}
        for jid, stats in zip(uncertain, replies, strict=True):
            if isinstance(stats, NotFoundError):
                outcome[jid] = GONE
            elif isinstance(stats, dict):
                # Still buried or delayed: the kick never arrived.
                waiting = stats.get("state") in ("buried", "delayed")
                outcome[jid] = NOT_DONE if waiting else None
        return outcome

    return await run_batches(report, ids, batch_size, on_progress, cancel, batch, recover)


async def require_tube(client: Client, tube: str, doing: str) -> None:
    """Raise :class:`ActionError` unless ``tube`` exists (checked without creating it)."""
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
    await require_tube(client, tube, "kick")
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


def claim_failure(stats: Any, exc: BaseException) -> str:
    """Why ``reserve-job`` failed, given the ``stats-job`` reply sent just before it."""
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
        # The current batch, for checking it after a lost connection: the
        # journaled claims, the copies whose put was answered, and whether
        # puts went out at all (a copy may then exist with an id never seen).
        self.claimed: dict[int, _Claim] = {}
        self.copies: dict[int, int] = {}
        self.puts_sent = False
        self.chunk: list[int] = []
        #: The highest job id this server has given us: ids only grow, so a
        #: copy put but never answered has a higher one.
        self.highest = 0
        self.copies_seen = False

    async def batch(self, chunk: list[int]) -> None:
        self.claimed.clear()
        self.copies.clear()
        self.puts_sent = False
        self.chunk = chunk
        self.highest = max(self.highest, *chunk)
        claims = await self._claim(chunk)
        if not claims:
            return
        try:
            await append_journal(self.journal, [c.entry for c in claims])
            self.claimed.update((c.id, c) for c in claims)
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
            await append_journal(
                self.journal, [note("failed", c.entry, reason=reason) for c in claims]
            )
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
                self.report.failed[jid] = claim_failure(stats, job)
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
        new_ids: list[Any] = []
        if not self.copies_seen and len(calls) > 1:
            # The first copy alone: its id tells where later copies' ids start,
            # so copies whose put a lost connection left unanswered can be found.
            new_ids = await self._put(claims[:1], calls[:1])
            claims, calls = claims[1:], calls[1:]
        return new_ids + await self._put(claims, calls)

    async def _put(self, claims: list[_Claim], calls: list[Call[Any]]) -> list[Any]:
        self.puts_sent = True
        new_ids = await run_in_tube(self.client, self.to_tube, calls)
        for claim, new_id in zip(claims, new_ids, strict=True):
            if not isinstance(new_id, BaseException):
                self.copies[claim.id] = int(new_id)
                self.highest = max(self.highest, int(new_id))
                self.copies_seen = True
        return new_ids

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
            await append_journal(self.journal, notes)

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

    async def recover(self, uncertain: list[int]) -> dict[int, str | None]:
        """After a lost connection: which moves finished, and undo the half-done ones.

        The server released every job the lost connection held, so a claimed
        original is back but ready: it is put back in its state. A copy of an
        original that still exists is a duplicate and is deleted; so is one
        whose put was sent but never answered, found by its body among the
        ids issued since. A move whose original is gone is done.
        """
        await reconnect(self.client)
        originals = await self.client.run_many([cmd.stats_job(jid) for jid in uncertain])
        unknown = [
            self.claimed[jid]
            for jid, stats in zip(uncertain, originals, strict=True)
            if jid in self.claimed and jid not in self.copies and self.puts_sent
        ]
        found = await self._find_copies(unknown) if unknown else {}
        outcome: dict[int, str | None] = {}
        fixes: list[Call[Any]] = []
        duplicates: list[int] = []
        parked: list[tuple[int, int]] = []
        notes = []
        for jid, stats in zip(uncertain, originals, strict=True):
            claim = self.claimed.get(jid)
            copy = self.copies.get(jid, found.get(jid))
            searched = jid in self.copies or jid in found  # copy known, or proven absent
            if isinstance(stats, NotFoundError):
                if claim is None:
                    outcome[jid] = GONE
                    continue
                if copy is None:
                    outcome[jid] = (
                        "the original is gone and no copy was found: restore it from the journal"
                    )
                    continue
                outcome[jid] = None
                self.report.new_ids[jid] = copy
                if claim.buried and self.bury_copies:
                    parked.append((copy, claim.entry.pri))
                continue
            if not isinstance(stats, dict):
                continue  # the check itself failed: stays uncertain
            if claim is None:
                outcome[jid] = NOT_DONE
                continue
            if claim.stats.get("state") in ("buried", "delayed"):
                fixes += [raw_call(cmd.reserve_job(jid)), _give_back(jid, claim.stats)]
            reason = NOT_DONE
            if copy is not None:
                duplicates.append(copy)
                reason = (
                    f"not moved: the connection was lost mid-move; its copy (job {copy}) "
                    "was deleted and the job is back as it was"
                )
            elif self.puts_sent and not searched:
                continue  # a copy may exist that could not be found: stays uncertain
            outcome[jid] = reason
            notes.append(note("failed", claim.entry, reason=reason))
        if fixes or duplicates:
            await self.client.run_many([*fixes, *(cmd.delete(c) for c in duplicates)])
        await bury_parked(self.client, parked)
        if notes:
            await append_journal(self.journal, notes)
        return outcome

    async def _find_copies(self, claims: list[_Claim]) -> dict[int, int | None]:
        """Copies put but never answered (see :func:`~stalkview.ops.find_puts`); a claim
        maps to None when the search proves it has no copy. Before any copy was
        answered the ids' start is unknown, and nothing is proven."""
        wanted = [(self.to_tube, c.body, c.entry.pri) for c in claims]
        found, conclusive = await find_puts(self.client, self.highest, wanted)
        out: dict[int, int | None] = {claims[n].id: jid for n, jid in found.items()}
        if conclusive and self.copies_seen:
            out.update((c.id, None) for c in claims if c.id not in out)
        return out

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
    report = BulkReport("move", what=f"{what} to {to_tube}", uncertain_note="journaled, restorable")
    mover = _Mover(
        client, to_tube, journal, server_label or str(client.address), report, bury_copies
    )
    return await run_batches(
        report, ids, batch_size, on_progress, cancel, mover.batch, mover.recover
    )


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
    await run_batches(report, [job_id], 1, None, None, mover.batch)
    if report.aborted and not report.new_ids:
        raise ActionError(f"job {job_id} was not moved: {report.aborted}")
    new_id = report.new_ids.get(job_id)
    if new_id is None:
        raise ActionError(job_message(job_id, report.failed.get(job_id, "not moved")))
    state = mover.states.get(job_id, "unknown")
    return MoveResult(job_id, to_tube, new_id, state, warning=report.failed.get(job_id))
