"""The stalkview Textual app: ``run_app(address)`` for one server, ``run_fleet_app(targets)``
for several."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from stalkview.config import Target


def run_app(
    address: str,
    *,
    interval: float = 1.0,
    read_only: bool = False,
    title: str | None = None,
    scan_budget: float = 25.0,
    binlog: str | None = None,
    log_banner: str | None = None,
    shown_address: str | None = None,
) -> int:
    """Open the app on a beanstalkd server; return the process exit code.

    ``binlog`` is the server's log directory (the inventory reads its job ids);
    ``log_banner`` says the server is a private copy restored from a log.
    """
    # Imported here so `import stalkview.app` stays cheap for the CLI's other commands.
    from stalkview.app.app import StalkviewApp

    app = StalkviewApp(
        address,
        interval=interval,
        read_only=read_only,
        title=title,
        scan_budget=scan_budget,
        binlog=binlog,
        log_banner=log_banner,
        shown_address=shown_address,
    )
    result = app.run()
    if app.return_code not in (None, 0):
        return int(app.return_code or 1)
    return int(result or 0)


def run_fleet_app(
    targets: Sequence[Target],
    *,
    interval: float = 1.0,
    read_only: bool = False,
    scan_budget: float = 25.0,
) -> int:
    """Open the app on several servers (each target keeps its own read-only setting;
    ``read_only`` makes all of them read-only); return the process exit code."""
    from stalkview.app.fleetapp import FleetApp

    app = FleetApp(targets, interval=interval, read_only=read_only, scan_budget=scan_budget)
    result = app.run()
    if app.return_code not in (None, 0):
        return int(app.return_code or 1)
    return int(result or 0)


__all__ = ["run_app", "run_fleet_app"]
