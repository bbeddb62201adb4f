"""Client options, validated once and shared by the sync and asyncio clients."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import grpc

from .channels import MIN_KEEPALIVE_TIME, channel_options, grpc_target
from .retry import RetrySettings

#: Paths or PEM bytes.
PemSource = str | Path | bytes


def _pem(source: PemSource | None, what: str) -> bytes | None:
    if source is None or isinstance(source, bytes):
        return source
    path = Path(source)
    try:
        return path.read_bytes()
    except OSError as error:
        raise ValueError(f"cannot read the {what} file {path}: {error.strerror}") from error


@dataclass(frozen=True)
class TLSConfig:
    """Server verification (`ca`) and, for mutual TLS, the client's `cert` and `key`."""

    ca: bytes | None = None
    cert: bytes | None = None
    key: bytes | None = None
    server_name: str | None = None

    def credentials(self) -> grpc.ChannelCredentials:
        return grpc.ssl_channel_credentials(
            root_certificates=self.ca, private_key=self.key, certificate_chain=self.cert
        )


@dataclass(frozen=True)
class ClientConfig:
    endpoints: tuple[str, ...]
    target: str
    timeout: float | None
    connect_timeout: float
    keepalive_time: float
    keepalive_timeout: float
    max_send_bytes: int
    max_recv_bytes: int | None
    tls: TLSConfig | None
    username: str | None
    password: str | None = field(repr=False)
    retry: RetrySettings

    @property
    def channel_options(self) -> list[tuple[str, int | str]]:
        return channel_options(
            keepalive_time=self.keepalive_time,
            keepalive_timeout=self.keepalive_timeout,
            max_send_bytes=self.max_send_bytes,
            max_recv_bytes=self.max_recv_bytes,
            server_name=self.tls.server_name if self.tls else None,
        )


def make_config(
    endpoints: str | Sequence[str],
    *,
    timeout: float | None,
    connect_timeout: float,
    keepalive_time: float,
    keepalive_timeout: float,
    max_send_bytes: int,
    max_recv_bytes: int | None,
    ca: PemSource | None,
    cert: PemSource | None,
    key: PemSource | None,
    server_name: str | None,
    username: str | None,
    password: str | None,
    retry: RetrySettings,
) -> ClientConfig:
    """Check every option and say what to do about a bad one."""
    listed = (endpoints,) if isinstance(endpoints, str) else tuple(endpoints)
    if timeout is not None and timeout <= 0:
        raise ValueError(f"timeout must be positive seconds or None, got {timeout!r}")
    if connect_timeout <= 0:
        raise ValueError(f"connect_timeout must be positive seconds, got {connect_timeout!r}")
    if keepalive_time < MIN_KEEPALIVE_TIME:
        raise ValueError(
            f"keepalive_time must be >= {MIN_KEEPALIVE_TIME} s (etcd closes connections that "
            f"ping more often), got {keepalive_time!r}"
        )
    if keepalive_timeout <= 0:
        raise ValueError(f"keepalive_timeout must be positive seconds, got {keepalive_timeout!r}")
    if max_send_bytes <= 0:
        raise ValueError(f"max_send_bytes must be positive, got {max_send_bytes!r}")
    if max_recv_bytes is not None and max_recv_bytes <= 0:
        raise ValueError(f"max_recv_bytes must be positive or None, got {max_recv_bytes!r}")
    if (cert is None) != (key is None):
        raise ValueError(
            "mutual TLS needs both cert= and key= (the client certificate and its key)"
        )
    if (username is None) != (password is None):
        raise ValueError("give both username= and password=, or neither")
    wants_tls = any(e.strip().startswith("https://") for e in listed)
    tls = None
    if wants_tls or ca is not None or cert is not None or server_name is not None:
        tls = TLSConfig(_pem(ca, "CA"), _pem(cert, "certificate"), _pem(key, "key"), server_name)
    return ClientConfig(
        endpoints=listed,
        target=grpc_target(listed),
        timeout=timeout,
        connect_timeout=connect_timeout,
        keepalive_time=keepalive_time,
        keepalive_timeout=keepalive_timeout,
        max_send_bytes=max_send_bytes,
        max_recv_bytes=max_recv_bytes,
        tls=tls,
        username=username,
        password=password,
        retry=retry,
    )
