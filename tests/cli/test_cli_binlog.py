"""The command line over a binlog: a stopped or crashed server's jobs, and recovery."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from stalkview.cli import main
from tests.beanstalkd import Beanstalkd
from tests.inventory.test_binlog import _as_unprivileged, connect, live, mixed_workload


@pytest.fixture(autouse=True)
def no_user_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STALKVIEW_CONFIG", str(tmp_path / "absent-config.toml"))


@pytest.fixture
def logged(tmp_path: Path) -> Iterator[Beanstalkd]:
    directory = tmp_path / "binlog"
    directory.mkdir()
    server = Beanstalkd(binlog_dir=str(directory))
    yield server.start()
    server.stop()


@pytest.fixture
def fresh() -> Iterator[Beanstalkd]:
    server = Beanstalkd()
    yield server.start()
    server.stop()


def restorable(jobs: dict[int, dict[str, Any]]) -> list[tuple[Any, ...]]:
    """What a recovery must keep of each job: tube, state (reserved comes back
    ready), priority, ttr and body."""
    out = []
    for stats in jobs.values():
        state = "ready" if stats["state"] == "reserved" else stats["state"]
        out.append((stats["tube"], state, stats["pri"], stats["ttr"], stats["body"]))
    return sorted(out)


def test_offline_export_after_sigkill_imports_into_a_fresh_server(
    logged: Beanstalkd, fresh: Beanstalkd, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _ids, worker = mixed_workload(logged)
    before = live(logged)
    assert "reserved" in {s["state"] for s in before.values()}
    logged.stop(signal.SIGKILL)  # the crash
    worker.close()
    exported = tmp_path / "jobs.jsonl"

    assert main(["export", "--binlog", logged.binlog_dir or "", "-o", str(exported)]) == 0
    err = capsys.readouterr().err
    assert f"exported 7 jobs from the log {logged.binlog_dir}" in err
    assert main(["import", fresh.address, str(exported)]) == 0

    after = live(fresh)
    assert restorable(after) == restorable(before)
    (delayed,) = [s for s in after.values() if s["state"] == "delayed"]
    assert 3590 <= delayed["time-left"] <= 3600
    records = [json.loads(line) for line in exported.read_text().splitlines()]
    assert {r["server"] for r in records} == {f"binlog {logged.binlog_dir}"}
    assert [r["state"] for r in records] == ["ready"] * 5 + ["delayed", "buried"]


def test_jobs_from_the_log_alone(
    logged: Beanstalkd, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ids, worker = mixed_workload(logged)
    worker.close()
    directory = logged.binlog_dir or ""
    logged.stop()

    assert main(["jobs", "--binlog", directory, "--json", "--bodies", "--tube", "emails"]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    # Server order: ready by priority, then delayed, then buried.
    assert [r["id"] for r in lines] == [
        ids["reserved"],
        ids["ready"],
        ids["binary"],
        ids["delayed"],
        ids["buried"],
    ]
    binary = next(r for r in lines if r["id"] == ids["binary"])
    assert binary["body_encoding"] == "base64"

    assert main(["jobs", "--binlog", directory, "--state", "buried", "--bodies"]) == 0
    out, err = capsys.readouterr()
    assert "not a live server" in err and "1 job (buried)" in err
    assert "to bury" in out and "kick me" not in out
    # A body is shown, never interpreted: markup and escapes stay literal.
    assert main(["jobs", "--binlog", directory, "--tube", "reports", "--bodies"]) == 0
    out = capsys.readouterr().out
    assert "[bold]report[/]" in out and "\x1b" not in out


def test_peek_from_the_log(logged: Beanstalkd, capsys: pytest.CaptureFixture[str]) -> None:
    with connect(logged) as c:
        jid = c.put(b"recover me", priority=3)
        gone = c.put(b"x")
        c.delete(gone)
    directory = logged.binlog_dir or ""
    assert main(["peek", "--binlog", directory, str(jid), "--json"]) == 0
    record = json.loads(capsys.readouterr().out)
    assert (record["id"], record["pri"], record["body"]) == (jid, 3, "recover me")
    assert main(["peek", "--binlog", directory, str(gone)]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"job {gone} is not in the log" in err


def test_no_address_and_no_log_is_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["jobs"]) == 2
    err = capsys.readouterr().err
    assert err == "stalkview: error: 'jobs' needs a server ADDRESS, or --binlog DIR to read a " \
        "stopped server's log\n"  # fmt: skip


def test_a_directory_without_a_log(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["export", "--binlog", str(tmp_path)]) == 1
    assert "holds no binlog.N files" in capsys.readouterr().err
    assert main(["jobs", "--binlog", str(tmp_path / "missing")]) == 1
    assert "does not exist" in capsys.readouterr().err


@pytest.mark.skipif(
    os.geteuid() != 0 or shutil.which("setpriv") is None, reason="needs root and setpriv"
)
def test_an_unreadable_log_is_one_line_saying_sudo(logged: Beanstalkd) -> None:
    with connect(logged) as c:
        c.put(b"x")
    directory = logged.binlog_dir or ""
    for path in [directory, *(os.path.join(directory, n) for n in os.listdir(directory))]:
        os.chown(path, 65534, 65534)
    result = _as_unprivileged(
        "import sys; from stalkview.cli import main; "
        f"sys.exit(main(['jobs', '--binlog', {directory!r}]))"
    )
    assert result.returncode == 1
    assert result.stdout == ""
    (line,) = result.stderr.splitlines()
    assert line.startswith(f"stalkview: error: cannot read {directory}/binlog.1: permission denied")
    assert "sudo" in line


def test_console_script_reads_a_log(logged: Beanstalkd) -> None:
    with connect(logged) as c:
        c.put(b"via the script")
    script = Path(sys.executable).parent / "stalkview"
    result = subprocess.run(
        [str(script), "jobs", "--binlog", logged.binlog_dir or "", "--json", "--bodies"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["body"] == "via the script"
