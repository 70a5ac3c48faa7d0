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
from tests.logscenes import (
    CHANGE_COUNTERS,
    FILE_SIZE,
    Churn,
    files,
    pin_old_job,
    runaway_files,
    wait_stats,
)


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
            await wait_stats(client, lambda s: files(s) >= runaway_files(churn.count))
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
    assert "'binlog' needs a server ADDRESS, or --binlog DIR" in capsys.readouterr().err


async def test_binlog_dir_of_a_stopped_server(
    logged: Beanstalkd, capsys: pytest.CaptureFixture[str]
) -> None:
    async with Client(logged.address) as client:
        job = await pin_old_job(client)
        churn = await Churn(logged.address, jobs=300).start()
        try:
            await wait_stats(client, lambda s: files(s) >= runaway_files(churn.count))
        finally:
            await churn.stop()
    logged.stop()
    assert logged.binlog_dir is not None
    code, out, err = await run_cli(["binlog", "--binlog", logged.binlog_dir, "--json"], capsys)
    assert code == 0, err
    report = json.loads(out)
    detail = report["files_detail"]
    assert report["files"] == len(detail) >= 10
    assert report["bytes"] == sum(
        p.stat().st_size for p in Path(logged.binlog_dir).glob("binlog.*")
    )
    assert report["live_jobs"] == 301
    assert report["live_bytes"] == len(b'{"to": "ops@example.com"}') + 300 * 20
    first = detail[0]
    assert first["file"] == "binlog.1" and first["live_jobs"] == 1
    assert first["jobs"][0]["id"] == job and first["jobs"][0]["tube"] == "emails"
    assert first["jobs"][0]["state"] == "buried"
    assert first["why_kept"].startswith("kept by 1 live job whose full record is here")
    held = [f["index"] for f in detail if f["live_jobs"]]
    assert any("it goes after binlog." in f["why_kept"] for f in detail if not f["live_jobs"])
    assert held[0] == 1

    code, out, err = await run_cli(["binlog", "--binlog", logged.binlog_dir], capsys)
    assert code == 0, err
    assert "binlog.1 " in out and f"oldest job {job} in emails, buried" in out
    assert "What to do about a binlog that runs away" in out


async def test_binlog_with_the_directory_reads_real_sizes(
    logged: Beanstalkd, capsys: pytest.CaptureFixture[str]
) -> None:
    async with Client(logged.address) as client:
        job = await pin_old_job(client)
    assert logged.binlog_dir is not None
    code, out, err = await run_cli(
        ["binlog", logged.address, "--binlog", logged.binlog_dir, "--json", "--window", "0.2"],
        capsys,
    )
    assert code == 0, err
    report = json.loads(out)
    assert report["bytes_exact"] is True
    assert report["bytes"] == sum(
        p.stat().st_size for p in Path(logged.binlog_dir).glob("binlog.*")
    )
    assert report["live_bytes"] == len(b'{"to": "ops@example.com"}')
    assert report["files_detail"][0]["jobs"][0]["id"] == job


async def test_binlog_dir_that_is_not_there(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = await run_cli(["binlog", "--binlog", str(tmp_path / "nope")], capsys)
    assert code == 1 and out == ""
    assert "does not exist" in err and "Traceback" not in err


async def test_binlog_finds_the_local_servers_directory(
    logged: Beanstalkd, capsys: pytest.CaptureFixture[str]
) -> None:
    async with Client(logged.address) as client:
        await pin_old_job(client)
    code, out, err = await run_cli(["binlog", logged.address, "--json", "--window", "0.2"], capsys)
    assert code == 0, err
    report = json.loads(out)
    # The -b of the beanstalkd listening there, found in /proc: the files' real sizes.
    assert report["binlog_dir"] == logged.binlog_dir
    assert report["bytes_exact"] is True


async def test_binlog_of_another_server_is_refused(
    logged: Beanstalkd,
    beanstalkd_factory: Callable[..., Beanstalkd],
    capsys: pytest.CaptureFixture[str],
) -> None:
    other = beanstalkd_factory(binlog=True, binlog_size=FILE_SIZE)
    async with Client(logged.address) as client:
        await pin_old_job(client)  # this log is at binlog.2
    async with Client(other.address, encoding=None) as busy:
        while int((await busy.stats())["binlog-current-index"]) < 5:
            await busy.delete(await busy.put(b"x" * 4000))  # the other's is further on
    assert other.binlog_dir is not None
    code, out, err = await run_cli(
        ["binlog", logged.address, "--binlog", other.binlog_dir, "--window", "0.2"], capsys
    )
    assert code == 1 and out == ""
    assert f"--binlog {other.binlog_dir}: the server writes binlog.2, and" in err
    assert "another server's log" in err
