"""One gRPC channel per endpoint and lane, for both modes.

Each endpoint has up to two channels ("lanes"), made on first use:

- `SAFE`: calls that may be resent (reads, lease calls, status) and every
  stream (watch, keep-alive: their runtimes re-open them elsewhere with their
  own state), plus the health probes. When the balancer finds the member
  frozen or cut off, this channel is closed: gRPC ends every call on it at
  once and the drivers resend them to a healthy member.
- `AT_MOST_ONCE`: writes. It is never closed for health: a write waiting on a
  frozen member may still get its real answer when the member resumes, while
  cancelling it could only turn a known outcome into an unknown one. Calls
  pinned to one member (`unary_unary_on`: status, move_leader, hash_kv...) use
  it too: they have no other member to go to, so a cut would only lose the answer.

Every channel uses its own subchannel pool (`grpc.use_local_subchannel_pool`),
so a re-made channel opens a new TCP connection instead of inheriting the
frozen one from gRPC's process-wide pool.

The pool is generic over the channel type (grpc.Channel, grpc.aio.Channel);
the caller supplies how to make and close one.
"""

from __future__ import annotations

import enum
import threading
from collections.abc import Callable
from typing import Any, Generic, TypeVar

from .balancer import EndpointState
from .endpoints import Endpoint
from .errors import ClientClosedError
from .spec import MethodSpec

ChannelT = TypeVar("ChannelT")


class Lane(enum.Enum):
    SAFE = "safe"
    AT_MOST_ONCE = "at_most_once"


class _Slot(Generic[ChannelT]):
    __slots__ = ("callables", "channel", "generation")

    def __init__(self, channel: ChannelT, generation: int) -> None:
        self.channel = channel
        self.generation = generation
        self.callables: dict[str, Any] = {}


class ChannelPool(Generic[ChannelT]):
    """The channels of one client, keyed by endpoint state and lane."""

    def __init__(
        self,
        make_channel: Callable[[Endpoint], ChannelT],
        close_channel: Callable[[ChannelT], None],
    ) -> None:
        self._make = make_channel
        self._close_channel = close_channel
        self._lanes: dict[Lane, dict[EndpointState, _Slot[ChannelT]]] = {
            Lane.SAFE: {},
            Lane.AT_MOST_ONCE: {},
        }
        self._lock = threading.Lock()
        self.closed = False

    def callable(self, state: EndpointState, lane: Lane, spec: MethodSpec[Any, Any]) -> Any:
        """The gRPC multi-callable for `spec` on `state`'s channel of `lane` (hot path)."""
        slot = self._lanes[lane].get(state)
        if slot is None or (lane is Lane.SAFE and slot.generation != state.generation):
            slot = self._open(state, lane)
        found = slot.callables.get(spec.path)
        if found is None:
            found = getattr(slot.channel, spec.kind.value)(
                spec.path,
                request_serializer=spec.request_type.SerializeToString,
                response_deserializer=spec.response_type.FromString,
            )
            slot.callables[spec.path] = found
        return found

    def channel(self, state: EndpointState, lane: Lane = Lane.SAFE) -> ChannelT:
        slot = self._lanes[lane].get(state)
        if slot is None or (lane is Lane.SAFE and slot.generation != state.generation):
            slot = self._open(state, lane)
        return slot.channel

    def evict(self, state: EndpointState, *, aside: bool = False) -> None:
        """Close `state`'s SAFE channel (its calls end now); the next use makes a new one.

        The caller bumps `state.generation` first (Balancer.evicted), so that the
        calls ended here are known to be ours. `aside`: close it on a short-lived
        daemon thread, for closes that may block (old grpcio, a dead endpoint).
        """
        with self._lock:
            slot = self._lanes[Lane.SAFE].pop(state, None)
        if slot is None:
            return
        if aside:
            threading.Thread(target=self._close_channel, args=(slot.channel,), daemon=True).start()
        else:
            self._close_channel(slot.channel)

    def drop(self, state: EndpointState) -> None:
        """Close both channels of an endpoint that left the endpoint list."""
        with self._lock:
            slots = [lane.pop(state, None) for lane in self._lanes.values()]
        for slot in slots:
            if slot is not None:
                self._close_channel(slot.channel)

    def close(self) -> None:
        """Close every channel; later calls raise `ClientClosedError`."""
        with self._lock:
            self.closed = True
            slots = [slot for lane in self._lanes.values() for slot in lane.values()]
            for lane in self._lanes.values():
                lane.clear()
        for slot in slots:
            self._close_channel(slot.channel)

    def has_channels(self) -> bool:
        return any(self._lanes.values())

    def take_safe(self) -> list[ChannelT]:
        """Remove every SAFE-lane channel (reads and streams) from the pool and return
        them, for the caller to close; the next use makes new ones. The caller bumps
        each state's generation first (Balancer.evicted), as for `evict`."""
        with self._lock:
            lane = self._lanes[Lane.SAFE]
            channels = [slot.channel for slot in lane.values()]
            lane.clear()
        return channels

    def abandon(self) -> list[ChannelT]:
        """Forget every channel without closing it; returns them.

        For a forked child (they belong to the parent's gRPC: the caller keeps
        them referenced, see `fork.abandon`) and for a dead event loop. Takes a
        new lock rather than the old one, which a thread that does not exist in
        the child may have held at the fork.
        """
        self._lock = threading.Lock()
        channels = [slot.channel for lane in self._lanes.values() for slot in lane.values()]
        for lane in self._lanes.values():
            lane.clear()
        return channels

    def _open(self, state: EndpointState, lane: Lane) -> _Slot[ChannelT]:
        stale: _Slot[ChannelT] | None = None
        with self._lock:
            if self.closed:
                raise ClientClosedError("the client is closed; create a new one")
            slots = self._lanes[lane]
            slot = slots.get(state)
            if slot is not None and (lane is not Lane.SAFE or slot.generation == state.generation):
                return slot  # another thread made it meanwhile
            stale = slot
            slot = _Slot(self._make(state.endpoint), state.generation)
            slots[state] = slot
        if stale is not None:
            self._close_channel(stale.channel)
        return slot
