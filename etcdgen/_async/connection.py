"""One grpc.aio channel and the generated asyncio clients over it."""

from __future__ import annotations

from typing import Any

from grpc import aio

from .._core.aio_invoker import AsyncGrpcInvoker
from .._core.config import ClientConfig
from .._tokens import is_token_error
from ..generated.aio import AsyncRpcClients
from ..generated.aio.auth import AsyncAuthClient
from ..generated.errors import RequestTooLargeError, error_from_rpc


class AsyncConnection:
    def __init__(self, config: ClientConfig) -> None:
        self.config = config
        if config.tls is not None:
            self._channel = aio.secure_channel(
                config.target, config.tls.credentials(), options=config.channel_options
            )
        else:
            self._channel = aio.insecure_channel(config.target, options=config.channel_options)
        common: dict[str, Any] = {
            "default_timeout": config.timeout,
            "connect_timeout": config.connect_timeout,
            "retry": config.retry,
            "max_send_bytes": config.max_send_bytes,
            "oversize_error": RequestTooLargeError,
            "endpoints": config.endpoints,
        }
        # Authenticate itself needs no token: it goes through a token-less invoker.
        self._login = AsyncAuthClient(AsyncGrpcInvoker(self._channel, error_from_rpc, **common))
        self.invoker = AsyncGrpcInvoker(
            self._channel,
            error_from_rpc,
            authenticate=self._authenticate if config.username is not None else None,
            is_token_error=is_token_error,
            **common,
        )
        self.rpc = AsyncRpcClients(self.invoker)

    async def _authenticate(self) -> str:
        reply = await self._login.authenticate(
            name=self.config.username, password=self.config.password
        )
        return str(reply.token)

    async def open(self) -> None:
        """Fetch the auth token up front, so that streams opened later carry it."""
        if self.config.username is not None and self.invoker.token is None:
            self.invoker.token = await self._authenticate()

    async def close(self) -> None:
        self.invoker.close()
        await self._channel.close()
