"""Client options, validated once and shared by the sync and asyncio clients."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import grpc

from . import validate
from .channels import MIN_KEEPALIVE_TIME, channel_options
from .coalesce import CoalesceSettings, coalesce_settings
from .endpoints import Endpoint, parse_endpoints
from .events import EventHook
from .flow import CallSettings
from .retry import RetrySettings
from .secret import Secret

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
    """Every client option, checked (see the client's docstring for their meaning)."""

    endpoints: tuple[Endpoint, ...]
    timeout: float | None
    connect_timeout: float
    keepalive_time: float
    keepalive_timeout: float
    max_send_bytes: int
    max_recv_bytes: int | None
    tls: TLSConfig | None
    username: str | None
    password: Secret | None = field(repr=False)
    retry: RetrySettings
    health_check_interval: float
    health_check_timeout: float
    auto_sync_interval: float | None
    reject_old_cluster: bool
    require_leader: bool
    event_hook: EventHook | None = field(repr=False)
    #: None: gets are not coalesced (see _core/coalesce.py).
    coalesce_reads: CoalesceSettings | None = None

    @property
    def channel_options(self) -> list[tuple[str, int | str]]:
        return channel_options(
            keepalive_time=self.keepalive_time,
            keepalive_timeout=self.keepalive_timeout,
            max_send_bytes=self.max_send_bytes,
            max_recv_bytes=self.max_recv_bytes,
            server_name=self.tls.server_name if self.tls else None,
        )

    @property
    def call_settings(self) -> CallSettings:
        return CallSettings(
            timeout=self.timeout,
            stream_timeout=None,
            connect_timeout=self.connect_timeout,
            retry=self.retry,
            max_send_bytes=self.max_send_bytes,
        )


def make_config(
    endpoints: object,
    *,
    timeout: object,
    connect_timeout: object,
    keepalive_time: object,
    keepalive_timeout: object,
    max_send_bytes: object,
    max_recv_bytes: object,
    ca: PemSource | None,
    cert: PemSource | None,
    key: PemSource | None,
    server_name: str | None,
    username: str | None,
    password: str | Secret | None,
    retry: RetrySettings,
    health_check_interval: object = 1.0,
    health_check_timeout: object = 0.5,
    auto_sync_interval: object = None,
    reject_old_cluster: object = False,
    require_leader: object = True,
    event_hook: EventHook | None = None,
    coalesce_reads: object = False,
) -> ClientConfig:
    """Check every option and say what to do about a bad one."""
    parsed = parse_endpoints(endpoints)
    keepalive = validate.seconds("keepalive_time", keepalive_time)
    assert keepalive is not None
    if keepalive < MIN_KEEPALIVE_TIME:
        raise ValueError(
            f"keepalive_time must be >= {MIN_KEEPALIVE_TIME} s (etcd closes connections that "
            f"ping more often), got {keepalive_time!r}"
        )
    send_limit = validate.integer("max_send_bytes", max_send_bytes, minimum=1, maximum=2**31 - 1)
    recv_limit = (
        None
        if max_recv_bytes is None
        else validate.integer("max_recv_bytes", max_recv_bytes, minimum=1, maximum=2**31 - 1)
    )
    if not isinstance(retry, RetrySettings):
        raise TypeError(f"retry must be an etcdgen.RetrySettings, got {type(retry).__name__}")
    if (cert is None) != (key is None):
        raise ValueError(
            "mutual TLS needs both cert= and key= (the client certificate and its key)"
        )
    if (username is None) != (password is None):
        raise ValueError("give both username= and password=, or neither")
    if username is not None and not username:
        raise ValueError("username must not be empty (etcd refuses an empty user name)")
    secret = password if isinstance(password, Secret) or password is None else Secret(password)
    for name, text in (
        ("username", username),
        ("server_name", server_name),
    ):
        if text is not None and not isinstance(text, str):
            raise TypeError(f"{name} must be a string, got {type(text).__name__}")
    if event_hook is not None and not callable(event_hook):
        raise TypeError("event_hook must be a function taking an etcdgen.Event")
    interval = validate.seconds("health_check_interval", health_check_interval)
    probe_timeout = validate.seconds("health_check_timeout", health_check_timeout)
    assert interval is not None and probe_timeout is not None
    wants_tls = any(e.tls for e in parsed)
    tls = None
    if wants_tls or ca is not None or cert is not None or server_name is not None:
        tls = TLSConfig(_pem(ca, "CA"), _pem(cert, "certificate"), _pem(key, "key"), server_name)
    connect = validate.seconds("connect_timeout", connect_timeout)
    keepalive_wait = validate.seconds("keepalive_timeout", keepalive_timeout)
    assert connect is not None and keepalive_wait is not None
    return ClientConfig(
        endpoints=parsed,
        timeout=validate.seconds("timeout", timeout, allow_none=True),
        connect_timeout=connect,
        keepalive_time=keepalive,
        keepalive_timeout=keepalive_wait,
        max_send_bytes=send_limit,
        max_recv_bytes=recv_limit,
        tls=tls,
        username=username,
        password=secret,
        retry=retry,
        health_check_interval=interval,
        health_check_timeout=probe_timeout,
        auto_sync_interval=validate.seconds(
            "auto_sync_interval", auto_sync_interval, allow_none=True
        ),
        reject_old_cluster=validate.flag("reject_old_cluster", reject_old_cluster),
        require_leader=validate.flag("require_leader", require_leader),
        event_hook=event_hook,
        coalesce_reads=coalesce_settings(coalesce_reads),
    )
