"""Test doubles and job helpers shared by the test modules."""

from __future__ import annotations

from dataclasses import dataclass

from stalkview.client import Client
from stalkview.client import commands as cmd
from stalkview.ops import run_in_tube

#: A body no decoder may mangle or show raw: binary, an escape sequence, Rich markup.
BINARY = b"\x00\xff\x1b[2J[bold]not markup\r\n\xc3"


async def put_in(
    client: Client, tube: str, body: bytes, *, priority: int = 100, delay: int = 0, ttr: int = 60
) -> int:
    """Put a job into ``tube``; the client's used tube is left as it was."""
    (jid,) = await run_in_tube(client, tube, [cmd.put(body, priority, delay, ttr)])
    assert isinstance(jid, int)
    return jid


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
