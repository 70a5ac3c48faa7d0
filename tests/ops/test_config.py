"""Saved connections: parsing, errors with their line, name resolution, read-only precedence."""

from __future__ import annotations

from pathlib import Path

import pytest

from stalkview.client import AddressError
from stalkview.config import ConfigError, Target, load_config, parse_config

GOOD = """\
interval = 2.5            # default refresh interval
read_only = false

[servers.prod-eu]
address = "queue-eu-1.example.com:11300"
read_only = true

[servers.prod-us]
address = "queue-us-1.example.com"

[servers.local]
address = "/run/beanstalkd.sock"

[servers.staging]
address = "10.1.2.3:11301"
read_only = false

[groups.prod]
servers = ["prod-eu", "prod-us", "staging", "backup.example.com:11300"]
read_only = true
"""


def test_resolution_and_read_only_precedence(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text(GOOD)
    config = load_config(path)
    assert config.interval == 2.5 and config.read_only is False
    assert config.names == ["local", "prod", "prod-eu", "prod-us", "staging"]
    # server setting, else group setting, else global
    assert config.resolve(["prod"]) == [
        Target("prod-eu", "queue-eu-1.example.com:11300", True),
        Target("prod-us", "queue-us-1.example.com", True),
        Target("staging", "10.1.2.3:11301", False),
        Target(None, "backup.example.com:11300", True),
    ]
    assert config.resolve(["local", "prod-us", "127.0.0.1:11300", "localhost"]) == [
        Target("local", "/run/beanstalkd.sock", False),
        Target("prod-us", "queue-us-1.example.com", False),
        Target(None, "127.0.0.1:11300", False),
        Target(None, "localhost", False),
    ]
    # repeats are dropped, order kept
    assert [t.label for t in config.resolve(["prod-eu", "prod"])][:2] == ["prod-eu", "prod-us"]


def test_global_read_only_default_is_expressible() -> None:
    config = parse_config('read_only = true\n[servers.dev]\naddress = "h:1"\nread_only = false\n')
    assert config.resolve(["dev", "other:2"]) == [
        Target("dev", "h:1", False),
        Target(None, "other:2", True),
    ]


def test_unknown_name_lists_the_saved_names(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text(GOOD)
    with pytest.raises(ConfigError) as err:
        load_config(path).resolve(["prd"])
    message = str(err.value)
    assert "'prd' is not a saved server or group" in message
    assert "local, prod, prod-eu, prod-us, staging" in message and "prd:11300" in message
    with pytest.raises(ConfigError, match="no servers are saved"):
        parse_config("").resolve(["prod"])
    with pytest.raises(AddressError, match="invalid port"):
        parse_config("").resolve(["host:99999"])


def test_missing_file_is_empty_unless_named(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    monkeypatch.delenv("STALKVIEW_CONFIG", raising=False)
    config = load_config()
    assert config.servers == {} and config.interval == 1.0
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(tmp_path / "nope.toml")
    (tmp_path / "stalkview").mkdir()
    (tmp_path / "stalkview" / "config.toml").write_text('[servers.x]\naddress = "h"\n')
    assert list(load_config().servers) == ["x"]
    other = tmp_path / "other.toml"
    other.write_text('[servers.y]\naddress = "h"\n')
    monkeypatch.setenv("STALKVIEW_CONFIG", str(other))
    assert list(load_config().servers) == ["y"]


@pytest.mark.parametrize(
    ("text", "line", "words"),
    [
        ("interval = 1\n\nbad = = 2\n", 3, "invalid TOML"),
        ('[servers.a]\naddress = "h"\n[servers.a]\n', 3, "invalid TOML"),
        ("interval = 1\n\n[servers.a]\nread_only = true\n", 3, "server 'a' has no address"),
        ('[servers.a]\naddress = "h"\nadress = "x"\n', 3, "unknown setting 'adress'"),
        ('interval = 1\ncolour = "red"\n', 2, "unknown setting 'colour'"),
        ('\ninterval = "fast"\n', 2, "interval must be a number"),
        ("interval = 0\n", 1, "more than 0"),
        ('[servers.a]\naddress = "h:0"\n', 2, "invalid port"),
        ('[servers.a]\naddress = "h"\nread_only = "yes"\n', 3, "true or false"),
        (
            '[servers.a]\naddress = "h"\n[groups.g]\nservers = ["a", "b"]\n',
            4,
            "lists 'b', which is not a saved server (saved: a)",
        ),
        ("[groups.g]\nservers = []\n", 2, "needs servers"),
        ('[servers.a]\naddress = "h"\nbinlog = 5\n', 3, "binlog must be the directory of its -b"),
        ('[servers.a]\naddress = "h"\n[groups.a]\nservers = ["a"]\n', 3, "name of a saved"),
    ],
)
def test_errors_name_the_file_and_line(tmp_path: Path, text: str, line: int, words: str) -> None:
    path = tmp_path / "config.toml"
    path.write_text(text)
    with pytest.raises(ConfigError) as err:
        load_config(path)
    assert err.value.line == line
    assert str(err.value).startswith(f"config file {path}, line {line}: ")
    assert words in str(err.value)


def test_a_saved_server_names_its_binlog(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text(
        '[servers.q]\naddress = "h:1"\nbinlog = "~/q-log"\n[groups.g]\nservers = ["q", "h:2"]\n'
    )
    config = load_config(path)
    assert [t.binlog for t in config.resolve(["g"])] == [str(Path.home() / "q-log"), None]
