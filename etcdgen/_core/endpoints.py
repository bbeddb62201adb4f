"""Endpoint strings: parsed once, each becoming the gRPC target of its own channel.

Accepted forms (as etcd's own `--endpoints` flag takes them):

    host:port            127.0.0.1:2379, etcd-0.etcd:2379, [::1]:2379
    http://host:port     plain text (the default)
    https://host:port    TLS
    unix://path          a unix socket (etcd's `--listen-client-urls unix://...`);
    unixs://path         the same over TLS

Each endpoint gets its own channel (see `pool.py`), so a host name is resolved
by gRPC's `dns:` resolver for that endpoint alone, and again whenever the
channel reconnects - a StatefulSet member that comes back with a new IP is found.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass

from .errors import EtcdError

ACCEPTED_FORMS = "host:port, http://host:port, https://host:port, [ipv6]:port or unix://path"


class InvalidEndpointError(EtcdError, ValueError):
    """An endpoint string is not one of the accepted forms (see the message)."""


@dataclass(frozen=True, slots=True)
class Endpoint:
    """One parsed endpoint.

    Attributes:
        text: the endpoint as the user (or MemberList) gave it.
        host: host name or IP (no brackets); the socket path for unix endpoints.
        port: TCP port; 0 for unix endpoints.
        tls: whether the endpoint asked for TLS (https:// or unixs://).
        unix: whether it is a unix socket.
    """

    text: str
    host: str
    port: int
    tls: bool
    unix: bool

    @property
    def target(self) -> str:
        """The gRPC target of this endpoint's channel."""
        if self.unix:
            return f"unix:{self.host}"
        if _ip_version(self.host) == 6:
            return f"ipv6:[{self.host}]:{self.port}"
        if _ip_version(self.host) == 4:
            return f"ipv4:{self.host}:{self.port}"
        return f"dns:///{self.host}:{self.port}"

    def __str__(self) -> str:
        return self.text


def parse_endpoint(text: object) -> Endpoint:
    """Parse one endpoint string, or raise `InvalidEndpointError` naming it."""
    if not isinstance(text, str):
        raise InvalidEndpointError(
            f"an endpoint must be a string ({ACCEPTED_FORMS}), got {type(text).__name__} {text!r}"
        )
    raw = text.strip()
    scheme, sep, rest = raw.partition("://")
    if not sep:
        scheme, rest = "", raw
    scheme = scheme.lower()
    if scheme in ("unix", "unixs"):
        path = rest
        if not path or path.endswith("/"):
            raise _bad(text, "a unix endpoint needs a socket path, e.g. unix:///run/etcd.sock")
        return Endpoint(text=raw, host=path, port=0, tls=scheme == "unixs", unix=True)
    if scheme not in ("", "http", "https"):
        raise _bad(text, f"unknown scheme {scheme!r}")
    rest = rest.rstrip("/")
    if "/" in rest or "?" in rest or "@" in rest:
        raise _bad(text, "an endpoint has no path, query or user part")
    host, port = _split_host_port(text, rest)
    return Endpoint(text=raw, host=host, port=port, tls=scheme == "https", unix=False)


def parse_endpoints(endpoints: object) -> tuple[Endpoint, ...]:
    """Parse `"host:port"` or a sequence of endpoint strings; duplicates are dropped."""
    if isinstance(endpoints, str):
        listed: Sequence[object] = [endpoints]
    elif isinstance(endpoints, Sequence):
        listed = endpoints
    else:
        raise InvalidEndpointError(
            "endpoints must be a string or a list of strings "
            f"({ACCEPTED_FORMS}), got {type(endpoints).__name__}"
        )
    if not listed:
        raise InvalidEndpointError(f"give at least one endpoint ({ACCEPTED_FORMS})")
    parsed: dict[tuple[str, int, bool], Endpoint] = {}
    for item in listed:
        endpoint = parse_endpoint(item)
        parsed.setdefault((endpoint.host, endpoint.port, endpoint.unix), endpoint)
    found = tuple(parsed.values())
    if len({e.tls for e in found}) > 1:
        raise InvalidEndpointError(
            "mixing https:// and plain endpoints is not supported: one client uses one kind "
            "of connection (got " + ", ".join(e.text for e in found) + ")"
        )
    return found


def _split_host_port(original: str, text: str) -> tuple[str, int]:
    if text.startswith("["):
        host, bracket, tail = text[1:].partition("]")
        if not bracket or not tail.startswith(":"):
            raise _bad(original, "an IPv6 endpoint is written [address]:port")
        port_text = tail[1:]
        if _ip_version(host) != 6:
            raise _bad(original, f"{host!r} is not an IPv6 address")
    else:
        host, colon, port_text = text.rpartition(":")
        if not colon:
            raise _bad(original, "the port is missing (etcd's client port is usually 2379)")
        if ":" in host:
            raise _bad(original, "write an IPv6 address in brackets: [address]:port")
    if not host:
        raise _bad(original, "the host is missing")
    if not port_text.isdigit() or not 0 < int(port_text) < 65536:
        raise _bad(original, f"the port must be a number from 1 to 65535, got {port_text!r}")
    if not all(c.isalnum() or c in ".-_:%" for c in host):
        raise _bad(original, f"{host!r} is not a host name or IP address")
    return host, int(port_text)


def _ip_version(host: str) -> int | None:
    try:
        return ipaddress.ip_address(host).version
    except ValueError:
        return None


def _bad(text: object, why: str) -> InvalidEndpointError:
    return InvalidEndpointError(
        f"invalid endpoint {text!r}: {why}; accepted forms: {ACCEPTED_FORMS}"
    )
