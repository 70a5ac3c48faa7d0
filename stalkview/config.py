"""Saved connections: named servers and groups in a TOML file.

``config_dir()/config.toml`` (or ``$STALKVIEW_CONFIG``, or ``--config PATH``)::

    interval = 1.0            # default refresh interval, seconds
    read_only = false         # default for every server
    scan_budget = 25          # percent of one server CPU a job scan may take (100: full speed)

    [servers.prod-eu]
    address = "queue-eu-1.example.com:11300"
    read_only = true

    [servers.local]
    address = "127.0.0.1:11300"
    binlog = "/var/lib/beanstalkd"   # its -b directory: the inventory reads the log's ids

    [servers.sock]
    address = "/run/beanstalkd.sock"

    [groups.prod]
    servers = ["prod-eu", "prod-us"]   # saved names or plain addresses
    read_only = true

A server's ``read_only`` wins over its group's, which wins over the global one,
so "production read-only by default" is ``read_only = true`` on the group (or
globally, with ``read_only = false`` on the servers people may change).

A missing file is an empty config. A bad one raises :class:`ConfigError`, whose
message names the file, the line and what is wrong. Never imports textual.
"""

from __future__ import annotations

import math
import os
import re
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from stalkview.client import AddressError, parse_address
from stalkview.paths import config_dir

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on 3.10 only
    import tomli as tomllib  # type: ignore[import-not-found,no-redef,unused-ignore]

ENV_VAR = "STALKVIEW_CONFIG"
DEFAULT_INTERVAL = 1.0
#: Percent of one server CPU a job scan may take (the inventory's DEFAULT_BUDGET).
DEFAULT_SCAN_BUDGET = 25.0
_TOP_KEYS = ("interval", "read_only", "scan_budget", "servers", "groups")
_SERVER_KEYS = ("address", "read_only", "binlog")
_GROUP_KEYS = ("servers", "read_only")
#: Bare words taken as host names even though they could be saved names.
_KNOWN_HOSTS = frozenset({"localhost"})


class ConfigError(ValueError):
    """A config file that cannot be used, or a name that resolves to nothing."""

    def __init__(self, message: str, *, path: Path | None = None, line: int | None = None) -> None:
        self.path = path
        self.line = line
        self.reason = message
        where = ""
        if path is not None:
            where = f"config file {path}" + (f", line {line}" if line else "") + ": "
        super().__init__(where + message)


@dataclass(frozen=True)
class Target:
    """One server to open: its saved name (None for a plain address), address, and mode."""

    name: str | None
    address: str
    read_only: bool = False
    #: The server's binlog directory (``-b``), when the config names it.
    binlog: str | None = None

    @property
    def label(self) -> str:
        """What to call the server in output: its saved name, else its address."""
        return self.name or self.address


@dataclass(frozen=True)
class SavedServer:
    name: str
    address: str
    read_only: bool | None = None
    binlog: str | None = None


@dataclass(frozen=True)
class SavedGroup:
    name: str
    servers: tuple[str, ...]
    read_only: bool | None = None


@dataclass
class Config:
    """A loaded config file (empty when there is none)."""

    path: Path | None = None
    interval: float = DEFAULT_INTERVAL
    read_only: bool = False
    scan_budget: float = DEFAULT_SCAN_BUDGET
    servers: dict[str, SavedServer] = field(default_factory=dict)
    groups: dict[str, SavedGroup] = field(default_factory=dict)

    @property
    def names(self) -> list[str]:
        """Every saved server and group name, sorted."""
        return sorted({*self.servers, *self.groups})

    def saved_read_only(self, address: str) -> bool:
        """Whether writes to ``address`` are refused: the config's default, or any
        saved server at that address (or group holding it) that says read_only.

        A plain address must not slip past a server saved read-only under a name.
        """
        want = _same_address(address)
        if self.read_only:
            return True
        for server in self.servers.values():
            if _same_address(server.address) == want:
                groups = [g for g in self.groups.values() if server.name in g.servers]
                if server.read_only or any(g.read_only for g in groups):
                    return True
        return any(
            g.read_only and any(_same_address(m) == want for m in g.servers)
            for g in self.groups.values()
        )

    def resolve(self, names_or_addresses: Iterable[str]) -> list[Target]:
        """Targets for saved names, groups and plain addresses, in order, without repeats.

        Raises :class:`ConfigError` for a word that is neither a saved name nor an
        address (the message lists the saved names) and ``AddressError`` for an
        address that does not parse.
        """
        out: list[Target] = []
        seen: set[str] = set()
        for word in names_or_addresses:
            for target in self._resolve_one(word):
                if target.address not in seen:
                    seen.add(target.address)
                    out.append(target)
        return out

    def _resolve_one(self, word: str) -> list[Target]:
        if word in self.servers:
            return [self._server_target(self.servers[word], None)]
        if word in self.groups:
            group = self.groups[word]
            return [self._member_target(m, group) for m in group.servers]
        if not _looks_like_address(word):
            raise ConfigError(self._unknown_message(word))
        parse_address(word)
        return [Target(None, word, self.read_only)]

    def _server_target(self, server: SavedServer, group: SavedGroup | None) -> Target:
        return Target(
            server.name, server.address, self._read_only(server.read_only, group), server.binlog
        )

    def _member_target(self, member: str, group: SavedGroup) -> Target:
        if member in self.servers:
            return self._server_target(self.servers[member], group)
        return Target(None, member, self._read_only(None, group))

    def _read_only(self, own: bool | None, group: SavedGroup | None) -> bool:
        if own is not None:
            return own
        if group is not None and group.read_only is not None:
            return group.read_only
        return self.read_only

    def _unknown_message(self, word: str) -> str:
        where = f" in {self.path}" if self.path is not None else ""
        saved = (
            f"saved names{where}: {', '.join(self.names)}"
            if self.names
            else f"no servers are saved{where or ': there is no config file'}"
        )
        return (
            f"{word!r} is not a saved server or group ({saved}); "
            f"to mean a host of that name write {word}:11300"
        )


def _looks_like_address(word: str) -> bool:
    # A bare word like "prod" is almost always a mistyped saved name: asking for
    # host:port to mean a host turns a confusing DNS failure into a clear error.
    return word in _KNOWN_HOSTS or any(c in word for c in ".:/[") or word.startswith("unix:")


# --- loading ------------------------------------------------------------------------------


def default_path() -> Path:
    """``$STALKVIEW_CONFIG`` if set, else ``config_dir()/config.toml``."""
    override = os.environ.get(ENV_VAR, "")
    if override:
        return Path(override).expanduser()
    return config_dir() / "config.toml"


def _same_address(address: str) -> str:
    """A comparable form: ``localhost`` and ``localhost:11300`` are one server."""
    try:
        return str(parse_address(address))
    except ValueError:
        return address


def load_config(path: str | os.PathLike[str] | None = None) -> Config:
    """Read the config file (``path``, else :func:`default_path`); missing file = empty config.

    An explicitly given file that does not exist is an error: the user named it.
    """
    explicit = path is not None
    file = Path(path).expanduser() if path is not None else default_path()
    try:
        text = file.read_text(encoding="utf-8")
    except FileNotFoundError:
        if explicit:
            raise ConfigError("the file does not exist: check the path", path=file) from None
        return Config()
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot be read ({exc})", path=file) from None
    return parse_config(text, file)


def parse_config(text: str, path: Path | None = None) -> Config:
    """A :class:`Config` from TOML text; ``path`` only names the file in errors."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        message, line = _toml_error(exc)
        if line is None and "end of document" in message:
            line = max(1, len(text.splitlines()))
        raise ConfigError(f"invalid TOML: {message}", path=path, line=line) from None
    return _Reader(text, path).read(data)


def _toml_error(exc: Exception) -> tuple[str, int | None]:
    text = str(exc)
    match = re.search(r"\s*\(at line (\d+), column (\d+)\)\s*$", text)
    if match is None:
        return text, getattr(exc, "lineno", None)
    return f"{text[: match.start()]} (column {match.group(2)})", int(match.group(1))


class _Reader:
    """Checks the parsed TOML against the schema; errors point at the offending line."""

    def __init__(self, text: str, path: Path | None) -> None:
        self.lines = text.splitlines()
        self.path = path

    def error(self, message: str, line: int | None) -> ConfigError:
        return ConfigError(message, path=self.path, line=line)

    def read(self, data: dict[str, Any]) -> Config:
        for key in data:
            if key not in _TOP_KEYS:
                raise self.error(
                    f"unknown setting {key!r}: use {', '.join(_TOP_KEYS)}",
                    self.key_line((), key),
                )
        config = Config(path=self.path)
        config.interval = self.interval(data)
        config.read_only = self.flag(data, "read_only", (), default=False)
        config.scan_budget = self.scan_budget(data)
        config.servers = self.servers(self.table(data, "servers"))
        config.groups = self.groups(self.table(data, "groups"), config.servers)
        return config

    def interval(self, data: dict[str, Any]) -> float:
        value = data.get("interval", DEFAULT_INTERVAL)
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise self.error(
                f"interval must be a number of seconds, e.g. 1.0, not {value!r}",
                self.key_line((), "interval"),
            )
        if not (value > 0 and math.isfinite(value)):
            raise self.error(
                f"interval must be more than 0 seconds, not {value!r}",
                self.key_line((), "interval"),
            )
        return float(value)

    def scan_budget(self, data: dict[str, Any]) -> float:
        value = data.get("scan_budget", DEFAULT_SCAN_BUDGET)
        if (
            isinstance(value, bool)
            or not isinstance(value, (int, float))
            or not 0 < value <= 100
            or not math.isfinite(value)
        ):
            raise self.error(
                "scan_budget must be a percentage of one server CPU, more than 0 and "
                f"at most 100 (e.g. 25; 100 is full speed), not {value!r}",
                self.key_line((), "scan_budget"),
            )
        return float(value)

    def flag(self, data: dict[str, Any], key: str, table: tuple[str, ...], *, default: Any) -> Any:
        value = data.get(key, default)
        if value is not default and not isinstance(value, bool):
            raise self.error(
                f"{key} must be true or false, not {value!r}", self.key_line(table, key)
            )
        return value

    def table(self, data: dict[str, Any], key: str) -> dict[str, Any]:
        value = data.get(key, {})
        if not isinstance(value, dict):
            raise self.error(
                f"{key} must be a table of named entries, e.g. [{key}.NAME]",
                self.key_line((), key),
            )
        return value

    def servers(self, table: dict[str, Any]) -> dict[str, SavedServer]:
        out = {}
        for name, entry in table.items():
            where = ("servers", name)
            self.check_entry(entry, where, _SERVER_KEYS)
            address = entry.get("address")
            if address is None:
                raise self.error(
                    f'server {name!r} has no address: add address = "host:port"',
                    self.header_line(where),
                )
            if not isinstance(address, str):
                raise self.error(
                    f'server {name!r}: address must be a string such as "host:11300"',
                    self.key_line(where, "address"),
                )
            try:
                parse_address(address)
            except AddressError as exc:
                line = self.key_line(where, "address")
                raise self.error(f"server {name!r}: {exc}", line) from None
            read_only = self.flag(entry, "read_only", where, default=None)
            binlog = entry.get("binlog")
            if binlog is not None and (not isinstance(binlog, str) or not binlog.strip()):
                raise self.error(
                    f"server {name!r}: binlog must be the directory of its -b option, e.g. "
                    'binlog = "/var/lib/beanstalkd"',
                    self.key_line(where, "binlog"),
                )
            out[name] = SavedServer(
                name, address.strip(), read_only, os.path.expanduser(binlog) if binlog else None
            )
        return out

    def groups(
        self, table: dict[str, Any], servers: dict[str, SavedServer]
    ) -> dict[str, SavedGroup]:
        out = {}
        for name, entry in table.items():
            where = ("groups", name)
            self.check_entry(entry, where, _GROUP_KEYS)
            if name in servers:
                raise self.error(
                    f"group {name!r} has the name of a saved server: rename one of them",
                    self.header_line(where),
                )
            members = entry.get("servers")
            if (
                not isinstance(members, list)
                or not members
                or not all(isinstance(m, str) for m in members)
            ):
                raise self.error(
                    f'group {name!r} needs servers = ["name", ...]: a list of saved server '
                    "names or addresses",
                    self.key_line(where, "servers"),
                )
            for member in members:
                self.check_member(name, member, servers, self.key_line(where, "servers"))
            read_only = self.flag(entry, "read_only", where, default=None)
            out[name] = SavedGroup(name, tuple(members), read_only)
        return out

    def check_entry(self, entry: Any, where: tuple[str, str], keys: Sequence[str]) -> None:
        kind = where[0][:-1]
        if not isinstance(entry, dict):
            raise self.error(
                f"{kind} {where[1]!r} must be a table: write [{where[0]}.{where[1]}]",
                self.key_line((where[0],), where[1]),
            )
        for key in entry:
            if key not in keys:
                raise self.error(
                    f"{kind} {where[1]!r}: unknown setting {key!r}: use {', '.join(keys)}",
                    self.key_line(where, key),
                )

    def check_member(
        self, group: str, member: str, servers: dict[str, SavedServer], line: int | None
    ) -> None:
        if member in servers:
            return
        if not _looks_like_address(member):
            known = ", ".join(sorted(servers)) or "none"
            raise self.error(
                f"group {group!r} lists {member!r}, which is not a saved server "
                f"(saved: {known}); write host:port to mean an address",
                line,
            )
        try:
            parse_address(member)
        except AddressError as exc:
            raise self.error(f"group {group!r}: {exc}", line) from None

    # --- finding lines: tomllib keeps no positions, so scan the text --------------------

    def header_line(self, table: tuple[str, ...]) -> int | None:
        if not table:
            return None
        pattern = re.compile(r"^\s*\[\s*" + r"\s*\.\s*".join(_key_re(k) for k in table) + r"\s*\]")
        for n, line in enumerate(self.lines, start=1):
            if pattern.match(line):
                return n
        return None

    def key_line(self, table: tuple[str, ...], key: str) -> int | None:
        """The line that sets ``key`` in ``table`` (or the table's header), if found."""
        if not table:
            return self.top_key_line(key)
        start = self.header_line(table)
        if start is None:
            return None
        key_re = re.compile(r"^\s*" + _key_re(key) + r"\s*[=.]")
        for n in range(start + 1, len(self.lines) + 1):
            line = self.lines[n - 1]
            if re.match(r"^\s*\[", line):
                break
            if key_re.match(line):
                return n
        # [servers] followed by prod = { ... }: the key sits in the parent table.
        return start

    def top_key_line(self, key: str) -> int | None:
        key_re = re.compile(r"^\s*" + _key_re(key) + r"\s*[=.]")
        header_re = re.compile(r"^\s*\[+\s*" + _key_re(key) + r"\s*[.\]]")
        in_root = True
        for n, line in enumerate(self.lines, start=1):
            if re.match(r"^\s*\[", line):
                in_root = False
                if header_re.match(line):
                    return n
            elif in_root and key_re.match(line):
                return n
        return None


def _key_re(key: str) -> str:
    escaped = re.escape(key)
    return f"(?:{escaped}|\"{escaped}\"|'{escaped}')"
