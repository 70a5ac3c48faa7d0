"""A private beanstalkd for demo mode: started in a temporary directory, always stopped.

The server listens on a Unix socket inside a fresh ``mkdtemp`` directory, so it
never collides with (or exposes itself like) a real server. Several layers make
sure neither the process nor the directory outlives us:

- ``stop()`` (also via ``with DemoServer() as server:``) kills it by pid, reaps
  it and removes the directory; it is idempotent;
- an ``atexit`` hook stops every server still running at interpreter exit;
- SIGTERM and SIGHUP stop every server, then exit the process (SystemExit, so
  ``finally`` blocks and context managers still run);
- on Linux the child asks the kernel for SIGKILL when we die (PR_SET_PDEATHSIG),
  which covers even SIGKILL of our own process.
"""

from __future__ import annotations

import atexit
import contextlib
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from types import FrameType, TracebackType
from typing import Any

INSTALL_HINT = (
    "install it with 'sudo apt-get install beanstalkd' (Debian/Ubuntu) or "
    "'brew install beanstalkd' (macOS), or put the beanstalkd binary on PATH"
)

#: How long ``start()`` waits for the new server to accept a connection.
START_TIMEOUT = 5.0
#: How long ``stop()`` waits after SIGTERM before it sends SIGKILL.
STOP_TIMEOUT = 3.0

_SIGNALS_TO_HANDLE = tuple(
    sig for sig in (getattr(signal, "SIGTERM", None), getattr(signal, "SIGHUP", None)) if sig
)


class BeanstalkdNotFound(RuntimeError):
    """The beanstalkd executable is not on PATH; the message says how to install it."""


class DemoServerError(RuntimeError):
    """beanstalkd was found but did not start; the message includes its own error output."""


def find_beanstalkd() -> str:
    """Return the path of the beanstalkd executable, or raise BeanstalkdNotFound."""
    path = shutil.which("beanstalkd")
    if path is None:
        raise BeanstalkdNotFound(f"beanstalkd was not found on PATH: {INSTALL_HINT}")
    return path


def _die_with_parent() -> Callable[[], None] | None:
    """A preexec function asking Linux to SIGKILL the child when this thread dies.

    The kernel ties PDEATHSIG to the *thread* that forked, so it is only safe
    from the main thread: a server started from a worker thread would die with
    that thread. libc is loaded here, in the parent, so the child runs as
    little Python as possible between fork and exec.
    """
    if not sys.platform.startswith("linux"):
        return None
    if threading.current_thread() is not threading.main_thread():
        return None
    try:
        import ctypes

        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None
    pr_set_pdeathsig = 1
    sigkill = int(signal.SIGKILL)

    def preexec() -> None:
        prctl(pr_set_pdeathsig, sigkill, 0, 0, 0)

    return preexec


class DemoServer:
    """A private beanstalkd on a Unix socket in a temporary directory.

    ``with DemoServer() as server: ... server.address ...`` or
    ``server = DemoServer().start(); ...; server.stop()``.
    """

    def __init__(self, *, executable: str | None = None, start_timeout: float = START_TIMEOUT):
        self._executable = executable
        self.start_timeout = start_timeout
        self._proc: subprocess.Popen[bytes] | None = None
        self._directory: Path | None = None
        self._address: str | None = None
        self._pid: int | None = None
        self._lock = threading.RLock()
        #: Called (in order, errors ignored) before the server is killed, also
        #: when a signal or atexit stops it: lets clients such as the demo
        #: workload shut down while the server still answers.
        self.before_stop: list[Callable[[], None]] = []

    def __repr__(self) -> str:
        state = f"pid {self._pid} at {self._address}" if self.running else "stopped"
        return f"<DemoServer {state}>"

    # --- what callers read -----------------------------------------------------

    @property
    def address(self) -> str:
        """The Unix socket path the server listens on."""
        if self._address is None:
            raise RuntimeError("the demo server is not started: call start() first")
        return self._address

    @property
    def pid(self) -> int:
        if self._pid is None:
            raise RuntimeError("the demo server is not started: call start() first")
        return self._pid

    @property
    def directory(self) -> Path:
        """The temporary directory holding the socket and the server's log."""
        if self._directory is None:
            raise RuntimeError("the demo server is not started: call start() first")
        return self._directory

    @property
    def running(self) -> bool:
        proc = self._proc
        return proc is not None and proc.poll() is None

    # --- lifecycle ---------------------------------------------------------------

    def start(self) -> DemoServer:
        """Start beanstalkd and return once it accepts connections."""
        if self._proc is not None:
            raise RuntimeError(f"{self!r} is already started")
        executable = self._executable or find_beanstalkd()
        directory = Path(tempfile.mkdtemp(prefix="stalkview-demo-"))
        socket_path = directory / "beanstalkd.sock"
        log_path = directory / "beanstalkd.log"
        # Register before spawning: a signal arriving mid-start must still clean up.
        self._directory = directory
        _register(self)
        try:
            with open(log_path, "wb") as log:
                self._proc = subprocess.Popen(
                    [executable, "-l", f"unix:{socket_path}"],
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=log,
                    close_fds=True,
                    preexec_fn=_die_with_parent(),  # best effort, see there
                )
            self._pid = self._proc.pid
            self._wait_until_accepting(socket_path, log_path)
        except BaseException:
            self.stop()
            raise
        self._address = str(socket_path)
        return self

    def _wait_until_accepting(self, socket_path: Path, log_path: Path) -> None:
        # beanstalkd gives no readiness signal: it is ready when connect() works.
        proc = self._proc
        assert proc is not None
        deadline = time.monotonic() + self.start_timeout
        delay = 0.002
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise DemoServerError(
                    f"beanstalkd exited with status {proc.returncode} at start: "
                    f"{_tail(log_path) or 'no output'}"
                )
            if _accepts(socket_path):
                return
            time.sleep(delay)
            delay = min(delay * 2, 0.05)
        raise DemoServerError(
            f"beanstalkd did not accept connections on {socket_path} within "
            f"{self.start_timeout:g} s: {_tail(log_path) or 'no output'}"
        )

    def stop(self) -> None:
        """Kill the server by pid, reap it and remove its directory. Safe to call twice."""
        with self._lock:
            hooks, self.before_stop = self.before_stop, []
        for hook in hooks:
            with contextlib.suppress(Exception):
                hook()
        with self._lock:
            proc, self._proc = self._proc, None
            directory, self._directory = self._directory, None
        if proc is not None:
            _terminate(proc)
        if directory is not None:
            shutil.rmtree(directory, ignore_errors=True)
        self._address = None
        _unregister(self)

    def __enter__(self) -> DemoServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def _accepts(socket_path: Path) -> bool:
    with socket.socket(socket.AF_UNIX) as sock:
        try:
            sock.connect(str(socket_path))
        except OSError:
            return False
    return True


def _tail(log_path: Path, limit: int = 500) -> str:
    try:
        return log_path.read_bytes()[-limit:].decode("utf-8", "replace").strip()
    except OSError:
        return ""


def _terminate(proc: subprocess.Popen[bytes]) -> None:
    # Popen.send_signal checks the process was not reaped yet, so a recycled
    # pid is never signalled.
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            proc.terminate()
        try:
            proc.wait(STOP_TIMEOUT)
            return
        except subprocess.TimeoutExpired:
            pass
        with contextlib.suppress(ProcessLookupError):
            proc.kill()
    # wait() with a timeout never blocks on the internal lock, so this is safe
    # even when a signal handler interrupted another stop() in this thread.
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(STOP_TIMEOUT)


# --- process-wide safety net --------------------------------------------------------

_live: list[DemoServer] = []
_live_lock = threading.RLock()
_previous_handlers: dict[int, Any] = {}
_atexit_registered = False


def stop_all() -> None:
    """Stop every DemoServer of this process (atexit and the signal handlers call this)."""
    with _live_lock:
        servers = list(_live)
    for server in servers:
        server.stop()


def _register(server: DemoServer) -> None:
    global _atexit_registered
    with _live_lock:
        if server not in _live:
            _live.append(server)
        if not _atexit_registered:
            atexit.register(stop_all)
            _atexit_registered = True
        _install_signal_handlers()


def _unregister(server: DemoServer) -> None:
    with _live_lock:
        if server in _live:
            _live.remove(server)
        if not _live:
            _restore_signal_handlers()


def _install_signal_handlers() -> None:
    # signal.signal only works in the main thread; elsewhere atexit and
    # PDEATHSIG are what is left.
    if _previous_handlers or threading.current_thread() is not threading.main_thread():
        return
    for sig in _SIGNALS_TO_HANDLE:
        _previous_handlers[sig] = signal.signal(sig, _on_signal)


def _restore_signal_handlers() -> None:
    if threading.current_thread() is not threading.main_thread():
        return
    for sig, previous in list(_previous_handlers.items()):
        if signal.getsignal(sig) is _on_signal:
            signal.signal(sig, previous if previous is not None else signal.SIG_DFL)
        del _previous_handlers[sig]


def _on_signal(signum: int, frame: FrameType | None) -> None:
    previous = _previous_handlers.get(signum, signal.SIG_DFL)
    stop_all()
    if callable(previous):
        previous(signum, frame)
    elif previous != signal.SIG_IGN:
        # SystemExit rather than re-killing ourselves: finally blocks (terminal
        # restoration, the workload's shutdown) still run. 128+N is the shell's
        # convention for "ended by signal N".
        raise SystemExit(128 + signum)
