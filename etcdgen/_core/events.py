"""What the runtime reports: to an `event_hook=` (metrics, tests) and to `logging`.

The hook is called synchronously from the thread or task that saw the event,
so it must be quick and must not raise (an exception from it is swallowed
and counted, never allowed to fail a call). Events (`Event.kind`):

- "attempt": a request is about to be sent on `endpoint` (`rpc`: the method path;
  `attempts`: its number, 1 for the first; `health`: the endpoint's state at that
  moment; `detail` "stream" for a stream being opened)
- "call": a unary call finished (`rpc`, `code`: "OK" or the gRPC code's name,
  `attempts`, `duration` in seconds, `endpoint`: the last one tried)
- "retry": an attempt failed and the call goes on (`detail`: the error)
- "health": a probe changed an endpoint's state (`health`: the new state,
  `previous`: the old one; unknown -> healthy, a client's start, is logged at DEBUG)
- "evict": the endpoint's SAFE channel was closed, its calls resent elsewhere
  (a failover)
- "endpoints": a member sync changed the endpoint list (`detail`: the new list)
- "authenticate": a token was fetched (`detail`: the user; never the token)
- "stream_reopened": a Watch or LeaseKeepAlive stream was opened again (`rpc`)
- "watch_resumed": a watch was re-created after a break (`revision`: where it
  resumed; `detail`: its key span)
- "lease_lost": a managed lease was lost (`detail`: why)
- "watch_started" / "watch_ended": a watch was added to / left the client's
  stream (`detail`: its key span); their difference is the number of active watches

Logging, on the "etcdgen" logger's children: state changes at INFO
(`etcdgen.connection`: health, evict, endpoints; `etcdgen.watch`: re-opened
streams and resumed watches; `etcdgen.lease`: lost leases, re-opened streams),
per-call detail at DEBUG (`etcdgen.retry`: attempts, retries, finished calls;
`etcdgen.auth`: token fetches). Nothing at INFO on the happy path, and never
a credential. Per-call events cost nothing unless a hook is set or DEBUG is on
for "etcdgen" when the client is made (`Events.detailed`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Event:
    kind: str
    endpoint: str
    detail: str = ""
    health: str = ""
    rpc: str = ""
    code: str = ""
    attempts: int = 0
    duration: float = 0.0
    revision: int = 0
    #: "health": the state before this change.
    previous: str = ""


EventHook = Callable[[Event], None]

_ROOT = logging.getLogger("etcdgen")
_LOGGERS = {
    "attempt": (logging.getLogger("etcdgen.retry"), logging.DEBUG),
    "call": (logging.getLogger("etcdgen.retry"), logging.DEBUG),
    "retry": (logging.getLogger("etcdgen.retry"), logging.DEBUG),
    "health": (logging.getLogger("etcdgen.connection"), logging.INFO),
    "evict": (logging.getLogger("etcdgen.connection"), logging.INFO),
    "endpoints": (logging.getLogger("etcdgen.connection"), logging.INFO),
    "authenticate": (logging.getLogger("etcdgen.auth"), logging.DEBUG),
    "stream_reopened": (logging.getLogger("etcdgen.watch"), logging.INFO),
    "watch_resumed": (logging.getLogger("etcdgen.watch"), logging.INFO),
    "lease_lost": (logging.getLogger("etcdgen.lease"), logging.INFO),
    "watch_started": (logging.getLogger("etcdgen.watch"), logging.DEBUG),
    "watch_ended": (logging.getLogger("etcdgen.watch"), logging.DEBUG),
}


def _describe(event: Event) -> str:
    if event.kind == "attempt":
        if event.detail == "stream":
            return f"{event.rpc} stream opened on {event.endpoint} ({event.health})"
        return f"{event.rpc} attempt {event.attempts} to {event.endpoint} ({event.health})"
    if event.kind == "call":
        return (
            f"{event.rpc} {event.code} after {event.attempts} attempt(s) in "
            f"{event.duration * 1000:.1f} ms (last: {event.endpoint})"
        )
    if event.kind == "retry":
        return f"attempt on {event.endpoint} failed, retrying: {event.detail}"
    if event.kind == "health":
        suffix = f" ({event.detail})" if event.detail else ""
        return f"endpoint {event.endpoint} is now {event.health}{suffix}"
    if event.kind == "evict":
        return (
            f"endpoint {event.endpoint} is {event.health} ({event.detail}): its calls and "
            "streams move to healthy members"
        )
    if event.kind == "endpoints":
        return f"endpoint list: {event.detail}"
    if event.kind == "authenticate":
        return f"fetched an auth token ({event.detail})"
    if event.kind == "stream_reopened":
        return f"{event.rpc} stream re-opened on {event.endpoint or 'a healthy member'}"
    if event.kind == "watch_resumed":
        return f"watch of {event.detail} resumed at revision {event.revision}"
    if event.kind == "lease_lost":
        return f"lease lost: {event.detail}"
    if event.kind == "watch_started":
        return f"watching {event.detail}"
    if event.kind == "watch_ended":
        return f"stopped watching {event.detail}"
    return f"{event.kind} {event.endpoint} {event.detail}"


class Events:
    """Calls the user's hook, if any, shielding the caller from its failures; logs."""

    __slots__ = ("detailed", "hook", "hook_errors")

    def __init__(self, hook: EventHook | None) -> None:
        self.hook = hook
        self.hook_errors = 0
        #: Per-call events are wanted (checked on the hot path before building one).
        self.detailed = hook is not None or _ROOT.isEnabledFor(logging.DEBUG)

    def emit(
        self,
        kind: str,
        endpoint: str,
        detail: str = "",
        health: str = "",
        **extra: object,
    ) -> None:
        logger, level = _LOGGERS.get(kind, (_ROOT, logging.DEBUG))
        if kind == "health" and health == "healthy" and extra.get("previous") == "unknown":
            level = logging.DEBUG  # a member first found healthy: the happy path
        if self.hook is None and not logger.isEnabledFor(level):
            return
        event = Event(kind, endpoint, detail, health, **extra)  # type: ignore[arg-type]
        if logger.isEnabledFor(level):
            logger.log(level, "etcdgen: %s", _describe(event))
        if self.hook is None:
            return
        try:
            self.hook(event)
        except Exception:  # a broken hook must never fail a call
            self.hook_errors += 1
