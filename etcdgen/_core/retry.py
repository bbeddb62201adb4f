"""When and how long to wait before sending a failed call again.

This is the decision half of the retry engine, shared by the sync and
asyncio invokers; they only differ in how they sleep.

Rules (after etcd's Go client):
- `RetryClass.SAFE` calls (reads, lease calls, status) are retried when the error
  is UNAVAILABLE: no member reachable, no leader, leader changed. Other codes
  are final - the server answered.
- `RetryClass.IF_NOT_SENT` calls (writes) are retried only when gRPC never had a
  connection to send them on. Any other failure may have been applied.
- `RetryClass.NEVER` calls are not retried here.
Waits grow exponentially from `base_delay` up to `max_delay` with +/- jitter,
and no wait runs past the call's deadline.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

import grpc

from .spec import RetryClass

# grpc-core's wording when the channel had no connected address to pick:
# the request was never written to any socket.
_NOT_SENT_MARKERS = (
    "failed to connect to all addresses",  # pick_first
    "connections to all backends failing",  # round_robin
    "no address available",
    "DNS resolution failed",
    "Name resolution failure",
)


@dataclass(frozen=True, slots=True)
class RetrySettings:
    max_attempts: int = 20
    base_delay: float = 0.025
    max_delay: float = 1.0
    jitter: float = 0.1

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        if self.base_delay < 0 or self.max_delay < self.base_delay:
            raise ValueError("need 0 <= base_delay <= max_delay")
        if not 0 <= self.jitter < 1:
            raise ValueError("jitter is a fraction in [0, 1)")

    def delay(self, attempt: int) -> float:
        """Seconds to wait after failed attempt number `attempt` (1-based)."""
        raw = min(self.max_delay, self.base_delay * 2.0 ** (attempt - 1))
        return raw * (1 + random.uniform(-self.jitter, self.jitter))


def never_sent(code: grpc.StatusCode | None, details: str) -> bool:
    """True when the failure proves the request reached no server."""
    return code is grpc.StatusCode.UNAVAILABLE and any(m in details for m in _NOT_SENT_MARKERS)


def is_retryable(retry: RetryClass, code: grpc.StatusCode | None, details: str) -> bool:
    """Whether a call with this retry class may be sent again after this error."""
    if retry is RetryClass.SAFE:
        return code is grpc.StatusCode.UNAVAILABLE
    if retry is RetryClass.IF_NOT_SENT:
        return never_sent(code, details)
    return False


#: The settings used when a client is given none.
DEFAULT_RETRY = RetrySettings()
