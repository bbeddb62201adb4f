"""The one way tests wait: for a condition, with a bounded deadline (never a bare sleep).

- `wait_for(condition, what)`: until `condition()` is true, or fail after `timeout`
  seconds naming `what`;
- `holds_for(seconds, check)`: a period the property itself is about (a lease that
  must outlive its TTL, a lock that must stay taken): `check()` runs throughout and
  must not raise. This is not a wait for the server; the period is the test.

Each has an asyncio twin whose condition or check may be a coroutine function.
"""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Awaitable, Callable

#: How often a condition is looked at: small against any timeout, cheap for the server.
POLL_INTERVAL = 0.02


def wait_for(condition: Callable[[], object], what: str, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(POLL_INTERVAL)


async def async_wait_for(
    condition: Callable[[], object | Awaitable[object]], what: str, timeout: float = 10.0
) -> None:
    deadline = time.monotonic() + timeout
    while not await _value(condition()):
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
        await asyncio.sleep(POLL_INTERVAL)


def holds_for(seconds: float, check: Callable[[], object], interval: float = 0.2) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        check()
        time.sleep(interval)


async def async_holds_for(
    seconds: float, check: Callable[[], object | Awaitable[object]], interval: float = 0.2
) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        await _value(check())
        await asyncio.sleep(interval)


async def _value(result: object) -> object:
    return await result if inspect.isawaitable(result) else result
