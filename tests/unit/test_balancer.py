"""Endpoint selection and the failover decisions, without a server.

The gRPC errors here are hand-made (`FakeRpcError`): they stand for what a
real server or channel reports, so that each rule can be driven exactly.
The same rules run against real clusters in tests/faults/.
"""

from __future__ import annotations

from collections import Counter

import grpc
import pytest

import etcdgen
from etcdgen._core.balancer import Balancer, Health, ProbeResult
from etcdgen._core.endpoints import parse_endpoints
from etcdgen._core.flow import (
    CHANNEL_CLOSED,
    CallContext,
    CallSettings,
    Decisions,
    Refresh,
    Send,
    Wait,
)
from etcdgen._core.retry import RetrySettings
from etcdgen.generated import methods
from etcdgen.generated.errors import error_from_rpc


class FakeRpcError(grpc.RpcError):
    def __init__(self, code: grpc.StatusCode, details: str) -> None:
        self._code, self._details = code, details

    def code(self) -> grpc.StatusCode:
        return self._code

    def details(self) -> str:
        return self._details


UNSENT = FakeRpcError(grpc.StatusCode.UNAVAILABLE, "failed to connect to all addresses")
RESET = FakeRpcError(grpc.StatusCode.UNAVAILABLE, "Connection reset by peer")
EXPIRED = FakeRpcError(grpc.StatusCode.UNAUTHENTICATED, "etcdserver: invalid auth token")


def balancer(n: int = 3) -> Balancer:
    b = Balancer(parse_endpoints([f"127.0.0.1:{2379 + i}" for i in range(n)]))
    for state in b.states:
        b.probed(state, ProbeResult(answered=True, leader_known=True))
    return b


def test_picks_rotate_over_healthy_members_only() -> None:
    b = balancer()
    b.probed(b.states[1], ProbeResult(answered=False, timed_out=True, error="frozen"))
    counts = Counter(b.pick().endpoint.port for _ in range(100))
    assert set(counts) == {2379, 2381} and abs(counts[2379] - counts[2381]) <= 1


def test_when_nothing_is_healthy_calls_still_go_somewhere() -> None:
    b = balancer(2)
    for state in b.states:
        b.probed(state, ProbeResult(answered=False, error="refused"))
    assert b.pick() in b.states


def test_eviction_only_when_another_member_can_serve() -> None:
    b = balancer(2)
    a, c = b.states
    assert b.probed(a, ProbeResult(answered=False, timed_out=True)) is True
    # The last healthy one freezing too: nowhere to go, keep its calls waiting.
    assert b.probed(c, ProbeResult(answered=False, timed_out=True)) is False


def test_no_leader_evicts_only_a_partitioned_member() -> None:
    b = balancer(3)
    assert b.probed(b.states[0], ProbeResult(answered=True, leader_known=False)) is True
    assert b.states[0].health is Health.NO_LEADER
    # Cluster-wide election: once no other member has a leader, nothing is evicted.
    b.probed(b.states[1], ProbeResult(answered=True, leader_known=False))
    assert b.probed(b.states[2], ProbeResult(answered=True, leader_known=False)) is False


def test_learners_get_only_what_learners_serve() -> None:
    b = balancer(2)
    b.probed(b.states[1], ProbeResult(answered=True, leader_known=True, learner=True))
    assert {b.pick().endpoint.port for _ in range(10)} == {2379}
    assert {b.pick(learner_ok=True).endpoint.port for _ in range(10)} == {2379, 2380}


def test_replace_keeps_known_state_and_marks_dropped() -> None:
    b = balancer(2)
    kept, gone = b.states
    dropped = b.replace(parse_endpoints(["127.0.0.1:2379", "127.0.0.1:2400"]))
    assert dropped == [gone] and gone.removed
    assert b.states[0] is kept and b.states[1].health is Health.UNKNOWN


def test_rejected_members_are_never_picked() -> None:
    b = balancer(1)
    b.probed(b.states[0], ProbeResult(answered=True, rejected=True, error="etcd 3.3.9 is older"))
    with pytest.raises(etcdgen.UnsupportedClusterError, match=r"3\.3\.9"):
        b.pick()


# -- the decision generator -----------------------------------------------------------------


def decisions(b: Balancer, token_check: bool = False) -> Decisions:
    settings = CallSettings(5.0, None, 5.0, RetrySettings(), 2 * 1024 * 1024)
    check = (lambda e: e is EXPIRED) if token_check else None
    return Decisions(b, settings, error_from_rpc, check)  # type: ignore[arg-type]


def context(spec: object, timeout: float = 5.0) -> CallContext:
    import time

    now = time.monotonic()
    return CallContext(spec, now, now + timeout, timeout, False)  # type: ignore[arg-type]


def test_safe_call_moves_to_an_untried_member_without_waiting() -> None:
    b = balancer()
    b.connected = True
    first = Send(b.states[0], 0, 5.0)
    flow = decisions(b).recover(context(methods.KV_RANGE), first, RESET)
    step = next(flow)
    assert isinstance(step, Send) and step.state is not b.states[0]


def test_write_after_a_reset_is_not_resent() -> None:
    b = balancer()
    b.connected = True
    flow = decisions(b).recover(context(methods.KV_PUT), Send(b.states[0], 0, 5.0), RESET)
    with pytest.raises(etcdgen.UnavailableError):
        next(flow)


def test_write_that_was_never_sent_is_resent_elsewhere() -> None:
    b = balancer()
    b.connected = True
    flow = decisions(b).recover(context(methods.KV_PUT), Send(b.states[0], 0, 5.0), UNSENT)
    step = next(flow)
    assert isinstance(step, Send) and step.state is not b.states[0]
    assert b.states[0].health is Health.UNREACHABLE


def test_evicted_read_is_resent_and_evicted_write_says_outcome_unknown() -> None:
    b = balancer()
    b.connected = True
    frozen = b.states[0]
    sent = Send(frozen, frozen.generation, 5.0)
    b.probed(frozen, ProbeResult(answered=False, timed_out=True, error="no answer"))
    b.evicted(frozen)
    cancelled = FakeRpcError(grpc.StatusCode.CANCELLED, "Channel closed!")
    step = next(decisions(b).recover(context(methods.KV_RANGE), sent, cancelled))
    assert isinstance(step, Send) and step.state is not frozen
    with pytest.raises(etcdgen.UnavailableError, match="may or may not have been applied"):
        next(decisions(b).recover(context(methods.KV_PUT), sent, CHANNEL_CLOSED))


def test_token_rejection_refreshes_once_then_resends_even_a_write() -> None:
    b = balancer()
    b.connected = True
    flow = decisions(b, token_check=True).recover(
        context(methods.KV_PUT), Send(b.states[0], 0, 5.0), EXPIRED
    )
    assert isinstance(next(flow), Refresh)
    step = next(flow)
    assert isinstance(step, Send) and step.state is b.states[0]
    with pytest.raises(etcdgen.InvalidAuthTokenError):
        flow.send(EXPIRED)  # a second rejection is final


def test_backoff_once_every_member_was_tried() -> None:
    b = balancer(2)
    b.connected = True
    flow = decisions(b).recover(context(methods.KV_RANGE), Send(b.states[0], 0, 5.0), RESET)
    step = next(flow)
    assert isinstance(step, Send)
    assert isinstance(flow.send(RESET), Wait)


def test_final_deadline_error_states_the_timeout_and_unknown_outcome() -> None:
    b = balancer(1)
    b.connected = True
    late = FakeRpcError(grpc.StatusCode.DEADLINE_EXCEEDED, "Deadline Exceeded")
    flow = decisions(b).recover(context(methods.KV_PUT, 1.5), Send(b.states[0], 0, 1.5), late)
    with pytest.raises(etcdgen.DeadlineExceededError) as raised:
        next(flow)
    assert "1.5 s timeout" in str(raised.value)
    assert "may or may not have been applied" in str(raised.value)
    assert raised.value.__cause__ is late


def test_never_connected_gives_connection_failed_naming_each_endpoint() -> None:
    b = Balancer(parse_endpoints(["127.0.0.1:1", "localhost:2"]))
    ctx = context(methods.KV_RANGE, 0.05)
    flow = decisions(b).recover(ctx, Send(b.states[0], 0, 0.05), UNSENT)
    with pytest.raises(etcdgen.ConnectionFailedError) as raised:
        step = next(flow)
        while True:
            step = flow.send(UNSENT) if isinstance(step, Send) else next(flow)
    message = str(raised.value)
    assert "127.0.0.1:1" in message and "localhost:2" in message
    assert "within 0.05 s (timeout)" in message
