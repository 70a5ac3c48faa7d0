"""The stalkview Textual app. ``run_app(address)`` is the one entry point the CLI needs."""

from __future__ import annotations


def run_app(
    address: str,
    *,
    interval: float = 1.0,
    read_only: bool = False,
    title: str | None = None,
) -> int:
    """Open the app on a beanstalkd server; return the process exit code."""
    # Imported here so `import stalkview.app` stays cheap for the CLI's other commands.
    from stalkview.app.app import StalkviewApp

    app = StalkviewApp(address, interval=interval, read_only=read_only, title=title)
    result = app.run()
    if app.return_code not in (None, 0):
        return int(app.return_code or 1)
    return int(result or 0)


__all__ = ["run_app"]
