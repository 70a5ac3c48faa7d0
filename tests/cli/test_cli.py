"""The stalkview command line: in-process with capsys, plus real runs of the console script."""

from __future__ import annotations

import argparse
import base64
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from stalkview import __version__, cli
from stalkview.cli import COMMANDS, SUBCOMMANDS, build_parser, main
from stalkview.client import Client, commands
from tests.beanstalkd import Beanstalkd

SCRIPT = Path(sys.executable).parent / "stalkview"


@pytest.fixture(autouse=True)
def no_user_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Never read the real user's saved servers."""
    monkeypatch.setenv("STALKVIEW_CONFIG", str(tmp_path / "absent-config.toml"))


@pytest.fixture
async def filled(server: Beanstalkd) -> dict[str, Any]:
    async with (
        Client(server.address, encoding=None) as c,
        Client(server.address, encoding=None, watch="mail") as w,
    ):
        await c.use("mail")
        ids = await c.run_many(
            [commands.put(b, p, 0, 60) for b, p in ((b"[bold]hi", 5), (b"\xff\xfe", 1), (b"x", 9))]
        )
        await c.delete(ids[2])
        await c.use("later")
        delayed = await c.put(b"soon", delay=300)
        job = await w.reserve(timeout=0)
        await w.bury(job)
        stats = await c.stats()
    return {
        "address": server.address,
        "ids": ids,
        "delayed": delayed,
        "buried": job.id,
        "stats": stats,
    }


async def run_cli(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    # main() runs its own event loop: keep it off this test's loop.
    import asyncio

    code = await asyncio.to_thread(main, argv)
    out, err = capsys.readouterr()
    return code, out, err


async def test_jobs_json_lists_exactly_the_live_jobs(
    filled: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = await run_cli(["jobs", filled["address"], "--json", "--bodies"], capsys)
    assert code == 0, err
    rows = [json.loads(line) for line in out.splitlines()]
    # Streamed as found: the heads of each state first (ready, delayed, buried).
    assert [r["id"] for r in rows] == [filled["ids"][0], filled["delayed"], filled["buried"]]
    by_id = {r["id"]: r for r in rows}
    assert set(by_id) == {filled["ids"][0], filled["buried"], filled["delayed"]}
    ready = by_id[filled["ids"][0]]
    assert ready["state"] == "ready" and ready["tube"] == "mail" and ready["pri"] == 5
    assert ready["body"] == "[bold]hi" and "body_encoding" not in ready
    binary = by_id[filled["buried"]]
    assert binary["state"] == "buried"
    assert binary["body_encoding"] == "base64"
    assert base64.b64decode(binary["body"]) == b"\xff\xfe"
    assert set(ready) >= {"time-left", "reserves", "timeouts", "releases", "buries", "kicks"}
    # server order: ready, delayed, reserved, buried
    assert [r["state"] for r in rows] == ["ready", "delayed", "buried"]
    # side-effect free
    async with Client(filled["address"]) as c:
        after = await c.stats()
    # `use` of existing tubes is allowed (the head peeks act on the used tube).
    for key in ("cmd-reserve", "cmd-delete", "cmd-bury", "cmd-kick", "cmd-watch"):
        assert after[key] == filled["stats"][key], key


async def test_jobs_filters_and_table(
    filled: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = await run_cli(
        ["jobs", filled["address"], "--tube", "mail", "--state", "buried", "--bodies"], capsys
    )
    assert code == 0
    lines = out.splitlines()
    assert lines[0].split()[:3] == ["id", "tube", "state"]
    assert len(lines) == 2 and "buried" in lines[1] and "<binary" in lines[1]
    assert "1 job (tube mail buried)" in err
    code, out, _ = await run_cli(["jobs", filled["address"]], capsys)
    lines = out.splitlines()
    assert len(lines) == 4
    assert len({line.index("state") if "state" in line else -1 for line in lines[:1]}) == 1
    # columns align: every row as long as the header's position of 'ttr' right edge
    edge = lines[0].index("ttr") + 3
    assert all(line[edge - 1] != " " for line in lines)


async def test_peek_shows_stats_and_body_literally(
    filled: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    jid = filled["ids"][0]
    code, out, _ = await run_cli(["peek", filled["address"], str(jid), "--json"], capsys)
    assert code == 0
    obj = json.loads(out)
    assert obj["id"] == jid and obj["body"] == "[bold]hi" and obj["state"] == "ready"
    code, out, _ = await run_cli(["peek", filled["address"], str(jid)], capsys)
    assert code == 0 and "[bold]hi" in out and "state" in out


async def test_stats_and_tubes(filled: dict[str, Any], capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = await run_cli(["stats", filled["address"], "--json"], capsys)
    assert code == 0 and json.loads(out)["current-jobs-buried"] == 1
    code, out, _ = await run_cli(["tubes", filled["address"]], capsys)
    assert code == 0
    rows = {line.split()[0]: line.split() for line in out.splitlines()[1:]}
    assert set(rows) == {"default", "mail", "later"}
    assert rows["mail"][1:6] == ["1", "1", "0", "0", "1"]  # ready urgent delayed reserved buried
    code, out, _ = await run_cli(["tubes", filled["address"], "--json"], capsys)
    assert {json.loads(line)["name"] for line in out.splitlines()} == {"default", "mail", "later"}


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["peek", "{address}", "424242"], "job 424242 not found"),
        (["stats", "127.0.0.1:1"], "connection refused"),
        (["jobs", "host:notaport"], "invalid port"),
        (["stats", "/nonexistent/beanstalkd.sock"], "no such socket"),
    ],
)
async def test_errors_are_one_line_exit_1(
    server: Beanstalkd, capsys: pytest.CaptureFixture[str], argv: list[str], needle: str
) -> None:
    code, out, err = await run_cli([a.format(address=server.address) for a in argv], capsys)
    assert code == 1
    assert err.count("\n") == 1 and needle in err and err.startswith("stalkview: error:")
    assert out == ""


def test_usage_errors_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["jobs"]) == 2
    assert "ADDRESS" in capsys.readouterr().err
    assert main(["jobs", "x:1", "--state", "sleeping"]) == 2
    capsys.readouterr()
    assert main(["peek", "x:1", "abc"]) == 1  # one line, as for an id beyond 64 bits
    assert capsys.readouterr().err == (
        "stalkview: error: job id 'abc' is invalid: ids are 1 to 18446744073709551615\n"
    )
    assert main([]) == 2
    assert main(["localhost", "--interval", "0"]) == 2


def test_version_and_help(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--version"]) == 0
    assert capsys.readouterr().out.strip() == f"stalkview {__version__}"
    for argv in (
        ["--help"],
        ["jobs", "--help"],
        ["peek", "--help"],
        ["stats", "--help"],
        ["tubes", "--help"],
    ):
        assert main(argv) == 0
        out = capsys.readouterr().out
        assert "example" in out, argv


def test_address_goes_to_the_app_and_subcommand_names_are_not_addresses(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import types

    calls: list[tuple[Any, ...]] = []

    def run_app(
        address: str,
        *,
        interval: float,
        read_only: bool,
        title: str | None,
        scan_budget: float,
        binlog: str | None = None,
    ) -> int:
        calls.append(("app", address, interval, read_only, scan_budget))
        return 0

    def run_demo(read_only: bool, interval: float) -> int:
        calls.append(("demo", read_only, interval))
        return 0

    fake_demo = types.ModuleType("stalkview.demo")
    fake_demo.run_demo = run_demo  # type: ignore[attr-defined]
    monkeypatch.setattr(cli, "run_app", run_app)
    monkeypatch.setitem(sys.modules, "stalkview.demo", fake_demo)
    assert main(["localhost:11300", "--interval", "2.5", "--read-only"]) == 0
    assert main(["--read-only", "--scan-budget", "10", "/run/b.sock"]) == 0
    assert main(["--demo"]) == 0
    assert main(["demo", "--read-only", "--interval", "3"]) == 0
    assert calls == [
        ("app", "localhost:11300", 2.5, True, 25.0),
        ("app", "/run/b.sock", 1.0, True, 10.0),
        ("demo", False, 1.0),
        ("demo", True, 3.0),
    ]
    assert main(["export"]) == 2
    assert "needs a server ADDRESS, or --binlog DIR" in capsys.readouterr().err

    assert main(["host:99999"]) == 1  # a bad address never reaches the app
    for bad in ("0", "101", "lots"):
        assert main(["localhost", "--scan-budget", bad]) == 2
        err = capsys.readouterr().err
        assert "--scan-budget" in err and "percentage of one server CPU" in err
        assert "Traceback" not in err
    assert len(calls) == 4


def test_every_subcommand_is_in_the_command_table() -> None:
    # A subcommand missing from SUBCOMMANDS would open the UI on an address named after it.
    parser = build_parser()
    (sub,) = (a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    assert set(sub.choices) == SUBCOMMANDS == {*COMMANDS, "demo"}


def test_console_script_exit_codes_without_traceback(server: Beanstalkd) -> None:
    ok = subprocess.run(
        [str(SCRIPT), "jobs", server.address, "--json"], capture_output=True, text=True, timeout=30
    )
    assert ok.returncode == 0 and ok.stdout == "" and ok.stderr == ""
    bad = subprocess.run(
        [str(SCRIPT), "peek", server.address, "5"], capture_output=True, text=True, timeout=30
    )
    assert bad.returncode == 1
    assert "Traceback" not in bad.stderr and "job 5 not found" in bad.stderr
    usage = subprocess.run([str(SCRIPT), "stats"], capture_output=True, text=True, timeout=30)
    assert usage.returncode == 2 and "Traceback" not in usage.stderr


# --- several servers, saved names, export and import --------------------------------------


async def _two_servers(factory: Any) -> tuple[Beanstalkd, Beanstalkd]:
    a, b = factory(), factory(unix=True)
    for server, tubes in ((a, {"mail": 2}), (b, {"mail": 1, "video": 3})):
        async with Client(server.address) as c:
            for tube, n in tubes.items():
                await c.use(tube)
                for _ in range(n):
                    await c.put("x")
    return a, b


async def test_tubes_and_stats_on_several_servers(
    beanstalkd_factory: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    a, b = await _two_servers(beanstalkd_factory)
    code, out, err = await run_cli(["tubes", a.address, b.address, "--json"], capsys)
    assert code == 0, err
    rows = [json.loads(line) for line in out.splitlines()]
    got = {(r["server"], r["name"]): r["current-jobs-ready"] for r in rows}
    assert got == {
        (a.address, "default"): 0,
        (a.address, "mail"): 2,
        (b.address, "default"): 0,
        (b.address, "mail"): 1,
        (b.address, "video"): 3,
    }

    code, out, _ = await run_cli(["tubes", a.address, b.address], capsys)
    lines = out.splitlines()
    assert code == 0 and lines[0].split()[:2] == ["server", "tube"]
    video = [line.split()[:3] for line in lines[1:] if "video" in line]
    assert video == [[b.address, "video", "3"]]

    code, out, _ = await run_cli(["stats", a.address, b.address, "--json"], capsys)
    blocks = [json.loads(line) for line in out.splitlines()]
    assert [(x["server"], x["current-jobs-ready"]) for x in blocks] == [
        (a.address, 2),
        (b.address, 4),
    ]
    code, out, _ = await run_cli(["stats", a.address, b.address], capsys)
    assert f"== {a.address} ==" in out and f"== {b.address} ==" in out


async def test_a_down_server_is_one_line_and_status_1_but_the_others_print(
    beanstalkd_factory: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    a, b = await _two_servers(beanstalkd_factory)
    b.kill()
    for argv in (["tubes", b.address, a.address, "--json"], ["stats", a.address, b.address]):
        code, out, err = await run_cli(argv, capsys)
        assert code == 1
        assert err.count("\n") == 1 and err.startswith(f"stalkview: error: {b.address}")
        assert a.address in out or "mail" in out


async def test_saved_names_and_groups_work_wherever_an_address_does(
    beanstalkd_factory: Any,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    a, b = await _two_servers(beanstalkd_factory)
    config = tmp_path / "config.toml"
    config.write_text(
        f'[servers.eu]\naddress = "{a.address}"\n[servers.us]\naddress = "{b.address}"\n'
        '[groups.prod]\nservers = ["eu", "us"]\nread_only = true\n'
    )
    code, out, err = await run_cli(["tubes", "prod", "--json", "--config", str(config)], capsys)
    assert code == 0, err
    assert {json.loads(line)["server"] for line in out.splitlines()} == {"eu", "us"}
    monkeypatch.setenv("STALKVIEW_CONFIG", str(config))
    code, out, _ = await run_cli(["jobs", "us", "--json"], capsys)
    assert code == 0 and len(out.splitlines()) == 4
    code, _, err = await run_cli(["jobs", "prod"], capsys)
    assert code == 1 and "is a group of 2 (eu, us): name one of them" in err
    code, _, err = await run_cli(["stats", "pord"], capsys)
    assert code == 1 and "'pord' is not a saved server or group" in err and "eu, prod, us" in err

    bad = tmp_path / "bad.toml"
    bad.write_text('[servers.x]\nadress = "h"\n')
    code, _, err = await run_cli(["stats", "x", "--config", str(bad)], capsys)
    assert code == 1 and f"config file {bad}, line 2: server 'x': unknown setting" in err


def test_the_app_gets_names_groups_and_several_servers_go_to_the_fleet_app(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "config.toml"
    config.write_text(
        'interval = 3.0\nscan_budget = 50\n[servers.eu]\naddress = "h1:11300"\nread_only = true\n'
        '[groups.prod]\nservers = ["eu", "h2:11300"]\n'
    )
    monkeypatch.setenv("STALKVIEW_CONFIG", str(config))
    calls: list[tuple[Any, ...]] = []

    def run_app(
        address: str,
        *,
        interval: float,
        read_only: bool,
        title: str | None,
        scan_budget: float,
        binlog: str | None = None,
    ) -> int:
        calls.append(("app", address, interval, read_only, title, scan_budget))
        return 0

    def run_fleet_app(
        targets: list[Any], *, interval: float, read_only: bool, scan_budget: float
    ) -> int:
        labels = [(t.label, t.read_only) for t in targets]
        calls.append(("fleet", labels, interval, read_only, scan_budget))
        return 0

    monkeypatch.setattr(cli, "run_app", run_app)
    monkeypatch.setattr(cli, "run_fleet_app", run_fleet_app)
    assert main(["eu"]) == 0
    assert main(["prod", "--interval", "2"]) == 0
    assert main(["prod", "h3", "--read-only"]) == 1  # bare unknown word: not a host
    assert main(["prod", "h3:1", "--read-only"]) == 0
    assert main(["eu", "--scan-budget", "100"]) == 0
    assert calls == [
        ("app", "h1:11300", 3.0, True, "eu", 50.0),
        ("fleet", [("eu", True), ("h2:11300", False)], 2.0, False, 50.0),
        ("fleet", [("eu", True), ("h2:11300", False), ("h3:1", False)], 3.0, True, 50.0),
        ("app", "h1:11300", 3.0, True, "eu", 100.0),
    ]


async def test_export_then_import_between_servers(
    beanstalkd_factory: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source, dest = beanstalkd_factory(), beanstalkd_factory()
    async with Client(source.address, encoding=None) as c:
        await c.use("mail")
        await c.put(b"\xff\x00bin", priority=3, ttr=17)
        await c.put(b"later", priority=8, ttr=90, delay=300)
    path = tmp_path / "out.jsonl"
    code, out, err = await run_cli(["export", source.address, "-o", str(path)], capsys)
    assert code == 0 and out == "" and "exported 2 jobs" in err
    code, out, _ = await run_cli(["export", source.address, "--state", "delayed"], capsys)
    assert [json.loads(line)["body"] for line in out.splitlines()] == ["later"]

    async with Client(dest.address) as c:
        before = (await c.stats())["cmd-put"]
        code, out, err = await run_cli(["import", dest.address, str(path), "--dry-run"], capsys)
        assert code == 0 and (await c.stats())["cmd-put"] == before
    assert out.count("would be put into mail") == 2 and "nothing was sent" in out

    code, out, err = await run_cli(["import", dest.address, str(path), "--tube", "copy"], capsys)
    assert code == 0, err
    assert out.splitlines()[-1] == "put 2 jobs (copy 2)"
    async with Client(dest.address, encoding=None) as c:
        stats = await c.stats_tube("copy")
        assert stats["current-jobs-ready"] == 1 and stats["current-jobs-delayed"] == 1
        await c.use("copy")
        job = await c.peek_ready()
        assert job.body == b"\xff\x00bin" and (await c.stats_job(job))["pri"] == 3

    path.write_text("{broken\n")
    code, out, _ = await run_cli(["import", dest.address, str(path)], capsys)
    assert code == 1 and out.startswith("line 1: not JSON")
    code, _, err = await run_cli(["import", dest.address, str(tmp_path / "none.jsonl")], capsys)
    assert code == 1 and "cannot read" in err and "Traceback" not in err
