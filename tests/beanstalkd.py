"""Start and stop private beanstalkd processes for tests and benchmarks."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

BEANSTALKD = shutil.which("beanstalkd")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Beanstalkd:
    """A private beanstalkd on loopback TCP or a Unix socket, stopped by its pid."""

    port: int | None = None
    socket_path: str | None = None
    binlog_dir: str | None = None
    max_job_size: int | None = None
    binlog_size: int | None = None
    cpu: int | None = None
    proc: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    @property
    def address(self) -> str:
        if self.socket_path:
            return self.socket_path
        return f"127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def argv(self) -> list[str]:
        if BEANSTALKD is None:
            raise RuntimeError("beanstalkd is not installed: apt-get install -y beanstalkd")
        argv = [BEANSTALKD]
        if self.socket_path:
            argv += ["-l", f"unix:{self.socket_path}"]
        else:
            argv += ["-l", "127.0.0.1", "-p", str(self.port)]
        if self.binlog_dir:
            argv += ["-b", self.binlog_dir]
        if self.max_job_size:
            argv += ["-z", str(self.max_job_size)]
        if self.binlog_dir and self.binlog_size:
            argv += ["-s", str(self.binlog_size)]
        if self.cpu is not None and shutil.which("taskset"):
            argv = ["taskset", "-c", str(self.cpu), *argv]
        return argv

    def start(self, timeout: float = 5.0) -> Beanstalkd:
        for _attempt in range(5):
            if not self.socket_path:
                self.port = free_port()
            self.proc = subprocess.Popen(
                self.argv(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
            )
            if self._wait_ready(timeout):
                return self
            self.stop()  # the port was taken between free_port() and bind: try another
        raise RuntimeError(f"beanstalkd did not start: {' '.join(self.argv())}")

    def _wait_ready(self, timeout: float) -> bool:
        # Readiness is "accepts a connection": poll for it, the server gives no other signal.
        deadline = time.monotonic() + timeout
        assert self.proc is not None
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                return False
            try:
                if self.socket_path:
                    with socket.socket(socket.AF_UNIX) as s:
                        s.connect(self.socket_path)
                else:
                    assert self.port is not None
                    socket.create_connection(("127.0.0.1", self.port), timeout=0.5).close()
                return True
            except OSError:
                time.sleep(0.002)
        return False

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            os.kill(self.proc.pid, sig)
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                os.kill(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        if self.proc.stderr:
            self.proc.stderr.close()
        self.proc = None

    def kill(self) -> None:
        self.stop(signal.SIGKILL)

    def restart(self) -> Beanstalkd:
        """Stop and start again on the same address (and binlog, if any)."""
        self.stop()
        port = self.port
        for _attempt in range(50):
            self.proc = subprocess.Popen(
                self.argv(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
            )
            if self._wait_ready(5.0):
                return self
            self.stop()
            self.port = port
        raise RuntimeError("beanstalkd did not restart on its address")


def tempdir(prefix: str = "stalkview-test-") -> Path:
    return Path(tempfile.mkdtemp(prefix=prefix))
