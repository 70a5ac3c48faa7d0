"""Helpers for tests that drive an app with Textual's Pilot."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from textual.app import App
from textual.pilot import Pilot


async def wait_for(
    pilot: Pilot[Any], condition: Callable[[], object], timeout: float = 10.0
) -> None:
    """Let the app run until ``condition()`` is true; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s: {condition}")
        await pilot.pause(0.02)


def notices(app: App[Any]) -> list[str]:
    """The messages of the notifications on screen now (they expire after a while)."""
    return [n.message for n in app._notifications]
