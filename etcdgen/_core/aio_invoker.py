"""The asyncio driver: how generated asyncio clients call `grpc.aio`.

The same parts and the same decisions as `invoker.GrpcInvoker` (see its
docstring and `flow.py`); only the waiting differs. The gate is also the
loop guard: a client is bound to the event loop of its first use.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterable, Iterable
from typing import Any, Protocol

import grpc
from grpc import aio

from .balancer import EndpointState, Health
from .errors import EtcdError
from .flow import CHANNEL_CLOSED, CallContext, Failure, Refresh, Send, Wait, describe_failure
from .invoker import (
    Driver,
    check_size,
    closed_channel,
    evicted_stream_error,
    learner_ok,
)
from .pool import Lane
from .server_version import NEWEST as _NEWEST
from .server_version import newer_elements, refuse_if_newer
from .spec import AsyncResponseStream, MethodSpec, RequestT, ResponseT, RetryClass
from .timeout import Timeout, resolve_timeout
from .tokens import AsyncTokenSource, Metadata

_HEALTHY = Health.HEALTHY
_SAFE = RetryClass.SAFE
_get_running_loop = asyncio.get_running_loop


def cancelled_by_eviction(state: EndpointState, generation: int) -> bool:
    """Whether a CancelledError came from our closing the channel, not from the caller.

    grpc.aio cancels the calls of a closed channel with `asyncio.CancelledError`;
    the balancer bumps the endpoint's generation before it closes one.
    """
    if state.generation == generation:
        return False
    task = asyncio.current_task()
    cancelling = getattr(task, "cancelling", None)  # Python 3.11+
    return not (cancelling is not None and cancelling())


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


class AsyncGate(Protocol):
    #: The loop the client is bound to while started; None before and after.
    loop: asyncio.AbstractEventLoop | None

    def activate(self) -> None:
        """Bind to the running loop and start background work, or raise."""


class AsyncGrpcInvoker(Driver[AsyncGate, aio.Channel, AsyncTokenSource]):
    """`AsyncInvoker` over the channel pool (see `invoker.GrpcInvoker`)."""

    async def unary_unary(
        self, spec: MethodSpec[RequestT, ResponseT], request: RequestT, timeout: Timeout
    ) -> ResponseT:
        if self._gate.loop is not _get_running_loop():
            self._gate.activate()
        settings = self._settings
        if settings.max_send_bytes is not None:
            check_size(spec, request, settings.max_send_bytes, self._oversize_error)
        balancer = self._balancer
        started = time.monotonic()
        seconds = resolve_timeout(timeout, settings.timeout)
        deadline = None if seconds is None else started + seconds
        learner = balancer.has_learners and learner_ok(spec, request)
        state = balancer.pick(learner)
        if state.release < _NEWEST:  # an older member: see server_version.py
            await self._check_release(spec, request, state, seconds)
        lane = Lane.SAFE if spec.policy.retry is _SAFE else Lane.AT_MOST_ONCE
        tokens = self._tokens
        metadata = tokens.metadata
        if metadata is None and tokens.enabled:
            metadata = await tokens.ensure()
        attempt_timeout = (
            seconds if balancer.connected else self._decisions.first_timeout(started, deadline)
        )
        generation = state.generation
        if self._events.detailed:
            self._events.emit(
                "attempt", state.endpoint.text, "", state.health.value, rpc=spec.path, attempts=1
            )
        failure: Failure
        try:
            response: ResponseT = await self._pool.callable(state, lane, spec)(
                request, timeout=attempt_timeout, metadata=metadata
            )
        except grpc.RpcError as error:
            failure = error
        except (ValueError, aio.UsageError) as error:
            if not closed_channel(error):
                raise
            failure = CHANNEL_CLOSED
        except asyncio.CancelledError:
            if not cancelled_by_eviction(state, generation):
                raise
            failure = CHANNEL_CLOSED
        else:
            if state.health is not _HEALTHY or not state.connected:
                balancer.call_succeeded(state)
            if self._events.detailed:
                self._events.emit(
                    "call",
                    state.endpoint.text,
                    rpc=spec.path,
                    code="OK",
                    attempts=1,
                    duration=time.monotonic() - started,
                )
            return response
        ctx = CallContext(spec, started, deadline, seconds, learner, request)  # type: ignore[arg-type]
        ctx.last_endpoint = state.endpoint.text
        first = Send(state, generation, attempt_timeout)
        if not self._events.detailed:
            return await self._recover(ctx, first, failure, request, lane, metadata)  # type: ignore[no-any-return]
        try:
            result = await self._recover(ctx, first, failure, request, lane, metadata)
        except EtcdError as error:
            code = error.code.name if error.code is not None else type(error).__name__
            self._report_call(ctx, code)
            raise
        self._report_call(ctx, "OK")
        return result  # type: ignore[no-any-return]

    def _report_call(self, ctx: CallContext, code: str) -> None:
        self._events.emit(
            "call",
            ctx.last_endpoint,
            rpc=ctx.spec.path,
            code=code,
            attempts=ctx.attempts,
            duration=time.monotonic() - ctx.started,
        )

    async def _recover(
        self,
        ctx: CallContext,
        first: Send,
        failure: Failure,
        request: Any,
        lane: Lane,
        sent_with: Metadata | None,
    ) -> Any:
        flow = self._decisions.recover(ctx, first, failure)
        step = next(flow)
        spec = ctx.spec
        # Reported when the call goes on after it (only then is it a retry).
        failed_on: str | None = first.state.endpoint.text
        failed_with: Failure = failure
        while True:
            if isinstance(step, Send):
                if failed_on is not None:
                    self._events.emit("retry", failed_on, describe_failure(failed_with))
                    failed_on = None
                if step.state.release < _NEWEST:
                    await self._check_release(spec, request, step.state, step.timeout)
                if self._gate.loop is not _get_running_loop():
                    self._gate.activate()
                metadata = await self._tokens.ensure()
                sent_with = metadata
                ctx.attempts += 1
                ctx.last_endpoint = step.state.endpoint.text
                if self._events.detailed:
                    self._events.emit(
                        "attempt",
                        step.state.endpoint.text,
                        "",
                        step.state.health.value,
                        rpc=spec.path,
                        attempts=ctx.attempts,
                    )
                try:
                    response = await self._pool.callable(step.state, lane, spec)(
                        request, timeout=step.timeout, metadata=metadata
                    )
                except grpc.RpcError as error:
                    failed_on, failed_with = step.state.endpoint.text, error
                    step = flow.send(error)
                    continue
                except (ValueError, aio.UsageError) as error:
                    if not closed_channel(error):
                        raise
                    failed_on, failed_with = step.state.endpoint.text, CHANNEL_CLOSED
                    step = flow.send(CHANNEL_CLOSED)
                    continue
                except asyncio.CancelledError:
                    if not cancelled_by_eviction(step.state, step.generation):
                        raise
                    failed_on, failed_with = step.state.endpoint.text, CHANNEL_CLOSED
                    step = flow.send(CHANNEL_CLOSED)
                    continue
                self._balancer.call_succeeded(step.state)
                return response
            if isinstance(step, Wait):
                await asyncio.sleep(step.seconds)
            elif isinstance(step, Refresh):
                await self._tokens.refresh(sent_with)
            step = next(flow)

    async def _check_release(
        self, spec: MethodSpec[Any, Any], request: Any, state: EndpointState, seconds: float | None
    ) -> None:
        """Refuse what this member's release lacks (`server_version.py`); learn the release
        first if no probe has told it yet, but only for calls that need it."""
        used = newer_elements(spec.path, request)
        if not used:
            return
        if not state.release:
            from ..generated.etcdserverpb import rpc_pb2
            from ..generated.methods import MAINTENANCE_STATUS

            try:
                status = await self.unary_unary_on(
                    state.endpoint.text, MAINTENANCE_STATUS, rpc_pb2.StatusRequest(), seconds
                )
            except EtcdError:
                return  # cannot tell: the call itself will find out
            state.learned_version(status.version)
        refuse_if_newer(used, state.endpoint.text, state.version)

    async def unary_unary_on(
        self,
        endpoint: str,
        spec: MethodSpec[RequestT, ResponseT],
        request: RequestT,
        timeout: Timeout,
    ) -> ResponseT:
        """One call to one member (see `GrpcInvoker.unary_unary_on`)."""
        if self._gate.loop is not _get_running_loop():
            self._gate.activate()
        state = self._balancer.state_for(endpoint)
        seconds = resolve_timeout(timeout, self._settings.timeout)
        # Never the SAFE lane: an eviction would cut the call with nowhere else to send it.
        lane = Lane.AT_MOST_ONCE
        for attempt in (1, 2):
            metadata = await self._tokens.ensure()
            call = self._pool.callable(state, lane, spec)
            try:
                response: ResponseT = await call(request, timeout=seconds, metadata=metadata)
            except grpc.RpcError as error:
                if attempt == 1 and self._decisions.token_rejected(error):
                    await self._tokens.refresh(metadata)
                    continue
                raise self._decisions.map_error(error) from error
            self._balancer.call_succeeded(state)
            return response
        raise AssertionError("unreachable")

    # -- streams ----------------------------------------------------------------------------

    def _open_stream(
        self, spec: MethodSpec[Any, Any], endpoint: str | None = None
    ) -> tuple[EndpointState, Any, Metadata]:
        if self._gate.loop is not _get_running_loop():
            self._gate.activate()
        state = (
            self._balancer.pick(False) if endpoint is None else self._balancer.state_for(endpoint)
        )
        # Streams are opened synchronously (the generated method is not a coroutine):
        # the token must already be there; the connection fetches it on open() and
        # the stream wrapper fetches it before the first read otherwise.
        metadata = self._stream_metadata + (self._tokens.metadata or ())
        if self._events.detailed:
            self._events.emit(
                "attempt", state.endpoint.text, "stream", state.health.value, rpc=spec.path
            )
        return state, self._pool.callable(state, Lane.SAFE, spec), metadata

    def unary_stream(
        self,
        spec: MethodSpec[RequestT, ResponseT],
        request: RequestT,
        timeout: Timeout,
        endpoint: str | None = None,
    ) -> AsyncResponseStream[ResponseT]:
        if self._settings.max_send_bytes is not None:
            check_size(spec, request, self._settings.max_send_bytes, self._oversize_error)
        seconds = resolve_timeout(timeout, self._settings.stream_timeout)
        return AsyncMappedStream(
            self, spec, lambda call, md: call(request, timeout=seconds, metadata=md), endpoint
        )

    def stream_stream(
        self,
        spec: MethodSpec[RequestT, ResponseT],
        requests: AsyncIterable[RequestT] | Iterable[RequestT],
        timeout: Timeout,
    ) -> AsyncResponseStream[ResponseT]:
        seconds = resolve_timeout(timeout, self._settings.stream_timeout)
        return AsyncMappedStream(
            self, spec, lambda call, md: call(requests, timeout=seconds, metadata=md)
        )

    def evicted_stream_error(self, state: EndpointState) -> EtcdError:
        return evicted_stream_error(state)


class AsyncMappedStream:
    """An async response stream whose errors are etcdgen exceptions.

    The gRPC call starts on first use (`__anext__`, `write`, ...), after the
    auth token was fetched, so a stream opened before any other call still
    carries it. `endpoint` names the member serving it once started.
    """

    def __init__(
        self,
        invoker: AsyncGrpcInvoker,
        spec: MethodSpec[Any, Any],
        start: Any,
        endpoint: str | None = None,
    ) -> None:
        self._invoker = invoker
        self._pinned = endpoint
        self._spec = spec
        self._start = start
        self._call: Any = None
        self._responses: Any = None
        self._state: EndpointState | None = None
        self._generation = 0
        self._cancelled = False
        self.endpoint = ""

    async def _started(self) -> Any:
        if self._call is None:
            invoker = self._invoker
            if invoker._tokens.enabled and invoker._tokens.metadata is None:
                await invoker._tokens.ensure()
            state, call, metadata = invoker._open_stream(self._spec, self._pinned)
            self._state, self._generation = state, state.generation
            self.endpoint = state.endpoint.text
            try:
                self._call = self._start(call, metadata)
            except (ValueError, aio.UsageError) as error:
                # The channel was closed (evicted) between the pick and the call.
                if not closed_channel(error):
                    raise
                raise self._invoker.evicted_stream_error(state) from error
            self._responses = self._call.__aiter__()
            if self._cancelled:
                self._call.cancel()
        return self._call

    def __aiter__(self) -> AsyncMappedStream:
        return self

    async def __anext__(self) -> Any:
        await self._started()
        try:
            return await self._responses.__anext__()
        except grpc.RpcError as error:
            assert self._state is not None
            raise self._invoker.stream_error(self._state, self._generation, error) from error
        except asyncio.CancelledError:
            assert self._state is not None
            if self._cancelled or not cancelled_by_eviction(self._state, self._generation):
                raise
            raise self._invoker.evicted_stream_error(self._state) from None

    async def write(self, request: Any) -> None:
        """Send one more request on a bidirectional stream."""
        call = await self._started()
        await call.write(request)

    async def done_writing(self) -> None:
        call = await self._started()
        await call.done_writing()

    def cancel(self) -> None:
        self._cancelled = True
        if self._call is not None:
            self._call.cancel()
