"""Endpoint health and selection: plain state, no I/O.

The drivers (sync threads, asyncio tasks) feed this module what they saw -
a health probe's answer, a call's failure - and ask it which endpoint the
next attempt should use. Keeping it free of I/O lets it be unit-tested
without a server and shared by both modes.

Health of an endpoint, from the periodic probe (`Maintenance.Status`, cheap,
served without consensus, and it reports the member's leader and learner flag):

- `HEALTHY`: answered and knows a leader.
- `NO_LEADER`: answered but has no leader (partitioned from its peers, or an
  election is running). Linearizable calls there would hang.
- `UNRESPONSIVE`: the probe timed out: a frozen process (SIGSTOP keeps TCP
  open) or a black-holed network.
- `UNREACHABLE`: connections are refused or fail (a dead member).
- `UNKNOWN`: not probed yet.

Selection: round-robin over the best tier that has members (healthy, then
unknown, then the rest), skipping endpoints this call already tried while
others remain. A learner only gets the calls a learner serves (serializable
Range and Status).

Eviction: when an endpoint turns unresponsive, or loses its leader while
another member still has one, its channel is closed (by the pool). gRPC then
ends every call on it at once, so a read waiting on a frozen member is sent
elsewhere long before its deadline instead of hanging (Go's client cannot do
this). The endpoint's `generation` is bumped so that the call's driver can
tell "we closed it" (safe calls: resend elsewhere; writes: outcome unknown)
from other failures.
"""

from __future__ import annotations

import enum
import itertools
import time
from collections.abc import Iterable
from dataclasses import dataclass

from .endpoints import Endpoint, InvalidEndpointError, parse_endpoint
from .errors import EtcdError, UnsupportedClusterError
from .events import Events
from .server_version import release_key


class Health(enum.Enum):
    HEALTHY = "healthy"
    UNKNOWN = "unknown"
    NO_LEADER = "no_leader"
    UNRESPONSIVE = "unresponsive"
    UNREACHABLE = "unreachable"
    #: Refused by the client's own rule (reject_old_cluster): never sent calls.
    REJECTED = "rejected"


# Lower is preferred.
_TIER = {
    Health.HEALTHY: 0,
    Health.UNKNOWN: 1,
    Health.NO_LEADER: 2,
    Health.UNREACHABLE: 3,
    Health.UNRESPONSIVE: 3,
    Health.REJECTED: 9,
}


@dataclass(frozen=True, slots=True)
class EndpointHealth:
    """What `client.endpoint_health()` reports for one endpoint.

    Attributes:
        endpoint: the endpoint string.
        healthy: the last probe answered and the member knows a leader.
        state: "healthy", "unknown" (not probed yet), "no_leader", "unresponsive"
            (probe timed out) or "unreachable" (connection failed).
        leader_known: the member reported a leader at the last probe.
        learner: the member is a raft learner (serves only serializable reads).
        version: the server version from the last answered probe ("" if none yet).
        last_error: the last probe or call failure, "" if none since the last success.
        last_probe_latency: seconds the last answered probe took (None before one).
        last_probe_at: `time.monotonic()` of the last probe result (None before one).
    """

    endpoint: str
    healthy: bool
    state: str
    leader_known: bool
    learner: bool
    version: str
    last_error: str
    last_probe_latency: float | None
    last_probe_at: float | None


class EndpointState:
    """Mutable health of one endpoint (written by probes and failed calls)."""

    __slots__ = (
        "connected",
        "endpoint",
        "evicted_while_bad",
        "generation",
        "health",
        "last_error",
        "last_probe_at",
        "last_probe_latency",
        "leader_known",
        "learner",
        "release",
        "removed",
        "version",
    )

    def __init__(self, endpoint: Endpoint) -> None:
        self.endpoint = endpoint
        self.health = Health.UNKNOWN
        self.leader_known = False
        self.learner = False
        self.version = ""
        #: `version` as comparable numbers, `()` until known (see server_version.py).
        self.release: tuple[int, ...] = ()
        self.last_error = ""
        self.last_probe_latency: float | None = None
        self.last_probe_at: float | None = None
        #: Bumped whenever this endpoint's channel is closed by us (eviction).
        self.generation = 0
        #: Some call or probe succeeded on it (a connection was established once).
        self.connected = False
        #: Dropped from the endpoint list by a member sync; its channel is closed.
        self.removed = False
        #: Its SAFE channel was closed since it last was healthy (close once per episode).
        self.evicted_while_bad = False

    def __repr__(self) -> str:
        return f"<EndpointState {self.endpoint.text} {self.health.value} gen={self.generation}>"

    def learned_version(self, version: str) -> None:
        self.version = version
        self.release = release_key(version)

    def report(self) -> EndpointHealth:
        return EndpointHealth(
            endpoint=self.endpoint.text,
            healthy=self.health is Health.HEALTHY,
            state=self.health.value,
            leader_known=self.leader_known,
            learner=self.learner,
            version=self.version,
            last_error=self.last_error,
            last_probe_latency=self.last_probe_latency,
            last_probe_at=self.last_probe_at,
        )


@dataclass(frozen=True, slots=True)
class ProbeResult:
    """One health probe's outcome, as a driver saw it."""

    #: The member answered (a Status response, or an answer that is an error
    #: from the server itself, e.g. permission denied).
    answered: bool
    #: The probe hit its timeout (frozen member / black hole).
    timed_out: bool = False
    leader_known: bool = False
    learner: bool = False
    version: str = ""
    latency: float = 0.0
    error: str = ""
    #: The member answered but the client refuses it (too old a version).
    rejected: bool = False


class Balancer:
    """The endpoint list, each endpoint's health, and the choice per attempt."""

    def __init__(self, endpoints: Iterable[Endpoint], events: Events | None = None) -> None:
        self._events = events if events is not None else Events(None)
        self._states: tuple[EndpointState, ...] = tuple(EndpointState(e) for e in endpoints)
        #: The health last reported per endpoint (events say where a change came from).
        self._reported: dict[EndpointState, str] = {}
        self._counter = itertools.count()
        self._voters: tuple[EndpointState, ...] = ()
        self._any: tuple[EndpointState, ...] = ()
        #: Some member answered once: from then on connect_timeout no longer applies.
        self.connected = False
        #: Some endpoint is a learner (then each call checks what it may be sent to).
        self.has_learners = False
        self._rank()

    # -- the list ---------------------------------------------------------------------------

    @property
    def states(self) -> tuple[EndpointState, ...]:
        return self._states

    @property
    def endpoints(self) -> tuple[Endpoint, ...]:
        return tuple(s.endpoint for s in self._states)

    def state_for(self, endpoint: str) -> EndpointState:
        """The state of `endpoint` (as listed, or any spelling of the same address)."""
        for state in self._states:
            if state.endpoint.text == endpoint:
                return state
        wanted = parse_endpoint(endpoint)
        for state in self._states:
            if (state.endpoint.host, state.endpoint.port) == (wanted.host, wanted.port):
                return state
        raise InvalidEndpointError(
            f"{endpoint} is not one of this client's endpoints "
            f"({', '.join(s.endpoint.text for s in self._states)})"
        )

    def replace(self, endpoints: Iterable[Endpoint]) -> list[EndpointState]:
        """Adopt a new endpoint list (member sync); returns the states that were dropped.

        Endpoints kept keep their state; the dropped ones are marked removed so
        that their channels can be closed and calls in flight there resent.
        """
        wanted = list(endpoints)
        known = {_key(s.endpoint): s for s in self._states}
        states = []
        for endpoint in wanted:
            state = known.pop(_key(endpoint), None)
            states.append(state if state is not None else EndpointState(endpoint))
        dropped = list(known.values())
        for state in dropped:
            state.removed = True
            state.generation += 1
        self._states = tuple(states)
        self._rank()
        return dropped

    # -- choosing ---------------------------------------------------------------------------

    def pick(self, learner_ok: bool = False) -> EndpointState:
        """The endpoint for a first attempt: round-robin over the best tier (hot path)."""
        ranked = self._any if learner_ok else self._voters
        if len(ranked) == 1:
            return ranked[0]
        if ranked:
            return ranked[next(self._counter) % len(ranked)]
        raise self._none_usable()

    def _none_usable(self) -> EtcdError:
        reasons = "; ".join(f"{s.endpoint.text}: {s.last_error}" for s in self._states)
        return UnsupportedClusterError(
            f"no endpoint may be used: {reasons or 'the endpoint list is empty'}"
        )

    def pick_again(
        self, tried: Iterable[EndpointState], learner_ok: bool = False
    ) -> tuple[EndpointState, bool]:
        """The endpoint for a retry, and whether every candidate was already tried.

        Prefers an untried endpoint of the best tier; when all were tried,
        starts over (the caller then backs off before sending).
        """
        seen = set(map(id, tried))
        usable = [s for s in self._states if s.health is not Health.REJECTED]
        if not usable:
            raise self._none_usable()
        candidates = [s for s in usable if learner_ok or not s.learner] or usable
        best = min(_TIER[s.health] for s in candidates)
        untried = [s for s in candidates if id(s) not in seen]
        if untried:
            best_untried = min(_TIER[s.health] for s in untried)
            # A fresh endpoint of the same tier beats sending to a known-bad one again.
            if best_untried <= best or best_untried <= _TIER[Health.UNKNOWN]:
                tier = [s for s in untried if _TIER[s.health] == best_untried]
                return tier[next(self._counter) % len(tier)], False
        tier = [s for s in candidates if _TIER[s.health] == best]
        return tier[next(self._counter) % len(tier)], True

    # -- what the drivers saw ---------------------------------------------------------------

    def call_succeeded(self, state: EndpointState) -> None:
        if not state.connected:
            state.connected = self.connected = True
        if state.health is Health.UNKNOWN or state.health is Health.UNREACHABLE:
            # The member answered a call: better than unknown until a probe says more.
            state.health = Health.HEALTHY
            state.leader_known = True
            state.last_error = ""
            self._changed(state)

    def call_failed(self, state: EndpointState, unreachable: bool, error: str) -> None:
        """A call on `state` failed; `unreachable` when no connection could be made."""
        state.last_error = error
        if unreachable and state.health is not Health.UNREACHABLE:
            state.health = Health.UNREACHABLE
            state.leader_known = False
            self._changed(state)

    def probed(self, state: EndpointState, result: ProbeResult) -> bool:
        """Record a probe result; True when the endpoint's channel should be closed now."""
        state.last_probe_at = time.monotonic()
        before, was_learner = state.health, state.learner
        if result.answered:
            state.connected = self.connected = True
            state.last_probe_latency = result.latency
            state.leader_known = result.leader_known
            state.learner = result.learner
            if result.version:
                state.learned_version(result.version)
            if result.rejected:
                state.health = Health.REJECTED
            else:
                state.health = Health.HEALTHY if result.leader_known else Health.NO_LEADER
            state.last_error = result.error if not result.leader_known else ""
            if not result.leader_known and not state.last_error:
                state.last_error = "the member has no leader"
        else:
            state.leader_known = False
            state.last_error = result.error
            state.health = Health.UNRESPONSIVE if result.timed_out else Health.UNREACHABLE
        if state.health is not before:
            self._changed(state)
        elif state.learner is not was_learner:
            self._rank()
        return self._should_evict(state, before)

    def _should_evict(self, state: EndpointState, before: Health) -> bool:
        """Close the channel only when the calls on it have somewhere better to go."""
        if state.health is Health.HEALTHY:
            state.evicted_while_bad = False
        if state.evicted_while_bad or state.health not in (Health.UNRESPONSIVE, Health.NO_LEADER):
            return False
        # For NO_LEADER this also tells a partition (others have a leader) from a
        # cluster-wide election (nobody has one: wait, do not cancel anything).
        return any(s.health is Health.HEALTHY for s in self._states if s is not state)

    def mark_learners(self, texts: set[str]) -> None:
        """Flag the endpoints a MemberList reply names as learners."""
        for state in self._states:
            state.learner = state.endpoint.text in texts
        self._rank()

    def evicted(self, state: EndpointState) -> None:
        """The pool closed `state`'s channel: calls in flight there end as ours."""
        state.generation += 1
        if state.health is not Health.HEALTHY:
            state.evicted_while_bad = True

    # -- internals --------------------------------------------------------------------------

    def _changed(self, state: EndpointState) -> None:
        self._rank()
        previous = self._reported.get(state, Health.UNKNOWN.value)
        self._reported[state] = state.health.value
        self._events.emit(
            "health", state.endpoint.text, state.last_error, state.health.value, previous=previous
        )

    def _rank(self) -> None:
        """Recompute the hot-path candidate tuples (runs on health changes only)."""
        states = tuple(s for s in self._states if s.health is not Health.REJECTED)
        self.has_learners = any(s.learner for s in states)
        if not states:
            self._any = self._voters = ()
            return
        best_any = min(_TIER[s.health] for s in states)
        self._any = tuple(s for s in states if _TIER[s.health] == best_any)
        voters = [s for s in states if not s.learner]
        if voters:
            best = min(_TIER[s.health] for s in voters)
            self._voters = tuple(s for s in voters if _TIER[s.health] == best)
        else:
            self._voters = self._any


def _key(endpoint: Endpoint) -> tuple[str, int, bool]:
    return endpoint.host, endpoint.port, endpoint.unix
