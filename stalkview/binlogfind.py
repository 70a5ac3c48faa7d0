"""Find the binlog of a beanstalkd that runs on this machine (Linux ``/proc``).

The address leads to the listening socket (``/proc/net/tcp``, ``tcp6``, ``unix``:
its inode), the inode to the process that holds it (``/proc/PID/fd``), and the
process's command line to its ``-b DIR``. Everything here is best effort and
silent: another user's process, a server on another machine, no ``/proc``, a
directory we may not read all give ``None``, and the inventory scans ids as before.
Never imports textual.
"""

from __future__ import annotations

import ipaddress
import os
import socket
from collections.abc import Iterator
from pathlib import Path

from stalkview.client import AddressError, TcpAddress, UnixAddress, parse_address

PROC = Path("/proc")
_LISTEN = "0A"  # TCP_LISTEN in /proc/net/tcp


def find_binlog(address: str, proc: Path = PROC) -> str | None:
    """The readable ``-b`` directory of the local beanstalkd serving ``address``, or None."""
    try:
        return _find(address, proc)
    except (OSError, ValueError, AddressError):
        return None


def _find(address: str, proc: Path) -> str | None:
    parsed = parse_address(address)
    if isinstance(parsed, UnixAddress):
        inodes = _unix_inodes(os.path.realpath(parsed.path), proc)
    elif isinstance(parsed, TcpAddress):
        inodes = _tcp_inodes(parsed.host, parsed.port, proc)
    else:  # pragma: no cover - parse_address returns one of the two
        return None
    if not inodes:
        return None
    for pid in _beanstalkd_pids(proc):
        if _holds_any(pid, inodes, proc):
            directory = _binlog_arg(pid, proc)
            if directory is not None and _readable(directory):
                return directory
    return None


def _local_ips(host: str) -> set[str]:
    """The addresses ``host`` resolves to that belong to this machine."""
    out = set()
    for family, _type, _proto, _name, sockaddr in socket.getaddrinfo(host, None):
        ip = str(sockaddr[0])
        if ipaddress.ip_address(ip.split("%")[0]).is_loopback:
            out.add(ip)
            continue
        # Binding succeeds only to an address of one of this machine's interfaces.
        try:
            with socket.socket(family, socket.SOCK_DGRAM) as probe:
                probe.bind((ip, 0))
            out.add(ip)
        except OSError:
            pass
    return out


def _hex_ip(text: str) -> str:
    """An address as /proc/net/tcp{,6} writes it (host byte order words) as text."""
    raw = bytes.fromhex(text)
    # Each 32-bit word is in the kernel's (little-endian here) byte order.
    words = b"".join(raw[i : i + 4][::-1] for i in range(0, len(raw), 4))
    return str(ipaddress.ip_address(words))


def _tcp_inodes(host: str, port: int, proc: Path) -> set[str]:
    local = _local_ips(host)
    if not local:
        return set()  # another machine: its process is not ours to find
    wanted = {ipaddress.ip_address(ip.split("%")[0]) for ip in local}
    inodes = set()
    for name in ("tcp", "tcp6"):
        try:
            lines = (proc / "net" / name).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            parts = line.split()
            if len(parts) < 10 or parts[3] != _LISTEN:
                continue
            ip_hex, port_hex = parts[1].split(":")
            if int(port_hex, 16) != port:
                continue
            ip = ipaddress.ip_address(_hex_ip(ip_hex))
            mapped = getattr(ip, "ipv4_mapped", None)
            if ip.is_unspecified or ip in wanted or (mapped is not None and mapped in wanted):
                inodes.add(parts[9])
    return inodes


def _unix_inodes(path: str, proc: Path) -> set[str]:
    inodes = set()
    for line in (proc / "net" / "unix").read_text().splitlines()[1:]:
        parts = line.split()
        if len(parts) >= 8 and parts[6] != "0" and os.path.realpath(parts[7]) == path:
            inodes.add(parts[6])
    return inodes


def _beanstalkd_pids(proc: Path) -> Iterator[str]:
    for entry in os.scandir(proc):
        if not entry.name.isdigit():
            continue
        try:
            argv0 = (proc / entry.name / "cmdline").read_bytes().split(b"\0", 1)[0]
        except OSError:
            continue
        if os.path.basename(argv0.decode("utf-8", "replace")).startswith("beanstalkd"):
            yield entry.name


def _holds_any(pid: str, inodes: set[str], proc: Path) -> bool:
    targets = {f"socket:[{inode}]" for inode in inodes}
    try:
        fds = os.scandir(proc / pid / "fd")
    except OSError:
        return False  # another user's process
    with fds:
        for fd in fds:
            try:
                if os.readlink(fd.path) in targets:
                    return True
            except OSError:
                continue
    return False


def _binlog_arg(pid: str, proc: Path) -> str | None:
    """``-b DIR`` (or ``-bDIR``) from the process's command line, made absolute."""
    argv = [
        a.decode("utf-8", "replace") for a in (proc / pid / "cmdline").read_bytes().split(b"\0")
    ]
    directory = None
    for n, arg in enumerate(argv[1:], start=1):
        if arg == "-b" and n + 1 < len(argv):
            directory = argv[n + 1]
        elif arg.startswith("-b") and len(arg) > 2:
            directory = arg[2:]
    if not directory:
        return None
    if not os.path.isabs(directory):
        directory = os.path.join(os.readlink(proc / pid / "cwd"), directory)
    return os.path.normpath(directory)


def _readable(directory: str) -> bool:
    # A server that just started may listen before it creates binlog.1.
    try:
        names = [n for n in os.listdir(directory) if n.startswith("binlog.")]
        if names:
            with open(os.path.join(directory, names[0]), "rb") as f:
                f.read(4)
    except OSError:
        return False
    return True
