"""The invokers: how generated clients call gRPC.

Generated code holds a typed `MethodSpec` per RPC and calls an object that
satisfies `Invoker` (sync) or `AsyncInvoker` (asyncio, in `aio_invoker`).
Both implementations share `InvokerCore`, which holds every decision that is
not I/O: the per-call deadline, the retry policy, the local size check, and
the mapping of `grpc.RpcError` to etcdgen's exception classes.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from typing import Any, Protocol

import grpc
from google.protobuf.message import Message

from .errors import ClientClosedError, ConnectionFailedError, EtcdError, status_of
from .retry import DEFAULT_RETRY, RetrySettings, is_retryable, never_sent
from .spec import CallKind, MethodSpec, RequestT, ResponseStream, ResponseT
from .timeout import Timeout, resolve_timeout

ErrorMapper = Callable[[grpc.RpcError], EtcdError]
Metadata = tuple[tuple[str, str], ...]
# The generated error class for oversized requests, set by the client (generated
# code depends on the core, not the other way round).
OversizeError = Callable[[str], EtcdError]


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


class InvokerCore:
    """State and decisions shared by the sync and asyncio invokers."""

    def __init__(
        self,
        channel: Any,
        error_mapper: ErrorMapper,
        *,
        default_timeout: float | None = 5.0,
        stream_timeout: float | None = None,
        connect_timeout: float | None = None,
        retry: RetrySettings = DEFAULT_RETRY,
        metadata: Callable[[], Metadata] | None = None,
        max_send_bytes: int | None = None,
        oversize_error: OversizeError | None = None,
        endpoints: tuple[str, ...] = (),
        is_token_error: Callable[[grpc.RpcError], bool] | None = None,
    ) -> None:
        self._channel = channel
        self._map_error = error_mapper
        self._default_timeout = default_timeout
        # Streams (watch, keep-alive, snapshot) are long-lived: no deadline by default.
        self._stream_timeout = stream_timeout
        self._connect_timeout = connect_timeout
        self._retry = retry
        self._metadata = metadata
        self._max_send_bytes = max_send_bytes
        self._oversize_error = oversize_error
        self._endpoints = endpoints
        self._callables: dict[str, Any] = {}
        self._closed = False
        # Auth: the token sent with each call; None until fetched (or after etcd
        # rejected it: expired simple token, auth store changed). Subclasses fetch it.
        self._is_token_error = is_token_error
        self.token: str | None = None
        # Set by the first answer from any server; before it, connection failures
        # are bounded by connect_timeout and reported as ConnectionFailedError.
        self.connected = False

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
        if self.token is not None:
            return (("token", self.token),)
        return self._metadata() if self._metadata is not None else None

    def _token_rejected(self, error: grpc.RpcError) -> bool:
        """True (and the token dropped) when etcd refused the call for its token."""
        if self.token is None or self._is_token_error is None or not self._is_token_error(error):
            return False
        self.token = None
        return True

    def _check_size(self, spec: MethodSpec[Any, Any], request: Message) -> None:
        """Refuse locally what the server would refuse after the upload."""
        if self._max_send_bytes is None:
            return
        size = request.ByteSize()
        if size > self._max_send_bytes:
            details = (
                f"{spec.name} request is {size:,} bytes, over the client's max_send_bytes of "
                f"{self._max_send_bytes:,}: split it (e.g. several puts or smaller values) or "
                "raise max_send_bytes (etcd itself accepts up to --max-request-bytes, "
                "1.5 MiB by default)"
            )
            if self._oversize_error is not None:
                raise self._oversize_error(details)
            raise EtcdError(details)

    def _deadline(self, timeout: Timeout) -> float | None:
        seconds = resolve_timeout(timeout, self._default_timeout)
        return None if seconds is None else time.monotonic() + seconds

    def _retry_delay(
        self,
        spec: MethodSpec[Any, Any],
        error: grpc.RpcError,
        attempt: int,
        started: float,
        deadline: float | None,
    ) -> float | None:
        """Seconds to wait before the next attempt, or None to give up."""
        code, details = status_of(error)
        if attempt >= self._retry.max_attempts or not is_retryable(
            spec.policy.retry, code, details
        ):
            return None
        now = time.monotonic()
        connecting_for = now - started
        if (
            self._connect_timeout is not None
            and self._never_connected(code, details)
            and connecting_for >= self._connect_timeout
        ):
            return None
        delay = self._retry.delay(attempt)
        if deadline is not None and now + delay >= deadline:
            return None
        return delay

    def _never_connected(self, code: grpc.StatusCode | None, details: str) -> bool:
        return not self.connected and never_sent(code, details)

    def _error(self, error: grpc.RpcError, attempts: int) -> EtcdError:
        code, details = status_of(error)
        if self._never_connected(code, details):
            tried = ", ".join(self._endpoints) or "the endpoint"
            return ConnectionFailedError(
                f"could not connect to {tried} within {self._connect_timeout} s "
                f"(connect_timeout); last error: {details}",
                self._endpoints,
                attempts=attempts,
            )
        mapped = self._map_error(error)
        mapped.attempts = attempts
        return mapped


class GrpcInvoker(InvokerCore):
    """`Invoker` over one `grpc.Channel`.

    With `authenticate` (a function returning a fresh token), every call carries
    a token, fetched before the first call and again once when etcd rejects it.
    """

    def __init__(
        self, *args: Any, authenticate: Callable[[], str] | None = None, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self._authenticate = authenticate

    def _ensure_token(self) -> None:
        if self._authenticate is not None and self.token is None:
            self.token = self._authenticate()

    def unary_unary(
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
                self._ensure_token()
                response: ResponseT = call(
                    request, timeout=remaining, metadata=self._call_metadata()
                )
            except grpc.RpcError as error:
                if not refreshed and self._token_rejected(error):
                    refreshed = True  # rejected before it was applied: safe to resend
                    continue
                delay = self._retry_delay(spec, error, attempt, started, deadline)
                if delay is None:
                    raise self._error(error, attempt) from error
                time.sleep(delay)
                continue
            self.connected = True
            return response

    def unary_stream(
        self, spec: MethodSpec[RequestT, ResponseT], request: RequestT, timeout: Timeout
    ) -> ResponseStream[ResponseT]:
        call = self._callable(spec)
        self._check_size(spec, request)
        seconds = resolve_timeout(timeout, self._stream_timeout)
        self._ensure_token()
        return _MappedStream(call(request, timeout=seconds, metadata=self._call_metadata()), self)

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
        self._ensure_token()
        responses = call(iter(requests), timeout=seconds, metadata=self._call_metadata())
        return _MappedStream(responses, self)


class _MappedStream:
    """A response stream whose errors are etcdgen exceptions; `cancel()` ends it."""

    def __init__(self, call: Any, invoker: InvokerCore) -> None:
        self._call = call
        self._invoker = invoker

    def __iter__(self) -> _MappedStream:
        return self

    def __next__(self) -> Any:
        try:
            item = next(self._call)
        except grpc.RpcError as error:
            raise self._invoker._error(error, 1) from error
        self._invoker.connected = True
        return item

    def cancel(self) -> None:
        self._call.cancel()
