"""gRPC channel options: what etcd needs from each endpoint's channel.

Why these options (see shared ETCD_FACTS):
- keepalive pings detect a hung member (SIGSTOP keeps TCP open), but etcd
  rejects pings closer than 5 s apart and pings without calls (GOAWAY
  too_many_pings): ping every `keepalive_time` >= 5 s, only with calls in
  flight, and let pings continue on a quiet stream (max_pings_without_data=0);
- grpcio's 4 MiB default receive limit breaks large ranges; clientv3 receives
  without a practical limit, so we do too by default;
- grpc's own service-config retries stay off: our invoker decides retries
  per RPC, and mutations must never be repeated blindly;
- each endpoint has its own channel (pick_first over that one address): the
  balancing is ours (`balancer.py`), since gRPC's round_robin only sees TCP.
"""

from __future__ import annotations

DEFAULT_MAX_SEND_BYTES = 2 * 1024 * 1024
MIN_KEEPALIVE_TIME = 5.0


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
        # One connection per channel: when the pool re-makes a frozen member's
        # channel it must dial anew, not reuse the process-wide subchannel.
        ("grpc.use_local_subchannel_pool", 1),
    ]
    if server_name:
        options.append(("grpc.ssl_target_name_override", server_name))
    return options
