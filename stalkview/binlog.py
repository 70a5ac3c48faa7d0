"""Read beanstalkd's write-ahead log (``beanstalkd -b DIR``): every job the server would restore.

The format (beanstalkd ``file.c`` / ``dat.h``): files ``DIR/binlog.N``, N ascending,
each starting with an ``int`` version (7; 5 on very old servers). Then records:
``int namelen``, ``namelen`` bytes of tube name, a ``Jobrec`` in the server's native
layout, and, when ``namelen > 0``, ``body_size`` bytes of body (trailing ``\\r\\n``
included). A record with ``namelen == 0`` (a "short" record) carries a known job's
new state and counters; state 0 means deleted. Reserves and TTR timeouts are not
logged, so a job reserved at a crash comes back ready. Files are preallocated and
zero-filled: an id of 0 ends what has been written so far.

The server keeps a job's newest *full* record (the one with its body) in one file
and deletes a file once no live job's full record is in it; compaction rewrites the
full records of the oldest file's jobs at the end of the log.

Read-only, always: files are opened ``O_RDONLY`` and read with ``read()`` (no mmap:
the server truncates files it closes, and a mapped page past the new end would
kill the reader); nothing in DIR is written, locked or deleted. :meth:`Binlog.read`
reads only the bytes appended since the previous read. Never imports textual.
"""

from __future__ import annotations

import errno
import os
import re
import struct
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

#: Versions this module reads.
VERSION = 7
VERSION5 = 5

#: The header of every file: the format version as an ``int``.
HEADER = struct.Struct("<i")

#: ``struct Jobrec`` (dat.h) as a little-endian LP64 server (x86-64, arm64) lays it
#: out: id, pri, delay ns, ttr ns, body_size, created_at ns, deadline_at ns,
#: reserve/timeout/release/bury/kick counts, state. 77 bytes of fields, 80 with C's
#: padding, which is spelled out (``4x``, ``3x``) so the layout does not depend on
#: the machine reading the file, and one struct can also take the ``namelen``
#: before it (records are packed: a Jobrec starts at any offset).
_JOBREC_FIELDS = "QI4xqqi4xqqIIIIIB3x"
JOBREC = struct.Struct("<" + _JOBREC_FIELDS)
#: A short record (``namelen == 0``) in one unpack: namelen, then the Jobrec.
SHORT = struct.Struct("<i" + _JOBREC_FIELDS)
#: Version 5: ``size_t namelen`` and a ``Jobrec5`` read as its first 77 bytes (no
#: trailing padding), times in microseconds.
NAMELEN5 = struct.Struct("<Q")
JOBREC5 = struct.Struct("<QI4xQQi4xQQIIIIIB")

#: Just the fields the first pass needs: namelen; a short record's id and state; a
#: Jobrec's id, body_size and state.
_NAMELEN = struct.Struct("<i")
#: A short record's Jobrec fields, past its namelen.
_SHORT_REC = struct.Struct("<4x" + _JOBREC_FIELDS)
_SHORT_HEAD = struct.Struct("<4xQ68xB")
_FULL_HEAD = struct.Struct("<Q24xi40xB")

assert JOBREC.size == 80 and SHORT.size == 84 and JOBREC5.size == 77

#: MAX_TUBE_NAME_LEN in dat.h, with the terminating NUL: a longer name is corruption.
_MAX_NAMELEN = 200
#: beanstalkd refuses bodies over 1 GiB (JOB_DATA_SIZE_LIMIT_MAX).
_MAX_BODY = 1_073_741_824 + 2

#: Jobrec.state values (dat.h). 0 (Invalid) in a record means the job was deleted.
DELETED = 0
STATE_NAMES = {1: "ready", 2: "reserved", 3: "buried", 4: "delayed"}
_LAST_STATE = 4

_FILE_RE = re.compile(r"binlog\.(\d+)")
_FIRST_CHUNK = 64 * 1024
_MAX_CHUNK = 16 * 1024 * 1024


class BinlogError(Exception):
    """The log cannot be read; the message is one line saying what to do."""


_Rec = tuple[int, int, int, int, int, int, int, int, int, int, int, int, int]


class LogJob:
    """A live job as the log last recorded it.

    ``body_size`` is the body's length as clients see it (the log's count minus the
    trailing ``\\r\\n``). Times are wall-clock nanoseconds (the server's
    ``gettimeofday``). ``file`` is the number N of the ``binlog.N`` holding the job's
    newest full record, which is what keeps that file on disk (the server's
    ``stats-job`` reports the same number); ``record_file`` holds its newest record
    of any kind.

    The fields are read from the unpacked record on access: a busy log names many
    more jobs than survive, and building 13 attributes per job was most of the
    reading time.
    """

    __slots__ = ("body_offset", "file", "rec", "record_file", "tube")

    def __init__(self, tube: str, rec: _Rec, file: int, body_offset: int) -> None:
        self.tube = tube
        #: The Jobrec fields as :data:`JOBREC` unpacks them.
        self.rec = rec
        self.file = file
        self.body_offset = body_offset
        self.record_file = file

    def __repr__(self) -> str:
        return (
            f"LogJob(id={self.id}, tube={self.tube!r}, state={self.logged_state}, "
            f"pri={self.pri}, file={self.file})"
        )

    @property
    def id(self) -> int:
        return self.rec[0]

    @property
    def pri(self) -> int:
        return self.rec[1]

    @property
    def delay_ns(self) -> int:
        return self.rec[2]

    @property
    def ttr_ns(self) -> int:
        return self.rec[3]

    @property
    def body_size(self) -> int:
        return self.rec[4] - 2

    @property
    def created_at_ns(self) -> int:
        return self.rec[5]

    @property
    def deadline_at_ns(self) -> int:
        return self.rec[6]

    @property
    def reserves(self) -> int:
        return self.rec[7]

    @property
    def timeouts(self) -> int:
        return self.rec[8]

    @property
    def releases(self) -> int:
        return self.rec[9]

    @property
    def buries(self) -> int:
        return self.rec[10]

    @property
    def kicks(self) -> int:
        return self.rec[11]

    @property
    def logged_state(self) -> str:
        """The state last written: ready, reserved, buried or delayed."""
        return STATE_NAMES[self.rec[12]]

    def state_at(self, now_ns: int) -> str:
        """The state the server would give it on restart at ``now_ns``: reserves
        are not logged, so reserved comes back ready; a delayed job whose deadline
        passed is ready."""
        state = self.logged_state
        if state == "reserved":
            return "ready"
        if state == "delayed" and self.deadline_at_ns <= now_ns:
            return "ready"
        return state

    @property
    def state(self) -> str:
        return self.state_at(time.time_ns())

    def delay_left(self, now_ns: int) -> int:
        """Seconds of delay left at ``now_ns`` (rounded up; 0 unless delayed)."""
        if self.logged_state != "delayed" or self.deadline_at_ns <= now_ns:
            return 0
        return -(-(self.deadline_at_ns - now_ns) // 1_000_000_000)

    def to_stats(self, now_ns: int | None = None) -> dict[str, int | str]:
        """The job as a ``stats-job`` reply of the restored server would show it."""
        now = time.time_ns() if now_ns is None else now_ns
        return {
            "id": self.id,
            "tube": self.tube,
            "state": self.state_at(now),
            "pri": self.pri,
            "age": max(0, (now - self.created_at_ns) // 1_000_000_000),
            "delay": self.delay_ns // 1_000_000_000,
            "ttr": self.ttr_ns // 1_000_000_000,
            "time-left": self.delay_left(now),
            "file": self.file,
            "reserves": self.reserves,
            "timeouts": self.timeouts,
            "releases": self.releases,
            "buries": self.buries,
            "kicks": self.kicks,
        }


@dataclass(slots=True)
class LogFile:
    """What one ``binlog.N`` holds, as far as it has been read."""

    seq: int
    path: str
    version: int = 0
    #: Bytes on disk (preallocated: the written part is ``end``).
    size: int = 0
    #: Offset just past the last complete record: the next read starts here.
    end: int = 0
    put_records: int = 0
    state_records: int = 0
    #: Bytes of full records (name, fields, body) and of short (state) records.
    put_bytes: int = 0
    state_bytes: int = 0
    #: Live jobs whose newest full record is here: they keep the file on disk.
    holds: set[int] = field(default_factory=set)
    #: Past ``end``: "" (nothing), "zeros" (preallocated, unwritten) or "partial"
    #: (a record still being written, or cut off by a crash).
    tail: str = ""
    #: Why reading stopped before the end, if it is not the tail.
    problem: str | None = None
    mtime_ns: int = 0
    _ident: tuple[int, int] = (0, 0)
    #: A later file has records: the server will never write here again.
    finished: bool = False

    @property
    def records(self) -> int:
        return self.put_records + self.state_records

    @property
    def name(self) -> str:
        return f"binlog.{self.seq}"


@dataclass(frozen=True, slots=True)
class LogChange:
    """Job ids a :meth:`Binlog.read` found new, changed (a newer record) or deleted."""

    added: frozenset[int]
    changed: frozenset[int]
    removed: frozenset[int]
    #: Bytes read from disk by this read.
    bytes_read: int = 0

    @property
    def named(self) -> frozenset[int]:
        """Ids the new bytes name that are still live."""
        return self.added | self.changed

    def __bool__(self) -> bool:
        return bool(self.added or self.changed or self.removed)


def permission_message(path: str | os.PathLike[str], directory: str | os.PathLike[str]) -> str:
    return (
        f"cannot read {path}: permission denied (beanstalkd's log belongs to the user the "
        f"server runs as): run stalkview with sudo, or give it a readable copy, e.g. "
        f"sudo cp -r {directory} /tmp/binlog-copy && sudo chown -R $USER /tmp/binlog-copy"
    )


def _os_error(exc: OSError, path: str | os.PathLike[str], directory: Path) -> BinlogError:
    if exc.errno in (errno.EACCES, errno.EPERM):
        return BinlogError(permission_message(path, directory))
    if exc.errno == errno.ENOENT and Path(path) == directory:
        return BinlogError(
            f"binlog directory {directory} does not exist: give the directory of "
            "beanstalkd's -b option"
        )
    if exc.errno == errno.ENOTDIR and Path(path) == directory:
        return BinlogError(
            f"{directory} is not a directory: give the directory of beanstalkd's -b option"
        )
    return BinlogError(f"cannot read {path}: {exc.strerror or exc}")


class Binlog:
    """A beanstalkd log directory, read incrementally.

    ``jobs`` is every job the server would restore from the files read so far;
    ``files`` describes each file. Call :meth:`read` again to take in what the
    server appended since (files compacted away are dropped).
    """

    def __init__(self, directory: str | os.PathLike[str]) -> None:
        self.directory = Path(directory)
        self.jobs: dict[int, LogJob] = {}
        self.files: dict[int, LogFile] = {}
        #: Records read that could not be used ("binlog.3 at byte 1234: ..."), oldest first.
        self.problems: list[str] = []
        #: Bytes read from disk over this object's life.
        self.bytes_read = 0
        #: Puts of new jobs and deletes of jobs read over this object's life, each
        #: counted even when both fall between two reads (the job never showed).
        self.puts_read = 0
        self.deletes_read = 0
        self._tubes: dict[bytes, str] = {}

    # --- queries -------------------------------------------------------------------------

    def __len__(self) -> int:
        return len(self.jobs)

    def select(self, tube: str | None = None, state: str | None = None) -> list[LogJob]:
        """Jobs (by id) in ``tube`` and restored ``state``, or all."""
        now = time.time_ns()
        return [
            j
            for _id, j in sorted(self.jobs.items())
            if (tube is None or j.tube == tube) and (state is None or j.state_at(now) == state)
        ]

    def time_range(self) -> tuple[int, int] | None:
        """(oldest live job's created_at, newest file's last write) in wall-clock ns."""
        if not self.files:
            return None
        last = max(f.mtime_ns for f in self.files.values())
        first = min((j.created_at_ns for j in self.jobs.values()), default=last)
        return first, last

    @property
    def current_seq(self) -> int:
        """N of the newest ``binlog.N`` read (0 when there is none)."""
        return max(self.files, default=0)

    def body(self, job: LogJob | int) -> bytes:
        """The job's body as clients see it (read from its file now)."""
        if isinstance(job, int):
            job = self.jobs[job]
        path = self.directory / f"binlog.{job.file}"
        try:
            with open(path, "rb", buffering=0) as stream:
                stream.seek(job.body_offset)
                data = stream.read(job.body_size)
        except FileNotFoundError:
            raise BinlogError(
                f"job {job.id}'s record is no longer in {path} (the server compacted its "
                "log): read the log again"
            ) from None
        except OSError as exc:
            raise _os_error(exc, path, self.directory) from None
        if len(data) != job.body_size:
            raise BinlogError(f"{path} ends inside job {job.id}'s body: read the log again")
        return data

    def bodies(self, jobs: list[LogJob]) -> Iterator[tuple[LogJob, bytes]]:
        """(job, body) for each job, one open per file, in file order."""
        by_file: dict[int, list[LogJob]] = {}
        for job in jobs:
            by_file.setdefault(job.file, []).append(job)
        for seq in sorted(by_file):
            path = self.directory / f"binlog.{seq}"
            try:
                stream = open(path, "rb", buffering=0)  # noqa: SIM115
            except FileNotFoundError:
                for job in by_file[seq]:
                    yield job, self.body(job)  # raises the compacted-away message
                continue
            except OSError as exc:
                raise _os_error(exc, path, self.directory) from None
            with stream:
                for job in sorted(by_file[seq], key=lambda j: j.body_offset):
                    stream.seek(job.body_offset)
                    data = stream.read(job.body_size)
                    if len(data) != job.body_size:
                        raise BinlogError(
                            f"{path} ends inside job {job.id}'s body: read the log again"
                        )
                    yield job, data

    # --- reading -------------------------------------------------------------------------

    def _list(self) -> dict[int, str]:
        try:
            names = os.listdir(self.directory)
        except OSError as exc:
            raise _os_error(exc, self.directory, self.directory) from None
        out: dict[int, str] = {}
        for name in names:
            m = _FILE_RE.fullmatch(name)
            if m is not None:
                out[int(m.group(1))] = str(self.directory / name)
        return out

    def reset(self) -> None:
        """Forget everything read: the next :meth:`read` starts from scratch."""
        self.jobs.clear()
        self.files.clear()
        self.problems.clear()

    def read(self) -> LogChange:
        """Read what was appended since the last call; return the ids it touched.

        The first call reads every file. A file that shrank or was replaced (the
        directory was wiped and reused) starts the whole log over.
        """
        added: set[int] = set()
        changed: set[int] = set()
        removed: set[int] = set()
        before = self.bytes_read
        on_disk = self._list()
        for seq in sorted(on_disk):
            known = self.files.get(seq)
            if known is not None and known.finished:
                continue
            if known is None:
                known = self.files[seq] = LogFile(seq, on_disk[seq])
            if not self._read_file(known, added, changed, removed):
                # The file was replaced or truncated under us: start over.
                old = set(self.jobs)
                self.reset()
                change = self.read()
                return LogChange(
                    change.added - old,
                    change.added & old,
                    frozenset(old - change.added),
                    self.bytes_read - before,
                )
        for seq in [s for s in self.files if s not in on_disk]:
            self._drop_file(seq, removed)
        self._mark_finished()
        return LogChange(
            frozenset(added - removed),
            frozenset((changed - removed) - added),
            frozenset(removed - added),
            self.bytes_read - before,
        )

    def _mark_finished(self) -> None:
        later_has_records = False
        for seq in sorted(self.files, reverse=True):
            f = self.files[seq]
            if later_has_records:
                f.finished = True
            if f.records:
                later_has_records = True

    def _drop_file(self, seq: int, removed: set[int]) -> None:
        f = self.files.pop(seq)
        # The server deletes a file only once no live job's full record is in it;
        # jobs still held here were deleted or moved by records this read has not
        # seen (or the file was removed by hand): the log no longer has them.
        for jid in f.holds:
            if self.jobs.get(jid) is not None and self.jobs[jid].file == seq:
                del self.jobs[jid]
                removed.add(jid)

    def _read_file(self, f: LogFile, added: set[int], changed: set[int], removed: set[int]) -> bool:
        """Read ``f`` from ``f.end``; False if it is not the file read before."""
        try:
            stream = open(f.path, "rb", buffering=0)  # noqa: SIM115
        except FileNotFoundError:
            return True  # compacted away since the listing: dropped by the caller next time
        except OSError as exc:
            raise _os_error(exc, f.path, self.directory) from None
        with stream:
            st = os.fstat(stream.fileno())
            ident = (st.st_dev, st.st_ino)
            if f.end and (ident != f._ident or st.st_size < f.end):
                return False
            f._ident = ident
            f.size = st.st_size
            f.mtime_ns = st.st_mtime_ns
            if f.end == 0:
                head = stream.read(HEADER.size)
                self.bytes_read += len(head)
                if len(head) < HEADER.size:
                    return True  # just created: the header is not written yet
                (version,) = HEADER.unpack(head)
                if version == 0:
                    return True  # preallocated, header not written yet
                if version not in (VERSION, VERSION5):
                    raise BinlogError(
                        f"{f.path} is binlog version {version}; stalkview reads versions "
                        f"{VERSION} (beanstalkd 1.9 and later) and {VERSION5}: open it with "
                        "the beanstalkd version that wrote it"
                    )
                f.version = version
                f.end = HEADER.size
            else:
                stream.seek(f.end)
            # Read in growing chunks: the written part of a preallocated file is
            # often a sliver of it, and the live file is re-read on every refresh.
            # A record cut at a chunk's end is read again with the next chunk.
            parse = self._parse if f.version == VERSION else self._parse5
            chunk = _FIRST_CHUNK
            while True:
                data = stream.read(chunk)
                self.bytes_read += len(data)
                used, stopped = parse(f, data, added, changed, removed)
                f.end += used
                if stopped or len(data) < chunk:
                    self._note_tail(f, data, used)
                    break
                chunk = min(chunk * 4, _MAX_CHUNK) if used else chunk * 4
                stream.seek(f.end)
        return True

    @staticmethod
    def _note_tail(f: LogFile, data: bytes, used: int) -> None:
        rest = len(data) - used
        if rest == 0:
            f.tail = ""
        elif data.count(0, used) == rest:
            f.tail = "zeros"
        else:
            f.tail = "partial"

    def _problem(self, f: LogFile, offset: int, what: str) -> None:
        f.problem = f"{f.name} at byte {offset}: {what}"
        if f.problem not in self.problems:
            self.problems.append(f.problem)

    def _parse(
        self,
        f: LogFile,
        data: bytes,
        added: set[int],
        changed: set[int],
        removed: set[int],
    ) -> tuple[int, bool]:
        """Apply the complete version-7 records at the start of ``data``; return
        how many bytes they take, and whether reading stopped for good (the
        zero-filled rest of the file, or a bad record) rather than at a record
        cut off by the end of ``data``.

        Two passes, for speed: the first walks the records reading only id, size
        and state (most jobs of a busy log are put and deleted within a few
        records), the second decodes the newest records of the jobs still alive.
        """
        jobs = self.jobs
        files = self.files
        head = _NAMELEN.unpack_from
        short_head = _SHORT_HEAD.unpack_from
        full_head = _FULL_HEAD.unpack_from
        short_size = SHORT.size
        rec_size = JOBREC.size
        #: Per job named here: offset of its newest record, and of its newest full one.
        newest: dict[int, int] = {}
        full_at: dict[int, int] = {}
        n = len(data)
        pos = 0
        puts = put_bytes = shorts = new_jobs = deletes = 0
        stopped = False
        f.problem = None
        while pos + 4 <= n:
            (namelen,) = head(data, pos)
            if namelen == 0:
                if pos + short_size > n:
                    break
                jid, state = short_head(data, pos)
                if jid == 0:
                    stopped = True  # the zero-filled rest of the file
                    break
                if state == DELETED:
                    known = newest.pop(jid, None) is not None
                    if known:
                        full_at.pop(jid, None)
                    job = jobs.pop(jid, None)
                    if job is not None:
                        holder = files.get(job.file)
                        if holder is not None:
                            holder.holds.discard(jid)
                        removed.add(jid)
                    if known or job is not None:
                        deletes += 1
                elif state > _LAST_STATE:
                    self._problem(f, f.end + pos, f"job {jid} has unknown state {state}")
                    stopped = True
                    break
                elif jid in newest or jid in jobs:
                    newest[jid] = pos
                # else: its full record was in a file compacted away; the server
                # ignores such a record too (the job was deleted or moved).
                pos += short_size
                shorts += 1
                continue
            if namelen < 0 or namelen > _MAX_NAMELEN:
                self._problem(f, f.end + pos, f"tube name length {namelen} is impossible")
                stopped = True
                break
            at = pos + 4 + namelen
            if at + rec_size > n:
                break
            jid, size, state = full_head(data, at)
            if jid == 0:
                stopped = True
                break
            if size < 2 or size > _MAX_BODY:
                self._problem(f, f.end + pos, f"job {jid} has impossible body size {size}")
                stopped = True
                break
            if state > _LAST_STATE:
                self._problem(f, f.end + pos, f"job {jid} has unknown state {state}")
                stopped = True
                break
            end = at + rec_size + size
            if end > n:
                break
            if state == DELETED:
                known = newest.pop(jid, None) is not None
                if known:
                    full_at.pop(jid, None)
                job = jobs.pop(jid, None)
                if job is not None:
                    holder = files.get(job.file)
                    if holder is not None:
                        holder.holds.discard(jid)
                    removed.add(jid)
                if known or job is not None:
                    deletes += 1
            else:
                if jid not in newest and jid not in jobs:
                    new_jobs += 1
                newest[jid] = full_at[jid] = pos
            puts += 1
            put_bytes += end - pos
            pos = end
        f.put_records += puts
        f.put_bytes += put_bytes
        f.state_records += shorts
        f.state_bytes += shorts * short_size
        self.puts_read += new_jobs
        self.deletes_read += deletes
        self._apply_newest(f, data, newest, full_at, added, changed)
        return pos, stopped

    def _apply_newest(
        self,
        f: LogFile,
        data: bytes,
        newest: dict[int, int],
        full_at: dict[int, int],
        added: set[int],
        changed: set[int],
    ) -> None:
        """The second pass of :meth:`_parse`: decode the records that are now each
        live job's newest (a full record replaces every field, as the server's
        ``j->r = jr`` does; a short record after it replaces all but tube and body)."""
        jobs = self.jobs
        files = self.files
        tubes = self._tubes
        rec_unpack = JOBREC.unpack_from
        short_unpack = _SHORT_REC.unpack_from
        rec_size = JOBREC.size
        seq = f.seq
        base = f.end
        for jid, last in newest.items():
            job = jobs.get(jid)
            at_full = full_at.get(jid)
            if at_full is not None:
                (namelen,) = _NAMELEN.unpack_from(data, at_full)
                at = at_full + 4 + namelen
                raw = data[at_full + 4 : at]
                tube = tubes.get(raw)
                if tube is None:
                    tube = tubes[raw] = raw.decode("utf-8", "replace")
                r = rec_unpack(data, at)
                if job is None:
                    jobs[jid] = job = LogJob(tube, r, seq, base + at + rec_size)
                    added.add(jid)
                elif job.rec[4] != r[4]:
                    self._problem(
                        f, base + at_full, f"job {jid} changed size ({job.rec[4]} -> {r[4]})"
                    )
                    continue
                else:
                    # A copy written by compaction: the body moves here.
                    holder = files.get(job.file)
                    if holder is not None:
                        holder.holds.discard(jid)
                    job.tube = tube
                    job.rec = r
                    job.file = job.record_file = seq
                    job.body_offset = base + at + rec_size
                    changed.add(jid)
                f.holds.add(jid)
                if last == at_full:
                    continue
            elif job is None:
                continue
            else:
                changed.add(jid)
            job.rec = short_unpack(data, last)
            job.record_file = seq

    def _parse5(
        self,
        f: LogFile,
        data: bytes,
        added: set[int],
        changed: set[int],
        removed: set[int],
    ) -> tuple[int, bool]:
        """Version 5 (``size_t namelen``, microsecond times): rare, so one simple pass
        that turns each record into version 7's fields."""
        n = len(data)
        pos = 0
        base = f.end
        stopped = False
        f.problem = None
        while pos + NAMELEN5.size <= n:
            (namelen,) = NAMELEN5.unpack_from(data, pos)
            if namelen > _MAX_NAMELEN:
                self._problem(f, base + pos, f"tube name length {namelen} is impossible")
                stopped = True
                break
            at = pos + NAMELEN5.size + namelen
            if at + JOBREC5.size > n:
                break
            v5 = JOBREC5.unpack_from(data, at)
            jid, size, state = v5[0], v5[4], v5[12]
            if jid == 0:
                stopped = True
                break
            if namelen and (size < 2 or size > _MAX_BODY):
                self._problem(f, base + pos, f"job {jid} has impossible body size {size}")
                stopped = True
                break
            if state > _LAST_STATE:
                self._problem(f, base + pos, f"job {jid} has unknown state {state}")
                stopped = True
                break
            end = at + JOBREC5.size + (size if namelen else 0)
            if end > n:
                break
            rec: _Rec = (
                jid, v5[1], v5[2] * 1000, v5[3] * 1000, size, v5[5] * 1000, v5[6] * 1000,
                v5[7], v5[8], v5[9], v5[10], v5[11], state,
            )  # fmt: skip
            job = self.jobs.get(jid)
            if state == DELETED:
                if job is not None:
                    holder = self.files.get(job.file)
                    if holder is not None:
                        holder.holds.discard(jid)
                    del self.jobs[jid]
                    removed.add(jid)
                    self.deletes_read += 1
            elif namelen:
                if job is None:
                    self.puts_read += 1
                    tube = data[pos + NAMELEN5.size : at].decode("utf-8", "replace")
                    self.jobs[jid] = LogJob(tube, rec, f.seq, base + at + JOBREC5.size)
                    added.add(jid)
                else:
                    holder = self.files.get(job.file)
                    if holder is not None:
                        holder.holds.discard(jid)
                    job.rec = rec
                    job.file = job.record_file = f.seq
                    job.body_offset = base + at + JOBREC5.size
                    changed.add(jid)
                f.holds.add(jid)
            elif job is not None:
                job.rec = (*rec[:4], job.rec[4], *rec[5:])  # type: ignore[assignment]
                job.record_file = f.seq
                changed.add(jid)
            if namelen:
                f.put_records += 1
                f.put_bytes += end - pos
            else:
                f.state_records += 1
                f.state_bytes += end - pos
            pos = end
        return pos, stopped


class BinlogSource:
    """A log as the live inventory's candidate source
    (:class:`stalkview.inventory.CandidateSource`): the ids of the jobs it names."""

    def __init__(self, directory: str | os.PathLike[str], label: str | None = None) -> None:
        self.log = Binlog(directory)
        self.label = label or f"binlog {directory}"

    def mismatch(self, stats: dict[str, object]) -> str | None:
        """Why this log cannot be the server's (``stats`` of the server), or None."""
        try:
            current = int(str(stats.get("binlog-current-index", 0)))
        except ValueError:
            return None
        if current == 0:
            return f"the server writes no binlog, so {self.log.directory} is not its log"
        try:
            seqs = self.log._list()
        except BinlogError:
            return None  # reading will say what is wrong
        if seqs and current not in seqs and current != max(seqs) + 1:
            return (
                f"the server writes binlog.{current}, and {self.log.directory} holds "
                f"binlog.{min(seqs)}..{max(seqs)}: it is another server's log"
            )
        return None

    def counts(self) -> tuple[int, int, int]:
        log = self.log
        return len(log.jobs), log.puts_read, log.deletes_read

    def candidates(self, everything: bool) -> tuple[set[int], set[int]]:
        change = self.log.read()
        if everything:
            return set(self.log.jobs), set(change.removed)
        return set(change.named), set(change.removed)
