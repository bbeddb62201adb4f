"""The sync invoker: how generated sync clients call gRPC.

Generated code holds a typed `MethodSpec` per RPC and calls an object that
satisfies `Invoker`; `GrpcInvoker` is the implementation over a
`grpc.Channel`. It applies the per-call deadline, the retry policy and turns
`grpc.RpcError` into etcdgen's exception classes.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from typing import Any, Protocol

import grpc

from .errors import ClientClosedError, EtcdError, status_of
from .retry import DEFAULT_RETRY, RetrySettings, is_retryable
from .spec import CallKind, MethodSpec, RequestT, ResponseStream, ResponseT
from .timeout import Timeout, resolve_timeout

ErrorMapper = Callable[[grpc.RpcError], EtcdError]
Metadata = tuple[tuple[str, str], ...]


class Invoker(Protocol):
    """What generated sync clients need from the runtime."""

    def unary_unary(
        self, spec: MethodSpec[RequestT, ResponseT], request: RequestT, timeout: Timeout
    ) -> ResponseT: ...

    def unary_stream(
        self, spec: MethodSpec[RequestT, ResponseT], request: RequestT, timeout: Timeout
    ) -> ResponseStream[ResponseT]: ...

    def stream_stream(
        self,
        spec: MethodSpec[RequestT, ResponseT],
        requests: Iterable[RequestT],
        timeout: Timeout,
    ) -> ResponseStream[ResponseT]: ...


class GrpcInvoker:
    """`Invoker` over one `grpc.Channel`."""

    def __init__(
        self,
        channel: grpc.Channel,
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
        # Streams (watch, keep-alive, snapshot) are long-lived: no deadline by default.
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
            # Two threads may race here and build equal callables; either is fine.
            found = getattr(self._channel, spec.kind.value)(
                spec.path,
                request_serializer=spec.request_type.SerializeToString,
                response_deserializer=spec.response_type.FromString,
            )
            self._callables[spec.path] = found
        return found

    def _call_metadata(self) -> Metadata | None:
        return self._metadata() if self._metadata is not None else None

    def unary_unary(
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
                response: ResponseT = call(
                    request, timeout=remaining, metadata=self._call_metadata()
                )
                return response
            except grpc.RpcError as error:
                delay = self._retry_delay(spec, error, attempt, deadline)
                if delay is None:
                    raise self._error(error, attempt) from error
            time.sleep(delay)

    def _retry_delay(
        self,
        spec: MethodSpec[Any, Any],
        error: grpc.RpcError,
        attempt: int,
        deadline: float | None,
    ) -> float | None:
        """Seconds to wait before the next attempt, or None to give up."""
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
    ) -> ResponseStream[ResponseT]:
        call = self._callable(spec)
        seconds = resolve_timeout(timeout, self._stream_timeout)
        responses = call(request, timeout=seconds, metadata=self._call_metadata())
        return self._mapped(responses)

    def stream_stream(
        self,
        spec: MethodSpec[RequestT, ResponseT],
        requests: Iterable[RequestT],
        timeout: Timeout,
    ) -> ResponseStream[ResponseT]:
        if spec.kind is not CallKind.STREAM_STREAM:
            raise TypeError(f"{spec.path} is not a bidirectional stream")
        call = self._callable(spec)
        seconds = resolve_timeout(timeout, self._stream_timeout)
        responses = call(iter(requests), timeout=seconds, metadata=self._call_metadata())
        return self._mapped(responses)

    def _mapped(self, responses: Any) -> ResponseStream[Any]:
        return _MappedStream(responses, self._map_error)


class _MappedStream:
    """A response stream whose errors are etcdgen exceptions; `cancel()` ends it."""

    def __init__(self, call: Any, map_error: ErrorMapper) -> None:
        self._call = call
        self._map_error = map_error

    def __iter__(self) -> _MappedStream:
        return self

    def __next__(self) -> Any:
        try:
            return next(self._call)
        except grpc.RpcError as error:
            raise self._map_error(error) from error

    def cancel(self) -> None:
        self._call.cancel()
