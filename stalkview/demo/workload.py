"""A realistic, live, seeded workload for demo mode.

:func:`seed` fills an empty server with a reproducible initial state (a few
hundred jobs across six tubes, in every state, with history).
:class:`Workload` then keeps it alive: producers put, consumers reserve from
their own connections and delete, release with a delay, bury, touch, and now
and then hold a job past its TTR; a janitor kicks and prunes. Backlogs are
steered back towards their seeded size, so the server does not grow however
long the demo runs.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from stalkview.client import (
    BeanstalkConnectionError,
    Client,
    Error,
    Job,
    TimedOutError,
)
from stalkview.client import commands as cmd
from stalkview.demo import bodies

log = logging.getLogger("stalkview.demo")

PAUSED_TUBE = "billing.invoices"
PAUSE_SECONDS = 600
STATES = ("ready", "delayed", "reserved", "buried")


# --- the seeded initial state --------------------------------------------------------


@dataclass(frozen=True)
class JobSpec:
    """One job of the initial state: where it goes, what it carries, what happens to it."""

    tube: str
    body: bytes
    priority: int = 1024
    delay: int = 0
    ttr: int = 60
    #: ready, delayed or buried: the state the job is left in.
    state: str = "ready"
    #: reserve+release rounds before the final state (a poison candidate).
    releases: int = 0
    #: bury+kick rounds before the final state.
    kicks: int = 0
    #: reserve with ttr=1 and let it expire once.
    time_out: bool = False
    tag: str = ""


@dataclass(frozen=True)
class SeedSummary:
    """What :func:`seed` created: counts per tube and state, and ids worth showing."""

    seed: int
    tubes: tuple[str, ...]
    #: tube -> state -> count, right after seeding (before delays expire).
    counts: dict[str, dict[str, int]]
    total: int
    paused_tube: str
    paused_seconds: int
    #: tag -> job ids: binary, large, markup, buried, poison, timed-out.
    jobs: dict[str, tuple[int, ...]] = field(default_factory=dict)

    def ids(self, tag: str) -> tuple[int, ...]:
        return self.jobs.get(tag, ())


def plan_seed(seed: int = 42) -> list[JobSpec]:
    """The initial jobs in put order: a pure function of ``seed``."""
    rng = random.Random(seed)
    plan: list[JobSpec] = []
    plan += _plan_emails(rng)
    plan += _plan_thumbnails(rng)
    plan += _plan_webhooks(rng)
    plan += _plan_reports(rng)
    plan += _plan_default(rng)
    plan += [JobSpec(PAUSED_TUBE, bodies.invoice(rng), ttr=120) for _ in range(45)]
    return plan


def _due_soon(rng: random.Random) -> int:
    # Spread over the next quarter hour, none within the first half minute so a
    # freshly seeded server shows exactly the planned counts.
    return rng.randint(30, 900)


def _plan_emails(rng: random.Random) -> list[JobSpec]:
    tube = "emails"
    jobs = [
        JobSpec(tube, bodies.email(rng), priority=rng.choice((0, 512, 1024, 1024, 1024)))
        for _ in range(160)
    ]
    jobs += [
        JobSpec(tube, bodies.email(rng), delay=_due_soon(rng), state="delayed") for _ in range(24)
    ]
    for i in range(9):
        error = bodies.EMAIL_ERRORS[0] if i < 5 else rng.choice(bodies.EMAIL_ERRORS)
        jobs.append(
            JobSpec(
                tube,
                bodies.email(rng, error=error),
                state="buried",
                kicks=1 if i % 3 == 0 else 0,
                tag="buried",
            )
        )
    jobs += [
        JobSpec(tube, bodies.email(rng), releases=rng.randint(3, 6), tag="poison") for _ in range(3)
    ]
    return jobs


def _plan_thumbnails(rng: random.Random) -> list[JobSpec]:
    tube = "thumbnails"
    jobs = [JobSpec(tube, bodies.thumbnail(rng), ttr=3) for _ in range(110)]
    jobs.insert(17, JobSpec(tube, bodies.png(rng), ttr=3, tag="binary"))
    jobs += [
        JobSpec(tube, bodies.thumbnail(rng), ttr=3, delay=_due_soon(rng), state="delayed")
        for _ in range(6)
    ]
    jobs += [
        JobSpec(
            tube,
            bodies.thumbnail(rng, error=rng.choice(bodies.THUMBNAIL_ERRORS)),
            ttr=3,
            state="buried",
            tag="buried",
        )
        for _ in range(4)
    ]
    # Corrupt uploads that crash the worker: retried, and one timeout each.
    jobs += [
        JobSpec(
            tube,
            bodies.thumbnail(rng),
            ttr=1,
            releases=rng.randint(2, 4),
            time_out=True,
            tag="poison",
        )
        for _ in range(3)
    ]
    return jobs


def _plan_webhooks(rng: random.Random) -> list[JobSpec]:
    tube = "webhooks"
    jobs = [JobSpec(tube, bodies.webhook(rng), ttr=10) for _ in range(80)]
    # Retries with backoff: what a webhook queue mostly holds when endpoints flap.
    jobs += [
        JobSpec(
            tube,
            bodies.webhook(rng, attempt=rng.randint(2, 5)),
            ttr=10,
            delay=_due_soon(rng),
            state="delayed",
        )
        for _ in range(35)
    ]
    jobs += [
        JobSpec(
            tube,
            bodies.webhook(rng, attempt=6, error=rng.choice(bodies.WEBHOOK_ERRORS)),
            ttr=10,
            state="buried",
            tag="buried",
        )
        for _ in range(7)
    ]
    jobs += [
        JobSpec(
            tube, bodies.webhook(rng, attempt=8), ttr=10, releases=rng.randint(5, 8), tag="poison"
        )
        for _ in range(4)
    ]
    return jobs


def _plan_reports(rng: random.Random) -> list[JobSpec]:
    tube = "reports"
    jobs = [JobSpec(tube, bodies.report(rng), ttr=3600, priority=2048) for _ in range(12)]
    # ~40 KB each: big enough that a viewer must not render them eagerly.
    jobs += [
        JobSpec(tube, bodies.report(rng, rows=520), ttr=3600, priority=2048, tag="large")
        for _ in range(3)
    ]
    jobs.append(JobSpec(tube, bodies.report_gzip(rng), ttr=3600, priority=2048, tag="binary"))
    jobs += [
        JobSpec(tube, bodies.report(rng), ttr=3600, delay=_due_soon(rng), state="delayed")
        for _ in range(8)
    ]
    jobs += [
        JobSpec(
            tube,
            bodies.report(rng, error=rng.choice(bodies.REPORT_ERRORS)),
            ttr=3600,
            state="buried",
            tag="buried",
        )
        for _ in range(2)
    ]
    return jobs


def _plan_default(rng: random.Random) -> list[JobSpec]:
    tube = "default"
    jobs = [JobSpec(tube, bodies.misc(rng), ttr=120) for _ in range(25)]
    jobs.insert(3, JobSpec(tube, bodies.terminal_trap(), ttr=120, tag="markup"))
    jobs += [
        JobSpec(tube, bodies.misc(rng), ttr=120, delay=_due_soon(rng), state="delayed")
        for _ in range(3)
    ]
    return jobs


async def seed(client_address: Any, *, seed: int = 42) -> SeedSummary:
    """Fill an (empty) server with the initial state for ``seed``; return what was made.

    Jobs are put in a fixed order, so on a fresh server their ids are the same
    every time too. Takes about a second: the timed-out jobs need their TTR to
    pass.
    """
    plan = plan_seed(seed)
    async with (
        Client(client_address, encoding=None) as client,
        Client(client_address, encoding=None) as crasher,
    ):
        ids = await _put_all(client, plan)
        await _give_history(client, plan, ids)
        # A separate connection plays the worker that crashed mid-job: its
        # jobs come back by TTR expiry, which counts as a timeout.
        timing_out = [jid for spec, jid in zip(plan, ids, strict=True) if spec.time_out]
        for jid in timing_out:
            await crasher.reserve_job(jid)
        await _settle_final_states(client, plan, ids)
        await client.pause_tube(PAUSED_TUBE, PAUSE_SECONDS)
        # Polled from the holder's own connection on purpose: beanstalkd 1.12
        # returns an expired job only once its holder's connection sends
        # something; a silent holder can keep it reserved well past its TTR.
        await _wait_until_ready(crasher, timing_out, limit=5.0)
    return _summarise(seed, plan, ids)


async def _put_all(client: Client, plan: list[JobSpec]) -> list[int]:
    pipe = client.pipeline()
    is_put: list[bool] = []
    using = None
    for spec in plan:
        if spec.tube != using:
            pipe.use(spec.tube)
            is_put.append(False)
            using = spec.tube
        # Delayed jobs get their delay when settled: if it were given at put
        # time, the history rounds could not reserve them.
        pipe.put(spec.body, priority=spec.priority, ttr=spec.ttr)
        is_put.append(True)
    results = await pipe.execute(raise_on_error=True)
    return [int(r) for r, put in zip(results, is_put, strict=True) if put]


async def _give_history(client: Client, plan: list[JobSpec], ids: list[int]) -> None:
    pipe = client.pipeline()
    for spec, jid in zip(plan, ids, strict=True):
        for _ in range(spec.releases):
            pipe.reserve_job(jid).release(jid, priority=spec.priority)
        for _ in range(spec.kicks):
            pipe.reserve_job(jid).bury(jid, priority=spec.priority).kick_job(jid)
    if len(pipe):
        await pipe.execute(raise_on_error=True)


async def _settle_final_states(client: Client, plan: list[JobSpec], ids: list[int]) -> None:
    pipe = client.pipeline()
    for spec, jid in zip(plan, ids, strict=True):
        if spec.state == "buried":
            pipe.reserve_job(jid).bury(jid, priority=spec.priority)
        elif spec.state == "delayed":
            pipe.reserve_job(jid).release(jid, priority=spec.priority, delay=spec.delay)
    if len(pipe):
        await pipe.execute(raise_on_error=True)


async def _wait_until_ready(client: Client, ids: list[int], *, limit: float) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + limit
    pending = list(ids)
    while pending:
        states = await client.run_many([cmd.stats_job(jid) for jid in pending])
        pending = [
            jid
            for jid, st in zip(pending, states, strict=True)
            if isinstance(st, dict) and st.get("state") == "reserved"
        ]
        if pending and loop.time() > deadline:
            raise RuntimeError(f"jobs {pending} did not time out within {limit:g} s")
        if pending:
            await asyncio.sleep(0.05)


def _summarise(seed_value: int, plan: list[JobSpec], ids: list[int]) -> SeedSummary:
    counts: dict[str, dict[str, int]] = {}
    tagged: dict[str, list[int]] = {}
    for spec, jid in zip(plan, ids, strict=True):
        per_tube = counts.setdefault(spec.tube, dict.fromkeys(STATES, 0))
        per_tube[spec.state] += 1
        if spec.tag:
            tagged.setdefault(spec.tag, []).append(jid)
        if spec.time_out:
            tagged.setdefault("timed-out", []).append(jid)
    return SeedSummary(
        seed=seed_value,
        tubes=tuple(counts),
        counts=counts,
        total=len(plan),
        paused_tube=PAUSED_TUBE,
        paused_seconds=PAUSE_SECONDS,
        jobs={tag: tuple(v) for tag, v in tagged.items()},
    )


# --- the live workload ---------------------------------------------------------------


@dataclass(frozen=True)
class TubeProfile:
    """How one tube behaves live: its share of new jobs and what its workers do."""

    name: str
    weight: float
    make_body: Callable[[random.Random], bytes]
    ttr: int
    #: The ready backlog consumers steer towards (the seeded size).
    target_ready: int
    p_release: float
    p_bury: float
    errors: tuple[str, ...]
    p_delayed_put: float = 0.1


PROFILES: tuple[TubeProfile, ...] = (
    TubeProfile("emails", 0.35, bodies.email, 60, 160, 0.06, 0.03, bodies.EMAIL_ERRORS),
    TubeProfile(
        "thumbnails", 0.25, bodies.thumbnail, 3, 110, 0.04, 0.02, bodies.THUMBNAIL_ERRORS, 0.0
    ),
    TubeProfile("webhooks", 0.2, bodies.webhook, 10, 80, 0.15, 0.03, bodies.WEBHOOK_ERRORS, 0.2),
    TubeProfile("reports", 0.05, bodies.report, 3600, 15, 0.0, 0.05, bodies.REPORT_ERRORS, 0.3),
    TubeProfile("default", 0.1, bodies.misc, 120, 25, 0.02, 0.01, ("unknown command",)),
    TubeProfile(PAUSED_TUBE, 0.05, bodies.invoice, 120, 45, 0.02, 0.01, ("PDF renderer crashed",)),
)

#: Buried jobs the workload itself made are pruned past this many, oldest first.
MAX_OWN_BURIED = 40


@dataclass
class WorkloadStats:
    """What the workload did, by action (read from any thread; ints only)."""

    puts: int = 0
    reserves: int = 0
    deletes: int = 0
    releases: int = 0
    buries: int = 0
    touches: int = 0
    kicks: int = 0
    stalls: int = 0
    errors: int = 0

    def snapshot(self) -> dict[str, int]:
        return dict(self.__dict__)


def _cancel_leftovers(loop: asyncio.AbstractEventLoop) -> None:
    # The client spawns tasks of its own (giving back a job whose reserve was
    # cancelled); finish them as asyncio.run would, so none is destroyed pending.
    leftovers = asyncio.all_tasks(loop)
    for task in leftovers:
        task.cancel()
    if leftovers:
        loop.run_until_complete(asyncio.gather(*leftovers, return_exceptions=True))
    loop.run_until_complete(loop.shutdown_asyncgens())


class Workload:
    """Background producers and consumers for demo mode.

    ``await workload.run()`` until cancelled, or ``start()`` / ``stop()`` to run
    it in a thread with its own event loop (the app owns the main thread's).

    ``rate`` is new jobs per second over all tubes; consumers drain at about
    the same pace, faster when a backlog is above its target and slower below
    it. ``stall_every`` seconds a worker takes a job and holds it past its TTR;
    ``kick_every`` seconds the janitor kicks one of the jobs the workload buried.
    """

    def __init__(
        self,
        address: Any,
        *,
        seed: int = 42,
        rate: float = 3.0,
        stall_every: float = 20.0,
        kick_every: float = 10.0,
        profiles: tuple[TubeProfile, ...] = PROFILES,
    ) -> None:
        if rate <= 0:
            raise ValueError(f"workload rate must be positive, not {rate}")
        self.address = address
        self.seed = seed
        self.rate = rate
        self.stall_every = stall_every
        self.kick_every = kick_every
        self.profiles = profiles
        self.stats = WorkloadStats()
        #: The exception that ended run(), if it ended other than by cancellation.
        self.error: BaseException | None = None
        self._clients: list[Client] = []
        self._own_buried: deque[int] = deque()
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task[None] | None = None
        self._started = threading.Event()
        self._connected = 0
        self._actors = 0

    # --- running in a thread -----------------------------------------------------

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self, timeout: float = 5.0) -> Workload:
        """Run in a daemon thread with its own event loop; return once its connections are open."""
        if self._thread is not None:
            raise RuntimeError("the workload is already started")
        self._started.clear()
        self._thread = threading.Thread(
            target=self._thread_main, name="stalkview-demo-workload", daemon=True
        )
        self._thread.start()
        if not self._started.wait(timeout):
            self.stop()
            raise RuntimeError(f"the demo workload did not start within {timeout:g} s")
        if self.error is not None:
            raise RuntimeError(f"the demo workload failed to start: {self.error}")
        return self

    def stop(self, timeout: float = 5.0) -> None:
        """Cancel the workload, close its connections and join its thread. Idempotent."""
        thread, loop, task = self._thread, self._loop, self._task
        if thread is None:
            return
        if loop is not None and task is not None:
            with contextlib.suppress(RuntimeError):  # the loop already closed
                loop.call_soon_threadsafe(task.cancel)
        thread.join(timeout)
        self._thread = None

    def _thread_main(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        try:
            self._task = loop.create_task(self.run())
            with contextlib.suppress(asyncio.CancelledError):
                loop.run_until_complete(self._task)
        except BaseException as exc:  # reported through .error, the thread has no caller
            self.error = exc
        finally:
            self._started.set()
            _cancel_leftovers(loop)
            loop.close()
            self._loop = None

    # --- the coroutines ------------------------------------------------------------

    async def run(self) -> None:
        """Produce and consume until cancelled; every connection is closed on the way out."""
        actors = [self._producer()]
        actors += [self._consumer(p, i) for i, p in enumerate(self.profiles)]
        actors += [self._staller(), self._janitor(), self._stuck_worker()]
        self._actors, self._connected = len(actors), 0
        tasks = [asyncio.ensure_future(a) for a in actors]
        try:
            await asyncio.gather(*tasks)
        except BaseException as exc:
            if not isinstance(exc, asyncio.CancelledError):
                self.error = exc
            raise
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await self._close_all()

    async def _client(self, **kwargs: Any) -> Client:
        client = Client(self.address, encoding=None, auto_reconnect=True, **kwargs)
        self._clients.append(client)
        await self._retrying(client.open)
        self._connected += 1
        if self._connected == self._actors:
            self._started.set()  # each actor opens one client: all are connected
        return client

    async def _close_all(self) -> None:
        clients, self._clients = self._clients, []
        for client in clients:
            with contextlib.suppress(Exception):
                await client.close()

    async def _retrying(self, action: Callable[[], Any]) -> Any:
        """Run an action, waiting out lost connections (the server restarts, or is stopping)."""
        while True:
            try:
                return await action()
            except BeanstalkConnectionError:
                self.stats.errors += 1
                await asyncio.sleep(1.0)

    def _rng(self, index: int) -> random.Random:
        # One generator per actor: each actor's choices are reproducible even
        # though their interleaving is not.
        return random.Random(self.seed * 1000 + index)

    def _tube_rate(self, profile: TubeProfile) -> float:
        total = sum(p.weight for p in self.profiles)
        return self.rate * profile.weight / total

    async def _producer(self) -> None:
        rng = self._rng(0)
        client = await self._client()
        using = "default"
        weights = [p.weight for p in self.profiles]
        while True:
            await asyncio.sleep(rng.expovariate(self.rate))
            profile = rng.choices(self.profiles, weights)[0]
            delay = rng.randint(5, 180) if rng.random() < profile.p_delayed_put else 0
            body = profile.make_body(rng)
            try:
                if profile.name != using:
                    await client.use(profile.name)
                    using = profile.name
                await client.put(
                    body, priority=rng.choice((512, 1024, 1024, 2048)), delay=delay, ttr=profile.ttr
                )
                self.stats.puts += 1
            except BeanstalkConnectionError:
                using = "default"  # a reconnect restores the tube, but be sure
                await self._pause_after_error()
            except Error as exc:
                await self._note(exc)

    async def _consumer(self, profile: TubeProfile, index: int) -> None:
        rng = self._rng(10 + index)
        client = await self._client(watch=profile.name)
        if profile.name != "default":
            await self._retrying(lambda: client.ignore("default"))
        # Workers of the Backburner kind block in plain reserve; the rest poll
        # with a timeout like Laravel's. Both counters move.
        blocking = profile.name == "thumbnails"
        pace = 1.0
        next_check = 0.0
        loop = asyncio.get_running_loop()
        while True:
            try:
                if loop.time() >= next_check:
                    pace = await self._pace(client, profile)
                    next_check = loop.time() + 2.0
                job = await (client.reserve() if blocking else client.reserve(timeout=1))
            except TimedOutError:
                continue
            except BeanstalkConnectionError:
                await self._pause_after_error()
                continue
            except Error as exc:
                await self._note(exc)
                continue
            self.stats.reserves += 1
            interval = 1.0 / (self._tube_rate(profile) * pace)
            started = loop.time()
            await self._work(client, job, profile, rng, interval)
            rest = interval - (loop.time() - started)
            if rest > 0:
                await asyncio.sleep(rest)

    async def _pace(self, client: Client, profile: TubeProfile) -> float:
        """How fast to consume: above target catch up, below it fall behind a little."""
        try:
            stats = await client.stats_tube(profile.name)
        except Error:
            return 1.0
        ready = int(stats.get("current-jobs-ready", 0))
        if ready > profile.target_ready * 1.1:
            return 1.6
        if ready < profile.target_ready * 0.9:
            return 0.7
        return 1.0

    async def _work(
        self, client: Client, job: Job, profile: TubeProfile, rng: random.Random, interval: float
    ) -> None:
        # Work must end inside the TTR (a heartbeat touch buys a second TTR).
        heartbeat = rng.random() < 0.3
        limit = profile.ttr * (1.6 if heartbeat else 0.8)
        duration = min(rng.uniform(0.3, 1.0) * interval, limit, 8.0)
        try:
            if heartbeat:
                await asyncio.sleep(duration / 2)
                await client.touch(job)
                self.stats.touches += 1
                await asyncio.sleep(duration / 2)
            else:
                await asyncio.sleep(duration)
            await self._finish(client, job, profile, rng)
        except BeanstalkConnectionError:
            await self._pause_after_error()
        except Error as exc:
            await self._note(exc)

    async def _finish(
        self, client: Client, job: Job, profile: TubeProfile, rng: random.Random
    ) -> None:
        roll = rng.random()
        if roll < profile.p_bury:
            reason = rng.choice(profile.errors)
            await client.bury(job)
            self.stats.buries += 1
            self._own_buried.append(job.id)
            log.info("buried job %d in %s: %s", job.id, profile.name, reason)
        elif roll < profile.p_bury + profile.p_release:
            delay = rng.randint(2, 30)
            await client.release(job, delay=delay)
            self.stats.releases += 1
            log.info("released job %d in %s with a %d s delay", job.id, profile.name, delay)
        else:
            await client.delete(job)
            self.stats.deletes += 1

    async def _staller(self) -> None:
        """A worker that hangs now and then: it holds a job until its TTR expires."""
        rng = self._rng(1)
        client = await self._client(watch="thumbnails")
        await self._retrying(lambda: client.ignore("default"))
        wait = min(1.0, self.stall_every)
        while True:
            await asyncio.sleep(wait)
            wait = self.stall_every * rng.uniform(0.7, 1.3)
            held = await self._reserve_with_ttr(client)
            if held is None:
                continue
            job, ttr = held
            self.stats.stalls += 1
            log.info("worker stalled on job %d: it will time out after %d s", job.id, ttr)
            # Issue no command while holding it: a reserve would get DEADLINE_SOON.
            await asyncio.sleep(ttr + 0.5)
            await self._nudge(client)

    async def _stuck_worker(self) -> None:
        """A report worker stuck on one long job: keeps a job reserved all along."""
        client = await self._client(watch="reports")
        await self._retrying(lambda: client.ignore("default"))
        while True:
            held = await self._reserve_with_ttr(client)
            if held is None:
                continue
            await asyncio.sleep(held[1] + 0.5)
            await self._nudge(client)

    async def _reserve_with_ttr(self, client: Client) -> tuple[Job, int] | None:
        """Reserve a job (waiting up to 5 s) and read its TTR; None when there was none."""
        try:
            job = await client.reserve(timeout=5)
            ttr = int((await client.stats_job(job))["ttr"])
        except TimedOutError:
            return None
        except BeanstalkConnectionError:
            await self._pause_after_error()
            return None
        except Error as exc:
            await self._note(exc)
            return None
        self.stats.reserves += 1
        return job, ttr

    async def _nudge(self, client: Client) -> None:
        # beanstalkd 1.12 expires a reserved job only when its holder's
        # connection next talks to it; a silent holder keeps it past the TTR.
        with contextlib.suppress(Error):
            await client.using()

    async def _janitor(self) -> None:
        """Kicks buried and delayed jobs now and then, and prunes its own buried past a cap."""
        rng = self._rng(2)
        client = await self._client()
        wait = min(1.0, self.kick_every)
        while True:
            await asyncio.sleep(wait)
            wait = self.kick_every * rng.uniform(0.7, 1.3)
            try:
                while len(self._own_buried) > MAX_OWN_BURIED:
                    await self._quietly(client.delete(self._own_buried.popleft()))
                    self.stats.deletes += 1
                if self._own_buried:
                    jid = (
                        self._own_buried.pop() if rng.random() < 0.5 else self._own_buried.popleft()
                    )
                    if await self._quietly(client.kick_job(jid)):
                        self.stats.kicks += 1
                        log.info("kicked job %d", jid)
                if rng.random() < 0.5:
                    await self._kick_delayed(client, rng)
            except BeanstalkConnectionError:
                await self._pause_after_error()

    async def _kick_delayed(self, client: Client, rng: random.Random) -> None:
        # An operator hurrying a retry: ``kick`` on a tube without buried jobs
        # moves delayed ones. Tubes with buried jobs are left alone, so the
        # seeded failures stay for the demo to show.
        names = [p.name for p in self.profiles]
        found = await client.run_many([cmd.stats_tube(name) for name in names])
        candidates = [
            st["name"]
            for st in found
            if isinstance(st, dict)
            and not st.get("current-jobs-buried")
            and st.get("current-jobs-delayed")
        ]
        if candidates:
            await client.use(rng.choice(candidates))
            if await self._quietly(client.kick(1)):
                self.stats.kicks += 1

    async def _quietly(self, awaitable: Any) -> Any:
        """Await a job command; a job gone meanwhile (NOT_FOUND etc.) is not an error here."""
        try:
            result = await awaitable
        except BeanstalkConnectionError:
            raise
        except Error as exc:
            await self._note(exc)
            return False
        return True if result is None else result

    async def _note(self, exc: Error) -> None:
        # The user may delete, kick or pause things in the app meanwhile: jobs
        # vanish under the workload. Note it and carry on.
        self.stats.errors += 1
        log.debug("demo workload: %s: %s", type(exc).__name__, exc)

    async def _pause_after_error(self) -> None:
        self.stats.errors += 1
        await asyncio.sleep(1.0)
