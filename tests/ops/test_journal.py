"""The journal file, selectors, listing and restore (restore against a real private beanstalkd)."""

from __future__ import annotations

import json
import os
import signal
import stat
from pathlib import Path
from typing import Any

import pytest

from stalkview import paths
from stalkview.client import Client
from stalkview.journal import (
    Journal,
    JournalEntry,
    SelectorError,
    journal_list,
    journal_restore,
    note,
    restore,
    select_entries,
)
from tests.beanstalkd import Beanstalkd

BINARY = b"\x00\xff\xfe binary"


def entry(
    jid: int, body: bytes = b"hello", tube: str = "emails", time_left: int = 0, **stats: Any
) -> JournalEntry:
    fields: dict[str, object] = {"tube": tube, "pri": 7, "ttr": 33, "state": "buried"}
    fields["time-left"] = time_left
    fields.update(stats)
    return JournalEntry.from_job("delete", "127.0.0.1:11300", jid, body, fields)


@pytest.fixture
def journal(tmp_path: Path) -> Journal:
    return Journal(tmp_path / "data" / "journal.jsonl")


# --- the file ---------------------------------------------------------------------


def test_append_and_read_back(journal: Journal) -> None:
    journal.append([entry(1), entry(2, BINARY), entry(3, state="delayed", time_left=40)])
    first, second, third = journal.entries()
    assert (first.index, first.id, first.body, first.body_encoding) == (1, 1, "hello", "utf-8")
    assert (second.body_encoding, second.body_bytes()) == ("base64", BINARY)
    assert (third.state, third.delay) == ("delayed", 40)
    assert first.time.endswith("Z") and "T" in first.time
    assert stat.S_IMODE(os.stat(journal.path).st_mode) == 0o600
    record = json.loads(journal.path.read_text().splitlines()[0])
    assert record == {
        "time": first.time,
        "action": "delete",
        "server": "127.0.0.1:11300",
        "tube": "emails",
        "id": 1,
        "pri": 7,
        "ttr": 33,
        "delay": 0,
        "state": "buried",
        "body": "hello",
        "body_encoding": "utf-8",
    }


def test_truncated_last_line_is_skipped_and_later_appends_survive(journal: Journal) -> None:
    journal.append([entry(1)])
    with open(journal.path, "ab") as f:
        f.write(b'{"time": "2024-01-01T00:00:00Z", "action": "del')  # a crash mid-write
    assert [e.id for e in journal.entries()] == [1]
    assert journal.skipped_lines == 1
    journal.append([entry(2)])
    assert [e.id for e in journal.entries()] == [1, 2]
    assert journal.skipped_lines == 1


def test_bad_lines_are_counted_not_fatal(journal: Journal) -> None:
    journal.append([entry(1)])
    bad = [
        b"not json",
        b"[1, 2]",
        b'{"action": "delete"}',
        json.dumps({**entry(5).to_record(), "body": "!!", "body_encoding": "base64"}).encode(),
        json.dumps({**entry(6).to_record(), "id": "6"}).encode(),
    ]
    with open(journal.path, "ab") as f:
        f.write(b"\n".join(bad) + b"\n")
    journal.append([entry(2)])
    contents = journal.read()
    assert [e.id for e in contents.entries] == [1, 2]
    assert [e.index for e in contents.entries] == [1, 2]
    assert contents.skipped == 5


def test_missing_journal_is_empty(journal: Journal) -> None:
    assert journal.entries() == [] and journal.skipped_lines == 0
    assert not journal.path.exists()


def test_notes_fold_into_their_entry(journal: Journal) -> None:
    a, b = entry(1), entry(2)
    journal.append([a, b])
    journal.append([note("failed", a, reason="already gone")])
    journal.append([note("restored", b, new_id=9, to_server="s:1", to_tube="x")])
    first, second = journal.entries()
    assert first.failed == "already gone" and first.restored_as is None
    assert second.restored_as == "job 9 in x on s:1" and second.failed is None


def test_paths_follow_xdg_and_the_override(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("STALKVIEW_JOURNAL", raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "share"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    assert paths.data_dir() == tmp_path / "share" / "stalkview"
    assert paths.config_dir() == tmp_path / "config" / "stalkview"
    assert Journal().path == tmp_path / "share" / "stalkview" / "journal.jsonl"
    monkeypatch.setenv("XDG_DATA_HOME", "relative/dir")  # invalid per the spec: ignored
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert paths.data_dir() == tmp_path / "home" / ".local" / "share" / "stalkview"
    monkeypatch.setenv("STALKVIEW_JOURNAL", str(tmp_path / "j.jsonl"))
    assert Journal().path == tmp_path / "j.jsonl"


# --- selectors and listing ----------------------------------------------------------


def test_selectors(journal: Journal) -> None:
    journal.append([entry(10), entry(11), entry(12), entry(10)])
    entries = journal.entries()

    def ids(*selectors: str) -> list[int]:
        return [e.index for e in select_entries(entries, list(selectors))]

    assert ids("all") == [1, 2, 3, 4]
    assert ids("2") == [2]
    assert ids("2-3", "3") == [2, 3]
    assert ids("id:10") == [1, 4]
    for bad, message in [
        ("x", "selector 'x' is not understood"),
        ("3-1", "runs backwards"),
        ("9", "entry 9 is not in the journal: it has entries 1-4"),
        ("id:abc", "the job id must be a number"),
        ("id:99", "no journal entry is about job 99"),
    ]:
        with pytest.raises(SelectorError, match=message):
            select_entries(entries, [bad])
    with pytest.raises(SelectorError, match="no entries selected"):
        select_entries(entries, [])


def test_journal_list_shows_bodies_literally(journal: Journal) -> None:
    journal.append([entry(1, b"\x1b[2J[bold]hi\nthere"), entry(2, BINARY)])
    journal.append([note("failed", journal.entries()[0], reason="already gone")])
    text = journal_list(journal.path)
    lines = text.splitlines()
    assert lines[0].split() == [
        "#", "time", "action", "server", "tube", "id", "state", "pri", "ttr", "delay", "size",
        "body", "note",
    ]  # fmt: skip
    assert "\x1b" not in text
    assert "\\x1b[2J[bold]hi\\nthere" in lines[1] and "not done: already gone" in lines[1]
    assert f"<{len(BINARY)} bytes binary>" in lines[2]

    records = [json.loads(line) for line in journal_list(journal.path, json=True).splitlines()]
    assert [(r["index"], r["id"]) for r in records] == [(1, 1), (2, 2)]
    assert records[0]["failed"] == "already gone"


def test_journal_list_empty_and_damaged(journal: Journal) -> None:
    assert "is empty: nothing has been deleted or moved yet" in journal_list(journal.path)
    journal.path.parent.mkdir(parents=True)
    journal.path.write_text("garbage\n")
    shown = journal_list(journal.path)
    assert "is empty" not in shown and "no readable entry: its one line is damaged" in shown


# --- restore against a real server ---------------------------------------------------------


async def test_restore_puts_jobs_back_with_their_fields(
    server: Beanstalkd, bclient: Client, journal: Journal
) -> None:
    journal.append(
        [
            entry(1, BINARY, tube="emails", pri=3, ttr=11, state="ready"),
            entry(2, b"later", tube="reports", pri=4, ttr=12, state="delayed", time_left=90),
        ]
    )
    await bclient.use("mine")
    report = await restore(bclient, journal.entries(), journal=journal)
    assert [r.status for r in report.results] == ["ok", "ok"]
    assert report.summary() == "restored 2 of 2 jobs"
    first, second = (r.new_id for r in report.results)
    assert first is not None and second is not None
    assert (await bclient.peek(first)).body == BINARY
    s1, s2 = await bclient.stats_job(first), await bclient.stats_job(second)
    assert (s1["tube"], s1["pri"], s1["ttr"], s1["state"]) == ("emails", 3, 11, "ready")
    assert (s2["tube"], s2["pri"], s2["ttr"], s2["state"]) == ("reports", 4, 12, "delayed")
    assert 85 <= s2["time-left"] <= 90
    assert await bclient.using() == "mine"

    # Restored once: a second "all" skips them, unless asked again explicitly.
    again = await restore(bclient, journal.entries())
    assert [r.status for r in again.results] == ["skipped", "skipped"]
    assert "already restored as job" in str(again.results[0].reason)
    forced = await restore(bclient, journal.entries()[:1], tube="elsewhere", again=True)
    assert forced.results[0].status == "ok" and forced.results[0].tube == "elsewhere"
    assert (await bclient.stats_tube("elsewhere"))["current-jobs-ready"] == 1


async def test_restore_reports_failures_in_plain_words(
    server: Beanstalkd, bclient: Client, journal: Journal
) -> None:
    journal.append([entry(1)])
    os.kill(server.pid, signal.SIGUSR1)
    for _ in range(10_000):  # the server acts on the signal in its own loop
        if (await bclient.stats())["draining"] == "true":
            break
    report = await restore(bclient, journal.entries())
    assert report.results[0].status == "failed"
    assert "drain mode" in str(report.results[0].reason)
    assert report.summary() == "restored 0 of 1 job; 1 failed"


async def test_journal_restore_cli_helper(
    server: Beanstalkd, bclient: Client, journal: Journal
) -> None:
    journal.append([entry(1, b"a"), entry(2, b"b"), entry(3, b"c")])
    dry = await journal_restore(server.address, journal.path, ["2-3"], dry_run=True)
    assert [r.status for r in dry.results] == ["planned", "planned"]
    assert dry.summary() == "would restore 2 of 2 jobs"
    assert (await bclient.stats())["total-jobs"] == 0

    report = await journal_restore(server.address, journal.path, ["id:3", "1"], tube="back")
    assert [(r.entry.index, r.status) for r in report.results] == [(1, "ok"), (3, "ok")]
    assert (await bclient.stats_tube("back"))["current-jobs-buried"] == 2  # buried stays buried
    assert "restored as job" in report.lines()[0]
    # The restore was noted in the journal.
    assert [e.restored_as is not None for e in journal.entries()] == [True, False, True]


async def test_journal_restore_uses_each_entrys_server(
    server: Beanstalkd, bclient: Client, journal: Journal
) -> None:
    record = entry(1, b"home")
    record.server = server.address
    journal.append([record])
    report = await journal_restore(None, journal.path, ["all"])
    assert report.results[0].status == "ok"
    assert (await bclient.stats_tube("emails"))["current-jobs-buried"] == 1


async def test_restore_keeps_each_jobs_state(
    server: Beanstalkd, bclient: Client, journal: Journal
) -> None:
    journal.append(
        [
            entry(1, b"poison", pri=3, state="buried"),
            entry(2, b"later", pri=4, state="delayed", time_left=300),
            entry(3, b"now", pri=5, state="ready"),
            entry(4, b"held", pri=6, state="reserved"),
        ]
    )
    dry = await journal_restore(server.address, journal.path, ["all"], dry_run=True)
    lines = dry.lines()
    assert "would be put into emails as buried (pri 3, ttr 33)" in lines[0]
    assert "as delayed 5m (pri 4" in lines[1]
    assert "as ready (pri 5, ttr 33)" in lines[2]
    assert "as ready (pri 6, ttr 33; it was reserved)" in lines[3]
    assert (await bclient.stats())["cmd-put"] == 0
    report = await restore(bclient, journal.entries(), journal=journal)
    assert [r.status for r in report.results] == ["ok"] * 4
    states = [await bclient.stats_job(r.new_id or 0) for r in report.results]
    assert [(s["state"], s["pri"]) for s in states] == [
        ("buried", 3), ("delayed", 4), ("ready", 5), ("ready", 6)
    ]  # fmt: skip
    assert 295 <= states[1]["time-left"] <= 300
    assert "restored as job" in report.lines()[0] and report.lines()[0].endswith(", buried")
    # No worker could take the poison job in between: it was never ready.
    assert states[0]["reserves"] == 1 and states[0]["timeouts"] == 0
