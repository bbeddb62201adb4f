"""The asyncio invoker: how generated asyncio clients call `grpc.aio`.

Same rules as `invoker.GrpcInvoker` (they share `InvokerCore`); only the
waiting differs.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterable, Awaitable, Callable, Iterable
from typing import Any, Protocol

import grpc

from .invoker import InvokerCore
from .spec import AsyncResponseStream, MethodSpec, RequestT, ResponseT
from .timeout import Timeout, resolve_timeout


class AsyncInvoker(Protocol):
    """What generated asyncio clients need from the runtime."""

    async def unary_unary(
        self, spec: MethodSpec[RequestT, ResponseT], request: RequestT, timeout: Timeout
    ) -> ResponseT: ...

    def unary_stream(
        self, spec: MethodSpec[RequestT, ResponseT], request: RequestT, timeout: Timeout
    ) -> AsyncResponseStream[ResponseT]: ...

    def stream_stream(
        self,
        spec: MethodSpec[RequestT, ResponseT],
        requests: AsyncIterable[RequestT] | Iterable[RequestT],
        timeout: Timeout,
    ) -> AsyncResponseStream[ResponseT]: ...


class AsyncGrpcInvoker(InvokerCore):
    """`AsyncInvoker` over one `grpc.aio.Channel` (auth as in `GrpcInvoker`)."""

    def __init__(
        self,
        *args: Any,
        authenticate: Callable[[], Awaitable[str]] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self._authenticate = authenticate

    async def _ensure_token(self) -> None:
        if self._authenticate is not None and self.token is None:
            self.token = await self._authenticate()

    async def unary_unary(
        self, spec: MethodSpec[RequestT, ResponseT], request: RequestT, timeout: Timeout
    ) -> ResponseT:
        call = self._callable(spec)
        self._check_size(spec, request)
        started = time.monotonic()
        deadline = self._deadline(timeout)
        attempt = 0
        refreshed = False
        while True:
            attempt += 1
            remaining = None if deadline is None else max(deadline - time.monotonic(), 0.0)
            try:
                await self._ensure_token()
                response: ResponseT = await call(
                    request, timeout=remaining, metadata=self._call_metadata()
                )
            except grpc.RpcError as error:
                if not refreshed and self._token_rejected(error):
                    refreshed = True  # rejected before it was applied: safe to resend
                    continue
                delay = self._retry_delay(spec, error, attempt, started, deadline)
                if delay is None:
                    raise self._error(error, attempt) from error
                await asyncio.sleep(delay)
                continue
            self.connected = True
            return response

    def unary_stream(
        self, spec: MethodSpec[RequestT, ResponseT], request: RequestT, timeout: Timeout
    ) -> AsyncResponseStream[ResponseT]:
        call = self._callable(spec)
        self._check_size(spec, request)
        seconds = resolve_timeout(timeout, self._stream_timeout)
        return _AsyncMappedStream(
            call(request, timeout=seconds, metadata=self._call_metadata()), self
        )

    def stream_stream(
        self,
        spec: MethodSpec[RequestT, ResponseT],
        requests: AsyncIterable[RequestT] | Iterable[RequestT],
        timeout: Timeout,
    ) -> AsyncResponseStream[ResponseT]:
        call = self._callable(spec)
        seconds = resolve_timeout(timeout, self._stream_timeout)
        return _AsyncMappedStream(
            call(requests, timeout=seconds, metadata=self._call_metadata()), self
        )


class _AsyncMappedStream:
    """An async response stream whose errors are etcdgen exceptions."""

    def __init__(self, call: Any, invoker: InvokerCore) -> None:
        self._call = call
        self._responses = call.__aiter__()
        self._invoker = invoker

    def __aiter__(self) -> _AsyncMappedStream:
        return self

    async def __anext__(self) -> Any:
        try:
            item = await self._responses.__anext__()
        except grpc.RpcError as error:
            raise self._invoker._error(error, 1) from error
        self._invoker.connected = True
        return item

    def cancel(self) -> None:
        self._call.cancel()
