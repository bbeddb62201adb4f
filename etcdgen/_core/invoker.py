"""The sync driver: how generated blocking clients call gRPC.

Generated code holds a typed `MethodSpec` per RPC and calls an object that
satisfies `Invoker`. `GrpcInvoker` is built from small parts, each with one job:

- `Decisions` (flow.py): the retry/failover/token rules, shared with asyncio;
- `Balancer` (balancer.py): which endpoint each attempt uses;
- `ChannelPool` (pool.py): the channel per endpoint and lane;
- `TokenSource` (tokens.py): the auth token, single flight;
- `Events` (events.py): the optional event hook;
- a `Gate`: the owning connection, which starts background work on first use
  and refuses calls once closed.

The first attempt is sent inline (the hot path costs a pick and a dict
lookup); only a failure enters the shared decision generator.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from typing import Any, Generic, Protocol, TypeVar

import grpc
from google.protobuf.message import Message

from .balancer import Balancer, EndpointState, Health
from .errors import EtcdError, UnavailableError, status_of
from .events import Events
from .flow import (
    CHANNEL_CLOSED,
    CallContext,
    Decisions,
    Failure,
    Refresh,
    Send,
    Wait,
    describe_failure,
)
from .fork import enter_call, leave_call
from .pool import ChannelPool, Lane
from .server_version import NEWEST as _NEWEST
from .server_version import newer_elements, refuse_if_newer
from .spec import CallKind, MethodSpec, RequestT, ResponseStream, ResponseT, RetryClass
from .timeout import Timeout, resolve_timeout
from .tokens import Metadata, TokenSource

_HEALTHY = Health.HEALTHY
_SAFE = RetryClass.SAFE
# What a learner member serves (etcd's isRPCSupportedForLearner).
_RANGE = "/etcdserverpb.KV/Range"
_LEARNER_PATHS = frozenset({_RANGE, "/etcdserverpb.Maintenance/Status"})
#: Long-lived streams end, rather than go silent, when their member loses its
#: leader (Go's WithRequireLeader).
REQUIRE_LEADER: Metadata = (("hasleader", "true"),)


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


class Gate(Protocol):
    """The owner's say on whether calls may go out (checked on every call)."""

    #: True once started and until closed; False sends the call to `activate()`.
    active: bool

    def activate(self) -> None:
        """Start what the first call needs, or raise (closed, wrong process, ...)."""


def learner_ok(spec: MethodSpec[Any, Any], request: Message) -> bool:
    """Whether a learner member can serve this request."""
    if spec.path not in _LEARNER_PATHS:
        return False
    return spec.path != _RANGE or bool(getattr(request, "serializable", False))


def check_size(spec: MethodSpec[Any, Any], request: Message, limit: int, error: Any) -> None:
    """Refuse locally what the server would refuse after the upload."""
    size = request.ByteSize()
    if size > limit:
        raise error(
            f"{spec.name} request is {size:,} bytes, over the client's max_send_bytes of "
            f"{limit:,}: split it (e.g. several puts or smaller values) or raise "
            "max_send_bytes (etcd itself accepts up to --max-request-bytes, 1.5 MiB by default)"
        )


def closed_channel(error: BaseException) -> bool:
    """gRPC's complaint about a call started on a channel that was just closed.

    Sync unary calls say "Cannot invoke RPC on closed channel!", sync streams
    "Cannot invoke RPC: Channel closed!", grpc.aio "Channel is closed.".
    """
    text = str(error).lower()
    return "closed channel" in text or "channel is closed" in text or "channel closed" in text


GateT = TypeVar("GateT")
ChannelT = TypeVar("ChannelT")
TokensT = TypeVar("TokensT")


class Driver(Generic[GateT, ChannelT, TokensT]):
    """The parts a driver (sync or asyncio) is made of; the calls are the subclass's."""

    def __init__(
        self,
        gate: GateT,
        pool: ChannelPool[ChannelT],
        decisions: Decisions,
        tokens: TokensT,
        events: Events,
        *,
        oversize_error: Any = EtcdError,
        require_leader: bool = True,
    ) -> None:
        self._gate = gate
        self._pool = pool
        self._decisions = decisions
        self._balancer: Balancer = decisions.balancer
        self._settings = decisions.settings
        self._tokens = tokens
        self._events = events
        self._oversize_error = oversize_error
        self._stream_metadata = REQUIRE_LEADER if require_leader else ()

    def stream_error(
        self, state: EndpointState, generation: int, error: grpc.RpcError
    ) -> EtcdError:
        return stream_error(self._balancer, self._decisions, state, generation, error)


class GrpcInvoker(Driver[Gate, grpc.Channel, TokenSource]):
    """`Invoker` over the channel pool (see the module docstring)."""

    def unary_unary(
        self, spec: MethodSpec[RequestT, ResponseT], request: RequestT, timeout: Timeout
    ) -> ResponseT:
        if not self._gate.active:
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
            self._check_release(spec, request, state, seconds)
        lane = Lane.SAFE if spec.policy.retry is _SAFE else Lane.AT_MOST_ONCE
        tokens = self._tokens
        metadata = tokens.metadata
        if metadata is None and tokens.enabled:
            metadata = tokens.ensure()
        attempt_timeout = (
            seconds if balancer.connected else self._decisions.first_timeout(started, deadline)
        )
        generation = state.generation
        if self._events.detailed:
            self._events.emit(
                "attempt", state.endpoint.text, "", state.health.value, rpc=spec.path, attempts=1
            )
        failure: Failure
        fork_gate = None
        try:
            call = self._pool.callable(state, lane, spec)
            # A fork waits for calls in flight (see fork.py: else the child can hang).
            fork_gate = enter_call()
            response: ResponseT = call(request, timeout=attempt_timeout, metadata=metadata)
        except grpc.RpcError as error:
            failure = error
        except ValueError as error:
            if not closed_channel(error):
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
        finally:
            if fork_gate is not None:
                leave_call(fork_gate)
        ctx = CallContext(spec, started, deadline, seconds, learner, request)  # type: ignore[arg-type]
        ctx.last_endpoint = state.endpoint.text
        first = Send(state, generation, attempt_timeout)
        if not self._events.detailed:
            return self._recover(ctx, first, failure, request, lane, metadata)  # type: ignore[no-any-return]
        try:
            result = self._recover(ctx, first, failure, request, lane, metadata)
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

    def _recover(
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
                    self._check_release(spec, request, step.state, step.timeout)
                if not self._gate.active:
                    self._gate.activate()  # raises if the client was closed meanwhile
                metadata = self._tokens.ensure()
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
                fork_gate = None
                try:
                    call = self._pool.callable(step.state, lane, spec)
                    fork_gate = enter_call()
                    response = call(request, timeout=step.timeout, metadata=metadata)
                except grpc.RpcError as error:
                    failed_on, failed_with = step.state.endpoint.text, error
                    step = flow.send(error)
                    continue
                except ValueError as error:
                    if not closed_channel(error):
                        raise
                    failed_on, failed_with = step.state.endpoint.text, CHANNEL_CLOSED
                    step = flow.send(CHANNEL_CLOSED)
                    continue
                finally:
                    if fork_gate is not None:
                        leave_call(fork_gate)
                self._balancer.call_succeeded(step.state)
                return response
            if isinstance(step, Wait):
                time.sleep(step.seconds)
            elif isinstance(step, Refresh):
                self._tokens.refresh(sent_with)
            step = next(flow)

    def _check_release(
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
                status = self.unary_unary_on(
                    state.endpoint.text, MAINTENANCE_STATUS, rpc_pb2.StatusRequest(), seconds
                )
            except EtcdError:
                return  # cannot tell: the call itself will find out
            state.learned_version(status.version)
        refuse_if_newer(used, state.endpoint.text, state.version)

    def unary_unary_on(
        self,
        endpoint: str,
        spec: MethodSpec[RequestT, ResponseT],
        request: RequestT,
        timeout: Timeout,
    ) -> ResponseT:
        """One call to one member (operator calls: status, defragment, hash_kv ...).

        No failover, by design: the caller chose the member. A refused token is
        refreshed and the call sent once more.
        """
        if not self._gate.active:
            self._gate.activate()
        state = self._balancer.state_for(endpoint)
        seconds = resolve_timeout(timeout, self._settings.timeout)
        # Never the SAFE lane: an eviction would cut the call with nowhere else to send it.
        lane = Lane.AT_MOST_ONCE
        for attempt in (1, 2):
            metadata = self._tokens.ensure()
            call = self._pool.callable(state, lane, spec)
            fork_gate = enter_call()
            try:
                response: ResponseT = call(request, timeout=seconds, metadata=metadata)
            except grpc.RpcError as error:
                if attempt == 1 and self._decisions.token_rejected(error):
                    self._tokens.refresh(metadata)
                    continue
                raise self._decisions.map_error(error) from error
            finally:
                leave_call(fork_gate)
            self._balancer.call_succeeded(state)
            return response
        raise AssertionError("unreachable")

    # -- streams ----------------------------------------------------------------------------

    def _open_stream(
        self, spec: MethodSpec[Any, Any], endpoint: str | None = None
    ) -> tuple[EndpointState, Any, Metadata]:
        if not self._gate.active:
            self._gate.activate()
        state = (
            self._balancer.pick(False) if endpoint is None else self._balancer.state_for(endpoint)
        )
        metadata = self._stream_metadata + (self._tokens.ensure() or ())
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
    ) -> ResponseStream[ResponseT]:
        if self._settings.max_send_bytes is not None:
            check_size(spec, request, self._settings.max_send_bytes, self._oversize_error)
        seconds = resolve_timeout(timeout, self._settings.stream_timeout)
        state, call, metadata = self._open_stream(spec, endpoint)
        return MappedStream(
            _start_stream(state, lambda: call(request, timeout=seconds, metadata=metadata)),
            self,
            state,
        )

    def stream_stream(
        self,
        spec: MethodSpec[RequestT, ResponseT],
        requests: Iterable[RequestT],
        timeout: Timeout,
    ) -> ResponseStream[ResponseT]:
        if spec.kind is not CallKind.STREAM_STREAM:
            raise TypeError(f"{spec.path} is not a bidirectional stream")
        seconds = resolve_timeout(timeout, self._settings.stream_timeout)
        state, call, metadata = self._open_stream(spec)
        return MappedStream(
            _start_stream(state, lambda: call(iter(requests), timeout=seconds, metadata=metadata)),
            self,
            state,
        )


def _start_stream(state: EndpointState, start: Callable[[], Any]) -> Any:
    """Start a stream call; a channel closed under it (the health prober evicted the
    member between the pick and the call) is the same "re-open it elsewhere" error as
    a stream cut by that eviction, so the watch and lease runtimes re-open it."""
    try:
        return start()
    except ValueError as error:
        if not closed_channel(error):
            raise
        raise evicted_stream_error(state) from error


def stream_error(
    balancer: Balancer,
    decisions: Decisions,
    state: EndpointState,
    generation: int,
    error: grpc.RpcError,
) -> EtcdError:
    """The etcdgen error for a failed stream (and the balancer told about it)."""
    code, details = status_of(error)
    if code is grpc.StatusCode.CANCELLED and state.generation != generation:
        mapped = evicted_stream_error(state)
    else:
        if code is grpc.StatusCode.UNAVAILABLE and not details.startswith("etcdserver:"):
            balancer.call_failed(state, True, details)
        mapped = decisions.map_error(error)
    mapped.__cause__ = error
    return mapped


def evicted_stream_error(state: EndpointState) -> EtcdError:
    """A stream ended because its member was found unhealthy (re-open it elsewhere)."""
    why = "was removed from the endpoint list" if state.removed else "stopped answering"
    return UnavailableError(
        f"{state.endpoint.text} {why} ({state.last_error or state.health.value}); the "
        "stream was closed so that it can be re-opened on a healthy member",
        grpc.StatusCode.UNAVAILABLE,
    )


class MappedStream:
    """A response stream whose errors are etcdgen exceptions; `cancel()` ends it.

    `endpoint` names the member serving it; streams are not re-opened here -
    the watch and lease runtimes re-open them (on a healthy member, picked
    anew) with their own state.
    """

    def __init__(self, call: Any, invoker: GrpcInvoker, state: EndpointState) -> None:
        self._call = call
        self._invoker = invoker
        self._state = state
        self._generation = state.generation
        self.endpoint = state.endpoint.text

    def __iter__(self) -> MappedStream:
        return self

    def __next__(self) -> Any:
        try:
            return next(self._call)
        except grpc.RpcError as error:
            raise self._invoker.stream_error(self._state, self._generation, error) from error

    def cancel(self) -> None:
        self._call.cancel()
