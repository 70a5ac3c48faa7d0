"""One pipelined server refresh: ``stats``, ``list-tubes`` and every ``stats-tube``.

No Textual here: the benchmark and the tests drive it with a bare client.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from stalkview.client import Client
from stalkview.client import commands as cmd
from stalkview.client.commands import Call
from stalkview.client.errors import Error

#: The app's connections (live view, inventory, fleet, actions): a server that
#: does not accept within this is shown as unreachable, and retried.
CONNECT_TIMEOUT = 3.0
#: A live-view reply slower than this counts as a lost server (banner, backoff).
COMMAND_TIMEOUT = 10.0
#: Actions pipeline batches of hundreds of commands in one write: the last reply
#: of a batch may take longer than a refresh's.
ACTION_COMMAND_TIMEOUT = 30.0


@dataclass
class Snapshot:
    """What one refresh saw: server stats and the stats of every tube, in list-tubes order."""

    stats: dict[str, Any]
    tubes: dict[str, dict[str, Any]]
    at: float = field(default_factory=time.monotonic)
    elapsed: float = 0.0
    round_trips: int = 1


def _raise_if_error(value: Any) -> Any:
    if isinstance(value, BaseException):
        raise value
    return value


async def fetch_snapshot(client: Client, known_tubes: Sequence[str] = ()) -> Snapshot:
    """Fetch a snapshot in one round trip when the tube list did not change.

    The ``stats-tube`` calls for the tubes seen last time ride in the same write
    as ``stats`` and ``list-tubes`` (read in bulk: 1,000 tubes a second is the
    target); only tubes that are new since then need a second write. A tube that
    vanished answers NOT_FOUND and is simply dropped.
    """
    start = time.perf_counter()
    known = list(known_tubes)
    results = await client.stats_tubes(known, first=_HEAD)
    stats = _raise_if_error(results[0])
    names: list[str] = _raise_if_error(results[1])
    got = _keep_found(known, results[2:])
    missing = [name for name in names if name not in got]
    trips = 1
    if missing:
        trips = 2
        got.update(_keep_found(missing, await client.stats_tubes(missing)))
    tubes = {name: got[name] for name in names if name in got}
    return Snapshot(stats, tubes, elapsed=time.perf_counter() - start, round_trips=trips)


_HEAD: tuple[Call[Any], ...] = (cmd.STATS, cmd.LIST_TUBES)


def _keep_found(names: Sequence[str], results: Sequence[Any]) -> dict[str, dict[str, Any]]:
    """The stats of the tubes that answered; NOT_FOUND (None) dropped, other errors raised."""
    got: dict[str, dict[str, Any]] = {}
    for name, result in zip(names, results, strict=True):
        if result.__class__ is dict:
            got[name] = result
        elif result is not None:
            raise result if isinstance(result, Error) else TypeError(result)
    return got


def totals(snapshot: Snapshot, tube: str | None) -> dict[str, int]:
    """Job counts per state for one tube, or for the whole server (tube None)."""
    if tube is None:
        source: dict[str, Any] = snapshot.stats
    else:
        source = snapshot.tubes.get(tube, {})
    return {
        "ready": int(source.get("current-jobs-ready", 0)),
        "delayed": int(source.get("current-jobs-delayed", 0)),
        "reserved": int(source.get("current-jobs-reserved", 0)),
        "buried": int(source.get("current-jobs-buried", 0)),
        "urgent": int(source.get("current-jobs-urgent", 0)),
    }
