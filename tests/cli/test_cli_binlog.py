"""`stalkview binlog ADDRESS`: the binlog against the live data, its writers and pinners,
on a real beanstalkd with ``-b`` and small files."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from pathlib import Path

import pytest

from stalkview.cli import main
from stalkview.client import Client
from tests.beanstalkd import Beanstalkd
from tests.logscenes import CHANGE_COUNTERS, FILE_SIZE, Churn, files, pin_old_job, wait_stats


@pytest.fixture(autouse=True)
def no_user_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STALKVIEW_CONFIG", str(tmp_path / "absent-config.toml"))


@pytest.fixture
def logged(beanstalkd_factory: Callable[..., Beanstalkd]) -> Beanstalkd:
    return beanstalkd_factory(binlog=True, binlog_size=FILE_SIZE)


async def run_cli(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    # The command runs its own event loop: in a thread, while the churn goes on in ours.
    code = await asyncio.to_thread(main, argv)
    out, err = capsys.readouterr()
    return code, out, err


async def test_binlog_names_the_pinning_job_and_the_churning_tube(
    logged: Beanstalkd, capsys: pytest.CaptureFixture[str]
) -> None:
    async with Client(logged.address) as client:
        job = await pin_old_job(client)
        churn = await Churn(logged.address).start()
        try:
            await wait_stats(client, lambda s: files(s) >= 10)
            code, out, err = await run_cli(
                ["binlog", logged.address, "--json", "--window", "1.5"], capsys
            )
            assert code == 0, err
            report = json.loads(out)
            assert report["oldest_index"] == 1
            assert report["files"] >= 10
            assert report["runaway"] is True
            assert report["amplification"] >= 10
            assert report["pinning"][0] == {
                "id": job,
                "tube": "emails",
                "state": "buried",
                "age": report["pinning"][0]["age"],
                "file": 1,
            }
            assert report["oldest_file_jobs"] == 1
            assert report["writers"][0]["tube"] == "retry"
            assert report["writers"][0]["delayed_releases_per_s"] > 0
            assert report["records_per_s"] > 0

            code, out, err = await run_cli(["binlog", logged.address, "--window", "1"], capsys)
            assert code == 0, err
            assert f"binlog.1 (of {report['files']}" in out or "binlog.1 (of" in out
            assert f"kept by job {job} in emails, buried" in out
            assert "retry writes" in out and "released with a delay (#622)" in out
            assert "Kicking alone frees nothing" in out
        finally:
            await churn.stop()
        # Deleting the job frees binlog.1: the server moves its oldest index on.
        before = await client.stats()
        await client.delete(job)
        after = await wait_stats(client, lambda s: int(s["binlog-oldest-index"]) > 1, 5)
        assert files(after) < files(before)


async def test_binlog_is_read_only(logged: Beanstalkd, capsys: pytest.CaptureFixture[str]) -> None:
    async with Client(logged.address) as client:
        job = await pin_old_job(client)
        before = await client.stats()
        tubes_before = await client.tubes()
        job_before = await client.stats_job(job)
        code, _out, err = await run_cli(["binlog", logged.address, "--window", "0.2"], capsys)
        assert code == 0, err
        after = await client.stats()
        assert {k: after[k] for k in CHANGE_COUNTERS} == {k: before[k] for k in CHANGE_COUNTERS}
        assert after["cmd-stats-job"] > before["cmd-stats-job"]  # it did look
        job_after = await client.stats_job(job)
        assert {k: job_after[k] for k in ("state", "file", "reserves", "kicks", "buries")} == {
            k: job_before[k] for k in ("state", "file", "reserves", "kicks", "buries")
        }
        assert await client.tubes() == tubes_before  # no tube created or kept alive


async def test_binlog_on_a_server_without_one(
    server: Beanstalkd, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = await run_cli(["binlog", server.address], capsys)
    assert code == 1
    assert out == ""
    assert "keeps no binlog" in err and "-b DIR" in err
    assert "Traceback" not in err


def test_binlog_without_address(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["binlog"]) == 2
    assert "ADDRESS" in capsys.readouterr().err
