"""Save SVG screenshots of the app for the README: ``python -m tests.screenshots``.

Builds a realistic server state on a private beanstalkd (several tubes, jobs in
every state, Laravel-style JSON bodies, a paused tube, a worker holding
reservations, some poison jobs), keeps a small workload running so the rates
and sparklines move, and saves:

- screenshots/main.svg       the main screen
- screenshots/detail.svg     the job detail of a JSON job
- screenshots/lifecycle.svg  the lifecycle view with a poison job selected
"""

from __future__ import annotations

import asyncio
import json
import random
import time
from pathlib import Path

from stalkview.app.app import StalkviewApp
from stalkview.app.widgets.jobdetail import JobDetail
from stalkview.app.widgets.joblist import JobList
from stalkview.app.widgets.tubes import TubesTable
from stalkview.client import Client
from tests.beanstalkd import Beanstalkd

OUT = Path(__file__).resolve().parent.parent / "screenshots"
SIZE = (160, 48)
JOB_CLASSES = {
    "emails": ["App\\Jobs\\SendWelcomeEmail", "App\\Jobs\\SendInvoice", "App\\Jobs\\SendReset"],
    "thumbnails": ["App\\Jobs\\ResizeImage"],
    "reports": ["App\\Jobs\\BuildMonthlyReport"],
    "webhooks": ["App\\Jobs\\DeliverWebhook"],
}


def laravel_body(job_class: str, n: int) -> bytes:
    payload = {
        "uuid": f"9b1c{n:04x}-5e2a-4c1e-a0f3-{n:012x}",
        "displayName": job_class,
        "job": "Illuminate\\Queue\\CallQueuedHandler@call",
        "maxTries": 3,
        "timeout": 120,
        "data": {"commandName": job_class, "user_id": 1000 + n, "locale": "en"},
        "attempts": 0,
    }
    return json.dumps(payload).encode()


async def build_state(address: str) -> list[Client]:
    """Fill the server; return the clients that must stay open (held reservations)."""
    rng = random.Random(4)
    async with Client(address, encoding=None) as producer:
        for tube, count in (
            ("emails", 420),
            ("thumbnails", 160),
            ("reports", 12),
            ("webhooks", 60),
        ):
            await producer.use(tube)
            classes = JOB_CLASSES[tube]
            for n in range(count):
                delay = 3600 if n % 9 == 0 else 0
                pri = 100 if n % 13 == 0 else 1024
                body = laravel_body(rng.choice(classes), n)
                await producer.put(body, priority=pri, delay=delay, ttr=120)
        await producer.use("legacy-binary")
        await producer.put(bytes(rng.randrange(256) for _ in range(300)))
        await producer.pause_tube("thumbnails", 900)
    # Poison jobs: a worker keeps failing them (released again and again), then buries them.
    async with Client(address, encoding=None) as flaky:
        for job_id in await webhook_ids(address, 3):
            for _ in range(3):
                await flaky.reserve_job(job_id)
                await flaky.release(job_id, priority=1024)
            await flaky.reserve_job(job_id)
            await flaky.bury(job_id, priority=1024)
    worker = await Client.connect(address, watch="reports", encoding=None)
    await worker.ignore("default")
    for _ in range(3):
        await worker.reserve(0)  # held: shows as reserved
    return [worker]


async def webhook_ids(address: str, count: int) -> list[int]:
    async with Client(address) as probe:
        await probe.use("webhooks")
        first = (await probe.peek_ready()).id
    return [first + n for n in range(count) if n < count]


async def workload(address: str, stop: asyncio.Event) -> None:
    """A trickle of puts, reserves and deletes so the rates are not all zero."""
    async with Client(address, use="emails", watch="emails") as client:
        n = 0
        while not stop.is_set():
            await client.put(laravel_body("App\\Jobs\\SendWelcomeEmail", 9000 + n).decode())
            job = await client.reserve(0)
            await client.delete(job.id)
            if n % 4 == 0:
                await client.put(laravel_body("App\\Jobs\\SendInvoice", 9500 + n).decode())
            n += 1
            await asyncio.sleep(0.05)


async def wait_until(pilot: object, condition: object, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise RuntimeError("the app did not reach the expected state in time")
        await pilot.pause(0.05)  # type: ignore[attr-defined]


async def shoot(address: str) -> list[Path]:
    OUT.mkdir(exist_ok=True)
    held = await build_state(address)
    stop = asyncio.Event()
    load = asyncio.create_task(workload(address, stop))
    saved: list[Path] = []
    app = StalkviewApp(address, interval=0.5)
    try:
        async with app.run_test(size=SIZE) as pilot:
            await wait_until(pilot, lambda: app.inventory.scanned and app.refreshes > 12)
            table = app.main.query_one(TubesTable)
            table.sort_by("ready", reverse=True)
            table.select_tube("emails")
            job_list = app.main.query_one(JobList)
            await wait_until(pilot, lambda: app.main.tube == "emails" and len(job_list.jobs) > 0)
            job_list.focus()
            await pilot.press("j", "j")
            detail = app.main.query_one(JobDetail)
            await wait_until(pilot, lambda: detail.job is not None and detail.decoded is not None)
            await wait_until(
                pilot, lambda: all(job_list.has_preview(j.id) for j in job_list.jobs[:10])
            )
            saved.append(Path(app.save_screenshot("main.svg", str(OUT))))
            await pilot.press("enter")
            await pilot.pause(0.3)
            saved.append(Path(app.save_screenshot("detail.svg", str(OUT))))
            table.select_tube("webhooks")
            await wait_until(pilot, lambda: app.main.tube == "webhooks")
            job_list.focus()
            await pilot.press("5", "l")
            await wait_until(
                pilot,
                lambda: app.main.current_job is not None and app.main.current_job.state == "buried",
            )
            await pilot.pause(0.3)
            saved.append(Path(app.save_screenshot("lifecycle.svg", str(OUT))))
    finally:
        stop.set()
        await load
        for client in held:
            await client.close()
    return saved


def main() -> None:
    server = Beanstalkd().start()
    try:
        for path in asyncio.run(shoot(server.address)):
            print(path)
    finally:
        server.stop()


if __name__ == "__main__":
    main()
