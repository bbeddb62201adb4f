"""`Client` and `AsyncClient`: connections to an etcd cluster.

Both own one gRPC channel and expose every etcd RPC through the generated,
typed clients under `.rpc` (`client.rpc.kv.range(key=b"k")`). Higher-level
helpers build on that layer.
"""

from __future__ import annotations

from collections.abc import Sequence
from types import TracebackType

import grpc
from grpc import aio

from ._core.aio_invoker import AsyncGrpcInvoker
from ._core.channels import channel_options, grpc_target
from ._core.invoker import GrpcInvoker
from ._core.retry import DEFAULT_RETRY, RetrySettings
from .generated.aio import AsyncRpcClients
from .generated.errors import error_from_rpc
from .generated.sync import RpcClients


def _endpoint_list(endpoints: str | Sequence[str]) -> list[str]:
    return [endpoints] if isinstance(endpoints, str) else list(endpoints)


class Client:
    """A blocking etcd v3 client.

    Args:
        endpoints: `"host:port"` or a list of them (members of one cluster).
        timeout: default deadline in seconds for each unary call; None for none.
        keepalive_time: seconds between HTTP/2 pings while calls are active (>= 5).
        keepalive_timeout: seconds to wait for a ping reply before the connection is dropped.
        max_recv_bytes: largest response accepted; None for no limit (like clientv3).
        retry: backoff and attempt limits for retried calls.
    """

    def __init__(
        self,
        endpoints: str | Sequence[str] = "127.0.0.1:2379",
        *,
        timeout: float | None = 5.0,
        keepalive_time: float = 30.0,
        keepalive_timeout: float = 10.0,
        max_recv_bytes: int | None = None,
        retry: RetrySettings = DEFAULT_RETRY,
    ) -> None:
        self.endpoints = _endpoint_list(endpoints)
        options = channel_options(
            keepalive_time=keepalive_time,
            keepalive_timeout=keepalive_timeout,
            max_recv_bytes=max_recv_bytes,
        )
        self._channel = grpc.insecure_channel(grpc_target(self.endpoints), options=options)
        # Watching connectivity keeps grpc-core's reconnect machinery running: without a
        # watcher, grpcio < 1.80 took ~15 s to reconnect to a restarted member (seen in
        # tests/integration/test_retry.py at the dependency floor); with one, ~1 s.
        self.connectivity: grpc.ChannelConnectivity | None = None
        self._channel.subscribe(self._on_connectivity, try_to_connect=False)
        self._invoker = GrpcInvoker(
            self._channel, error_from_rpc, default_timeout=timeout, retry=retry
        )
        #: The generated client of every etcd service.
        self.rpc = RpcClients(self._invoker)

    def _on_connectivity(self, state: grpc.ChannelConnectivity) -> None:
        self.connectivity = state

    def close(self) -> None:
        """Close the channel; later calls raise `ClientClosedError`."""
        self._invoker.close()
        self._channel.unsubscribe(self._on_connectivity)
        self._channel.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


class AsyncClient:
    """The asyncio etcd v3 client; same options as `Client`.

    Create it inside a running event loop (or `async with AsyncClient(...)`).
    """

    def __init__(
        self,
        endpoints: str | Sequence[str] = "127.0.0.1:2379",
        *,
        timeout: float | None = 5.0,
        keepalive_time: float = 30.0,
        keepalive_timeout: float = 10.0,
        max_recv_bytes: int | None = None,
        retry: RetrySettings = DEFAULT_RETRY,
    ) -> None:
        self.endpoints = _endpoint_list(endpoints)
        options = channel_options(
            keepalive_time=keepalive_time,
            keepalive_timeout=keepalive_timeout,
            max_recv_bytes=max_recv_bytes,
        )
        self._channel = aio.insecure_channel(grpc_target(self.endpoints), options=options)
        self._invoker = AsyncGrpcInvoker(
            self._channel, error_from_rpc, default_timeout=timeout, retry=retry
        )
        #: The generated asyncio client of every etcd service.
        self.rpc = AsyncRpcClients(self._invoker)

    async def close(self) -> None:
        """Close the channel; later calls raise `ClientClosedError`."""
        self._invoker.close()
        await self._channel.close()

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()
