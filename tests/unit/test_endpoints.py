"""Endpoint parsing: every accepted form, and a clear typed error for the rest."""

from __future__ import annotations

import pytest

import etcdgen
from etcdgen._core.endpoints import parse_endpoint, parse_endpoints


@pytest.mark.parametrize(
    ("text", "target", "tls"),
    [
        ("127.0.0.1:2379", "ipv4:127.0.0.1:2379", False),
        ("http://127.0.0.1:2379", "ipv4:127.0.0.1:2379", False),
        ("https://10.0.0.1:2379/", "ipv4:10.0.0.1:2379", True),
        ("localhost:2379", "dns:///localhost:2379", False),
        ("etcd-0.etcd.default.svc:2379", "dns:///etcd-0.etcd.default.svc:2379", False),
        ("[::1]:2379", "ipv6:[::1]:2379", False),
        ("https://[fe80::1]:2379", "ipv6:[fe80::1]:2379", True),
        ("unix:///run/etcd.sock", "unix:/run/etcd.sock", False),
        ("unix://relative.sock", "unix:relative.sock", False),
        ("unixs:///run/etcd.sock", "unix:/run/etcd.sock", True),
        ("  127.0.0.1:2379  ", "ipv4:127.0.0.1:2379", False),
    ],
)
def test_accepted_forms(text: str, target: str, tls: bool) -> None:
    endpoint = parse_endpoint(text)
    assert endpoint.target == target
    assert endpoint.tls is tls


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("127.0.0.1", "port is missing"),
        ("127.0.0.1:0", "port must be a number from 1 to 65535"),
        ("127.0.0.1:99999", "port must be"),
        ("host:abc", "port must be"),
        ("::1:2379", "IPv6 address in brackets"),
        ("[::1]", "[address]:port"),
        ("[nothex]:2379", "not an IPv6 address"),
        ("ftp://host:2379", "unknown scheme 'ftp'"),
        ("http://host:2379/path", "no path"),
        ("http://user@host:2379", "no path, query or user"),
        (":2379", "host is missing"),
        ("unix://", "socket path"),
        ("bad host:2379", "not a host name"),
    ],
)
def test_malformed_endpoints_raise_a_typed_error_naming_them(text: str, says: str) -> None:
    with pytest.raises(etcdgen.InvalidEndpointError) as raised:
        parse_endpoint(text)
    message = str(raised.value)
    assert repr(text) in message and says in message
    assert "accepted forms" in message
    # Both an etcd error and a ValueError, so either kind of handler catches it.
    assert isinstance(raised.value, etcdgen.EtcdError)
    assert isinstance(raised.value, ValueError)


def test_lists_mix_forms_and_drop_duplicates() -> None:
    parsed = parse_endpoints(
        ["localhost:1", "127.0.0.1:2", "http://127.0.0.1:2", "unix:///tmp/e.sock", "[::1]:3"]
    )
    assert [e.target for e in parsed] == [
        "dns:///localhost:1",
        "ipv4:127.0.0.1:2",
        "unix:/tmp/e.sock",
        "ipv6:[::1]:3",
    ]


@pytest.mark.parametrize("bad", [[], (), 2379, None, [2379], ["ok:1", b"bytes:2"]])
def test_bad_endpoint_lists(bad: object) -> None:
    with pytest.raises(etcdgen.InvalidEndpointError):
        parse_endpoints(bad)


def test_tls_and_plain_endpoints_cannot_be_mixed() -> None:
    with pytest.raises(etcdgen.InvalidEndpointError, match="mixing https"):
        parse_endpoints(["https://a:1", "http://b:2"])


def test_client_construction_raises_at_once() -> None:
    with pytest.raises(etcdgen.InvalidEndpointError, match="'nope'"):
        etcdgen.Client(["127.0.0.1:2379", "nope"])
    with pytest.raises(etcdgen.InvalidEndpointError):
        etcdgen.AsyncClient("127.0.0.1")
