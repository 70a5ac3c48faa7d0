"""Export then import between two real private servers: bodies, priorities, ttrs, delays, states."""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from typing import Any

import pytest

from stalkview.client import Client
from stalkview.journal import JournalEntry
from stalkview.transfer import RecordError, export_jobs, import_jobs, parse_record
from tests.beanstalkd import Beanstalkd

BINARY = bytes(range(256)) * 3


async def _seed(address: str) -> dict[str, int]:
    async with (
        Client(address, encoding=None) as c,
        Client(address, encoding=None, watch="mail") as w,
    ):
        await c.use("mail")
        ids = {
            "text": await c.put("héllo [bold] \x1b[2J".encode(), priority=7, ttr=33),
            "binary": await c.put(BINARY, priority=2**32 - 1, ttr=1),
            "delayed": await c.put(b"later", priority=5, delay=120, ttr=90),
            "buried": await c.put(b"bad", priority=3, ttr=44),
        }
        await c.use("video")
        ids["other"] = await c.put(b"v", priority=100, ttr=600)
        job = await w.reserve_job(ids["buried"])
        await w.bury(job, priority=3)
    return ids


def _by_body(records: list[dict[str, Any]]) -> dict[bytes, dict[str, Any]]:
    import base64

    out = {}
    for r in records:
        body = base64.b64decode(r["body"]) if r["body_encoding"] == "base64" else r["body"].encode()
        out[body] = r
    return out


async def _stats_of_all(address: str) -> list[dict[str, Any]]:
    out = io.StringIO()
    await export_jobs(address, out=out)
    return [json.loads(line) for line in out.getvalue().splitlines()]


async def test_export_then_import_round_trips_into_another_server(
    beanstalkd_factory: Callable[..., Beanstalkd],
) -> None:
    source, dest = beanstalkd_factory(), beanstalkd_factory(unix=True)
    ids = await _seed(source.address)
    out = io.StringIO()
    progress: list[tuple[int, int]] = []
    count = await export_jobs(
        source.address, out=out, on_progress=lambda *a: progress.append(a), batch_size=2
    )
    assert count == 5 and progress[-1] == (5, 5)
    records = [json.loads(line) for line in out.getvalue().splitlines()]
    assert {r["id"] for r in records} == set(ids.values())
    first = records[0]
    for key in (
        "id",
        "tube",
        "state",
        "pri",
        "age",
        "delay",
        "ttr",
        "time-left",
        "reserves",
        "buries",
        "kicks",
        "server",
        "body",
        "body_encoding",
    ):
        assert key in first, key
    assert all(r["server"] == source.address for r in records)

    report = await import_jobs(dest.address, out.getvalue().splitlines(keepends=True))
    assert report.ok and len(report.put) == 5, report.lines()

    before = _by_body(records)
    after = _by_body(await _stats_of_all(dest.address))
    assert set(after) == set(before)
    for body, old in before.items():
        new = after[body]
        assert (new["tube"], new["pri"], new["ttr"], new["state"]) == (
            old["tube"],
            old["pri"],
            old["ttr"],
            old["state"],
        ), body
    delayed = after[b"later"]
    assert abs(delayed["time-left"] - before[b"later"]["time-left"]) <= 1
    assert after[BINARY]["body_encoding"] == "base64"
    assert after["héllo [bold] \x1b[2J".encode()]["body_encoding"] == "utf-8"


async def test_export_filters_by_tube_state_and_ids(server: Beanstalkd) -> None:
    ids = await _seed(server.address)
    out = io.StringIO()
    assert await export_jobs(server.address, tube="mail", state="buried", out=out) == 1
    assert json.loads(out.getvalue())["id"] == ids["buried"]
    out = io.StringIO()
    assert await export_jobs(server.address, ids=[ids["other"], ids["text"]], out=out) == 2
    out = io.StringIO()
    assert await export_jobs(server.address, tube="nope", out=out) == 0 and out.getvalue() == ""
    with pytest.raises(ValueError, match="unknown job state"):
        await export_jobs(server.address, state="gone", out=out)


async def test_export_sends_nothing_that_changes_the_server(server: Beanstalkd) -> None:
    await _seed(server.address)
    async with Client(server.address) as c:
        before = await c.stats()
        await export_jobs(server.address, out=io.StringIO())
        after = await c.stats()
    for key in (
        "cmd-put",
        "cmd-reserve",
        "cmd-delete",
        "cmd-bury",
        "cmd-kick",
        "cmd-watch",
        "current-tubes",
    ):
        # (`use` of existing tubes is allowed: the inventory peeks heads through it.)
        assert after[key] == before[key], key


async def test_dry_run_sends_no_put_and_says_what_would_be_put(
    beanstalkd_factory: Callable[..., Beanstalkd],
) -> None:
    source, dest = beanstalkd_factory(), beanstalkd_factory()
    await _seed(source.address)
    out = io.StringIO()
    await export_jobs(source.address, out=out)
    async with Client(dest.address) as c:
        before = await c.stats()
        report = await import_jobs(
            dest.address, out.getvalue().splitlines(), dry_run=True, tube="restored"
        )
        after = await c.stats()
    assert after["cmd-put"] == before["cmd-put"] and after["current-tubes"] == 1
    text = "\n".join(report.lines())
    assert text.count("would be put into restored") == 5
    assert "as buried" in text and "delay 1" in text  # the delayed job keeps ~120 s
    assert report.summary().startswith("would put 5 jobs (restored 5)")
    assert not report.put


async def test_reserved_jobs_come_back_ready_and_the_report_says_so(
    beanstalkd_factory: Callable[..., Beanstalkd],
) -> None:
    source, dest = beanstalkd_factory(), beanstalkd_factory()
    async with Client(source.address, encoding=None) as c:
        await c.put(b"held", priority=9, ttr=120)
        await c.reserve(timeout=0)
        out = io.StringIO()
        await export_jobs(source.address, out=out)
    report = await import_jobs(dest.address, out.getvalue().splitlines())
    assert "1 job change state (reserved -> ready)" in report.summary()
    (job,) = await _stats_of_all(dest.address)
    assert job["state"] == "ready" and job["pri"] == 9 and job["ttr"] == 120


async def test_journal_records_import_with_their_remaining_delay(server: Beanstalkd) -> None:
    entry = JournalEntry.from_job(
        "delete",
        "elsewhere:11300",
        42,
        b"\xff\x00",
        {"tube": "emails", "pri": 12, "ttr": 30, "state": "delayed", "time-left": 200},
    )
    line = json.dumps(entry.to_record())
    report = await import_jobs(server.address, [line])
    assert report.ok
    (job,) = await _stats_of_all(server.address)
    assert (job["tube"], job["pri"], job["ttr"], job["state"]) == ("emails", 12, 30, "delayed")
    assert 198 <= job["time-left"] <= 200


async def test_invalid_lines_are_named_by_number_and_skipped(server: Beanstalkd) -> None:
    good = json.dumps({"tube": "t", "pri": 1, "ttr": 5, "body": "ok"})
    lines = [
        good,
        "",
        "{not json",
        json.dumps({"tube": "t", "pri": -1, "ttr": 5, "body": "x"}),
        json.dumps({"tube": "-bad", "pri": 1, "ttr": 5, "body": "x"}),
        json.dumps({"tube": "t", "pri": 1, "ttr": 5, "body": "!!", "body_encoding": "base64"}),
        json.dumps({"pri": 1, "ttr": 5, "body": "x"}),
        "[1, 2]",
    ]
    report = await import_jobs(server.address, lines)
    assert len(report.put) == 1 and not report.ok
    messages = dict(report.invalid)
    assert set(messages) == {3, 4, 5, 6, 7, 8}
    assert "not JSON" in messages[3] and "'pri'" in messages[4]
    assert "-bad" in messages[5] and "base64" in messages[6] and "--tube" in messages[7]
    assert report.lines()[0].startswith("line 3: not JSON")


def test_parse_record_uses_time_left_for_exports_and_delay_for_journal_records() -> None:
    export = {
        "tube": "a",
        "state": "delayed",
        "pri": 1,
        "ttr": 2,
        "delay": 100,
        "time-left": 40,
        "body": "b",
    }
    assert parse_record(json.dumps(export), 1).delay == 40
    export["state"] = "ready"
    job = parse_record(json.dumps(export), 1)
    assert job.delay == 0 and job.state == "ready"
    journal = {"tube": "a", "state": "delayed", "pri": 1, "ttr": 2, "delay": 25, "body": "b"}
    assert parse_record(json.dumps(journal), 1).delay == 25
    with pytest.raises(RecordError, match="ttr"):
        parse_record(json.dumps({"tube": "a", "pri": 1, "body": "b"}), 1)
