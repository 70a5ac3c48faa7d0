"""`stalkview journal list|restore` against a real beanstalkd."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from stalkview.actions import delete_jobs
from stalkview.cli import main
from stalkview.client import Client, NotFoundError
from stalkview.journal import Journal
from tests.beanstalkd import Beanstalkd


async def _delete_two(server: Beanstalkd, path: Path) -> list[int]:
    async with Client(server.address, encoding=None, use="emails") as c:
        ids = [
            await c.put(b'{"to": "a@example.com"}', priority=7, ttr=30),
            await c.put(b"\xff\x00binary", priority=9, ttr=45),
        ]
        report = await delete_jobs(c, ids, journal=Journal(path), server_label=server.address)
        assert sorted(report.succeeded) == sorted(ids)
        for jid in ids:
            with pytest.raises(NotFoundError):
                await c.stats_job(jid)
    return ids


async def test_list_then_restore_all(
    server: Beanstalkd, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "journal.jsonl"
    ids = await _delete_two(server, path)

    assert await asyncio.to_thread(main, ["journal", "list", "--journal", str(path), "--json"]) == 0
    listed = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [e["id"] for e in listed] == ids
    assert listed[1]["body_encoding"] == "base64"

    code = await asyncio.to_thread(main, ["journal", "restore", "all", "--journal", str(path)])
    out = capsys.readouterr().out
    assert code == 0, out
    async with Client(server.address, encoding=None) as c:
        stats = await c.stats_tube("emails")
        assert stats["current-jobs-ready"] == 2
        await c.watch("emails")
        bodies = {}
        for _ in range(2):
            job = await c.reserve(timeout=1)
            st = await c.stats_job(job)
            bodies[job.body] = (st["pri"], st["ttr"])
    assert bodies == {b'{"to": "a@example.com"}': (7, 30), b"\xff\x00binary": (9, 45)}


async def test_restore_dry_run_puts_nothing(
    server: Beanstalkd, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "journal.jsonl"
    await _delete_two(server, path)
    code = await asyncio.to_thread(
        main, ["journal", "restore", "1", "--journal", str(path), "--dry-run"]
    )
    assert code == 0
    assert "emails" in capsys.readouterr().out
    async with Client(server.address) as c:
        # Nothing was put: the emptied tube is gone, not refilled.
        assert "emails" not in await c.tubes()


def test_bad_selector_is_one_line_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "journal.jsonl"
    assert main(["journal", "restore", "1-x", "--journal", str(path)]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "selector '1-x'" in err and "Traceback" not in err
