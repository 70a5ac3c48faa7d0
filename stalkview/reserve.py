"""Reserve sessions: hold jobs on a connection of their own and handle them.

The held-jobs view reserves through a :class:`ReserveSession`, so the rest of
the app keeps refreshing on its own connections while jobs are held; each
:class:`HeldJob` carries a deadline for a live TTR countdown. Pure asyncio on
:mod:`stalkview.client`; never imports textual.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Any

from stalkview.actions import append_journal, claim_failure, require_tube
from stalkview.client import (
    BeanstalkConnectionError,
    Client,
    DeadlineSoonError,
    Error,
    NotFoundError,
    TimedOutError,
)
from stalkview.client import commands as cmd
from stalkview.client.address import AddressLike
from stalkview.client.commands import Call, Job
from stalkview.journal import Journal, JournalEntry, note
from stalkview.ops import ActionError, job_message, plain_reason


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
        await require_tube(self.client, tube, "reserve")
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
            raise ActionError(job_message(job_id, claim_failure(stats, job)))
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
            await append_journal(self.journal, [entry])
        try:
            await self._act(held, cmd.delete(job_id), "deleted")
        except ActionError as exc:
            if entry is not None and self.journal is not None:
                await append_journal(self.journal, [note("failed", entry, reason=str(exc))])
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
