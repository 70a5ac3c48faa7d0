"""Test doubles shared by the test modules."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class FakeJob:
    """Shaped like ``inventory.JobInfo`` (mutable: the inventory updates jobs in place).

    Test modules subclass it to change defaults; the model and widget tests use it
    so they stay independent of the inventory.
    """

    id: int = 1
    tube: str = "default"
    state: str = "ready"
    pri: int = 1024
    age: int = 0
    delay: int = 0
    ttr: int = 60
    time_left: int = 0
    file: int = 0
    reserves: int = 0
    timeouts: int = 0
    releases: int = 0
    buries: int = 0
    kicks: int = 0
    seen: float = 0.0
