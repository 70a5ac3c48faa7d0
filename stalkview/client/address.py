"""Server addresses: ``host``, ``host:port``, ``[v6]:port``, ``(host, port)``, a socket path."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import Union

DEFAULT_PORT = 11300


@dataclass(frozen=True)
class TcpAddress:
    host: str
    port: int = DEFAULT_PORT

    def __str__(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"


@dataclass(frozen=True)
class UnixAddress:
    path: str

    def __str__(self) -> str:
        return self.path


# Runtime aliases (not annotations), so Union keeps them working on 3.10.
Address = Union[TcpAddress, UnixAddress]  # noqa: UP007
AddressLike = Union[str, tuple[str, int], TcpAddress, UnixAddress]  # noqa: UP007


class AddressError(ValueError):
    """An address that cannot be parsed; the message says what form is expected."""


_FORMS = "use host, host:port, [ipv6]:port, or a Unix socket path such as /run/beanstalkd.sock"


def _port(text: str, original: str) -> int:
    if not text.isdigit() or not 0 < int(text) < 65536:
        raise AddressError(f"address {original!r} has an invalid port {text!r}: use 1-65535")
    return int(text)


def parse_address(address: AddressLike) -> Address:
    """Turn any accepted address form into a :class:`TcpAddress` or :class:`UnixAddress`."""
    if isinstance(address, (TcpAddress, UnixAddress)):
        return address
    if isinstance(address, tuple):
        if len(address) != 2:
            raise AddressError(f"address {address!r} must be a (host, port) pair")
        host, port = address
        if isinstance(port, bool) or not isinstance(port, int) or not 0 < port < 65536:
            raise AddressError(f"address {address!r} has an invalid port: use 1-65535")
        return TcpAddress(str(host), port)
    if not isinstance(address, str):
        kind = type(address).__name__
        raise AddressError(f"address must be a string or (host, port), not {kind}")
    text = address.strip()
    if not text:
        raise AddressError(f"address is empty: {_FORMS}")
    if text.startswith("unix:"):
        text = text[5:]
        if not text:
            raise AddressError(f"address {address!r} names no socket path: {_FORMS}")
        return UnixAddress(text)
    if "/" in text or text.endswith(".sock"):
        return UnixAddress(text)
    if text.startswith("["):
        host, sep, rest = text[1:].partition("]")
        if not sep or not host:
            raise AddressError(f"address {address!r} has an unclosed '[': {_FORMS}")
        if not rest:
            return TcpAddress(host)
        if not rest.startswith(":"):
            raise AddressError(f"address {address!r}: expected ':port' after ']'")
        return TcpAddress(host, _port(rest[1:], address))
    if text.count(":") > 1:
        # A bare IPv6 address such as ::1 has no room for a port.
        try:
            ipaddress.IPv6Address(text.partition("%")[0])
        except ValueError:
            raise AddressError(
                f"address {address!r} is not a valid IPv6 address: "
                "write an IPv6 address with a port as [::1]:11300"
            ) from None
        return TcpAddress(text)
    host, sep, port_text = text.partition(":")
    if not host:
        raise AddressError(f"address {address!r} names no host: {_FORMS}")
    if not sep:
        return TcpAddress(host)
    return TcpAddress(host, _port(port_text, address))
