"""Managed leases for the blocking `Client`: granted, kept alive, revoked on exit.

Every lease of a client is renewed over one LeaseKeepAlive stream, by one keeper
thread (started by the first lease). gRPC's request iterator is the ticker: it
yields the renewals that are due (`KeepAliveSchedule`, etcdgen/_core/lease_state.py)
and sleeps until the next one; the keeper thread reads the replies. When the
stream breaks it is re-opened on a healthy member with backoff; a lease whose
deadline passes meanwhile is reported lost.
"""

from __future__ import annotations

import contextlib
import logging
import random
import threading
import time
from collections.abc import Callable, Iterator
from types import TracebackType
from typing import TYPE_CHECKING

from .._core.errors import ClientClosedError, EtcdError, ForkedProcessError, LeaseExpiredError
from .._core.lease_state import KeepAliveSchedule, LeaseState
from .._core.timeout import DEFAULT
from .._tokens import is_token_failure
from ..generated import methods
from ..generated.errors import LeaseNotFoundError
from ..generated.etcdserverpb import rpc_pb2

if TYPE_CHECKING:
    from .connection import Connection

_LOG = logging.getLogger("etcdgen")
_FATAL = (ClientClosedError, ForkedProcessError)
_BACKOFF_FIRST, _BACKOFF_MAX = 0.05, 2.0


class Lease:
    """A lease kept alive while in use: `with client.lease(ttl=10) as lease:`.

    `id` to attach keys (`put(..., lease=lease)`), `ttl` (seconds left at the last
    renewal), `lost` (a `threading.Event` set when the lease is lost), `on_lost`
    (called once with the reason, from the keeper thread), `check()` (raises
    `LeaseExpiredError` once lost). Leaving the block revokes it.
    """

    def __init__(
        self,
        keeper: LeaseKeeper,
        ttl: int,
        lease_id: int | None,
        on_lost: Callable[[LeaseExpiredError], object] | None,
    ) -> None:
        self._keeper = keeper
        self._requested_ttl = ttl
        self._requested_id = lease_id
        self.on_lost = on_lost
        self.lost = threading.Event()
        self._state: LeaseState | None = None

    @property
    def id(self) -> int:
        if self._state is None:
            raise RuntimeError("the lease is not granted yet: use `with client.lease(...)`")
        return self._state.id

    @property
    def ttl(self) -> float:
        return self._state.ttl if self._state is not None else float(self._requested_ttl)

    @property
    def granted_ttl(self) -> int:
        return self._state.granted_ttl if self._state is not None else self._requested_ttl

    def grant(self) -> Lease:
        """Grant the lease and start keeping it alive (entering `with` does this)."""
        if self._state is None:
            self._state = self._keeper.grant(self, self._requested_ttl, self._requested_id)
        return self

    def check(self) -> None:
        """Raise `LeaseExpiredError` if the lease was lost."""
        state = self._state
        if state is not None and state.lost_reason is not None:
            raise LeaseExpiredError(state.lost_reason)

    def revoke(self) -> None:
        """Stop renewing and revoke the lease (its keys are deleted)."""
        state = self._state
        if state is None or state.revoked:
            return
        state.revoked = True
        self._keeper.forget(state)
        if not state.lost:
            with contextlib.suppress(LeaseNotFoundError):  # already gone
                self._keeper.connection.rpc.lease.lease_revoke(ID=state.id)

    def notify_lost(self) -> None:  # from the keeper thread
        state = self._state
        assert state is not None and state.lost_reason is not None
        self.lost.set()
        if self.on_lost is not None:
            try:
                self.on_lost(LeaseExpiredError(state.lost_reason))
            except Exception:
                _LOG.exception("etcdgen: an on_lost callback failed")

    def __enter__(self) -> Lease:
        return self.grant()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.revoke()

    def __repr__(self) -> str:
        if self._state is None:
            return f"<Lease (not granted) ttl={self._requested_ttl}>"
        lost = " lost" if self._state.lost else ""
        return f"<Lease {self._state.id:x} ttl={self._state.ttl:g}{lost}>"


class LeaseKeeper:
    """The client's LeaseKeepAlive stream and the thread that reads it."""

    def __init__(self, connection: Connection) -> None:
        self.connection = connection
        self.schedule = KeepAliveSchedule()
        self._handles: dict[int, Lease] = {}
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self._stop = threading.Event()
        self._stream: object | None = None
        self._thread: threading.Thread | None = None
        self.opens = 0

    def grant(self, handle: Lease, ttl: int, lease_id: int | None) -> LeaseState:
        started = time.monotonic()
        reply = self.connection.rpc.lease.lease_grant(TTL=ttl, ID=lease_id or 0, timeout=DEFAULT)
        with self._lock:
            if self._stop.is_set():
                raise ClientClosedError("the client is closed; create a new one")
            state = self.schedule.add(reply.ID, reply.TTL, started)
            self._handles[reply.ID] = handle
            self._changed.notify_all()
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="etcdgen-lease", daemon=True)
                self._thread.start()
        return state

    def forget(self, state: LeaseState) -> None:
        with self._lock:
            self.schedule.remove(state.id)
            self._handles.pop(state.id, None)

    # -- the keeper thread -------------------------------------------------------------------

    def _requests(self, done: threading.Event) -> Iterator[rpc_pb2.LeaseKeepAliveRequest]:
        """Runs in gRPC's request thread: yields renewals as they fall due."""
        while not done.is_set() and not self._stop.is_set():
            with self._lock:
                now = time.monotonic()
                self._report(self.schedule.expired(now))
                due = self.schedule.due(now)
                upcoming = self.schedule.next_due()
                if not due:
                    wait = 1.0 if upcoming is None else max(0.0, min(1.0, upcoming - now))
                    self._changed.wait(wait)
            for state in due:
                yield rpc_pb2.LeaseKeepAliveRequest(ID=state.id)

    def _run(self) -> None:
        failures = 0
        while not self._stop.is_set():
            done = threading.Event()
            sent_with = self.connection.tokens.metadata
            refresh_token = False
            try:
                stream = self.connection.invoker.stream_stream(
                    methods.LEASE_LEASE_KEEP_ALIVE, self._requests(done), None
                )
                with self._lock:
                    if self._stop.is_set():  # closed while the stream was being opened
                        stream.cancel()
                        return
                    self._stream = stream
                    self.opens += 1
                    if self.opens > 1:
                        self.connection.events.emit(
                            "stream_reopened", getattr(stream, "endpoint", ""), rpc="LeaseKeepAlive"
                        )
                    # Renew everything at once on a new stream: the old one may have lost some.
                    for state in self.schedule.leases.values():
                        state.due = min(state.due, time.monotonic())
                    self._changed.notify_all()
                for reply in stream:
                    failures = 0
                    with self._lock:
                        lost = self.schedule.on_reply(reply.ID, reply.TTL, time.monotonic())
                        self._report([lost] if lost is not None else [])
                failures += 1  # the server ended the stream: re-open, with backoff
            except _FATAL:
                return
            except EtcdError as error:
                failures += 1
                refresh_token = is_token_failure(error)
            except Exception:
                # A bug, or an error gRPC should not raise: left alone it would end the
                # keeper thread and no lease would be renewed again. Say it loudly, then
                # re-open the stream as after any failure.
                _LOG.exception("etcdgen: the keep-alive stream failed unexpectedly; re-opening")
                failures += 1
            finally:
                done.set()
                with self._lock:
                    self._stream = None
                    self._changed.notify_all()
            if self._stop.is_set():
                return
            if refresh_token:
                with contextlib.suppress(EtcdError):  # the next open reports a lasting failure
                    self.connection.tokens.refresh(sent_with)
            with self._lock:
                self._report(self.schedule.expired(time.monotonic()))
            delay = min(_BACKOFF_MAX, _BACKOFF_FIRST * 2 ** max(failures - 1, 0))
            self._stop.wait(delay * random.uniform(0.8, 1.2))

    def _report(self, lost: list[LeaseState]) -> None:
        # Called with the lock held: the holders are told from a thread of their own.
        for state in lost:
            self.connection.events.emit("lease_lost", "", state.lost_reason or "")
        handles = [h for h in (self._handles.get(state.id) for state in lost) if h is not None]
        if handles:
            threading.Thread(
                target=_notify, args=(handles,), name="etcdgen-lease-lost", daemon=True
            ).start()

    def stop(self) -> None:
        with self._lock:
            self._stop.set()
            stream = self._stream
            self._changed.notify_all()
        if stream is not None:
            stream.cancel()  # type: ignore[attr-defined]
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=5)


def _notify(handles: list[Lease]) -> None:
    for handle in handles:
        handle.notify_lost()
