"""Save SVG screenshots of the app for the README: ``.venv/bin/python -m tests.screenshots``.

The state is the living demo's (``demo_environment(seed=42)``, its workload running): the
app watches it for ``--settle`` seconds (default 130: the sparklines cover two minutes)
before the first picture, so rates move, sparklines are filled and tubes have consumers.
The seeded incidents stay (a tube paused for an hour with jobs waiting, poison jobs,
buried piles). ``--small`` takes only the small-terminal ones.
Saved into screenshots/, stale SVGs removed:

- main.svg            the main screen, a JSON job of ``emails`` selected
- problems.svg        the problems summary, the seeded paused-tube incident highlighted
- jobs-filter.svg     the jobs pane of ``webhooks`` filtered to buried jobs and a search
- detail.svg          the job detail of a JSON job
- lifecycle.svg       the lifecycle of ``webhooks`` (its own flows) with a buried job selected
- put-form.svg        the put form, prefilled as a duplicate of a job
- confirm-delete.svg  the confirmation before deleting all buried jobs of a tube
- fleet.svg           four servers (the demo, two private servers seeded differently, one
                      down): the all-servers view with ``emails`` broken down per server
- small-80x24.svg     the main screen at 80x24: the columns that fit, health first
- small-80x24-detail.svg  at 80x24, enter on a job: its detail over the jobs list
- small-120x30.svg    the main screen at 120x30, a job of ``emails`` selected

``--small`` takes only the small-terminal ones (the others stay as they are).

Add ``--png`` to also write PNGs into /tmp/stalkview-screenshots (needs cairosvg)
to look at them.
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from textual.pilot import Pilot

from stalkview.app.app import StalkviewApp
from stalkview.app.fleetapp import FleetApp
from stalkview.app.screens.confirm import ConfirmScreen
from stalkview.app.screens.put import PutScreen
from stalkview.app.widgets.hints import ProblemList
from stalkview.app.widgets.jobdetail import JobDetail
from stalkview.app.widgets.joblist import JobList
from stalkview.app.widgets.tubes import TubesTable
from stalkview.config import Target
from stalkview.demo import demo_environment
from stalkview.demo.workload import seed
from tests.beanstalkd import Beanstalkd

OUT = Path(__file__).resolve().parent.parent / "screenshots"
PNG_OUT = Path(tempfile.gettempdir()) / "stalkview-screenshots"
SIZE = (160, 48)
SETTLE = 130.0
NAMES = (
    "main.svg",
    "problems.svg",
    "jobs-filter.svg",
    "detail.svg",
    "lifecycle.svg",
    "put-form.svg",
    "confirm-delete.svg",
    "fleet.svg",
    "small-80x24.svg",
    "small-80x24-detail.svg",
    "small-120x30.svg",
)
SMALL = ((80, 24), (120, 30))


async def wait_until(
    pilot: Pilot[Any], condition: Callable[[], object], what: str, timeout: float = 20.0
) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise RuntimeError(f"screenshots: the app did not reach {what} within {timeout:.0f} s")
        await pilot.pause(0.05)


class Shooter:
    def __init__(self, app: StalkviewApp, pilot: Pilot[Any]) -> None:
        self.app = app
        self.pilot = pilot
        self.saved: list[Path] = []

    async def save(self, name: str) -> None:
        assert name in NAMES, name
        await self.pilot.pause(0.3)  # let the last layout and repaint land
        self.saved.append(Path(self.app.save_screenshot(name, str(OUT))))

    async def open_tube(self, tube: str) -> JobList:
        app = self.app
        table = app.main.query_one(TubesTable)
        table.select_tube(tube)
        job_list = app.main.query_one(JobList)
        await wait_until(
            self.pilot, lambda: app.main.tube == tube and len(job_list.jobs) > 0, f"tube {tube}"
        )
        return job_list

    async def previews(self, job_list: JobList) -> None:
        await wait_until(
            self.pilot,
            lambda: all(job_list.has_preview(j.id) for j in job_list.visible_jobs()),
            "the body previews",
        )

    async def detail_of(self, job_id: int) -> None:
        detail = self.app.main.query_one(JobDetail)
        await wait_until(
            self.pilot,
            lambda: detail.job is not None and detail.job.id == job_id and detail.decoded,
            f"the detail of job {job_id}",
        )


async def shoot(address: str, settle: float = SETTLE) -> list[Path]:
    app = StalkviewApp(address, interval=1.0, title="stalkview demo")
    async with app.run_test(size=SIZE) as pilot:
        s = Shooter(app, pilot)
        await wait_until(pilot, lambda: app.inventory.scanned and app.refreshes > 2, "data")
        # Steady state: the rates and sparklines need the app to have watched a while.
        started = time.monotonic()
        print(f"watching the live demo for {settle:.0f} s…", file=sys.stderr)
        await wait_until(
            pilot, lambda: time.monotonic() - started >= settle, "steady state", settle + 10
        )
        app.main.query_one(TubesTable).sort_by("ready", reverse=True)
        job_list = await s.open_tube("emails")
        job_list.focus()
        # A buried job (the last listed): live workers would take a ready one away.
        await pilot.press("G")
        job = job_list.cursor_job
        assert job is not None
        await s.detail_of(job.id)
        await s.previews(job_list)
        await s.save("main.svg")

        await pilot.press("enter")
        await s.save("detail.svg")

        problems = app.main.query_one(ProblemList)
        problems.focus()
        paused = next((i for i, line in enumerate(problems.shown) if "paused" in line), None)
        if paused is None:
            raise RuntimeError("screenshots: the seeded paused tube is not among the problems")
        problems.highlighted = paused
        await s.save("problems.svg")
        job_list.focus()

        await pilot.press("y")
        await wait_until(pilot, lambda: isinstance(app.screen, PutScreen), "the put form")
        await s.save("put-form.svg")
        await pilot.press("escape")
        await wait_until(pilot, lambda: not isinstance(app.screen, PutScreen), "the form closed")

        job_list = await s.open_tube("webhooks")
        job_list.focus()
        await pilot.press("5")
        app.main.run_query("reserves>=1")
        await s.previews(job_list)
        await s.save("jobs-filter.svg")

        await pilot.press("l")
        await wait_until(
            pilot,
            lambda: app.main.current_job is not None and app.main.current_job.state == "buried",
            "a buried job in the lifecycle",
        )
        await s.save("lifecycle.svg")
        await pilot.press("l")

        app.main.run_query("")
        job_list.focus()
        await pilot.press("X")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmScreen), "the confirmation")
        await s.save("confirm-delete.svg")
        await pilot.press("n")
    return s.saved


async def shoot_fleet(address: str) -> list[Path]:
    """The fleet view: the demo plus private servers seeded differently, and one down."""
    extra = [Beanstalkd().start() for _ in range(3)]
    try:
        for server, n in zip(extra[:2], (7, 11), strict=True):
            await seed(server.address, seed=n)
        extra[2].stop()  # its row shows why it is down
        targets = [
            Target("demo", address),
            Target("eu-2", extra[0].address),
            Target("us-1", extra[1].address, read_only=True),
            Target("us-2", extra[2].address),
        ]
        app = FleetApp(targets, interval=1.0)
        async with app.run_test(size=SIZE) as pilot:
            s = Shooter(app, pilot)
            states = app.fleet.states
            await wait_until(
                pilot,
                lambda: all(st.polls >= 3 for st in states[:3]) and states[3].error is not None
                and app.inventory.scanned,
                "every server polled",
            )  # fmt: skip
            tubes = app.main.query_one(TubesTable)
            tubes.sort_by("ready", reverse=True)
            tubes.select_tube("emails")
            await wait_until(
                pilot, lambda: app.main.query_one("#breakdown-pane").display, "the breakdown"
            )
            job_list = app.main.query_one(JobList)
            await wait_until(pilot, lambda: len(job_list.jobs) > 0, "the jobs of emails")
            await s.previews(job_list)
            await s.save("fleet.svg")
        return s.saved
    finally:
        for server in extra:
            server.stop()


async def shoot_small(address: str) -> list[Path]:
    """The terminals on-call really has: 80x24 (with the detail over the list) and 120x30."""
    saved: list[Path] = []
    for size in SMALL:
        saved += await shoot_size(address, size)
    return saved


async def shoot_size(address: str, size: tuple[int, int]) -> list[Path]:
    app = StalkviewApp(address, interval=1.0, title="stalkview demo")
    async with app.run_test(size=size) as pilot:
        s = Shooter(app, pilot)
        # A few refreshes of the live demo: its rates are moving (sparklines are the big
        # screenshot's business).
        await wait_until(pilot, lambda: app.inventory.scanned and app.refreshes > 8, "data")
        app.main.query_one(TubesTable).sort_by("ready", reverse=True)
        job_list = await s.open_tube("emails")
        job_list.focus()
        # A buried job (the last listed): live workers would take a ready one away.
        await pilot.press("G")
        job = job_list.cursor_job
        assert job is not None
        await s.detail_of(job.id)
        await wait_until(
            pilot,
            lambda: all(job_list.has_preview(j.id) for j in job_list.visible_jobs()),
            "the body previews",
        )
        name = f"small-{size[0]}x{size[1]}"
        await s.save(f"{name}.svg")
        if size == (80, 24):
            await pilot.press("enter")
            detail = app.main.query_one(JobDetail)
            await wait_until(pilot, lambda: detail.has_focus, "the detail over the list")
            await s.save(f"{name}-detail.svg")
    return s.saved


def remove_stale() -> None:
    for old in OUT.glob("*.svg"):
        if old.name not in NAMES:
            old.unlink()
            print(f"removed stale {old}")


def to_png(svg: Path) -> Path:
    """A PNG to look at; cairosvg lays cells out right once the font is one it has."""
    import cairosvg  # type: ignore[import-untyped,import-not-found,unused-ignore]

    text = svg.read_text().replace("Fira Code", "DejaVu Sans Mono")
    PNG_OUT.mkdir(exist_ok=True)
    png = PNG_OUT / svg.with_suffix(".png").name
    cairosvg.svg2png(bytestring=text.encode(), write_to=str(png))
    return png


def main(argv: list[str]) -> int:
    OUT.mkdir(exist_ok=True)
    settle = SETTLE
    if "--settle" in argv:
        settle = float(argv[argv.index("--settle") + 1])
    saved: list[Path] = []
    with demo_environment(seed=42) as (address, _controller):
        if "--small" not in argv:
            saved += asyncio.run(shoot(address, settle))
            saved += asyncio.run(shoot_fleet(address))
        saved += asyncio.run(shoot_small(address))
    if "--small" not in argv:
        remove_stale()
    for path in saved:
        print(path)
        if "--png" in argv:
            print(to_png(path))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
