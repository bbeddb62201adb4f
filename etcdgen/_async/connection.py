"""One grpc.aio channel and the generated asyncio clients over it."""

from __future__ import annotations

from grpc import aio

from .._core.aio_invoker import AsyncGrpcInvoker
from .._core.config import ClientConfig
from ..generated.aio import AsyncRpcClients
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
        self.invoker = AsyncGrpcInvoker(
            self._channel,
            error_from_rpc,
            default_timeout=config.timeout,
            connect_timeout=config.connect_timeout,
            retry=config.retry,
            max_send_bytes=config.max_send_bytes,
            oversize_error=RequestTooLargeError,
            endpoints=config.endpoints,
        )
        self.rpc = AsyncRpcClients(self.invoker)

    async def close(self) -> None:
        self.invoker.close()
        await self._channel.close()
