"""``stalkview --demo``: a private beanstalkd, a live workload, and the app on top.

The workload runs in a thread with its own event loop because the app owns
the main thread's. Whatever ends the demo (quitting the app, Ctrl+C, SIGTERM,
SIGHUP, an exception) the workload is stopped first, then the server, then its
directory is removed.
"""

from __future__ import annotations

import asyncio
import importlib
import os
import signal
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from types import FrameType
from typing import TextIO

from stalkview.demo.server import BeanstalkdNotFound, DemoServer, DemoServerError, stop_all
from stalkview.demo.workload import SeedSummary, Workload, seed

TITLE = "stalkview demo"


@dataclass
class DemoController:
    """The running demo's parts, for tests and for the screenshot script."""

    server: DemoServer
    summary: SeedSummary
    workload: Workload

    @property
    def address(self) -> str:
        return self.server.address

    def start_workload(self) -> None:
        if not self.workload.running:
            self.workload = _fresh(self.workload)
            self.workload.start()

    def stop_workload(self) -> None:
        self.workload.stop()


def _fresh(old: Workload) -> Workload:
    # A Workload runs once; restarting means a new one with the same settings.
    return Workload(
        old.address,
        seed=old.seed,
        rate=old.rate,
        stall_every=old.stall_every,
        kick_every=old.kick_every,
        profiles=old.profiles,
    )


@contextmanager
def demo_environment(
    seed: int = 42,
    *,
    workload: bool = True,
    rate: float = 3.0,
    stall_every: float = 20.0,
    kick_every: float = 10.0,
) -> Iterator[tuple[str, DemoController]]:
    """Start a seeded demo server (and its workload, unless ``workload=False``).

    Yields ``(address, controller)``; on exit the workload and the server are
    stopped and the temporary directory removed. Raises BeanstalkdNotFound when
    beanstalkd is not installed.
    """
    with DemoServer() as server:
        summary = asyncio.run(_seed(server.address, seed))
        live = Workload(
            server.address, seed=seed, rate=rate, stall_every=stall_every, kick_every=kick_every
        )
        controller = DemoController(server, summary, live)
        # Whoever stops the server (us, a signal, atexit) stops the workload first.
        server.before_stop.append(controller.stop_workload)
        try:
            if workload:
                live.start()
            yield server.address, controller
        finally:
            controller.stop_workload()


async def _seed(address: str, seed_value: int) -> SeedSummary:
    return await seed(address, seed=seed_value)


def run_demo(*, read_only: bool = False, interval: float = 1.0, seed: int = 42) -> int:
    """Run the demo until the app quits or Ctrl+C.

    Returns 0, 1 on error (beanstalkd missing or failing to start, with a
    message on stderr), or 128+N when ended by SIGTERM/SIGHUP (signal N).
    """
    received: list[int] = []
    try:
        with demo_environment(seed) as (address, _controller), _signals_interrupt(received):
            status = _open_app(address, read_only=read_only, interval=interval)
    except KeyboardInterrupt:
        status = 0
    except (BeanstalkdNotFound, DemoServerError) as exc:
        print(f"stalkview demo: {exc}", file=sys.stderr)
        return 1
    return 128 + received[0] if received else status


@contextmanager
def _signals_interrupt(received: list[int]) -> Iterator[None]:
    """Turn SIGTERM and SIGHUP into SIGINT while the app runs.

    Textual (through asyncio) shuts down cleanly on SIGINT, restoring the
    terminal and joining its threads; an exception raised from a signal
    handler in the middle of its loop does not, and leaves the process hanging
    at exit. A second signal means "now": stop the servers and exit at once.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, frame: FrameType | None) -> None:
        if received:
            stop_all()
            os._exit(128 + signum)
        received.append(signum)
        signal.raise_signal(signal.SIGINT)

    signals = [s for s in (getattr(signal, "SIGTERM", None), getattr(signal, "SIGHUP", None)) if s]
    previous = {sig: signal.signal(sig, handler) for sig in signals}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


def _open_app(address: str, *, read_only: bool, interval: float) -> int:
    # Imported lazily: textual loads only when the app opens.
    try:
        run_app = importlib.import_module("stalkview.app").run_app
    except Exception as exc:  # a missing or broken app must not cost the user the demo
        return _serve_without_app(address, exc)
    result = run_app(address, interval=interval, read_only=read_only, title=TITLE)
    return result if isinstance(result, int) else 0


def _serve_without_app(address: str, reason: BaseException, out: TextIO | None = None) -> int:
    out = out or sys.stdout
    print(
        f"stalkview demo: the terminal UI could not be loaded ({reason}).\n"
        f"The demo beanstalkd is running with a live workload at {address}\n"
        f"Point any beanstalkd client at it, e.g. 'stalkview {address}' from another terminal.\n"
        "Press Ctrl+C to stop it.",
        file=out,
        flush=True,
    )
    while True:  # until Ctrl+C (KeyboardInterrupt) or SIGTERM/SIGHUP (SystemExit)
        time.sleep(3600)
