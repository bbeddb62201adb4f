"""gRPC channel construction: target strings and the options etcd needs.

Why these options (see shared ETCD_FACTS):
- keepalive pings detect a hung member (SIGSTOP keeps TCP open), but etcd
  rejects pings closer than 5 s apart and pings without calls (GOAWAY
  too_many_pings): ping every `keepalive_time` >= 5 s, only with calls in
  flight, and let pings continue on a quiet stream (max_pings_without_data=0);
- grpcio's 4 MiB default receive limit breaks large ranges; clientv3 receives
  without a practical limit, so we do too by default;
- grpc's own service-config retries stay off: our invoker decides retries
  per RPC, and mutations must never be repeated blindly.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence

DEFAULT_MAX_SEND_BYTES = 2 * 1024 * 1024
MIN_KEEPALIVE_TIME = 5.0


class EndpointError(ValueError):
    """An endpoint string is not `host:port`."""


def parse_endpoint(endpoint: str) -> tuple[str, int]:
    """`"127.0.0.1:2379"` (an optional `http://` / `https://` is dropped) -> (host, port)."""
    text = endpoint.strip()
    for scheme in ("http://", "https://", "unix://"):
        if text.startswith(scheme):
            if scheme == "unix://":
                raise EndpointError(f"unix sockets are not supported yet: {endpoint!r}")
            text = text[len(scheme) :]
    text = text.rstrip("/")
    host, sep, port = text.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise EndpointError(f"endpoint must be host:port (e.g. 127.0.0.1:2379), got {endpoint!r}")
    return host.strip("[]"), int(port)


def grpc_target(endpoints: Sequence[str]) -> str:
    """One gRPC target for all endpoints.

    Several IP endpoints become one `ipv4:a:1,b:2` target that gRPC balances
    itself; host names are only allowed alone (`dns:` resolution).
    """
    if not endpoints:
        raise EndpointError("give at least one endpoint, e.g. '127.0.0.1:2379'")
    parsed = [parse_endpoint(e) for e in endpoints]
    if len(parsed) == 1 and not _is_ip(parsed[0][0]):
        host, port = parsed[0]
        return f"dns:///{host}:{port}"
    if not all(_is_ip(host) for host, _ in parsed):
        raise EndpointError(
            "several endpoints must all be IP addresses for now; got " + ", ".join(endpoints)
        )
    versions = {ipaddress.ip_address(host).version for host, _ in parsed}
    if len(versions) != 1:
        raise EndpointError("mixing IPv4 and IPv6 endpoints is not supported")
    if versions == {4}:
        return "ipv4:" + ",".join(f"{h}:{p}" for h, p in parsed)
    return "ipv6:" + ",".join(f"[{h}]:{p}" for h, p in parsed)


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def channel_options(
    *,
    keepalive_time: float = 30.0,
    keepalive_timeout: float = 10.0,
    max_send_bytes: int = DEFAULT_MAX_SEND_BYTES,
    max_recv_bytes: int | None = None,
    server_name: str | None = None,
) -> list[tuple[str, int | str]]:
    if keepalive_time < MIN_KEEPALIVE_TIME:
        raise ValueError(
            f"keepalive_time must be >= {MIN_KEEPALIVE_TIME} s: etcd closes connections "
            "that ping more often"
        )
    options: list[tuple[str, int | str]] = [
        ("grpc.keepalive_time_ms", int(keepalive_time * 1000)),
        ("grpc.keepalive_timeout_ms", int(keepalive_timeout * 1000)),
        ("grpc.keepalive_permit_without_calls", 0),
        ("grpc.http2.max_pings_without_data", 0),
        # The local send check happens in the client with a clear error; leave
        # gRPC's own limit just above it so ours fires first.
        ("grpc.max_send_message_length", max_send_bytes + 1024),
        ("grpc.max_receive_message_length", -1 if max_recv_bytes is None else max_recv_bytes),
        ("grpc.enable_retries", 0),
        # Reconnect to a restarted member quickly; grpc's 1 s..120 s default is for WANs.
        # (Not grpc.min_reconnect_backoff_ms: grpc-core also uses it as the connect
        # timeout, and 100 ms is too short for a handshake on a loaded machine.)
        ("grpc.initial_reconnect_backoff_ms", 100),
        ("grpc.max_reconnect_backoff_ms", 3000),
        ("grpc.lb_policy_name", "round_robin"),
    ]
    if server_name:
        options.append(("grpc.ssl_target_name_override", server_name))
    return options
