"""The low-level pieces every job operation shares: one home below its users.

:mod:`stalkview.actions`, :mod:`stalkview.journal` (restore) and
:mod:`stalkview.transfer` (import) all run commands in a tube they do not
otherwise use, read bodies as bytes, explain failures in plain words and run
bulk work in batches with an exact report. Those pieces live here so the
modules above import them and never each other. Pure asyncio on
:mod:`stalkview.client`; never imports textual.

Failures of single operations raise :class:`ActionError`, whose message says
what happened and what to do. Bulk operations never raise for a job's
failure: they return a :class:`BulkReport` with a reason per job.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable, Coroutine, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from stalkview.client import (
    BeanstalkConnectionError,
    BuriedError,
    Client,
    DrainingError,
    Error,
    InternalError,
    JobTooBigError,
    NotFoundError,
    OutOfMemoryError,
    ProtocolError,
)
from stalkview.client import commands as cmd
from stalkview.client.commands import Call
from stalkview.client.protocol import MAX_SECONDS

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
#: A delayed job put with a delay this long (~10 years) was parked by stalkview
#: (an import, move or restore puts buried jobs hidden, then buries them) and
#: the bury never came: the operation was interrupted. No one else parks jobs
#: for a decade; such a job must be named, never left silently.
PARKED_DELAY = 10 * 365 * 86400


def is_parked(state: str, delay: int) -> bool:
    """Whether a job (its stats-job state and put delay) was left parked."""
    return state == "delayed" and delay >= PARKED_DELAY


def parked_note(count: int, tubes: Iterable[str], fix: str) -> str:
    """ "3 jobs in emails are parked ..." with what to do about them."""
    names = ", ".join(sorted(set(tubes)))
    noun = "job in" if count == 1 else "jobs in"
    return (
        f"{count:,} {noun} {names} {'is' if count == 1 else 'are'} parked: delayed for "
        f"~136 years by an interrupted import, move or restore; {fix}"
    )


class ActionError(Exception):
    """A single operation failed; the message says what happened and what to do."""


class JournalWriteError(ActionError):
    """The journal could not be written, so the destructive command was not sent."""


# --- running commands -------------------------------------------------------------


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


async def bury_parked(
    client: Client, jobs: Sequence[tuple[int, int]]
) -> list[BaseException | None]:
    """Bury jobs put parked (``HIDE_DELAY``): ``reserve-job`` then ``bury`` with their priority.

    ``jobs`` holds (id, priority) pairs. One result a job: None once buried,
    else the error of the step that failed (the job then stays parked).
    """
    if not jobs:
        return []
    calls: list[Call[Any]] = []
    for jid, pri in jobs:
        calls += [raw_call(cmd.reserve_job(jid)), cmd.bury(jid, pri)]
    replies = await client.run_many(calls)
    return [
        next((r for r in replies[2 * n : 2 * n + 2] if isinstance(r, BaseException)), None)
        for n in range(len(jobs))
    ]


#: How many ids after the highest known one a search for unanswered puts reads.
PUT_SEARCH = 2048
#: Ids never issued (or gone) at the end of that search that make it conclusive.
PUT_SEARCH_GAP = 256


async def find_puts(
    client: Client, after: int, wanted: Sequence[tuple[str, bytes, int]]
) -> tuple[dict[int, int], bool]:
    """Find jobs whose ``put`` went out but whose reply a lost connection swallowed.

    ``wanted`` holds (tube, body, priority) of each put, in the order sent;
    ``after`` is an id the server issued before them (ids only grow). Returns
    {index in wanted: job id} for the ones found, and whether the search was
    conclusive: the ids read end in a long run of ids not (or no longer) in
    use, so an index not found was never put (or is gone since).
    """
    ids = list(range(after + 1, after + 1 + PUT_SEARCH))
    fields = await client.stats_job_fields(ids)
    last = max((n for n, f in enumerate(fields) if f is not None), default=-1)
    conclusive = len(fields) - 1 - last >= PUT_SEARCH_GAP
    tubes = {tube for tube, _body, _pri in wanted}
    candidates = [
        (int(f[0]), f[1].decode("utf-8", "replace"), int(f[3]))
        for f in fields
        if isinstance(f, tuple) and f[1].decode("utf-8", "replace") in tubes
    ]
    if not candidates:
        return {}, conclusive
    peeks = await client.run_many([raw_call(cmd.peek(jid)) for jid, _t, _p in candidates])
    # Several puts may carry the same job: match them in the order they were sent.
    open_: dict[tuple[str, bytes, int], list[int]] = {}
    for n, key in enumerate(wanted):
        open_.setdefault(key, []).append(n)
    found: dict[int, int] = {}
    for (jid, tube, pri), job in zip(candidates, peeks, strict=True):
        if isinstance(job, BaseException):
            continue
        waiting = open_.get((tube, bytes(job.body), pri))
        if waiting:
            found[waiting.pop(0)] = jid
    return found, conclusive


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
    #: Ids whose outcome a lost connection left unknown and that could not be
    #: checked since (the server stayed unreachable).
    uncertain: list[int] = field(default_factory=list)
    #: What the user can do about the uncertain ones: "journaled, restorable".
    uncertain_note: str = "check them when the server is back"

    @property
    def done(self) -> int:
        return len(self.succeeded) + len(self.failed) + len(self.uncertain)

    @property
    def not_attempted(self) -> int:
        return self.total - self.done

    def summary(self) -> str:
        """E.g. "deleted 312 of 314 buried jobs in emails; 2 failed: already gone"."""
        verb = _PAST.get(self.action, self.action)
        text = f"{verb} {len(self.succeeded)} of {self.total} {_without_count(self.what)}"
        if self.failed:
            text += f"; {len(self.failed)} failed: {_group_reasons(self.failed.values())}"
        if self.uncertain:
            text += f"; uncertain: {len(self.uncertain)} ({self.uncertain_note})"
        if self.aborted:
            text += f"; stopped: {self.aborted}"
        elif self.cancelled:
            text += "; cancelled"
        if self.not_attempted:
            text += f" ({self.not_attempted} not attempted)"
        return text


#: "all 20 ", "5,000 ": the count a phrase starts with, which "N of M" already says.
_LEADING_COUNT = re.compile(r"(?:all )?\d[\d,]* (?=\S)")


def _without_count(what: str) -> str:
    """ "all 20 buried jobs in emails" -> "buried jobs in emails" (the summary says the numbers)."""
    return _LEADING_COUNT.sub("", what, count=1) if _LEADING_COUNT.match(what) else what


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


#: Checks ids whose command a lost connection left in doubt, on a new
#: connection: id -> None (it was done) or why it was not. Ids left out stay
#: uncertain. Raises the client's Error when the server cannot be reached.
Recover = Callable[[list[int]], Awaitable[dict[int, str | None]]]

#: Reconnect attempts after a lost connection, and the pause before each: a
#: server restarted by its supervisor is usually back within a few seconds.
RECONNECT_PAUSES = (0.2, 0.5, 1.0, 2.0)


async def reconnect(client: Client, pauses: Sequence[float] = RECONNECT_PAUSES) -> None:
    """Open a new connection for ``client``, retrying; raise the last failure."""
    failure: Error | None = None
    for pause in pauses:
        await asyncio.sleep(pause)
        try:
            await client.reconnect()
            return
        except Error as exc:
            failure = exc
    assert failure is not None
    raise failure


async def _settle_uncertain(
    report: BulkReport, uncertain: list[int], recover: Recover | None
) -> None:
    """After a lost connection: reconnect and check each id, or say they are uncertain."""
    if recover is None:
        report.uncertain += uncertain
        return
    try:
        outcome = await recover(uncertain)
    except Error as exc:
        report.aborted = f"{report.aborted}; reconnecting failed ({exc})"
        report.uncertain += uncertain
        return
    report.aborted = f"{report.aborted}; reconnected and checked each job in doubt"
    for jid in uncertain:
        if jid not in outcome:
            report.uncertain.append(jid)
        elif outcome[jid] is None:
            report.succeeded.append(jid)
        else:
            report.failed[jid] = outcome[jid] or "not done"


async def run_batches(
    report: BulkReport,
    ids: Iterable[int],
    batch_size: int,
    on_progress: ProgressCallback | None,
    cancel: asyncio.Event | None,
    do_batch: Callable[[list[int]], Awaitable[None]],
    recover: Recover | None = None,
) -> BulkReport:
    """Run ``do_batch`` over the ids, a batch at a time; stop at a cancel or a lost connection.

    After a lost connection the batch's undecided ids are checked by ``recover``
    on a new connection, so the report is exact: done, not done, and uncertain
    only for ids that could not be checked (the server stayed unreachable).
    """
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
        except (BeanstalkConnectionError, ProtocolError) as exc:
            report.aborted = f"connection lost: {exc}"
            decided = {*report.failed, *report.succeeded}
            await _settle_uncertain(report, [j for j in chunk if j not in decided], recover)
        except JournalWriteError as exc:
            report.aborted = str(exc)
        if on_progress is not None:
            on_progress(report.done, report.total)
        if report.aborted:
            break
    return report
