"""The asyncio invoker: how generated asyncio clients call `grpc.aio`.

Same rules as `invoker.GrpcInvoker` (deadline, retry policy, error mapping);
only the waiting differs.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterable, Callable, Iterable
from typing import Any, Protocol

import grpc
from grpc import aio

from .errors import ClientClosedError, EtcdError, status_of
from .invoker import ErrorMapper, Metadata
from .retry import DEFAULT_RETRY, RetrySettings, is_retryable
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


class AsyncGrpcInvoker:
    """`AsyncInvoker` over one `grpc.aio.Channel`."""

    def __init__(
        self,
        channel: aio.Channel,
        error_mapper: ErrorMapper,
        *,
        default_timeout: float | None = 5.0,
        stream_timeout: float | None = None,
        retry: RetrySettings = DEFAULT_RETRY,
        metadata: Callable[[], Metadata] | None = None,
    ) -> None:
        self._channel = channel
        self._map_error = error_mapper
        self._default_timeout = default_timeout
        self._stream_timeout = stream_timeout
        self._retry = retry
        self._metadata = metadata
        self._callables: dict[str, Any] = {}
        self._closed = False

    def close(self) -> None:
        self._closed = True

    def _callable(self, spec: MethodSpec[Any, Any]) -> Any:
        if self._closed:
            raise ClientClosedError("the client is closed; create a new one")
        found = self._callables.get(spec.path)
        if found is None:
            found = getattr(self._channel, spec.kind.value)(
                spec.path,
                request_serializer=spec.request_type.SerializeToString,
                response_deserializer=spec.response_type.FromString,
            )
            self._callables[spec.path] = found
        return found

    def _call_metadata(self) -> Metadata | None:
        return self._metadata() if self._metadata is not None else None

    async def unary_unary(
        self, spec: MethodSpec[RequestT, ResponseT], request: RequestT, timeout: Timeout
    ) -> ResponseT:
        call = self._callable(spec)
        seconds = resolve_timeout(timeout, self._default_timeout)
        deadline = None if seconds is None else time.monotonic() + seconds
        attempt = 0
        while True:
            attempt += 1
            remaining = None if deadline is None else max(deadline - time.monotonic(), 0.0)
            try:
                response: ResponseT = await call(
                    request, timeout=remaining, metadata=self._call_metadata()
                )
                return response
            except grpc.RpcError as error:
                delay = self._retry_delay(spec, error, attempt, deadline)
                if delay is None:
                    raise self._error(error, attempt) from error
            await asyncio.sleep(delay)

    def _retry_delay(
        self,
        spec: MethodSpec[Any, Any],
        error: grpc.RpcError,
        attempt: int,
        deadline: float | None,
    ) -> float | None:
        code, details = status_of(error)
        if attempt >= self._retry.max_attempts or not is_retryable(
            spec.policy.retry, code, details
        ):
            return None
        delay = self._retry.delay(attempt)
        if deadline is not None and time.monotonic() + delay >= deadline:
            return None
        return delay

    def _error(self, error: grpc.RpcError, attempts: int) -> EtcdError:
        mapped = self._map_error(error)
        mapped.attempts = attempts
        return mapped

    def unary_stream(
        self, spec: MethodSpec[RequestT, ResponseT], request: RequestT, timeout: Timeout
    ) -> AsyncResponseStream[ResponseT]:
        call = self._callable(spec)
        seconds = resolve_timeout(timeout, self._stream_timeout)
        return _AsyncMappedStream(
            call(request, timeout=seconds, metadata=self._call_metadata()), self._map_error
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
            call(requests, timeout=seconds, metadata=self._call_metadata()), self._map_error
        )


class _AsyncMappedStream:
    """An async response stream whose errors are etcdgen exceptions."""

    def __init__(self, call: Any, map_error: ErrorMapper) -> None:
        self._call = call
        self._responses = call.__aiter__()
        self._map_error = map_error

    def __aiter__(self) -> _AsyncMappedStream:
        return self

    async def __anext__(self) -> Any:
        try:
            return await self._responses.__anext__()
        except grpc.RpcError as error:
            raise self._map_error(error) from error

    def cancel(self) -> None:
        self._call.cancel()
