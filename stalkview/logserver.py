"""A stopped server's log, served by a private beanstalkd restored from a copy of it.

The UI speaks the protocol, so ``stalkview --binlog DIR`` shows a log through the
one program that knows exactly how it restores: beanstalkd itself, started on a
private copy (Unix socket in a private temporary directory, stopped by its pid on
exit). The original directory is only read. Never imports textual.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import NamedTuple

from stalkview.binlog import Binlog, BinlogError, permission_message
from stalkview.recovery import read_log

#: The server's default -z; larger when the log holds larger jobs.
DEFAULT_MAX_JOB = 65_535
#: A big log takes a while to restore: seconds to wait for the private server.
START_TIMEOUT = 60.0


def _copy(log: Binlog, into: Path) -> None:
    for seq in sorted(log.files):
        source = log.directory / f"binlog.{seq}"
        try:
            shutil.copyfile(source, into / f"binlog.{seq}")
        except PermissionError:
            raise BinlogError(permission_message(source, log.directory)) from None
        except OSError as exc:
            raise BinlogError(f"cannot copy {source}: {exc.strerror or exc}") from None


def _wait_ready(proc: subprocess.Popen[bytes], path: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            err = proc.stderr.read().decode("utf-8", "replace") if proc.stderr else ""
            last = err.strip().splitlines()[-1] if err.strip() else f"exit status {proc.returncode}"
            raise BinlogError(f"beanstalkd could not restore the copy of the log: {last}")
        try:
            with socket.socket(socket.AF_UNIX) as probe:
                probe.connect(path)
            return
        except OSError:
            time.sleep(0.02)
    raise BinlogError(f"beanstalkd did not restore the log within {timeout:g} s")


class Restored(NamedTuple):
    #: The private server's Unix socket.
    address: str
    #: The original log, as read.
    log: Binlog
    #: The private copy the server runs on (its -b: the inventory reads its ids).
    directory: str


@contextmanager
def restored_server(directory: str) -> Iterator[Restored]:
    """A private beanstalkd serving a copy of the log in ``directory``.

    Raises :class:`BinlogError` (one line) when the log cannot be read or served.
    """
    log = read_log(directory)
    exe = shutil.which("beanstalkd")
    if exe is None:
        raise BinlogError(
            "showing a log in the UI needs beanstalkd installed (it restores a private copy): "
            "install it, or read the log with 'stalkview jobs --binlog DIR' or 'stalkview "
            "export --binlog DIR'"
        )
    private = Path(tempfile.mkdtemp(prefix="stalkview-log-"))
    proc: subprocess.Popen[bytes] | None = None
    try:
        copy = private / "binlog"
        copy.mkdir()
        _copy(log, copy)
        # beanstalkd compares a logged size, which counts the trailing \r\n, with -z:
        # a job within 2 bytes of the limit would not come back. Room for every job.
        biggest = max((j.body_size + 2 for j in log.jobs.values()), default=0)
        path = str(private / "beanstalkd.sock")
        argv = [
            exe,
            "-l",
            f"unix:{path}",
            "-b",
            str(copy),
            "-z",
            str(max(DEFAULT_MAX_JOB, biggest)),
        ]
        proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        _wait_ready(proc, path, START_TIMEOUT)
        yield Restored(path, log, str(copy))
    finally:
        if proc is not None:
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(5)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
            if proc.stderr is not None:
                proc.stderr.close()
        shutil.rmtree(private, ignore_errors=True)
