"""The command line under faults: hostile servers, stalls, bad input, full disks, closed pipes.

Every failure is one escaped line on stderr and exit 1, never a traceback or a hang.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from stalkview.cli import main
from stalkview.client import Client
from stalkview.ops import BulkReport
from tests.beanstalkd import Beanstalkd
from tests.hostile import (
    HostileServer,
    Script,
    answering,
    ok,
    silent,
    stats_body,
    trickling,
)

SCRIPT = Path(sys.executable).parent / "stalkview"
Hostile = Callable[[Script], HostileServer]


@pytest.fixture(autouse=True)
def no_user_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STALKVIEW_CONFIG", str(tmp_path / "absent-config.toml"))


async def run_cli(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    import asyncio

    code = await asyncio.to_thread(main, argv)
    out, err = capsys.readouterr()
    return code, out, err


def one_line_error(err: str) -> str:
    assert "Traceback" not in err
    lines = err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("stalkview: error: "), err
    assert "\x1b" not in err and "\x07" not in err
    return lines[0]


# --- 5: server strings escaped -----------------------------------------------------------


async def test_stats_shows_escape_sequences_in_server_strings_escaped(
    hostile: Hostile, capsys: pytest.CaptureFixture[str]
) -> None:
    body = stats_body(version='"\x1b[31m1.12"', hostname="\x1b]0;pwned\x07\u202eevil\x9b2J\x7f")
    server = hostile(answering({b"stats": ok(body)}))
    code, out, err = await run_cli(["stats", server.address], capsys)
    assert code == 0, err
    for raw in ("\x1b", "\x07", "\u202e", "\x9b", "\x7f"):
        assert raw not in out
    assert "\\x1b[31m1.12" in out and "\\x1b]0;pwned\\x07" in out
    assert "\\u202eevil\\x9b2J\\x7f" in out


async def test_a_tube_name_with_control_characters_is_a_one_line_error(
    hostile: Hostile, capsys: pytest.CaptureFixture[str]
) -> None:
    server = hostile(answering({b"list-tubes": ok(b"---\n- default\n- \x1b]0;pwned\x07\n")}))
    code, _out, err = await run_cli(["tubes", server.address], capsys)
    assert code == 1
    line = one_line_error(err)
    assert "not valid" in line and "\\x1b]0;pwned\\x07" in line


@pytest.mark.parametrize("value", ["[1, 2]", "9" * 5000, "{a: b}"])
async def test_odd_stats_yaml_is_a_one_line_error(
    hostile: Hostile, capsys: pytest.CaptureFixture[str], value: str
) -> None:
    server = hostile(answering({b"stats": ok(stats_body(total_jobs=value))}))
    code, _out, err = await run_cli(["stats", server.address], capsys)
    assert code == 1
    assert "total-jobs" in one_line_error(err)


# --- 6: C1 controls in JSON --------------------------------------------------------------


BODY = "a\x9b31mb\x85c\u2028d\u2029e\x1bf"


async def _put_hostile_body(server: Beanstalkd) -> int:
    async with Client(server.address) as c:
        await c.use("mail")
        return await c.put(BODY)


async def test_jobs_json_escapes_c1_and_line_separators(
    server: Beanstalkd, capsys: pytest.CaptureFixture[str]
) -> None:
    await _put_hostile_body(server)
    code, out, err = await run_cli(["jobs", server.address, "--json", "--bodies"], capsys)
    assert code == 0, err
    for raw in ("\x9b", "\x85", "\u2028", "\u2029", "\x1b"):
        assert raw not in out
    assert "\\u009b" in out and "\\u2028" in out
    assert json.loads(out.splitlines()[0])["body"] == BODY


async def test_export_escapes_c1_and_line_separators(
    server: Beanstalkd, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    await _put_hostile_body(server)
    path = tmp_path / "out.jsonl"
    code, _out, err = await run_cli(["export", server.address, "-o", str(path)], capsys)
    assert code == 0, err
    text = path.read_text(encoding="utf-8")
    assert "\x9b" not in text and "\u2028" not in text and "\\u0085" in text
    assert len(text.splitlines()) == 1  # a line splitter sees one record
    assert json.loads(text)["body"] == BODY


# --- 7: read-only config -----------------------------------------------------------------


@pytest.fixture
def read_only_config(tmp_path: Path, server: Beanstalkd, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "cfg.toml"
    path.write_text(f'[servers.prod]\naddress = "{server.address}"\nread_only = true\n')
    monkeypatch.setenv("STALKVIEW_CONFIG", str(path))
    return path


def _record(tube: str = "mail", state: str = "ready", delay: int = 0) -> str:
    return json.dumps(
        {"tube": tube, "pri": 5, "ttr": 60, "delay": delay, "state": state, "body": "x"}
    )


@pytest.mark.parametrize("name", ["prod", "address"])
async def test_import_refuses_a_read_only_server(
    server: Beanstalkd,
    read_only_config: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    name: str,
) -> None:
    data = tmp_path / "in.jsonl"
    data.write_text(_record() + "\n")
    target = "prod" if name == "prod" else server.address  # a plain address is no way round
    code, _out, err = await run_cli(["import", target, str(data)], capsys)
    assert code == 1
    line = one_line_error(err)
    assert "read-only" in line and "--force-write" in line
    async with Client(server.address) as c:
        assert (await c.stats())["cmd-put"] == 0
    code, _out, err = await run_cli(["import", target, str(data), "--force-write"], capsys)
    assert code == 0, err
    async with Client(server.address) as c:
        assert (await c.stats())["cmd-put"] == 1


async def test_journal_restore_refuses_a_read_only_server(
    server: Beanstalkd,
    read_only_config: Path,
    journal_file: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    entry = {
        "time": "2026-01-01T00:00:00Z", "action": "delete", "server": server.address,
        "tube": "mail", "id": 5, "pri": 1, "ttr": 5, "delay": 0, "state": "ready", "body": "x",
    }  # fmt: skip
    journal_file.write_text(json.dumps(entry) + "\n")
    for argv in (["journal", "restore", "all"], ["journal", "restore", "all", "--to", "prod"]):
        code, _out, err = await run_cli(argv, capsys)
        assert code == 1
        assert "--force-write" in one_line_error(err)
    async with Client(server.address) as c:
        assert (await c.stats())["cmd-put"] == 0
    code, _out, err = await run_cli(["journal", "restore", "all", "--force-write"], capsys)
    assert code == 0, err
    async with Client(server.address) as c:
        assert (await c.stats())["cmd-put"] == 1


# --- 9: timeouts -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "argv",
    [
        ["stats"],
        ["tubes"],
        ["jobs"],
        ["peek", "{a}", "5"],
        ["export"],
    ],
)
async def test_every_reading_command_gives_up_on_a_silent_server(
    hostile: Hostile, capsys: pytest.CaptureFixture[str], argv: list[str]
) -> None:
    server = hostile(silent)
    words = [w.format(a=server.address) for w in argv]
    if len(words) == 1:
        words.append(server.address)
    code, _out, err = await run_cli([*words, "--timeout", "0.3"], capsys)
    assert code == 1
    line = one_line_error(err)
    assert server.address in line and "no reply to" in line and "0.3s" in line


async def test_a_trickling_server_is_a_stall(
    hostile: Hostile, capsys: pytest.CaptureFixture[str]
) -> None:
    server = hostile(trickling(ok(stats_body()), every=0.1))
    code, _out, err = await run_cli(["stats", server.address, "--timeout", "0.5"], capsys)
    assert code == 1
    assert "no reply to stats for 0.5s" in one_line_error(err)


# --- 10: tracebacks become one-line errors -----------------------------------------------


async def test_a_job_id_beyond_64_bits(
    server: Beanstalkd, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _out, err = await run_cli(["peek", server.address, "18446744073709551616"], capsys)
    assert code == 1
    assert "18446744073709551615" in one_line_error(err)


@pytest.mark.parametrize(
    "line, message",
    [
        ("[" * 100_000, "nested too deeply"),
        ('{"tube": "a", "pri": ' + "9" * 5000 + ', "ttr": 1, "body": "x"}', "digits"),
    ],
)
async def test_hostile_import_lines_are_reported_not_raised(
    server: Beanstalkd, tmp_path: Path, capsys: pytest.CaptureFixture[str], line: str, message: str
) -> None:
    data = tmp_path / "in.jsonl"
    data.write_text(line + "\n" + _record() + "\n")
    code, out, err = await run_cli(["import", server.address, str(data)], capsys)
    assert code == 1 and "Traceback" not in err
    assert "line 1: not a job record: " in out and message in out
    assert "put 1 job" in out  # the good line still went in


async def test_a_journal_that_is_a_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("STALKVIEW_JOURNAL", str(tmp_path))
    for argv in (["journal", "list"], ["journal", "restore", "all"]):
        code, _out, err = await run_cli(argv, capsys)
        assert code == 1
        assert "is a directory" in one_line_error(err)


def test_export_to_a_full_disk(server: Beanstalkd) -> None:
    import asyncio

    asyncio.run(_put_hostile_body(server))
    for argv in (
        [str(SCRIPT), "export", server.address, "-o", "/dev/full"],
        [str(SCRIPT), "jobs", server.address, "--json"],
    ):
        with open("/dev/full", "w") as full:
            done = subprocess.run(
                argv, stdout=full if "jobs" in argv else None, stderr=subprocess.PIPE,
                text=True, timeout=30,
            )  # fmt: skip
        assert done.returncode == 1
        assert "No space left on device" in one_line_error(done.stderr)


def test_a_closed_stdout_pipe_ends_quietly(server: Beanstalkd) -> None:
    import asyncio

    async def fill() -> None:
        async with Client(server.address) as c:
            for i in range(3000):
                await c.put(f"job {i}")

    asyncio.run(fill())
    done = subprocess.run(
        f"'{SCRIPT}' jobs {server.address} --json --bodies | head -1",
        shell=True, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.stdout.count("\n") == 1
    assert done.stderr == ""


# --- 11: tube names validated ------------------------------------------------------------


@pytest.mark.parametrize("tube", ["bad tube", "", "x" * 201, "emails!"])
@pytest.mark.parametrize("command", ["jobs", "export"])
async def test_jobs_and_export_validate_the_tube(
    server: Beanstalkd, capsys: pytest.CaptureFixture[str], tube: str, command: str
) -> None:
    code, out, err = await run_cli([command, server.address, "--tube", tube], capsys)
    assert code == 1 and out == ""
    assert "--tube: tube name" in one_line_error(err)


# --- 12: wording -------------------------------------------------------------------------


def test_bulk_summaries_say_the_count_once() -> None:
    report = BulkReport("move", total=5000, what="5,000 jobs in all tubes to dest")
    report.succeeded = list(range(5000))
    assert report.summary() == "moved 5000 of 5000 jobs in all tubes to dest"
    report = BulkReport("delete", total=20, what="all 20 buried jobs in emails")
    report.succeeded = list(range(20))
    assert report.summary() == "deleted 20 of 20 buried jobs in emails"


async def test_address_errors_name_the_address_once(capsys: pytest.CaptureFixture[str]) -> None:
    code, _out, err = await run_cli(["stats", "::1:11300x"], capsys)
    assert code == 1
    line = one_line_error(err)
    assert line.count("11300x") == 1 and "[::1]:11300" in line


def test_the_connection_banner_names_the_address_once() -> None:
    from stalkview.app.widgets.banner import _sentence

    reason = "127.0.0.1:5: connection refused: is beanstalkd running and listening on that port?"
    assert _sentence(reason, "127.0.0.1:5") == (
        "connection refused: is beanstalkd running and listening on that port?"
    )
    assert _sentence("localhost:11300: lost \x1b[2J", "localhost") == "lost \\x1b[2J."


async def test_a_journal_of_damaged_lines_is_not_called_empty(
    journal_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    journal_file.write_text("garbage\n{bad\n")
    code, out, _err = await run_cli(["journal", "list"], capsys)
    assert code == 0
    assert "empty" not in out and "all 2 lines are damaged" in out
    code, _out, err = await run_cli(["journal", "restore", "all"], capsys)
    assert code == 1
    assert "all 2 lines are damaged" in one_line_error(err)


async def test_import_dry_run_checks_body_size_against_the_server(
    beanstalkd_factory: Callable[..., Beanstalkd],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    server = beanstalkd_factory(max_job_size=100)
    data = tmp_path / "in.jsonl"
    data.write_text(
        json.dumps({"tube": "a", "pri": 1, "ttr": 5, "body": "x" * 101})
        + "\n"
        + json.dumps({"tube": "a", "pri": 1, "ttr": 5, "body": "x" * 100})
        + "\n"
    )
    code, out, err = await run_cli(["import", server.address, str(data), "--dry-run"], capsys)
    assert code == 1, err
    assert "line 1" in out and "larger than the server's max-job-size (100 bytes)" in out
    assert "would put 1 job " in out
    async with Client(server.address) as c:
        assert (await c.stats())["cmd-put"] == 0


async def test_one_job_is_one_job(server: Beanstalkd, capsys: pytest.CaptureFixture[str]) -> None:
    async with Client(server.address) as c:
        await c.put("x")
    code, _out, err = await run_cli(["jobs", server.address], capsys)
    assert code == 0
    assert err.strip() == "1 job"


# --- 1: parked jobs are named, and one command finishes or releases them -----------------


async def _park(server: Beanstalkd, n: int) -> list[int]:
    async with Client(server.address, use="emails") as c:
        await c.put("normal", delay=60)
        return [await c.put(f"parked {i}", priority=7, delay=2**32 - 1) for i in range(n)]


async def test_jobs_names_parked_jobs(
    server: Beanstalkd, capsys: pytest.CaptureFixture[str]
) -> None:
    await _park(server, 3)
    for argv in (["jobs", server.address], ["jobs", server.address, "--json"]):
        code, _out, err = await run_cli(argv, capsys)
        assert code == 0
        assert "note: 3 jobs in emails are parked" in err and "parked ADDRESS --bury" in err


@pytest.mark.parametrize("how, state", [("--bury", "buried"), ("--release", "ready")])
async def test_parked_command_finishes_or_releases(
    server: Beanstalkd, capsys: pytest.CaptureFixture[str], how: str, state: str
) -> None:
    ids = await _park(server, 3)
    code, out, err = await run_cli(["parked", server.address], capsys)
    assert code == 0 and all(str(i) in out for i in ids) and "are parked" in err
    code, out, err = await run_cli(["parked", server.address, how], capsys)
    assert code == 0, err
    assert out.strip() == f"{state if state == 'buried' else 'released'} 3 of 3 jobs parked"
    async with Client(server.address) as c:
        for jid in ids:
            stats = await c.stats_job(jid)
            assert (stats["state"], stats["pri"]) == (state, 7)
    code, _out, err = await run_cli(["jobs", server.address], capsys)
    assert "parked" not in err


async def test_parked_command_honours_read_only(
    server: Beanstalkd, read_only_config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    await _park(server, 1)
    code, _out, err = await run_cli(["parked", "prod", "--bury"], capsys)
    assert code == 1 and "--force-write" in one_line_error(err)


async def test_import_resumes_and_says_so(
    server: Beanstalkd, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "in.jsonl"
    data.write_text("".join(_record(state="buried") + "\n" for _ in range(3)))
    code, out, _err = await run_cli(["import", server.address, str(data)], capsys)
    assert code == 0 and "put 3 jobs" in out
    code, out, _err = await run_cli(["import", server.address, str(data)], capsys)
    assert code == 0 and "already imported" in out and "--restart" in out
    code, out, _err = await run_cli(["import", server.address, str(data), "--restart"], capsys)
    assert code == 0 and "put 3 jobs" in out
    async with Client(server.address) as c:
        assert (await c.stats_tube("mail"))["current-jobs-buried"] == 6
