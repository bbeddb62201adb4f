"""TLS settings for a server's client port (:class:`ServerTLS`)."""

from __future__ import annotations

import ssl
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class ServerTLS:
    """TLS for the client port of an :class:`EtcdServer` (peer traffic stays plain HTTP).

    ``cert``/``key`` are the server's certificate and key; the certificate should carry an
    IP SAN for 127.0.0.1.  ``ca`` verifies the server on the harness's side and, with
    ``client_cert_auth``, the clients (``--trusted-ca-file``).  ``client_cert_auth``
    requires client certificates (``--client-cert-auth``); the harness then presents
    ``client_cert``/``client_key`` in its own health checks and ``etcdctl`` calls, falling
    back to ``cert``/``key``.
    """

    cert: Path
    key: Path
    ca: Path | None = None
    client_cert_auth: bool = False
    client_cert: Path | None = None
    client_key: Path | None = None

    def __post_init__(self) -> None:
        if self.client_cert_auth and self.ca is None:
            raise ValueError("client_cert_auth=True needs a CA (ca=...) to verify clients")
        if (self.client_cert is None) != (self.client_key is None):
            raise ValueError("client_cert and client_key must be given together")

    def server_args(self) -> list[str]:
        """The etcd flags for this configuration."""
        args = ["--cert-file", str(self.cert), "--key-file", str(self.key)]
        # etcd requires client certificates whenever --trusted-ca-file is given, so
        # the CA is passed only with client_cert_auth; otherwise it only verifies the
        # server on the harness's side.
        if self.client_cert_auth:
            args += ["--trusted-ca-file", str(self.ca), "--client-cert-auth"]
        return args

    def etcdctl_args(self) -> list[str]:
        """The ``etcdctl`` flags needed to talk to a server using this configuration."""
        args = ["--cacert", str(self.ca)] if self.ca is not None else ["--insecure-skip-tls-verify"]
        if self.client_cert_auth:
            args += ["--cert", str(self.client_cert or self.cert)]
            args += ["--key", str(self.client_key or self.key)]
        return args

    def client_context(self) -> ssl.SSLContext:
        """An SSL context for HTTPS requests to the server (hostname is not checked)."""
        if self.ca is not None:
            ctx = ssl.create_default_context(cafile=str(self.ca))
            ctx.check_hostname = False
        else:
            ctx = ssl.create_default_context()
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
        if self.client_cert_auth:
            ctx.load_cert_chain(
                str(self.client_cert or self.cert), str(self.client_key or self.key)
            )
        return ctx
