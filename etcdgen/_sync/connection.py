"""One gRPC channel and the generated sync clients over it."""

from __future__ import annotations

import grpc

from .._core.config import ClientConfig
from .._core.invoker import GrpcInvoker
from ..generated.errors import RequestTooLargeError, error_from_rpc
from ..generated.sync import RpcClients


class Connection:
    def __init__(self, config: ClientConfig) -> None:
        self.config = config
        if config.tls is not None:
            self._channel = grpc.secure_channel(
                config.target, config.tls.credentials(), options=config.channel_options
            )
        else:
            self._channel = grpc.insecure_channel(config.target, options=config.channel_options)
        # Watching connectivity keeps grpc-core's reconnect machinery running: without a
        # watcher, grpcio < 1.80 took ~15 s to reconnect to a restarted member (seen in
        # tests/integration/test_retry.py at the dependency floor); with one, ~1 s.
        self.connectivity: grpc.ChannelConnectivity | None = None
        self._channel.subscribe(self._on_connectivity, try_to_connect=False)
        self.invoker = GrpcInvoker(
            self._channel,
            error_from_rpc,
            default_timeout=config.timeout,
            connect_timeout=config.connect_timeout,
            retry=config.retry,
            max_send_bytes=config.max_send_bytes,
            oversize_error=RequestTooLargeError,
            endpoints=config.endpoints,
        )
        self.rpc = RpcClients(self.invoker)

    def _on_connectivity(self, state: grpc.ChannelConnectivity) -> None:
        self.connectivity = state

    def close(self) -> None:
        self.invoker.close()
        self._channel.unsubscribe(self._on_connectivity)
        self._channel.close()
