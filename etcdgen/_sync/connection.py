"""One gRPC channel and the generated sync clients over it."""

from __future__ import annotations

from typing import Any

import grpc

from .._core.config import ClientConfig
from .._core.invoker import GrpcInvoker
from .._tokens import is_token_error
from ..generated.errors import RequestTooLargeError, error_from_rpc
from ..generated.sync import RpcClients
from ..generated.sync.auth import AuthClient


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
        common: dict[str, Any] = {
            "default_timeout": config.timeout,
            "connect_timeout": config.connect_timeout,
            "retry": config.retry,
            "max_send_bytes": config.max_send_bytes,
            "oversize_error": RequestTooLargeError,
            "endpoints": config.endpoints,
        }
        # Authenticate itself needs no token: it goes through a token-less invoker.
        self._login = AuthClient(GrpcInvoker(self._channel, error_from_rpc, **common))
        self.invoker = GrpcInvoker(
            self._channel,
            error_from_rpc,
            authenticate=self._authenticate if config.username is not None else None,
            is_token_error=is_token_error,
            **common,
        )
        self.rpc = RpcClients(self.invoker)

    def _authenticate(self) -> str:
        reply = self._login.authenticate(name=self.config.username, password=self.config.password)
        return str(reply.token)

    def open(self) -> None:
        """Fetch the auth token up front, so that streams opened later carry it."""
        if self.config.username is not None and self.invoker.token is None:
            self.invoker.token = self._authenticate()

    def _on_connectivity(self, state: grpc.ChannelConnectivity) -> None:
        self.connectivity = state

    def close(self) -> None:
        self.invoker.close()
        self._channel.unsubscribe(self._on_connectivity)
        self._channel.close()
