"""Managed leases for `AsyncClient`: the asyncio twin of `etcdgen/_sync/lease.py`.

One LeaseKeepAlive stream per client, fed by an async generator that yields the
renewals as they fall due and read by one task; the rules are in
`etcdgen/_core/lease_state.py`. `on_lost` may be a plain or a coroutine function.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
import random
import time
from collections.abc import AsyncIterator, Callable
from types import TracebackType
from typing import TYPE_CHECKING, Any

from .._core.errors import ClientClosedError, EtcdError, ForkedProcessError, LeaseExpiredError
from .._core.lease_state import KeepAliveSchedule, LeaseState
from .._core.timeout import DEFAULT
from .._tokens import is_token_failure
from ..generated import methods
from ..generated.errors import LeaseNotFoundError
from ..generated.etcdserverpb import rpc_pb2

if TYPE_CHECKING:
    from .connection import AsyncConnection

_LOG = logging.getLogger("etcdgen")
_FATAL = (ClientClosedError, ForkedProcessError)
_BACKOFF_FIRST, _BACKOFF_MAX = 0.05, 2.0


class AsyncLease:
    """A lease kept alive while in use: `async with client.lease(ttl=10) as lease:`.

    As `Lease`, with `lost` an `asyncio.Event`.
    """

    def __init__(
        self,
        keeper: AsyncLeaseKeeper,
        ttl: int,
        lease_id: int | None,
        on_lost: Callable[[LeaseExpiredError], Any] | None,
    ) -> None:
        self._keeper = keeper
        self._requested_ttl = ttl
        self._requested_id = lease_id
        self.on_lost = on_lost
        self.lost = asyncio.Event()
        self._state: LeaseState | None = None

    @property
    def id(self) -> int:
        if self._state is None:
            raise RuntimeError("the lease is not granted yet: use `async with client.lease(...)`")
        return self._state.id

    @property
    def ttl(self) -> float:
        return self._state.ttl if self._state is not None else float(self._requested_ttl)

    @property
    def granted_ttl(self) -> int:
        return self._state.granted_ttl if self._state is not None else self._requested_ttl

    async def grant(self) -> AsyncLease:
        if self._state is None:
            self._state = await self._keeper.grant(self, self._requested_ttl, self._requested_id)
        return self

    def check(self) -> None:
        state = self._state
        if state is not None and state.lost_reason is not None:
            raise LeaseExpiredError(state.lost_reason)

    async def revoke(self) -> None:
        state = self._state
        if state is None or state.revoked:
            return
        state.revoked = True
        self._keeper.forget(state)
        if not state.lost:
            with contextlib.suppress(LeaseNotFoundError):  # already gone
                await self._keeper.connection.rpc.lease.lease_revoke(ID=state.id)

    async def notify_lost(self) -> None:
        state = self._state
        assert state is not None and state.lost_reason is not None
        self.lost.set()
        if self.on_lost is not None:
            try:
                result = self.on_lost(LeaseExpiredError(state.lost_reason))
                if inspect.isawaitable(result):
                    await result
            except Exception:
                _LOG.exception("etcdgen: an on_lost callback failed")

    async def __aenter__(self) -> AsyncLease:
        return await self.grant()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.revoke()

    def __repr__(self) -> str:
        if self._state is None:
            return f"<AsyncLease (not granted) ttl={self._requested_ttl}>"
        lost = " lost" if self._state.lost else ""
        return f"<AsyncLease {self._state.id:x} ttl={self._state.ttl:g}{lost}>"


class AsyncLeaseKeeper:
    """The client's LeaseKeepAlive stream and the task that reads it."""

    def __init__(self, connection: AsyncConnection) -> None:
        self.connection = connection
        self.schedule = KeepAliveSchedule()
        self._handles: dict[int, AsyncLease] = {}
        self._changed = asyncio.Event()
        self._stopping = False
        self._stream: Any = None
        self._task: asyncio.Task[None] | None = None
        self._notifications: set[asyncio.Task[None]] = set()
        self.opens = 0

    async def grant(self, handle: AsyncLease, ttl: int, lease_id: int | None) -> LeaseState:
        started = time.monotonic()
        reply = await self.connection.rpc.lease.lease_grant(
            TTL=ttl, ID=lease_id or 0, timeout=DEFAULT
        )
        if self._stopping:
            raise ClientClosedError("the client is closed; create a new one")
        state = self.schedule.add(reply.ID, reply.TTL, started)
        self._handles[reply.ID] = handle
        self._changed.set()
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._run())
        return state

    def forget(self, state: LeaseState) -> None:
        self.schedule.remove(state.id)
        self._handles.pop(state.id, None)

    async def _requests(self, done: asyncio.Event) -> AsyncIterator[rpc_pb2.LeaseKeepAliveRequest]:
        while not done.is_set() and not self._stopping:
            now = time.monotonic()
            self._report(self.schedule.expired(now))
            due = self.schedule.due(now)
            for state in due:
                yield rpc_pb2.LeaseKeepAliveRequest(ID=state.id)
            if not due:
                upcoming = self.schedule.next_due()
                wait = 1.0 if upcoming is None else max(0.0, min(1.0, upcoming - now))
                self._changed.clear()
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(self._changed.wait(), wait)

    async def _run(self) -> None:
        failures = 0
        while not self._stopping:
            done = asyncio.Event()
            sent_with = self.connection.tokens.metadata
            refresh_token = False
            try:
                stream = self.connection.invoker.stream_stream(
                    methods.LEASE_LEASE_KEEP_ALIVE, self._requests(done), None
                )
                self._stream = stream
                self.opens += 1
                if self.opens > 1:
                    self.connection.events.emit(
                        "stream_reopened", getattr(stream, "endpoint", ""), rpc="LeaseKeepAlive"
                    )
                for state in self.schedule.leases.values():
                    state.due = min(state.due, time.monotonic())
                self._changed.set()
                async for reply in stream:
                    failures = 0
                    lost = self.schedule.on_reply(reply.ID, reply.TTL, time.monotonic())
                    self._report([lost] if lost is not None else [])
                failures += 1  # the server ended the stream: re-open, with backoff
            except _FATAL:
                return
            except EtcdError as error:
                failures += 1
                refresh_token = is_token_failure(error)
            except asyncio.CancelledError:
                if self._stopping:
                    return
                self.connection.loop_end.cut_short()  # its stream was open (aio_loop_end.py)
                raise
            except Exception:
                # A bug, or an error gRPC should not raise: left alone it would end the
                # keeper task and no lease would be renewed again. Say it loudly, then
                # re-open the stream as after any failure.
                _LOG.exception("etcdgen: the keep-alive stream failed unexpectedly; re-opening")
                failures += 1
            finally:
                done.set()
                self._stream = None
            if self._stopping:
                return
            if refresh_token:
                with contextlib.suppress(EtcdError):  # the next open reports a lasting failure
                    await self.connection.tokens.refresh(sent_with)
            self._report(self.schedule.expired(time.monotonic()))
            delay = min(_BACKOFF_MAX, _BACKOFF_FIRST * 2 ** max(failures - 1, 0))
            await asyncio.sleep(delay * random.uniform(0.8, 1.2))

    def _report(self, lost: list[LeaseState]) -> None:
        loop = asyncio.get_running_loop()
        for state in lost:
            self.connection.events.emit("lease_lost", "", state.lost_reason or "")
            handle = self._handles.get(state.id)
            if handle is not None:
                task = loop.create_task(handle.notify_lost())
                self._notifications.add(task)
                task.add_done_callback(self._notifications.discard)

    async def stop(self) -> None:
        self._stopping = True
        self._changed.set()
        stream = self._stream
        if stream is not None:
            stream.cancel()
        task = self._task
        if task is not None and not task.done():
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
