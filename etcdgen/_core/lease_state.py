"""Kept-alive leases as plain state (no I/O): when to renew, when a lease is lost.

The drivers (`etcdgen/_sync/lease.py`, `etcdgen/_async/lease.py`) share one
LeaseKeepAlive stream per client for all its leases and ask this schedule which
leases are due. Rules (see ../shared/ETCD_FACTS.md, "Leases and locks"):

- Renew every TTL/3 after the last renewal (a missed reply is retried at the next
  third, so two can be lost before the lease is at risk).
- The client's own view of the deadline is *the time the renewal was sent* plus
  the TTL the server answered: a conservative estimate, since the server's clock
  started later. Past that deadline with no newer renewal (disconnected, or the
  process was paused), the lease is treated as lost: it may already be gone on
  the server, and a holder that went on believing it holds it is the classic
  lock bug.
- A keep-alive reply with TTL <= 0 means the lease is gone (expired, or revoked
  elsewhere).

A lost lease is never silent: the driver sets the lease's `lost` event, calls its
`on_lost`, and `check()` raises `LeaseExpiredError` from then on.
"""

from __future__ import annotations

from dataclasses import dataclass, field

RENEW_FRACTION = 1 / 3


@dataclass(eq=False)
class LeaseState:
    id: int
    granted_ttl: int
    #: Seconds left at the last renewal (as the server said).
    ttl: float
    #: monotonic time after which the lease may be gone on the server.
    deadline: float
    #: monotonic time of the next renewal.
    due: float
    #: monotonic time the in-flight renewal was sent (None: none in flight).
    sent_at: float | None = None
    lost_reason: str | None = None
    renewals: int = 0
    revoked: bool = False

    @property
    def lost(self) -> bool:
        return self.lost_reason is not None


@dataclass
class KeepAliveSchedule:
    leases: dict[int, LeaseState] = field(default_factory=dict)

    def add(self, lease_id: int, ttl: int, granted_at: float) -> LeaseState:
        state = LeaseState(
            id=lease_id,
            granted_ttl=ttl,
            ttl=float(ttl),
            deadline=granted_at + ttl,
            due=granted_at + ttl * RENEW_FRACTION,
        )
        self.leases[lease_id] = state
        return state

    def remove(self, lease_id: int) -> None:
        self.leases.pop(lease_id, None)

    def due(self, now: float) -> list[LeaseState]:
        """Leases to renew now; each is marked as sent (its next turn a third later)."""
        ready = [s for s in self.leases.values() if not s.lost and s.due <= now]
        for state in ready:
            state.sent_at = now
            state.due = now + max(state.granted_ttl * RENEW_FRACTION, 0.5)
        return ready

    def next_due(self) -> float | None:
        times = [s.due for s in self.leases.values() if not s.lost]
        return min(times) if times else None

    def on_reply(self, lease_id: int, ttl: int, now: float) -> LeaseState | None:
        """A keep-alive reply; returns the lease if this reply lost it."""
        state = self.leases.get(lease_id)
        if state is None or state.lost:
            return None
        if ttl <= 0:
            state.lost_reason = (
                f"lease {lease_id:x} is gone on the server (expired, or revoked elsewhere)"
            )
            return state
        sent = state.sent_at if state.sent_at is not None else now
        state.sent_at = None
        state.ttl = float(ttl)
        state.deadline = sent + ttl
        state.renewals += 1
        return None

    def expired(self, now: float) -> list[LeaseState]:
        """Leases whose deadline passed without a renewal (returns the newly lost)."""
        gone = [s for s in self.leases.values() if not s.lost and now >= s.deadline]
        for state in gone:
            state.lost_reason = (
                f"lease {state.id:x} was not renewed within its TTL of {state.granted_ttl} s "
                "(disconnected, or the process was paused); it may be gone on the server"
            )
        return gone
