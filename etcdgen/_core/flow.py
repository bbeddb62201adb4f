"""Every decision of a unary call, written once for the sync and asyncio drivers.

A driver (`invoker.py`, `aio_invoker.py`) sends the first attempt itself -
the fast path, no allocation beyond gRPC's own. When that attempt fails it
hands the failure to `recover()`, a generator that yields what to do next:

    Send(state, generation, timeout)   send the request on this endpoint
    Wait(seconds)                      back off, then ask again
    Refresh()                          get a new auth token (single flight), then ask again

and receives the outcome of each `Send` (the `Failure`). It ends by raising
the error to give the caller; a driver that gets a response simply stops
asking. The drivers differ only in how they block (`time.sleep` vs `await`),
which is the shape httpx uses for its auth flows.

The rules (after etcd's Go client, and stricter where it is unsafe):
- `RetryClass.SAFE` calls are resent on UNAVAILABLE, preferring a member not yet
  tried; when every candidate was tried, back off (25 ms doubling to 1 s,
  +/-10 % jitter). They are also resent at once when the balancer closed their
  channel because the member stopped answering probes (see `balancer.py`).
- `RetryClass.IF_NOT_SENT` calls (writes) are resent only when gRPC could not
  connect at all for that attempt: the request never left the process.
- A call rejected for its auth token is resent once after a refresh,
  whatever its class: etcd rejects such calls before applying them.
- Before any member ever answered, attempts are bounded by `connect_timeout`
  and failure is a `ConnectionFailedError` listing every endpoint's last error.
- When retries end, the last real error is raised (attempt count kept);
  deadline errors state the timeout that applied and, for writes, that the
  outcome is unknown.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Generator
from dataclasses import dataclass

import grpc

from .balancer import Balancer, EndpointState
from .describe import describe_call
from .errors import ConnectionFailedError, EtcdError, UnavailableError, status_of
from .retry import RetrySettings, is_retryable, never_sent
from .spec import MethodSpec, RetryClass

ErrorMapper = Callable[[grpc.RpcError], EtcdError]
TokenCheck = Callable[[grpc.RpcError], bool]


@dataclass(frozen=True, slots=True)
class CallSettings:
    """The client-wide numbers every call uses."""

    #: Default deadline of a unary call, retries included; None: no deadline.
    timeout: float | None
    #: Default deadline of a stream; None (streams live until cancelled).
    stream_timeout: float | None
    #: How long calls wait for a first answer from any member.
    connect_timeout: float
    retry: RetrySettings
    #: Largest request sent; None: no local check.
    max_send_bytes: int | None


@dataclass(slots=True)
class Send:
    state: EndpointState
    generation: int
    #: Seconds for this attempt (None: no deadline).
    timeout: float | None


@dataclass(frozen=True, slots=True)
class Wait:
    seconds: float


@dataclass(frozen=True, slots=True)
class Refresh:
    pass


Step = Send | Wait | Refresh

#: What an attempt ended with: the gRPC error, or `CHANNEL_CLOSED` when the
#: channel was closed under the call (gRPC raises ValueError when a call is
#: started on a channel another thread has just closed).
CHANNEL_CLOSED = object()
Failure = grpc.RpcError | object


def describe_failure(failure: Failure) -> str:
    """An attempt's failure, for the "retry" event and the logs."""
    if isinstance(failure, grpc.RpcError):
        code, details = status_of(failure)
        return f"{code.name if code is not None else 'UNKNOWN'}: {details}"
    return "the channel was closed under the call (its member was failed away from)"


@dataclass(slots=True)
class CallContext:
    """What `recover` needs to know about the call it is recovering."""

    spec: MethodSpec[object, object]  # type: ignore[type-var]
    started: float
    deadline: float | None
    #: The timeout the caller asked for (for messages), None: no deadline.
    timeout: float | None
    learner_ok: bool
    #: The request, for messages that name its key (see describe.py).
    request: object = None
    #: Attempts sent so far, and the endpoint of the last (for the "call" event).
    attempts: int = 1
    last_endpoint: str = ""


class Decisions:
    """The balancer, the settings and the error mapping: all a call's choices need."""

    def __init__(
        self,
        balancer: Balancer,
        settings: CallSettings,
        map_error: ErrorMapper,
        is_token_error: TokenCheck | None,
    ) -> None:
        self.balancer = balancer
        self.settings = settings
        self.map_error = map_error
        self._is_token_error = is_token_error

    def first_timeout(self, started: float, deadline: float | None) -> float | None:
        """The first attempt's timeout: bounded by connect_timeout until a member answered."""
        remaining = None if deadline is None else deadline - started
        if self.balancer.connected:
            return remaining
        connect_left = self.settings.connect_timeout
        return connect_left if remaining is None else min(remaining, connect_left)

    def recover(
        self, ctx: CallContext, first: Send, failure: Failure
    ) -> Generator[Step, Failure, None]:
        """Decide what follows a failed attempt; see the module docstring."""
        attempt, sent, refreshed = 1, first, False
        tried: list[EndpointState] = [first.state]
        retry = self.settings.retry
        policy = ctx.spec.policy.retry
        while True:
            code, details = (
                (grpc.StatusCode.CANCELLED, "channel closed")
                if failure is CHANNEL_CLOSED
                else status_of(failure)  # type: ignore[arg-type]
            )
            # Cancelled because the balancer closed the channel under the call?
            ours = code is grpc.StatusCode.CANCELLED and (
                failure is CHANNEL_CLOSED or sent.state.generation != sent.generation
            )
            unsent = never_sent(code, details)
            connect_bound = self._connect_bound(ctx, sent, code)
            if unsent:
                self.balancer.call_failed(sent.state, True, details or "connect failed")
            elif connect_bound:
                # Keep an earlier, more telling error (a TLS failure, a refusal).
                why = sent.state.last_error or f"no answer within {sent.timeout or 0:.2g} s"
                self.balancer.call_failed(sent.state, True, why)
            elif code is grpc.StatusCode.UNAVAILABLE:
                self.balancer.call_failed(sent.state, _connection_lost(details), details)

            if (
                not refreshed
                and not ours
                and self._is_token_error is not None
                and self._is_token_error(failure)  # type: ignore[arg-type]
            ):
                refreshed = True  # rejected before it was applied: safe to resend
                yield Refresh()
                sent = self._send(sent.state, ctx)
                failure = yield sent
                continue

            if ours and policy is not RetryClass.SAFE:
                raise self._outcome_unknown(ctx, sent, attempt)
            may_retry = ours or connect_bound or is_retryable(policy, code, details)
            if connect_bound and policy is not RetryClass.SAFE:
                may_retry = False  # it may have reached the member at the last moment
            if not may_retry or attempt >= retry.max_attempts:
                raise self._final_error(ctx, failure, attempt, sent, connect_bound)
            if not self.balancer.connected and self._connect_spent(ctx):
                raise self._connection_failed(ctx, attempt, failure)

            state, all_tried = self.balancer.pick_again(tried, ctx.learner_ok)
            if all_tried or not (
                ours or unsent or connect_bound or code is grpc.StatusCode.UNAVAILABLE
            ):
                delay = retry.delay(attempt)
                now = time.monotonic()
                if ctx.deadline is not None and now + delay >= ctx.deadline:
                    raise self._final_error(ctx, failure, attempt, sent, connect_bound)
                yield Wait(delay)
                if all_tried:
                    tried.clear()
                    state, _ = self.balancer.pick_again(tried, ctx.learner_ok)
            tried.append(state)
            attempt += 1
            sent = self._send(state, ctx)
            if sent.timeout is not None and sent.timeout <= 0:
                raise self._final_error(ctx, failure, attempt - 1, sent, connect_bound)
            failure = yield sent

    def token_rejected(self, error: grpc.RpcError) -> bool:
        """The call was refused for its auth token (refresh it and send again)."""
        return self._is_token_error is not None and self._is_token_error(error)

    # -- pieces -----------------------------------------------------------------------------

    def _send(self, state: EndpointState, ctx: CallContext) -> Send:
        now = time.monotonic()
        timeout = None if ctx.deadline is None else max(ctx.deadline - now, 0.0)
        if not self.balancer.connected:
            connect_left = max(ctx.started + self.settings.connect_timeout - now, 0.001)
            timeout = connect_left if timeout is None else min(timeout, connect_left)
        return Send(state, state.generation, timeout)

    def _connect_bound(self, ctx: CallContext, sent: Send, code: grpc.StatusCode | None) -> bool:
        """The attempt hit the connect_timeout bound, not the caller's deadline."""
        if code is not grpc.StatusCode.DEADLINE_EXCEEDED or sent.state.connected:
            return False
        return ctx.deadline is None or time.monotonic() < ctx.deadline - 0.001

    def _connect_spent(self, ctx: CallContext) -> bool:
        return time.monotonic() - ctx.started >= self.settings.connect_timeout

    def _connection_failed(
        self, ctx: CallContext, attempts: int, failure: Failure
    ) -> ConnectionFailedError:
        states = self.balancer.states
        names = tuple(s.endpoint.text for s in states)
        limit = self.settings.connect_timeout
        if ctx.timeout is not None and ctx.timeout < limit:
            limit, what = ctx.timeout, "timeout"
        else:
            what = "connect_timeout"
        errors = "; ".join(f"{s.endpoint.text}: {s.last_error or 'no answer'}" for s in states)
        return ConnectionFailedError(
            f"could not connect to {', '.join(names)} within {limit:g} s ({what}); {errors}",
            names,
            attempts=attempts,
        )

    def _final_error(
        self, ctx: CallContext, failure: Failure, attempts: int, sent: Send, connect_bound: bool
    ) -> EtcdError:
        if failure is CHANNEL_CLOSED:
            return self._outcome_unknown(ctx, sent, attempts)
        error: grpc.RpcError = failure  # type: ignore[assignment]
        code, details = status_of(error)
        if not self.balancer.connected and (connect_bound or never_sent(code, details)):
            return self._connection_failed(ctx, attempts, failure)
        mapped = self.map_error(error)
        mapped.attempts = attempts
        mapped.__cause__ = error
        if code is grpc.StatusCode.PERMISSION_DENIED:
            mapped.details = (
                f"{details}: {describe_call(ctx.spec.name, ctx.request)} is not allowed for "
                "this user (grant a role the permission with role_grant_permission)"
            )
        if code is grpc.StatusCode.DEADLINE_EXCEEDED and ctx.timeout is not None:
            mapped.details = (
                f"{ctx.spec.name} did not complete within its {ctx.timeout:g} s timeout "
                f"(last sent to {sent.state.endpoint.text}; gRPC: {details})"
            )
            if ctx.spec.policy.retry is not RetryClass.SAFE:
                mapped.details += (
                    f"; the {ctx.spec.name} may or may not have been applied: read the "
                    "key to find out before retrying"
                )
        return mapped

    def _outcome_unknown(self, ctx: CallContext, sent: Send, attempts: int) -> EtcdError:
        state = sent.state
        why = "was removed from the endpoint list" if state.removed else "stopped answering"
        return UnavailableError(
            f"{state.endpoint.text} {why} while the {ctx.spec.name} was in flight "
            f"({state.last_error or state.health.value}); the {ctx.spec.name} may or may "
            "not have been applied: read the key to find out before retrying",
            grpc.StatusCode.UNAVAILABLE,
            attempts=attempts,
        )


def _connection_lost(details: str) -> bool:
    """UNAVAILABLE wording that means the connection, not etcd, failed."""
    return not details.startswith("etcdserver:")
