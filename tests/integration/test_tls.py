"""TLS and mutual TLS against a real etcd started with certificates made here."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest
from certs import make_tls

import etcdgen
from etcdgen.testing import EtcdBinary, EtcdServer


def test_mutual_tls_sync_and_async(etcd_binary: EtcdBinary, tmp_path: Path) -> None:
    tls = make_tls(tmp_path, client_cert_auth=True)
    with EtcdServer(binary=etcd_binary, tls=tls) as server:
        with etcdgen.Client(server.endpoint, ca=tls.ca, cert=tls.cert, key=tls.key) as client:
            client.put("tls", "sync")
            assert client.get("tls").kvs[0].value == b"sync"

        async def use_async() -> bytes:
            pem = (tls.ca.read_bytes(), tls.cert.read_bytes(), tls.key.read_bytes())
            async with etcdgen.AsyncClient(
                [server.endpoint], ca=pem[0], cert=pem[1], key=pem[2]
            ) as aclient:
                await aclient.put("tls", "async")
                return bytes((await aclient.get("tls")).kvs[0].value)

        assert asyncio.run(use_async()) == b"async"


def test_server_only_tls_with_https_endpoint(etcd_binary: EtcdBinary, tmp_path: Path) -> None:
    tls = make_tls(tmp_path, client_cert_auth=False)
    with (
        EtcdServer(binary=etcd_binary, tls=tls) as server,
        etcdgen.Client(f"https://{server.endpoint}", ca=tls.ca) as client,
    ):
        client.put("https", "ok")
        assert client.get("https").kvs[0].value == b"ok"


def test_untrusted_server_certificate_fails_fast_and_clearly(
    etcd_binary: EtcdBinary, tmp_path: Path
) -> None:
    tls = make_tls(tmp_path / "server", client_cert_auth=False)
    other = make_tls(tmp_path / "other", client_cert_auth=False)
    with EtcdServer(binary=etcd_binary, tls=tls) as server:
        started = time.monotonic()
        with (
            etcdgen.Client(server.endpoint, ca=other.ca, connect_timeout=1.5) as client,
            pytest.raises(etcdgen.ConnectionFailedError) as raised,
        ):
            client.get("k")
        assert time.monotonic() - started < 5
        message = str(raised.value)
        assert server.endpoint in message
    assert "CERTIFICATE_VERIFY_FAILED" in message or "handshake" in message.lower()


def test_missing_client_certificate_is_refused(etcd_binary: EtcdBinary, tmp_path: Path) -> None:
    tls = make_tls(tmp_path, client_cert_auth=True)
    with EtcdServer(binary=etcd_binary, tls=tls) as server:
        started = time.monotonic()
        with (
            etcdgen.Client(server.endpoint, ca=tls.ca, connect_timeout=1.5, timeout=3) as client,
            pytest.raises(etcdgen.UnavailableError),
        ):
            client.get("k")
        assert time.monotonic() - started < 6
