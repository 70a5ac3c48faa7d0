"""Where the app's jobs come from: the server bar says ``binlog DIR`` or ``id scan``;
``stalkview --binlog DIR`` shows a stopped server's log under a banner."""

from __future__ import annotations

import signal
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from textual.widgets import Static

from stalkview import cli
from stalkview.app.app import StalkviewApp
from stalkview.app.widgets.serverbar import ServerBar
from stalkview.binlog import Binlog
from stalkview.logserver import restored_server
from tests.app.test_app import SIZE, make_app, plain, ready
from tests.beanstalkd import Beanstalkd
from tests.inventory.test_binlog import connect, live, mixed_workload
from tests.pilot import wait_for


@pytest.fixture
def logged(beanstalkd_factory: Callable[..., Beanstalkd]) -> Beanstalkd:
    return beanstalkd_factory(binlog=True)


def totals(app: StalkviewApp) -> str:
    return plain(app.main.query_one(ServerBar).query_one("#sb-totals", Static))


async def test_the_server_bar_says_the_jobs_come_from_the_binlog(logged: Beanstalkd) -> None:
    with connect(logged, "emails") as c:
        ids = [c.put(b"mail %d" % n) for n in range(5)]
    app = make_app(logged, binlog=logged.binlog_dir)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await wait_for(pilot, lambda: f"jobs from binlog {logged.binlog_dir}" in totals(app))
        assert sorted(app.inventory.jobs) == ids


async def test_without_a_log_the_bar_says_id_scan(server: Beanstalkd) -> None:
    with connect(server) as c:
        c.put(b"x")
    app = make_app(server)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await wait_for(pilot, lambda: "jobs from id scan" in totals(app))


def test_the_app_finds_a_local_servers_binlog(
    logged: Beanstalkd, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("STALKVIEW_CONFIG", str(tmp_path / "absent.toml"))
    opened: list[dict[str, Any]] = []

    def run_app(address: str, **kw: Any) -> int:
        opened.append(kw)
        return 0

    monkeypatch.setattr(cli, "run_app", run_app)
    assert cli.main([logged.address]) == 0
    assert cli.main([logged.address, "--binlog", str(tmp_path)]) == 0
    assert [kw["binlog"] for kw in opened] == [logged.binlog_dir, str(tmp_path)]
    config = tmp_path / "config.toml"
    config.write_text(f'[servers.q]\naddress = "10.9.9.9:11300"\nbinlog = "{tmp_path}/q"\n')
    assert cli.main(["q", "--config", str(config)]) == 0
    assert opened[-1]["binlog"] == f"{tmp_path}/q"


def test_a_log_is_restored_privately_as_the_reader_says(logged: Beanstalkd) -> None:
    _ids, worker = mixed_workload(logged)
    logged.stop(signal.SIGKILL)
    worker.close()
    before = sorted(Path(logged.binlog_dir or "").iterdir())
    with restored_server(logged.binlog_dir or "") as (address, log, _copy):
        truth = live_unix(address)
        assert set(truth) == set(log.jobs)
        for jid, stats in truth.items():
            assert stats["state"] == log.jobs[jid].state
            assert stats["body"] == log.body(jid)
    # The original directory was only read.
    assert sorted(Path(logged.binlog_dir or "").iterdir()) == before


def live_unix(path: str) -> dict[int, dict[str, Any]]:
    import greenstalk

    out = {}
    with greenstalk.Client(path, encoding=None) as c:
        for jid in range(1, 100):
            try:
                out[jid] = {**c.stats_job(jid), "body": c.peek(jid).body}
            except greenstalk.NotFoundError:
                continue
    return out


def test_a_job_near_the_size_limit_survives_only_in_stalkviews_restore(
    logged: Beanstalkd,
) -> None:
    """beanstalkd checks a logged size, which counts the trailing \\r\\n, against -z:
    a job within 2 bytes of the limit does not come back after its own restart.
    The log has it; the reader and the private restore keep it."""
    body = b"x" * 65_534
    with connect(logged) as c:
        big = c.put(body)
    directory = logged.binlog_dir or ""
    logged.stop(signal.SIGKILL)
    log = Binlog(directory)
    log.read()
    assert log.body(big) == body
    with restored_server(directory) as (address, _log, _copy):
        assert live_unix(address)[big]["body"] == body
    logged.restart()  # the server itself, same -z (default 65,535)
    assert big not in live(logged)


async def test_the_log_view_says_it_is_not_a_live_server(logged: Beanstalkd) -> None:
    with connect(logged, "emails") as c:
        c.put(b"from the log")
    logged.stop(signal.SIGKILL)
    with restored_server(logged.binlog_dir or "") as (address, _log, copy):
        app = StalkviewApp(
            address,
            interval=0.2,
            read_only=True,
            binlog=copy,
            log_banner="LOG, not a live server: test",
        )
        async with app.run_test(size=SIZE) as pilot:
            await ready(pilot)
            banner = app.main.query_one("#log-banner", Static)
            assert plain(banner) == "LOG, not a live server: test"
            assert app.read_only
            assert len(app.inventory.jobs) == 1
            assert app.inventory.found_by == "the log (a restored copy)"
