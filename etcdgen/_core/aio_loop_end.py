"""A short grace period at the end of an event loop whose background calls were cut short.

Why: grpc.aio hands a call's completion to the loop the call was made in. When
`asyncio.run` ends, it cancels every task, and with them the health probes (and
watch or keep-alive streams) an AsyncClient had in flight; gRPC finishes cancelling
them a moment later, on its own thread. If the loop has closed by then, the next
loop that uses grpc.aio receives those completions and prints "Exception in
callback PollerCompletionQueue._handle_events ... RuntimeError: Event loop is
closed" (seen in half of the runs of a script that calls `asyncio.run` twice).

How: an async generator, started on the bound loop, is closed by
`loop.shutdown_asyncgens()`, which `asyncio.run` awaits after cancelling the tasks
and before closing the loop. If background work was cut short, its `finally` keeps
the loop running for `GRACE` seconds, time for gRPC's completions to arrive while
their loop still runs. `close()` does the same wait itself (the probes and streams
it cancels would otherwise race the end of a loop closed right after it). Nothing
waits when nothing was cut short.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncGenerator

GRACE = 0.02
"""Seconds the loop's shutdown waits after background calls were cut short."""


class LoopEndGrace:
    """One per client and bound loop: `arm()` on the loop, `cut_short()` from tasks."""

    def __init__(self) -> None:
        self._pending = False
        self._guard: AsyncGenerator[None, None] | None = None

    def arm(self, loop: asyncio.AbstractEventLoop) -> None:
        """Register with the running `loop` (call from code running on it)."""
        guard = self._until_loop_end()
        self._guard = guard  # held here: a collected generator would be finalized early
        loop.create_task(_start(guard), name="etcdgen-loop-end")

    def cut_short(self) -> None:
        """A background call of the client was cancelled while in flight."""
        self._pending = True

    async def settle(self) -> None:
        """For `close()`: wait out the grace now if calls were cut short, and unregister
        from the loop (a closed client leaves no work for the loop's shutdown)."""
        guard, self._guard = self._guard, None
        if self._pending:
            self._pending = False
            await asyncio.sleep(GRACE)
        if guard is not None:
            await guard.aclose()

    async def _until_loop_end(self) -> AsyncGenerator[None, None]:
        try:
            yield
        finally:
            if self._pending:
                self._pending = False
                await asyncio.sleep(GRACE)


async def _start(guard: AsyncGenerator[None, None]) -> None:
    with contextlib.suppress(StopAsyncIteration):  # disarmed before it started
        await guard.__anext__()
