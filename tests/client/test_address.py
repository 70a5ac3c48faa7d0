"""Address forms: (host, port), host:port, host, [v6]:port, Unix socket paths."""

from __future__ import annotations

import pytest

from stalkview.client import AddressError, TcpAddress, UnixAddress, parse_address


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        (("127.0.0.1", 11301), TcpAddress("127.0.0.1", 11301)),
        ("127.0.0.1:11302", TcpAddress("127.0.0.1", 11302)),
        ("localhost", TcpAddress("localhost", 11300)),
        (" queue.example:9 ", TcpAddress("queue.example", 9)),
        ("[::1]:11303", TcpAddress("::1", 11303)),
        ("[::1]", TcpAddress("::1", 11300)),
        ("::1", TcpAddress("::1", 11300)),
        ("/run/beanstalkd.sock", UnixAddress("/run/beanstalkd.sock")),
        ("unix:/tmp/b.sock", UnixAddress("/tmp/b.sock")),
        ("b.sock", UnixAddress("b.sock")),
        (TcpAddress("h", 1), TcpAddress("h", 1)),
    ],
)
def test_forms(given: object, expected: object) -> None:
    assert parse_address(given) == expected  # type: ignore[arg-type]


def test_str_round_trips() -> None:
    assert str(TcpAddress("::1", 5)) == "[::1]:5"
    assert str(TcpAddress("h")) == "h:11300"
    assert str(UnixAddress("/x.sock")) == "/x.sock"


@pytest.mark.parametrize(
    ("given", "message"),
    [
        ("", "address is empty"),
        ("host:0", "invalid port '0': use 1-65535"),
        ("host:http", "invalid port 'http'"),
        ("host:70000", "invalid port"),
        (":11300", "names no host"),
        ("[::1", "unclosed '\\['"),
        ("[::1]x", "expected ':port'"),
        ("unix:", "names no socket path"),
        (("h", 0), "invalid port"),
        (("h", "1"), "invalid port"),
        (("h",), "must be a \\(host, port\\) pair"),
        (11300, "must be a string or \\(host, port\\), not int"),
    ],
)
def test_bad_addresses_say_what_is_wrong(given: object, message: str) -> None:
    with pytest.raises(AddressError, match=message):
        parse_address(given)  # type: ignore[arg-type]
