"""What the connection layer reports to an `event_hook=` (logging, metrics, tests).

The hook is called synchronously from the thread or task that saw the event,
so it must be quick and must not raise (an exception from it is swallowed
and counted, never allowed to fail a call). Events:

- "attempt": a request is about to be sent on `endpoint` (`detail`: the RPC name;
  `health`: the endpoint's state at that moment)
- "retry": an attempt failed and the call goes on (`detail`: the error)
- "health": a probe changed an endpoint's state (`health`: the new state)
- "evict": the endpoint's SAFE channel was closed, its calls resent elsewhere
- "endpoints": a member sync changed the endpoint list (`detail`: the new list)
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Event:
    kind: str
    endpoint: str
    detail: str = ""
    health: str = ""


EventHook = Callable[[Event], None]


class Events:
    """Calls the user's hook, if any, shielding the caller from its failures."""

    __slots__ = ("hook", "hook_errors")

    def __init__(self, hook: EventHook | None) -> None:
        self.hook = hook
        self.hook_errors = 0

    def emit(self, kind: str, endpoint: str, detail: str = "", health: str = "") -> None:
        if self.hook is None:
            return
        try:
            self.hook(Event(kind, endpoint, detail, health))
        except Exception:  # a broken hook must never fail a call
            self.hook_errors += 1
