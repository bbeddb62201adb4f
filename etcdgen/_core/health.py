"""Health probes: what a probe's outcome means, and the sync prober thread.

A probe is one cheap unary call per endpoint (the connection layer passes
`Maintenance.Status`: served without consensus, it says whether the member
knows a leader and whether it is a learner), sent on the endpoint's SAFE
channel with a short timeout. Rounds start every `interval` seconds; all
endpoints are probed at once, so a round lasts at most `timeout`.

Worst case from a member freezing to its calls being resent elsewhere:
`interval + timeout` (1.5 s with the defaults), well under the usual 5 s
deadline.

The prober thread holds the pool and the balancer but never the client, so
an unclosed client can still be garbage-collected (its finalizer stops the
thread). It is a daemon and waits on an Event, so `close()` ends it at once.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import grpc
from google.protobuf.message import Message

from . import fork
from .balancer import Balancer, EndpointState, ProbeResult
from .errors import status_of
from .events import Events
from .pool import ChannelPool, Lane
from .spec import MethodSpec


@dataclass(frozen=True, slots=True)
class StatusInfo:
    """What the connection layer reads from a Status reply."""

    leader_known: bool
    learner: bool
    version: str
    #: Why the client refuses this member ("" if it does not).
    rejected: str = ""


@dataclass(frozen=True, slots=True)
class ProbeSpec:
    """What to send as a health probe, and how often.

    Two calls at once per endpoint: `status` (leader, learner flag, version;
    answered from the member's own state) and `read`, a linearizable read.
    The read is what proves the member is useful: a member cut off from its
    peers still answers Status (and may still name its old leader for a
    while), but cannot complete a linearizable read. A server-side refusal of
    the read (permission denied, "not supported for learner") still proves
    the member answers, as `etcdctl endpoint health` also counts it.

    Probes carry no auth token: Status needs none, and a tokenless read is
    refused only after the consensus step it is meant to test ("user name is
    empty"). So probes neither depend on auth nor keep a simple token alive
    (its TTL slides with every use) - token expiry and refresh stay visible.
    """

    status: MethodSpec[Any, Any]
    status_request: Message
    read: MethodSpec[Any, Any]
    read_request: Message
    interpret: Callable[[Any], StatusInfo]
    interval: float
    timeout: float


_NOT_ANSWERED = (
    grpc.StatusCode.DEADLINE_EXCEEDED,
    grpc.StatusCode.UNAVAILABLE,
    grpc.StatusCode.CANCELLED,
    None,
)


def probe_result(
    spec: ProbeSpec,
    status: Any | None,
    status_error: grpc.RpcError | None,
    read_error: grpc.RpcError | None,
    latency: float,
) -> ProbeResult:
    """Combine the two calls of a probe into one verdict (see ProbeSpec)."""
    info = spec.interpret(status) if status is not None else None
    learner = info.learner if info is not None else False
    version = info.version if info is not None else ""
    if info is not None and info.rejected:
        return ProbeResult(
            answered=True, version=version, latency=latency, error=info.rejected, rejected=True
        )
    read_code, read_details = (
        status_of(read_error) if read_error is not None else (grpc.StatusCode.OK, "")
    )
    if read_code not in _NOT_ANSWERED or (learner and read_code is grpc.StatusCode.UNAVAILABLE):
        # Answered (a refusal is an answer; a learner refuses linearizable reads).
        leader = info.leader_known if info is not None else True
        error = read_details if read_error is not None and not learner else ""
        return ProbeResult(
            answered=True,
            leader_known=leader,
            learner=learner,
            version=version,
            latency=latency,
            error=error,
        )
    if read_code is grpc.StatusCode.DEADLINE_EXCEEDED:
        why = (
            "answers Status but a linearizable read timed out (cut off from its peers?)"
            if info is not None
            else f"no answer to a health probe within {spec.timeout:g} s"
        )
        return ProbeResult(
            answered=False, timed_out=True, learner=learner, version=version, error=why
        )
    if read_details.startswith("etcdserver:") or info is not None:
        # The member answered, but has no leader to serve reads with.
        return ProbeResult(
            answered=True,
            leader_known=False,
            learner=learner,
            version=version,
            latency=latency,
            error=read_details or "the member has no leader",
        )
    if status_error is not None and status_of(status_error)[0] is grpc.StatusCode.DEADLINE_EXCEEDED:
        return ProbeResult(
            answered=False,
            timed_out=True,
            error=f"no answer to a health probe within {spec.timeout:g} s",
        )
    return ProbeResult(answered=False, error=read_details or "connection failed")


def apply_probe(
    balancer: Balancer,
    events: Events,
    state: EndpointState,
    generation: int,
    result: ProbeResult,
) -> bool:
    """Record a probe result; True when the endpoint's SAFE channel must be closed now."""
    if state.removed or state.generation != generation:
        return False  # the channel it ran on is gone already
    evict = balancer.probed(state, result)
    if evict:
        balancer.evicted(state)
        events.emit("evict", state.endpoint.text, state.last_error, state.health.value)
    return evict


class Prober:
    """The background thread of a sync client: health rounds and member sync."""

    def __init__(
        self,
        pool: ChannelPool[grpc.Channel],
        balancer: Balancer,
        events: Events,
        probe: ProbeSpec,
        *,
        sync_endpoints: Callable[[], object] | None = None,
        sync_interval: float | None = None,
    ) -> None:
        self._pool = pool
        self._balancer = balancer
        self._events = events
        self._probe = probe
        self._sync = sync_endpoints
        self._sync_interval = sync_interval
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="etcdgen-health", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()

    def forget_thread(self) -> None:
        """After fork: the thread did not survive; a new one may start later."""
        self._thread = None
        self._stop = threading.Event()

    def _run(self) -> None:
        probe = self._probe
        next_sync = time.monotonic() + (self._sync_interval or 0.0)
        while not self._stop.is_set():
            started = time.monotonic()
            try:
                self.round()
                if self._sync is not None and self._sync_interval and started >= next_sync:
                    next_sync = started + self._sync_interval
                    self._sync_quietly()
            except Exception:  # closed under us, or a fork: end quietly
                if self._stop.is_set() or self._pool.closed:
                    return
            self._stop.wait(max(probe.interval - (time.monotonic() - started), 0.05))

    def round(self) -> None:
        """Probe every endpoint once, all at the same time.

        The calls run inside `fork.guard()`: a fork made while this thread is in
        a gRPC call could leave the child deadlocked in gRPC's fork handler, so
        a fork waits (at most one probe timeout) for the round to end.
        """
        probe = self._probe
        calls = []
        for state in self._balancer.states:
            if self._pool.closed:
                return
            status = self._pool.callable(state, Lane.SAFE, probe.status)
            read = self._pool.callable(state, Lane.SAFE, probe.read)
            calls.append((state, state.generation, status, read))
        results = []
        with fork.guard():
            pending = [
                (
                    state,
                    generation,
                    time.monotonic(),
                    status.future(probe.status_request, timeout=probe.timeout),
                    read.future(probe.read_request, timeout=probe.timeout),
                )
                for state, generation, status, read in calls
            ]
            for state, generation, sent, status_future, read_future in pending:
                outcomes = [_outcome(status_future), _outcome(read_future)]
                if any(outcome is _GONE for outcome in outcomes):
                    continue  # the channel was closed under the probe
                (reply, status_error), (_, read_error) = outcomes
                latency = time.monotonic() - sent
                results.append(
                    (
                        state,
                        generation,
                        probe_result(probe, reply, status_error, read_error, latency),
                    )
                )
        for state, generation, result in results:
            if apply_probe(self._balancer, self._events, state, generation, result):
                self._pool.evict(state)
            elif REMAKE_REFUSED and not result.answered and not result.timed_out:
                # grpcio < 1.80 waits ~15 s to reconnect to a restarted member unless
                # something watches the channel: re-make it so the next probe dials
                # afresh. Its close can block for seconds there, so it runs aside.
                self._balancer.evicted(state)
                self._pool.evict(state, aside=True)

    def _sync_quietly(self) -> None:
        try:
            assert self._sync is not None
            with fork.guard():
                self._sync()
        except Exception as error:  # the next round tries again
            self._events.emit("endpoints", "", f"member sync failed: {error}")


_GONE = object()


def _grpc_older_than(major: int, minor: int) -> bool:
    try:
        found = tuple(int(part) for part in grpc.__version__.split(".")[:2])
    except ValueError:
        return False
    return found < (major, minor)


#: Whether refused endpoints get a new channel each probe round (see Prober.round).
REMAKE_REFUSED = _grpc_older_than(1, 80)


def _outcome(future: Any) -> Any:
    """(response, None), (None, error), or _GONE when the call was cancelled under us."""
    try:
        return future.result(), None
    except grpc.RpcError as error:
        return None, error
    except grpc.FutureCancelledError:
        return _GONE
