"""`AsyncReadCoalescer`: the asyncio client's gets, coalesced (rules in `_core/coalesce.py`).

Each queued get awaits a future of its own (with its own timeout; cancelling it
leaves the batch alone). When the call in flight returns, the queue goes out as one
batch from a task, so no caller's cancellation can stop a batch others wait on.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from .._core.coalesce import (
    READ_ONLY_TXN,
    CoalesceSettings,
    Group,
    Pending,
    ReadBatchStats,
    batch_request,
    batch_timeout,
    coalescible,
    split_response,
    waited_too_long,
)
from .._core.timeout import Timeout, resolve_timeout
from ..generated.etcdserverpb import rpc_pb2
from ..generated.methods import KV_RANGE

#: A future's result when the batch failed: the caller sends its own Range.
_RESEND: Any = object()

_Future = asyncio.Future  # of a RangeResponse, or _RESEND


class AsyncReadCoalescer:
    def __init__(
        self, invoker: Any, settings: CoalesceSettings, default_timeout: float | None
    ) -> None:
        self._invoker = invoker
        self._settings = settings
        self._default_timeout = default_timeout
        # [linearizable, serializable]
        self._groups: tuple[Group[_Future[Any]], Group[_Future[Any]]] = (Group(), Group())
        # Batch tasks are kept referenced until done (the loop holds tasks weakly).
        self._tasks: set[asyncio.Task[None]] = set()
        self.stats = ReadBatchStats()

    async def get(self, request: rpc_pb2.RangeRequest, timeout: Timeout) -> rpc_pb2.RangeResponse:
        if not coalescible(request):
            return await self._invoker.unary_unary(KV_RANGE, request, timeout)  # type: ignore[no-any-return]
        group = self._groups[request.serializable]
        if not group.busy:  # nothing in flight: a plain Range, at once
            group.busy = True
            try:
                response: rpc_pb2.RangeResponse = await self._invoker.unary_unary(
                    KV_RANGE, request, timeout
                )
            finally:
                self._hand_on(group, finished=1)
            return response
        seconds = resolve_timeout(timeout, self._default_timeout)
        deadline = None if seconds is None else time.monotonic() + seconds
        loop = asyncio.get_running_loop()
        future: _Future[Any] = loop.create_future()
        pending = Pending(request, deadline, seconds, future)
        group.queue.append(pending)
        # A timer on the future itself, not asyncio.wait_for: the caller then wakes in
        # the loop turn right after its result is set (see _send), and costs less.
        timer = None if seconds is None else loop.call_later(seconds, _expire, future)
        try:
            result = await future
        except _Expired:
            raise waited_too_long(pending) from None
        finally:
            if timer is not None:
                timer.cancel()
            if not future.done() or future.cancelled() or future.exception() is not None:
                pending.abandoned = True
        if result is not _RESEND:
            return result  # type: ignore[no-any-return]
        # The batch failed: this caller's own Range, with its own time left.
        self.stats.resent_alone += 1
        left = None if deadline is None else max(deadline - time.monotonic(), 0.001)
        return await self._invoker.unary_unary(KV_RANGE, request, left)  # type: ignore[no-any-return]

    def _hand_on(self, group: Group[_Future[Any]], finished: int) -> None:
        """A call of `finished` gets returned: send the queue as the next batch."""
        self.stats.sizes[finished] += 1
        if not group.queue:  # the usual case at low load
            group.busy = False
            return
        batch = group.take(self._settings)
        if batch:
            task = asyncio.get_running_loop().create_task(self._send(group, batch))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _send(self, group: Group[_Future[Any]], batch: list[Pending[_Future[Any]]]) -> None:
        results: list[Any]
        try:
            timeout = batch_timeout(batch, time.monotonic())
            if len(batch) == 1:
                results = [await self._invoker.unary_unary(KV_RANGE, batch[0].request, timeout)]
            else:
                response = await self._invoker.unary_unary(
                    READ_ONLY_TXN, batch_request(batch), timeout
                )
                results = split_response(response)
        except BaseException:
            # Each caller finds out on its own (see _core/coalesce.py), even if this
            # task was cancelled (the client is closing: their own calls say so).
            results = [_RESEND] * len(batch)
        for pending, result in zip(batch, results, strict=True):
            if not pending.waiter.done():
                pending.waiter.set_result(result)
        # Hand on one loop turn later, not now: the callers just woken run first, and
        # the gets they issue next join this batch instead of waiting for the one after
        # (no timer: the loop runs the callbacks already due, then this).
        asyncio.get_running_loop().call_soon(self._hand_on, group, len(batch))


class _Expired(Exception):
    """A queued get's own timeout ran out."""


def _expire(future: _Future[Any]) -> None:
    if not future.done():
        future.set_exception(_Expired())
