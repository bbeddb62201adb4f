"""Throw-away certificates for TLS tests, made with the openssl command."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from etcdgen.testing import ServerTLS


def make_tls(directory: Path, *, client_cert_auth: bool = True) -> ServerTLS:
    """A throw-away CA and one certificate for 127.0.0.1, usable as server and client."""
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("openssl is needed to create test certificates")
    directory.mkdir(parents=True, exist_ok=True)
    ca_key, ca_cert = directory / "ca.key", directory / "ca.crt"
    key, csr, cert = directory / "node.key", directory / "node.csr", directory / "node.crt"
    ext = directory / "ext.cnf"
    ext.write_text(
        "subjectAltName = IP:127.0.0.1\n"
        "extendedKeyUsage = serverAuth, clientAuth\n"
        "keyUsage = digitalSignature, keyEncipherment\n"
    )
    steps = [
        ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=etcdgen-ca",
         "-keyout", ca_key, "-out", ca_cert],
        ["req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=127.0.0.1",
         "-keyout", key, "-out", csr],
        ["x509", "-req", "-in", csr, "-CA", ca_cert, "-CAkey", ca_key, "-CAcreateserial",
         "-days", "1", "-extfile", ext, "-out", cert],
    ]  # fmt: skip
    for step in steps:
        subprocess.run([openssl, *map(str, step)], capture_output=True, check=True, timeout=30)
    return ServerTLS(cert=cert, key=key, ca=ca_cert, client_cert_auth=client_cert_auth)
