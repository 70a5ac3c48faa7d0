"""Several servers at once: independent pollers, per-server state, fleet-wide sums.

Each server gets its own task and its own :class:`~stalkview.client.Client`, so a
slow or dead server only ever delays itself: it is marked down with the reason,
retried with a growing backoff, and marked up again when it answers.

    fleet = Fleet(targets, interval=1.0, on_update=redraw)
    await fleet.start()
    ...
    await fleet.stop()

One refresh of a server is :func:`stalkview.poll.fetch_snapshot` (stats,
list-tubes and every stats-tube, pipelined), which sends only read commands.
Never imports textual.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from stalkview.client import Client, Error
from stalkview.config import Target
from stalkview.model.rates import RateTracker, ServerRates, TubeRateBook
from stalkview.poll import fetch_snapshot

#: Server stats that are settings or identities, not quantities: never summed.
NOT_SUMMED = frozenset(
    {
        "pid",
        "version",
        "max-job-size",
        "uptime",
        "binlog-oldest-index",
        "binlog-current-index",
        "binlog-max-size",
        "draining",
        "id",
        "hostname",
        "os",
        "platform",
        "rusage-utime",
        "rusage-stime",
    }
)
#: Tube stats that are not counters.
TUBE_NOT_SUMMED = frozenset({"name", "pause", "pause-time-left"})
STATE_KEYS = {
    "ready": "current-jobs-ready",
    "urgent": "current-jobs-urgent",
    "delayed": "current-jobs-delayed",
    "reserved": "current-jobs-reserved",
    "buried": "current-jobs-buried",
}

UpdateCallback = Callable[["ServerState"], None]


@dataclass
class ServerState:
    """What is known of one server; updated in place after every poll."""

    target: Target
    up: bool = False
    #: Why the server is down (None while up, or before the first poll).
    error: str | None = None
    version: str | None = None
    stats: dict[str, Any] = field(default_factory=dict)
    #: stats-tube of every tube, by name, in list-tubes order.
    tubes: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: ``time.monotonic()`` of the last successful poll (None: never).
    last_ok: float | None = None
    #: ``time.monotonic()`` of the last poll attempt, up or down.
    last_poll: float | None = None
    #: How long the last successful poll took, seconds.
    elapsed: float = 0.0
    #: Successful polls so far.
    polls: int = 0
    #: Failed polls in a row (0 while up).
    failures: int = 0
    rates: RateTracker = field(default_factory=RateTracker)
    tube_rates: TubeRateBook = field(default_factory=TubeRateBook)

    @property
    def address(self) -> str:
        return self.target.address

    @property
    def name(self) -> str | None:
        return self.target.name

    @property
    def label(self) -> str:
        """The saved name, else the address: what to show in a server column."""
        return self.target.label

    @property
    def read_only(self) -> bool:
        return self.target.read_only

    def totals(self) -> dict[str, int]:
        """Jobs per state on this server (zeros while never seen)."""
        return {state: _int(self.stats.get(key)) for state, key in STATE_KEYS.items()}

    def server_rates(self) -> ServerRates:
        return ServerRates.from_tracker(self.rates)

    def record_ok(
        self, stats: dict[str, Any], tubes: dict[str, dict[str, Any]], elapsed: float, now: float
    ) -> None:
        self.up = True
        self.error = None
        self.failures = 0
        self.stats = stats
        self.tubes = tubes
        self.version = str(stats.get("version", "")) or None
        self.elapsed = elapsed
        self.polls += 1
        self.last_ok = self.last_poll = now
        self.rates.update(stats, now)
        self.tube_rates.update(tubes.values(), now)

    def record_down(self, reason: str, now: float) -> None:
        # Stats and tubes keep their last values so a view can still show them,
        # greyed out; sums skip servers that are down.
        self.up = False
        self.error = reason
        self.failures += 1
        self.last_poll = now

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready summary (no tubes), for scripts."""
        return {
            "server": self.label,
            "address": self.address,
            "up": self.up,
            "error": self.error,
            "version": self.version,
            **self.totals(),
        }


def _int(value: Any) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return 0


def describe_error(exc: BaseException) -> str:
    """One line saying why a poll failed (connection errors already name the address)."""
    if isinstance(exc, TimeoutError) and not str(exc):
        return "no reply in time (timed out)"
    text = str(exc) or type(exc).__name__
    return text.splitlines()[0]


async def poll_once(client: Client, state: ServerState, *, timeout: float | None = None) -> None:
    """One refresh of ``state`` through an open (or auto-reconnecting) ``client``.

    Raises what the poll raised; the caller decides whether that means down.
    """
    start = time.perf_counter()
    known = list(state.tubes)
    if timeout is None:
        snap = await fetch_snapshot(client, known)
    else:
        snap = await asyncio.wait_for(fetch_snapshot(client, known), timeout)
    state.record_ok(snap.stats, snap.tubes, time.perf_counter() - start, time.monotonic())


class Fleet:
    """Polls every target independently, ``interval`` seconds apart, until stopped.

    ``on_update(state)`` is called on the event loop after every poll of a server,
    successful or not (check ``state.up``). A callback that raises is not allowed
    to kill the poller: the exception is swallowed and counted.
    """

    def __init__(
        self,
        targets: Sequence[Target],
        *,
        interval: float = 1.0,
        connect_timeout: float = 2.0,
        command_timeout: float = 5.0,
        max_backoff: float = 10.0,
        on_update: UpdateCallback | None = None,
    ) -> None:
        if interval <= 0:
            raise ValueError(f"interval {interval} must be more than 0 seconds")
        self.interval = interval
        self.connect_timeout = connect_timeout
        self.command_timeout = command_timeout
        self.max_backoff = max(max_backoff, interval)
        self.on_update = on_update
        self.states: list[ServerState] = [ServerState(t) for t in targets]
        self.callback_errors = 0
        self._tasks: list[asyncio.Task[None]] = []
        self._clients: dict[int, Client] = {}
        self._wake: dict[int, asyncio.Event] = {}
        self._stopped = asyncio.Event()

    def __iter__(self) -> Any:
        return iter(self.states)

    def state(self, name_or_address: str) -> ServerState:
        """The state of the server with this saved name or address."""
        for s in self.states:
            if name_or_address in (s.name, s.address):
                return s
        raise KeyError(f"no server {name_or_address!r} in this fleet")

    @property
    def running(self) -> bool:
        return any(not t.done() for t in self._tasks)

    async def start(self) -> None:
        """Start one poller task per server and return at once."""
        if self._tasks:
            return
        self._stopped.clear()
        for n, state in enumerate(self.states):
            self._wake[n] = asyncio.Event()
            self._tasks.append(
                asyncio.create_task(self._poll_forever(n, state), name=f"fleet:{state.label}")
            )

    async def run(self) -> None:
        """Start (if needed) and poll until :meth:`stop` is called or the task is cancelled."""
        await self.start()
        try:
            await self._stopped.wait()
        finally:
            await self.stop()

    async def stop(self) -> None:
        """Stop every poller and close every connection."""
        self._stopped.set()
        tasks, self._tasks = self._tasks, []
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        clients, self._clients = self._clients, {}
        for client in clients.values():
            with contextlib.suppress(Exception):
                await client.close()

    def refresh_now(self, name_or_address: str | None = None) -> None:
        """Wake one poller (or all) so it polls now instead of at its next tick."""
        for n, state in enumerate(self.states):
            if name_or_address is None or name_or_address in (state.name, state.address):
                event = self._wake.get(n)
                if event is not None:
                    event.set()

    async def __aenter__(self) -> Fleet:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    # --- one server's loop -------------------------------------------------------------------

    def _client(self, n: int, state: ServerState) -> Client:
        client = self._clients.get(n)
        if client is None:
            client = Client(
                state.address,
                encoding=None,
                connect_timeout=self.connect_timeout,
                command_timeout=self.command_timeout,
                auto_reconnect=True,
            )
            self._clients[n] = client
        return client

    async def _poll_forever(self, n: int, state: ServerState) -> None:
        while not self._stopped.is_set():
            began = time.monotonic()
            ok = await self._poll(n, state)
            self._notify(state)
            pause = self.interval - (time.monotonic() - began) if ok else self._backoff(state)
            await self._sleep(n, max(0.0, pause))

    async def _poll(self, n: int, state: ServerState) -> bool:
        client = self._client(n, state)
        try:
            if not client.connected:
                await client.open()
            # The client's command timeout bounds each round trip; this bounds the
            # whole refresh (at most two round trips plus a connect).
            await poll_once(client, state, timeout=self.connect_timeout + 2 * self.command_timeout)
            return True
        except (Error, OSError, TimeoutError) as exc:
            state.record_down(describe_error(exc), time.monotonic())
            # A half-used connection is never reused: the next poll opens a fresh one.
            self._clients.pop(n, None)
            with contextlib.suppress(Exception):
                await client.close()
            return False

    def _backoff(self, state: ServerState) -> float:
        # Grows with each failure in a row; the jitter keeps a fleet that went down
        # together from reconnecting in lockstep.
        growth = 2.0 ** min(state.failures - 1, 16)
        base = min(self.max_backoff, self.interval * growth)
        return base * random.uniform(0.8, 1.0)

    async def _sleep(self, n: int, seconds: float) -> None:
        event = self._wake[n]
        with contextlib.suppress(TimeoutError, asyncio.TimeoutError):
            await asyncio.wait_for(event.wait(), seconds)
        event.clear()

    def _notify(self, state: ServerState) -> None:
        if self.on_update is None:
            return
        try:
            self.on_update(state)
        except Exception:
            self.callback_errors += 1


# --- one-shot polling for the CLI -----------------------------------------------------------


async def poll_all(
    targets: Sequence[Target],
    *,
    connect_timeout: float = 5.0,
    command_timeout: float = 10.0,
) -> list[ServerState]:
    """Poll every target once, concurrently; a server that fails is ``up=False`` with why."""
    states = [ServerState(t) for t in targets]
    await asyncio.gather(*(_poll_one(s, connect_timeout, command_timeout) for s in states))
    return states


async def _poll_one(state: ServerState, connect_timeout: float, command_timeout: float) -> None:
    client = Client(
        state.address,
        encoding=None,
        connect_timeout=connect_timeout,
        command_timeout=command_timeout,
    )
    try:
        await client.open()
        await poll_once(client, state, timeout=connect_timeout + 2 * command_timeout)
    except (Error, OSError, TimeoutError) as exc:
        state.record_down(describe_error(exc), time.monotonic())
    finally:
        with contextlib.suppress(Exception):
            await client.close()


# --- aggregation ----------------------------------------------------------------------------


def _up(states: Iterable[ServerState]) -> list[ServerState]:
    return [s for s in states if s.up]


def _add_counters(into: dict[str, Any], stats: dict[str, Any], skip: frozenset[str]) -> None:
    for key, value in stats.items():
        if key in skip or isinstance(value, bool) or not isinstance(value, int):
            continue
        into[key] = into.get(key, 0) + value


def sum_tubes(states: Iterable[ServerState]) -> dict[str, dict[str, Any]]:
    """Each tube's stats-tube counters summed over the servers that are up.

    Every entry has ``name``, ``servers`` (how many servers have the tube) and the
    summed counters under the server's names (``current-jobs-ready``...).
    ``pause-time-left`` is the longest pause left among them (0: nowhere paused).
    Tubes are sorted by name.
    """
    out: dict[str, dict[str, Any]] = {}
    for state in _up(states):
        for name, stats in state.tubes.items():
            row = out.setdefault(name, {"name": name, "servers": 0, "pause-time-left": 0})
            row["servers"] += 1
            _add_counters(row, stats, TUBE_NOT_SUMMED)
            row["pause-time-left"] = max(row["pause-time-left"], _int(stats.get("pause-time-left")))
    return dict(sorted(out.items()))


def tube_breakdown(
    states: Iterable[ServerState], tube: str
) -> list[tuple[ServerState, dict[str, Any]]]:
    """The stats-tube of ``tube`` on each server that is up and has it, in fleet order."""
    return [(s, s.tubes[tube]) for s in _up(states) if tube in s.tubes]


def sum_stats(states: Iterable[ServerState]) -> dict[str, Any]:
    """Server stats counters summed over the servers that are up.

    Includes the per-state totals (``current-jobs-ready``... under the server's
    names, and also as ``ready``, ``urgent``, ``delayed``, ``reserved``,
    ``buried``), ``servers`` (how many were summed) and ``servers-down``.
    Settings and identities (pid, version, max-job-size, uptime...) are left out.
    """
    all_states = list(states)
    up = _up(all_states)
    out: dict[str, Any] = {"servers": len(up), "servers-down": len(all_states) - len(up)}
    for state in up:
        _add_counters(out, state.stats, NOT_SUMMED)
    for short, key in STATE_KEYS.items():
        out[short] = _int(out.get(key))
    return out


def fleet_rates(states: Iterable[ServerState]) -> ServerRates:
    """Rates summed over the servers that are up (None where no server has one yet)."""
    parts = [s.server_rates() for s in _up(states)]

    def total(attr: str) -> float | None:
        values: list[float] = [float(v) for p in parts if (v := getattr(p, attr)) is not None]
        return float(sum(values)) if values else None

    return ServerRates(**{name: total(name) for name in ServerRates.__dataclass_fields__})
