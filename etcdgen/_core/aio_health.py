"""The asyncio prober: the same health rounds as `health.Prober`, as one task.

The task holds the pool and the balancer, never the client (so an unclosed
client can be garbage-collected); `stop()` cancels it.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

import grpc
from grpc import aio

from .aio_invoker import cancelled_by_eviction
from .aio_loop_end import LoopEndGrace
from .balancer import Balancer, EndpointState, ProbeResult
from .events import Events
from .health import REMAKE_REFUSED, ProbeSpec, apply_probe, probe_result
from .pool import ChannelPool, Lane


class AsyncProber:
    def __init__(
        self,
        pool: ChannelPool[aio.Channel],
        balancer: Balancer,
        events: Events,
        probe: ProbeSpec,
        *,
        sync_endpoints: Callable[[], Awaitable[object]] | None = None,
        sync_interval: float | None = None,
        loop_end: LoopEndGrace | None = None,
    ) -> None:
        self._pool = pool
        self._balancer = balancer
        self._events = events
        self._probe = probe
        self._sync = sync_endpoints
        self._sync_interval = sync_interval
        self._task: asyncio.Task[None] | None = None
        self._loop_end = loop_end

    def start(self, loop: asyncio.AbstractEventLoop) -> None:
        if self._task is None:
            self._task = loop.create_task(self._run(), name="etcdgen-health")

    def stop(self) -> asyncio.Task[None] | None:
        """Cancel the task; returns it so that the caller may await its end."""
        task, self._task = self._task, None
        if task is not None and not task.done():
            task.cancel()
            return task
        return None

    def forget_task(self) -> None:
        """Its loop is gone (or this is a forked child): a new task starts on next use."""
        self._task = None

    async def _run(self) -> None:
        probe = self._probe
        next_sync = time.monotonic() + (self._sync_interval or 0.0)
        while True:
            started = time.monotonic()
            try:
                try:
                    await self.round()
                except asyncio.CancelledError:
                    if self._loop_end is not None:
                        self._loop_end.cut_short()  # probes were in flight
                    raise
                if self._sync is not None and self._sync_interval and started >= next_sync:
                    next_sync = started + self._sync_interval
                    try:
                        await self._sync()
                    except Exception as error:  # the next round tries again
                        self._events.emit("endpoints", "", f"member sync failed: {error}")
            except asyncio.CancelledError:
                raise
            except Exception:
                if self._pool.closed:
                    return
            await asyncio.sleep(max(probe.interval - (time.monotonic() - started), 0.05))

    async def round(self) -> None:
        states = self._balancer.states
        results = await asyncio.gather(*(self._probe_one(s, s.generation) for s in states))
        for state, generation, result in results:
            if result is None:
                continue
            if apply_probe(self._balancer, self._events, state, generation, result):
                self._pool.evict(state)
            elif REMAKE_REFUSED and not result.answered and not result.timed_out:
                self._balancer.evicted(state)  # see health.Prober.round
                self._pool.evict(state)

    async def _probe_one(
        self, state: EndpointState, generation: int
    ) -> tuple[EndpointState, int, ProbeResult | None]:
        probe = self._probe
        sent = time.monotonic()
        try:
            status = self._pool.callable(state, Lane.SAFE, probe.status)
            read = self._pool.callable(state, Lane.SAFE, probe.read)
            outcomes = await asyncio.gather(
                _outcome(status(probe.status_request, timeout=probe.timeout)),
                _outcome(read(probe.read_request, timeout=probe.timeout)),
            )
        except (ValueError, aio.UsageError):
            return state, generation, None  # the channel was closed under the probe
        except asyncio.CancelledError:
            if not cancelled_by_eviction(state, generation):
                raise
            return state, generation, None
        (status_reply, status_error), (_, read_error) = outcomes
        latency = time.monotonic() - sent
        return (
            state,
            generation,
            probe_result(probe, status_reply, status_error, read_error, latency),
        )


async def _outcome(call: Any) -> tuple[Any, grpc.RpcError | None]:
    try:
        return await call, None
    except grpc.RpcError as error:
        return None, error
