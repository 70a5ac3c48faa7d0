"""The binlog reader against logs a real beanstalkd wrote (and, as the final
word on "as the server would restore it", a beanstalkd started on a copy)."""

from __future__ import annotations

import os
import shutil
import signal
import struct
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import greenstalk
import pytest

from stalkview.binlog import JOBREC5, NAMELEN5, VERSION5, Binlog, BinlogError
from tests.beanstalkd import Beanstalkd

FIELDS = ("tube", "pri", "ttr", "reserves", "timeouts", "releases", "buries", "kicks", "file")


class Server(Beanstalkd):
    """A beanstalkd with a small binlog file size (``-s``) to make it compact often."""

    binlog_size: int | None = None

    def argv(self) -> list[str]:
        argv = super().argv()
        if self.binlog_size:
            argv += ["-s", str(self.binlog_size)]
        return argv


@pytest.fixture
def logged(tmp_path: Path) -> Iterator[Server]:
    """A private beanstalkd with ``-b``."""
    directory = tmp_path / "binlog"
    directory.mkdir()
    server = Server(binlog_dir=str(directory))
    server.start()
    yield server
    server.stop()


@pytest.fixture
def compacting(tmp_path: Path) -> Iterator[Server]:
    """A private beanstalkd with ``-b`` and 64 KiB binlog files."""
    directory = tmp_path / "binlog"
    directory.mkdir()
    server = Server(binlog_dir=str(directory))
    server.binlog_size = 65536
    server.start()
    yield server
    server.stop()


def connect(server: Beanstalkd, tube: str = "default") -> greenstalk.Client[bytes]:
    assert server.port is not None
    return greenstalk.Client(("127.0.0.1", server.port), encoding=None, use=tube, watch=tube)


def live(server: Beanstalkd) -> dict[int, dict[str, Any]]:
    """Every live job's stats-job and body, by brute force over the id range."""
    with connect(server) as c:
        top = int(c.stats()["total-jobs"]) + 1000  # ids continue past total-jobs after restarts
        out = {}
        for jid in range(1, top):
            try:
                stats = c.stats_job(jid)
                body = c.peek(jid).body
            except greenstalk.NotFoundError:
                continue
            out[jid] = {**stats, "body": body}
        return out


def mixed_workload(server: Beanstalkd) -> tuple[dict[str, int], greenstalk.Client[bytes]]:
    """Jobs in all four states in three tubes, with binary bodies, deletes and kicks;
    also the open connection that holds the reserved one (close it when done)."""
    ids: dict[str, int] = {}
    with connect(server, "emails") as c:
        ids["ready"] = c.put(b"plain text", priority=7, ttr=30)
        ids["binary"] = c.put(bytes(range(256)) + b"\r\n\x00", priority=2**32 - 1)
        ids["delayed"] = c.put(b"later", delay=3600, ttr=120)
        gone = c.put(b"deleted soon")
        c.delete(gone)
        ids["buried"] = c.put(b"to bury", priority=10)
        c.use("reports")
        ids["reports"] = c.put(b"[bold]report[/] \x1b[2J", priority=20)
        c.use("kicked")
        c.watch("kicked")
        c.ignore("emails")
        ids["kicked"] = c.put(b"kick me")
        job = c.reserve(timeout=1)
        c.bury(job, priority=30)
        c.kick(1)
        c.watch("emails")
        c.ignore("kicked")
        c.bury(c.reserve_job(ids["buried"]), priority=11)
        c.use("emails")
        ids["reserved"] = c.put(b"held by a worker", priority=0)
    worker = connect(server, "emails")
    job = worker.reserve(timeout=1)
    assert job.id == ids["reserved"]
    return ids, worker


def test_every_state_tube_and_body_matches_the_server(logged: Server) -> None:
    ids, worker = mixed_workload(logged)
    truth = live(logged)
    worker.close()
    log = Binlog(logged.binlog_dir or "")
    change = log.read()

    assert set(log.jobs) == set(truth) == set(ids.values())
    assert change.added == frozenset(truth)
    for jid, stats in truth.items():
        job = log.jobs[jid]
        assert log.body(job) == stats["body"]
        assert job.body_size == len(stats["body"])
        if stats["state"] == "reserved":
            # Reserves are not logged: the log still has it ready, and a restart
            # would hand it out again.
            assert job.logged_state == "ready"
            assert job.state == "ready"
            continue
        got = job.to_stats()
        assert {k: got[k] for k in FIELDS} == {k: stats[k] for k in FIELDS}
        assert got["state"] == stats["state"]
    delayed = log.jobs[ids["delayed"]].to_stats()
    assert 3590 <= int(delayed["time-left"]) <= 3600
    assert log.jobs[ids["kicked"]].kicks == 1
    (only,) = log.files.values()
    assert only.version == 7
    assert only.tail == "zeros"
    assert only.holds == set(truth)
    assert only.put_records == 8 and only.state_records >= 4  # 8 puts, one deleted since
    assert only.put_bytes + only.state_bytes + 4 == only.end


def test_the_server_restores_what_the_reader_says(logged: Server, tmp_path: Path) -> None:
    """After SIGKILL, a beanstalkd started on a copy of the log restores exactly the
    jobs, tubes, states, priorities and bodies the reader reports."""
    _ids, worker = mixed_workload(logged)
    logged.stop(signal.SIGKILL)
    worker.close()
    copy = tmp_path / "copy"
    shutil.copytree(logged.binlog_dir or "", copy)
    log = Binlog(copy)
    log.read()
    expected = {jid: {**j.to_stats(), "body": log.body(j)} for jid, j in log.jobs.items()}

    restored = Server(binlog_dir=str(copy)).start()
    try:
        truth = live(restored)
    finally:
        restored.stop()
    assert set(truth) == set(expected)
    for jid, stats in truth.items():
        want = expected[jid]
        for key in ("tube", "state", "pri", "ttr", "body"):
            assert stats[key] == want[key], (jid, key)
        if stats["state"] == "delayed":
            assert abs(int(stats["time-left"]) - int(want["time-left"])) <= 2


def test_a_restart_keeps_ids_and_adds_a_file(logged: Server) -> None:
    with connect(logged) as c:
        before = [c.put(b"a"), c.put(b"b")]
    logged.restart()
    with connect(logged) as c:
        after = c.put(b"c")
        c.delete(before[0])
    assert after > before[1]
    log = Binlog(logged.binlog_dir or "")
    log.read()
    assert sorted(log.jobs) == [before[1], after]
    assert sorted(log.files) == [1, 2]
    assert log.jobs[before[1]].file == 1 and log.jobs[after].file == 2
    # The delete of a job put before the restart is a short record in the new file.
    assert log.files[2].state_records == 1
    assert log.files[1].holds == {before[1]}


def test_compaction_across_files_incrementally(compacting: Server) -> None:
    directory = compacting.binlog_dir or ""
    log = Binlog(directory)
    with connect(compacting) as c:
        old = c.put(b"the old one", priority=1)
        c.bury(c.reserve_job(old))
        log.read()
        seen_files: set[int] = set(log.files)
        body = b"x" * 2000
        for _round in range(12):
            ids = [c.put(body) for _ in range(40)]
            for jid in ids[:-2]:
                c.delete(jid)
            change = log.read()
            seen_files |= set(log.files)
            assert set(ids[:-2]).isdisjoint(log.jobs)
            assert set(ids[-2:]) <= change.named | set(log.jobs)
        truth = live(compacting)
    on_disk = sorted(int(n.split(".")[1]) for n in os.listdir(directory) if n.startswith("binlog."))
    assert len(seen_files) > len(on_disk) >= 2, "the server should have compacted files away"
    assert sorted(log.files) == on_disk
    assert set(log.jobs) == set(truth)
    for jid, stats in truth.items():
        assert log.jobs[jid].file == stats["file"]
        assert log.body(jid) == stats["body"]
    # Which jobs keep which file: every live job is held by exactly one file.
    held = [jid for f in log.files.values() for jid in f.holds]
    assert sorted(held) == sorted(truth)
    # A fresh reader agrees with the incremental one.
    fresh = Binlog(directory)
    fresh.read()
    assert {j: fresh.jobs[j].file for j in fresh.jobs} == {j: log.jobs[j].file for j in log.jobs}


def test_incremental_read_takes_only_appended_bytes(logged: Server) -> None:
    log = Binlog(logged.binlog_dir or "")
    with connect(logged) as c:
        first = c.put(b"one")
        log.read()
        second = c.put(b"two")
        c.delete(first)
        change = log.read()
        nothing = log.read()
    assert change.added == {second} and change.removed == {first} and not change.changed
    assert not nothing
    # A job put and deleted between two reads is named by neither, but counted.
    with connect(logged) as c:
        c.delete(c.put(b"fleeting"))
    before = (log.puts_read, log.deletes_read)
    assert not log.read()
    assert (log.puts_read, log.deletes_read) == (before[0] + 1, before[1] + 1)
    assert change.bytes_read < 70_000  # one small chunk, not the 10 MB preallocated file


def test_a_half_written_last_record_is_left_for_later(logged: Server, tmp_path: Path) -> None:
    with connect(logged) as c:
        kept = c.put(b"kept")
        cut = c.put(b"cut off in the middle" * 10)
    log = Binlog(logged.binlog_dir or "")
    log.read()
    end_of_kept = log.jobs[kept].body_offset + log.jobs[kept].body_size + 2
    copy = tmp_path / "copy"
    shutil.copytree(logged.binlog_dir or "", copy)
    with open(copy / "binlog.1", "r+b") as f:
        f.truncate(log.jobs[cut].body_offset + 50)
    torn = Binlog(copy)
    torn.read()
    assert list(torn.jobs) == [kept]
    assert torn.files[1].end == end_of_kept
    assert torn.files[1].tail == "partial"
    assert not torn.problems


def test_an_unknown_version_is_refused(logged: Server, tmp_path: Path) -> None:
    with connect(logged) as c:
        c.put(b"x")
    copy = tmp_path / "copy"
    shutil.copytree(logged.binlog_dir or "", copy)
    with open(copy / "binlog.1", "r+b") as f:
        f.write(struct.pack("<i", 9))
    with pytest.raises(BinlogError, match=r"binlog\.1 is binlog version 9; stalkview reads"):
        Binlog(copy).read()


def test_a_missing_directory_is_one_clear_line(tmp_path: Path) -> None:
    with pytest.raises(BinlogError, match="does not exist: give the directory of beanstalkd's -b"):
        Binlog(tmp_path / "nope").read()


def _as_unprivileged(code: str) -> subprocess.CompletedProcess[str]:
    """Run Python without the capabilities that let root read anything."""
    caps = "-dac_override,-dac_read_search"
    return subprocess.run(
        ["setpriv", f"--bounding-set={caps}", f"--inh-caps={caps}", sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=Path(__file__).resolve().parents[2],
    )


@pytest.mark.skipif(
    os.geteuid() != 0 or shutil.which("setpriv") is None, reason="needs root and setpriv"
)
def test_an_unreadable_log_says_sudo_or_a_copy(logged: Server) -> None:
    """The server's own files are 0400 and owned by its user: reading them as someone
    else fails with a real EACCES (root without CAP_DAC_* is "someone else")."""
    with connect(logged) as c:
        c.put(b"x")
    directory = logged.binlog_dir or ""
    for path in [directory, *(os.path.join(directory, n) for n in os.listdir(directory))]:
        os.chown(path, 65534, 65534)
    os.chmod(directory, 0o700)
    code = (
        "from stalkview.binlog import Binlog, BinlogError\n"
        f"try:\n    Binlog({directory!r}).read()\n"
        "except BinlogError as e:\n    print(e)\n"
    )
    result = _as_unprivileged(code)
    assert result.returncode == 0, result.stderr
    (line,) = result.stdout.splitlines()
    assert line.startswith(f"cannot read {directory}: permission denied")
    assert "sudo" in line and "copy" in line
    # Nothing in DIR was touched: the server still runs on it.
    with connect(logged) as c:
        assert c.stats()["current-jobs-ready"] == 1


def test_version_5_layout(tmp_path: Path) -> None:
    """No server here writes version 5 (it predates beanstalkd 1.9): a file built
    from file.c's Jobrec5 (size_t namelen, microseconds) stands in."""

    def record(jid: int, tube: bytes, state: int, body: bytes | None) -> bytes:
        fields = JOBREC5.pack(jid, 5, 2_000_000, 60_000_000, len(body or b"x\r\n"),
                              1_700_000_000_000_000, 0, 1, 0, 0, 1, 0, state)  # fmt: skip
        name = tube if body is not None else b""
        return NAMELEN5.pack(len(name)) + name + fields + (body or b"")

    data = struct.pack("<i", VERSION5)
    data += record(1, b"old", 1, b"first\r\n") + record(2, b"old", 1, b"second\r\n")
    data += record(1, b"", 3, None) + record(2, b"", 0, None)
    (tmp_path / "binlog.1").write_bytes(data + bytes(200))
    log = Binlog(tmp_path)
    log.read()
    (job,) = log.jobs.values()
    assert (job.id, job.tube, job.logged_state, job.pri) == (1, "old", "buried", 5)
    assert (job.delay_ns, job.ttr_ns) == (2_000_000_000, 60_000_000_000)
    assert job.created_at_ns == 1_700_000_000_000_000_000
    assert log.body(job) == b"first"


def test_the_log_modules_never_import_textual() -> None:
    code = (
        "import sys, stalkview.binlog, stalkview.recovery, stalkview.binlogfind, "
        "stalkview.logserver; print('textual' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.stdout.strip() == "False", out.stderr
