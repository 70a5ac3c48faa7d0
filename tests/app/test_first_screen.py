"""The first screen tells the truth: real incidents on a real beanstalkd, zero keypresses.

Each test sets an incident up with real clients (greenstalk for third-party producers and
workers, our own client where a worker must loop inside the test's event loop), opens the
app, presses nothing, and checks that the problems summary names the tube (and the job,
where there is one) and that the (all tubes) row is not "ok".
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import greenstalk
import pytest
from textual.pilot import Pilot

from stalkview.app.app import StalkviewApp
from stalkview.app.widgets.hints import ProblemList
from stalkview.app.widgets.joblist import JobList
from stalkview.app.widgets.lifecycle import Lifecycle
from stalkview.app.widgets.tubes import ALL_TUBES, TubesTable
from stalkview.client import Client
from stalkview.client.errors import DeadlineSoonError, TimedOutError
from stalkview.model import health, problems
from tests.beanstalkd import Beanstalkd
from tests.pilot import wait_for

INTERVAL = 0.2
SIZE = (160, 45)


def host_port(server: Beanstalkd) -> tuple[str, int]:
    host, port = server.address.rsplit(":", 1)
    return host, int(port)


@contextlib.contextmanager
def greenstalk_client(server: Beanstalkd, **kwargs: Any) -> Iterator[greenstalk.Client[Any]]:
    client = greenstalk.Client(host_port(server), **kwargs)
    try:
        yield client
    finally:
        client.close()


def put_many(server: Beanstalkd, tube: str, count: int, **kwargs: Any) -> list[int]:
    with greenstalk_client(server, use=tube) as producer:
        return [producer.put(f'{{"n": {n}}}', **kwargs) for n in range(count)]


def problem_lines(app: StalkviewApp) -> list[str]:
    return app.main.query_one(ProblemList).shown


def all_tubes_health(app: StalkviewApp) -> str:
    return str(app.main.query_one(TubesTable).get_cell(ALL_TUBES, "health").plain)


def tube_health(app: StalkviewApp, tube: str) -> str:
    return str(app.main.query_one(TubesTable).get_cell(tube, "health").plain)


def names(*words: str) -> Callable[[StalkviewApp], bool]:
    """A condition: one problem line holds every word."""
    return lambda app: any(all(w in line for w in words) for line in problem_lines(app))


@contextlib.asynccontextmanager
async def first_screen(
    server: Beanstalkd, condition: Callable[[StalkviewApp], bool], timeout: float = 15.0
) -> AsyncIterator[tuple[StalkviewApp, Pilot[Any]]]:
    """Open the app, press nothing, wait until ``condition`` holds on screen."""
    app = StalkviewApp(server.address, interval=INTERVAL)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: app.snapshot is not None and app.inventory.scanned)
        await wait_for(pilot, lambda: condition(app), timeout)
        yield app, pilot


async def test_consumer_down_is_named_and_the_all_tubes_row_says_so(server: Beanstalkd) -> None:
    put_many(server, "emails", 474)
    put_many(server, "thumbnails", 3)
    with greenstalk_client(server, watch="thumbnails"):  # thumbnails is served
        async with first_screen(server, names("emails", "no consumers")) as (app, pilot):
            assert not any("thumbnails" in line for line in problem_lines(app))
            assert "474 ready jobs, nobody watching" in problem_lines(app)[0]
            assert all_tubes_health(app).startswith("▲")
            assert "no health warnings" not in " ".join(problem_lines(app))
            assert tube_health(app, "emails") == "▲ no consumers"
            assert tube_health(app, "thumbnails") == "ok"
            # Enter on the problem: the jobs it concerns, filtered.
            app.main.query_one(ProblemList).focus()
            await pilot.press("enter")
            await wait_for(pilot, lambda: app.main.tube == "emails")
            assert app.main.state_filter == "ready"
            assert len(app.main.query_one(JobList).jobs) == 474
            assert app.main.query_one(JobList).has_focus


async def test_paused_tube_forgotten_with_jobs_waiting_is_a_warning(server: Beanstalkd) -> None:
    put_many(server, "reports", 120)
    with greenstalk_client(server, watch="reports"), greenstalk_client(server) as admin:
        admin.pause_tube("reports", 3600)
        async with first_screen(server, names("reports", "paused")) as (app, _pilot):
            (line,) = [line for line in problem_lines(app) if "reports" in line]
            assert line.startswith("▲ reports: paused, 59m")
            assert "120 ready jobs waiting" in line
            assert all_tubes_health(app).startswith("▲")


async def test_stalled_worker_names_the_held_job(
    server: Beanstalkd, monkeypatch: pytest.MonkeyPatch
) -> None:
    # "Many minutes" in production; a second here, the rule is the same.
    monkeypatch.setattr(problems, "STALL_SECONDS", 1.0)
    put_many(server, "reports", 1, ttr=3600)
    put_many(server, "reports", 200)
    with greenstalk_client(server, watch="reports") as worker:
        held = worker.reserve(timeout=1)
        condition = names("reports", f"job {held.id} held", "200 waiting behind it")
        async with first_screen(server, condition) as (app, _pilot):
            assert "of a 1h TTR" in " ".join(problem_lines(app))
            assert all_tubes_health(app).startswith("▲")
            assert tube_health(app, "reports") != "ok"


async def _hold_until_timeout(client: Client) -> None:
    """A worker that reserves and never finishes: each job times out in its hands."""
    while True:
        try:
            await client.reserve(timeout=1)
        except (DeadlineSoonError, TimedOutError):
            await asyncio.sleep(0.2)


@contextlib.asynccontextmanager
async def looping_worker(server: Beanstalkd, tube: str) -> AsyncIterator[None]:
    async with Client(server.address, watch=tube) as worker:
        await worker.ignore("default")
        task = asyncio.create_task(_hold_until_timeout(worker))
        try:
            yield
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task


async def test_deadline_soon_is_named(server: Beanstalkd) -> None:
    (job_id,) = put_many(server, "payments", 1, ttr=2)
    async with looping_worker(server, "payments"):
        condition = names("payments", f"job {job_id}", "DEADLINE_SOON")
        async with first_screen(server, condition) as (app, _pilot):
            assert all_tubes_health(app) != "ok"


async def test_poison_job_in_progress_is_named(server: Beanstalkd) -> None:
    (job_id,) = put_many(server, "emails", 1, ttr=1)
    async with looping_worker(server, "emails"):
        condition = names("emails", f"job {job_id} keeps timing out")
        async with first_screen(server, condition, timeout=20) as (app, _pilot):
            assert all_tubes_health(app) != "ok"
            assert "not buried" in " ".join(problem_lines(app))


async def test_delayed_storm_is_named(server: Beanstalkd) -> None:
    put_many(server, "emails", 2_000, delay=40)
    with greenstalk_client(server, watch="emails"):
        async with first_screen(server, names("emails", "delayed storm")) as (app, _pilot):
            assert "2,000 delayed jobs become ready within 1m" in " ".join(problem_lines(app))
            assert tube_health(app, "emails") == "▲ 2,000 delayed due in 1m"
            assert all_tubes_health(app).startswith("▲")


async def test_workers_present_but_not_draining(
    server: Beanstalkd, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(health, "NOT_DRAINING_SECONDS", 1.5)
    put_many(server, "resize", 30)
    with greenstalk_client(server, watch="resize"):  # watching, never reserving
        async with first_screen(server, names("resize", "not draining")) as (app, _pilot):
            assert "30 ready jobs, 1 watching" in " ".join(problem_lines(app))
            assert all_tubes_health(app) != "ok"


async def test_400_tubes_and_12_buried_jobs_name_their_tube(server: Beanstalkd) -> None:
    with greenstalk_client(server) as producer:
        for n in range(400):
            producer.use(f"tube-{n:03d}")
            producer.put("x")
    put_many(server, "tube-317", 12)
    with greenstalk_client(server, watch="tube-317") as worker:
        worker.ignore("default")
        for _ in range(13):
            worker.bury(worker.reserve(timeout=1))
    condition = names("tube-317", "13 buried jobs")
    async with first_screen(server, condition) as (app, pilot):
        assert not any("on the server" in line for line in problem_lines(app))
        assert all_tubes_health(app).startswith("▲")
        app.main.query_one(ProblemList).focus()
        buried_line = next(i for i, ln in enumerate(problem_lines(app)) if "tube-317" in ln)
        app.main.query_one(ProblemList).highlighted = buried_line
        await pilot.press("enter")
        await wait_for(pilot, lambda: app.main.tube == "tube-317")
        assert app.main.state_filter == "buried"
        assert len(app.main.query_one(JobList).jobs) == 13


async def test_a_quiet_server_has_no_warnings(server: Beanstalkd) -> None:
    put_many(server, "emails", 5)
    with greenstalk_client(server, watch="emails") as worker:
        worker.delete(worker.reserve(timeout=1))  # a worker: it has reserved
        async with first_screen(server, names("no health warnings")) as (app, _pilot):
            assert all_tubes_health(app) == "ok"


async def _busy_worker(client: Client, producer: Client) -> None:
    """Puts a job and works it off, again and again: a tube that flows."""
    while True:
        await producer.put(b"{}")
        job = await client.reserve(timeout=1)
        await client.delete(job)
        await asyncio.sleep(0.02)


async def test_a_tubes_lifecycle_shows_its_own_flows_never_the_servers(
    server: Beanstalkd,
) -> None:
    put_many(server, "idle", 20)  # nobody watches it
    async with (
        Client(server.address, watch="busy") as worker,
        Client(server.address, use="busy") as producer,
    ):
        await worker.ignore("default")
        task = asyncio.create_task(_busy_worker(worker, producer))
        try:
            async with first_screen(server, names("idle", "no consumers")) as (app, pilot):
                await wait_for(pilot, lambda: (app.rates.rate("reserves") or 0) > 1)
                table = app.main.query_one(TubesTable)
                assert table.select_tube("idle")
                await wait_for(pilot, lambda: app.main.tube == "idle")
                await pilot.press("l")
                lifecycle = app.main.query_one(Lifecycle)
                await wait_for(pilot, lambda: lifecycle.rates.get("puts") is not None)
                await wait_for(pilot, lambda: lifecycle.rates.get("reserves") is not None)
                text = lifecycle.render().plain
                assert lifecycle.rates["reserves"] == 0 and lifecycle.rates["deletes"] == 0
                assert "reserve ≈0.0/s" in text and "tube idle: its counts and rates" in text
                assert table.select_tube("busy")
                await wait_for(pilot, lambda: (lifecycle.rates.get("reserves") or 0) > 0)
                assert (lifecycle.rates["deletes"] or 0) > 0 and (lifecycle.rates["puts"] or 0) > 0
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task


async def test_jobs_across_tubes_have_a_tube_column(server: Beanstalkd) -> None:
    put_many(server, "emails", 2)
    put_many(server, "thumbnails", 1)
    with greenstalk_client(server, watch="emails") as worker:
        worker.bury(worker.reserve(timeout=1))
        worker.delete(worker.reserve(timeout=1))
    async with first_screen(server, names("emails", "1 buried job")) as (app, pilot):
        jobs = app.main.query_one(JobList)
        await wait_for(pilot, lambda: len(jobs.jobs) == 2)
        assert app.main.tube is None

        def rows() -> list[str]:
            return [jobs.render_line(y).text for y in range(3)]

        header = rows()[0].split()
        assert header[:3] == ["id", "tube", "state"]
        assert {row.split()[1] for row in rows()[1:]} == {"emails", "thumbnails"}
        assert app.main.query_one(TubesTable).select_tube("emails")
        await wait_for(pilot, lambda: app.main.tube == "emails")
        await pilot.pause()
        assert rows()[0].split()[:2] == ["id", "state"]


async def test_slash_name_enter_selects_the_tube_and_shows_its_jobs(server: Beanstalkd) -> None:
    put_many(server, "reports", 3)
    put_many(server, "reports-archive", 1)
    put_many(server, "emails", 2)
    async with first_screen(server, lambda app: app.main.tube is None) as (app, pilot):
        table = app.main.query_one(TubesTable)
        table.focus()
        await pilot.press("slash", *"reports", "enter")
        await wait_for(pilot, lambda: app.main.tube == "reports")
        assert table.selected_tube == "reports" and app.focused is table
        await wait_for(pilot, lambda: len(app.main.query_one(JobList).jobs) == 3)
        await pilot.press("slash", *"mail", "enter")
        await wait_for(pilot, lambda: app.main.tube == "emails")


async def test_the_search_count_follows_the_list(server: Beanstalkd) -> None:
    put_many(server, "emails", 4)
    async with first_screen(server, lambda app: len(app.inventory) == 4) as (app, pilot):
        assert app.main.run_query("state=ready")
        status = app.main.query_one("#query-status")

        def says(text: str) -> bool:
            return str(getattr(status, "content", "")) == text

        await wait_for(pilot, lambda: says("4 jobs match"))
        put_many(server, "emails", 3)
        await wait_for(pilot, lambda: says("7 jobs match"))
        assert len(app.main.query_one(JobList).jobs) == 7
