"""`ReadCoalescer`: the sync client's gets, coalesced (rules in `_core/coalesce.py`).

Threads hand the batch on among themselves, with no thread of its own: the caller
whose call returns takes the queue as the next batch and wakes the caller in it
with the most time left, which sends the batch for everyone, then wakes the others
with their results. Each waiter blocks on a lock of its own, with its own timeout.
"""

from __future__ import annotations

import threading
import time
from typing import Any

from .._core import fork
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


class _Waiter:
    """A caller's place in a batch: a lock it blocks on until it is given work."""

    __slots__ = ("batch", "lock", "resend", "result")

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.lock.acquire()
        #: Set for the caller chosen to send the batch.
        self.batch: list[Pending[_Waiter]] | None = None
        self.result: rpc_pb2.RangeResponse | None = None
        #: The batch failed: send your own Range.
        self.resend = False


class ReadCoalescer:
    def __init__(
        self, invoker: Any, settings: CoalesceSettings, default_timeout: float | None
    ) -> None:
        self._invoker = invoker
        self._settings = settings
        self._default_timeout = default_timeout
        self._lock = threading.Lock()
        # [linearizable, serializable]
        self._groups: tuple[Group[_Waiter], Group[_Waiter]] = (Group(), Group())
        self.stats = ReadBatchStats()
        fork.track(self)

    def _after_fork_in_child(self) -> None:
        """A forked child has none of the parent's other threads: forget their gets
        (else the child's would queue behind a batch no thread will send)."""
        self._lock = threading.Lock()
        self._groups = (Group(), Group())

    def get(self, request: rpc_pb2.RangeRequest, timeout: Timeout) -> rpc_pb2.RangeResponse:
        if not coalescible(request):
            return self._invoker.unary_unary(KV_RANGE, request, timeout)  # type: ignore[no-any-return]
        group = self._groups[request.serializable]
        with self._lock:
            if group.busy:
                seconds = resolve_timeout(timeout, self._default_timeout)
                deadline = None if seconds is None else time.monotonic() + seconds
                pending = Pending(request, deadline, seconds, _Waiter())
                group.queue.append(pending)
            else:
                group.busy = True
                pending = None
        if pending is None:  # nothing in flight: a plain Range, at once
            try:
                response: rpc_pb2.RangeResponse = self._invoker.unary_unary(
                    KV_RANGE, request, timeout
                )
            finally:
                self._hand_on(group, finished=1)
            return response
        return self._wait(group, pending)

    def _wait(self, group: Group[_Waiter], pending: Pending[_Waiter]) -> rpc_pb2.RangeResponse:
        waiter = pending.waiter
        deadline = pending.deadline
        woken = waiter.lock.acquire(
            timeout=-1 if deadline is None else max(deadline - time.monotonic(), 0.0)
        )
        if not woken:
            with self._lock:
                # Work is given under this lock, so it is either given already or never.
                if waiter.batch is None and waiter.result is None and not waiter.resend:
                    pending.abandoned = True
                    raise waited_too_long(pending)
        if waiter.batch is not None:
            self._send(group, pending, waiter.batch)
        if waiter.result is not None:
            return waiter.result
        # The batch failed: this caller's own Range, with its own time left.
        timeout = None if deadline is None else max(deadline - time.monotonic(), 0.001)
        with self._lock:
            self.stats.resent_alone += 1
        return self._invoker.unary_unary(KV_RANGE, pending.request, timeout)  # type: ignore[no-any-return]

    def _hand_on(self, group: Group[_Waiter], finished: int) -> None:
        """A call of `finished` gets returned: give the queue to its caller with most
        time left (the caller lock is taken once for both)."""
        with self._lock:
            self.stats.sizes[finished] += 1
            if not group.queue:  # the usual case at low load
                group.busy = False
                return
            batch = group.take(self._settings)
            if not batch:
                return
            leader = max(batch, key=_latest_first)
            leader.waiter.batch = batch
            leader.waiter.lock.release()

    def _send(
        self, group: Group[_Waiter], leader: Pending[_Waiter], batch: list[Pending[_Waiter]]
    ) -> None:
        """Send the batch (this thread was chosen), then hand on and wake the others."""
        results: list[rpc_pb2.RangeResponse] | None = None
        try:
            timeout = batch_timeout(batch, time.monotonic())
            if len(batch) == 1:
                results = [self._invoker.unary_unary(KV_RANGE, batch[0].request, timeout)]
            else:
                response = self._invoker.unary_unary(READ_ONLY_TXN, batch_request(batch), timeout)
                results = split_response(response)
        except Exception:
            results = None  # each caller finds out on its own (see _core/coalesce.py)
        finally:
            self._hand_on(group, finished=len(batch))
            with self._lock:
                for index, pending in enumerate(batch):
                    waiter = pending.waiter
                    if results is None:
                        waiter.resend = True
                    else:
                        waiter.result = results[index]
                    if pending is not leader and not pending.abandoned:
                        waiter.lock.release()


def _latest_first(pending: Pending[_Waiter]) -> float:
    return float("inf") if pending.deadline is None else pending.deadline
