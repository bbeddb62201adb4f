"""The watch and keep-alive runtimes outlive failures a real server cannot provoke on cue.

Each test injects one failure into the client (named "provoked" in the test) and checks,
on a real etcd, that watches still deliver every event and leases stay alive:

- the member's channel closed between the stream's pick and its start (the health
  prober evicting that member at that instant: gRPC then raises ValueError, not an
  RpcError);
- an unexpected exception in the reader (a bug): logged, the stream is re-opened,
  the watchers do not wait for ever on a dead thread or task;
- a delete event that never reaches a lock waiter's watch: its periodic re-read
  finds the key gone, so the lock still passes on.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from polling import async_wait_for, holds_for, wait_for
from test_watch_runtime import next_events

import etcdgen
from etcdgen._core.spec import CallKind
from etcdgen._core.watch_state import WatchMux
from etcdgen.concurrency import AsyncMutex, AsyncSession, Mutex, Session
from etcdgen.generated.mvccpb import kv_pb2
from etcdgen.testing import EtcdServer


def evict_after_next_stream_pick(client: etcdgen.Client) -> dict[str, int]:
    """The next stream's channel is closed right after the pool hands out its callable."""
    connection = client._connection
    pool, balancer = connection.pool, connection.balancer
    original = pool.callable
    armed = {"left": 1}

    def callable_then_evicted(state: Any, lane: Any, spec: Any) -> Any:
        found = original(state, lane, spec)
        if armed["left"] and spec.kind is CallKind.STREAM_STREAM:
            armed["left"] -= 1
            balancer.evicted(state)  # as health.apply_probe does, then the pool closes it
            pool.evict(state)
        return found

    pool.callable = callable_then_evicted  # type: ignore[method-assign]
    return armed


def test_watch_and_lease_survive_a_channel_closed_at_stream_start_provoked(
    etcd: EtcdServer,
) -> None:
    with etcdgen.Client(etcd.endpoint) as client:
        armed = evict_after_next_stream_pick(client)
        with client.watch("closed-start/", prefix=True) as watch:
            assert armed["left"] == 0  # the watch stream's first start hit the closed channel
            revision = client.put("closed-start/a", "1").header.revision
            (event,) = next_events(watch, 1)
        assert event.kv.mod_revision == revision

        armed["left"] = 1
        with client.lease(ttl=2) as lease:
            client.put("closed-start/leased", "v", lease=lease)
            wait_for(lambda: client._connection.leases().opens >= 1, "the keep-alive stream")
            assert armed["left"] == 0  # its first start hit the closed channel
            # Renewed on the re-opened stream: the key outlives the lease's TTL.
            holds_for(3, lambda: client.get("closed-start/leased").kvs[0])
            assert not lease.lost.is_set()


class _FailOnce:
    """WatchMux.on_response that raises once: a stand-in for a bug in the reader."""

    def __init__(self) -> None:
        self.failed = 0
        self.original = WatchMux.on_response

    def __call__(self, mux: WatchMux, response: Any) -> Any:
        if not self.failed and response.events:
            self.failed += 1
            raise RuntimeError("injected reader failure")
        return self.original(mux, response)


@pytest.fixture
def reader_fails_once(monkeypatch: pytest.MonkeyPatch) -> Iterator[_FailOnce]:
    failing = _FailOnce()
    monkeypatch.setattr(WatchMux, "on_response", lambda mux, r: failing(mux, r))
    yield failing


def test_watch_reader_failure_is_logged_and_the_watch_resumes_provoked(
    etcd: EtcdServer, reader_fails_once: _FailOnce, caplog: pytest.LogCaptureFixture
) -> None:
    with etcdgen.Client(etcd.endpoint) as client, client.watch("reader-bug/k") as watch:
        first = client.put("reader-bug/k", "1").header.revision
        second = client.put("reader-bug/k", "2").header.revision
        events = next_events(watch, 2)
    assert reader_fails_once.failed == 1
    # Resumed from its own next revision: the event the failed read carried comes again.
    assert [e.kv.mod_revision for e in events] == [first, second]
    assert any("failed unexpectedly" in r.getMessage() for r in caplog.records)
    assert any(r.levelno == logging.ERROR for r in caplog.records)


def test_async_watch_reader_failure_is_logged_and_the_watch_resumes_provoked(
    etcd: EtcdServer, reader_fails_once: _FailOnce, caplog: pytest.LogCaptureFixture
) -> None:
    async def main() -> list[int]:
        async with (
            etcdgen.AsyncClient(etcd.endpoint) as client,
            client.watch("reader-bug-async/k") as watch,
        ):
            await client.put("reader-bug-async/k", "1")
            await client.put("reader-bug-async/k", "2")
            revisions: list[int] = []
            async with asyncio.timeout(10):
                async for response in watch:
                    revisions.extend(e.kv.mod_revision for e in response.events)
                    if len(revisions) >= 2:
                        return revisions
        raise AssertionError("unreachable")

    revisions = asyncio.run(main())
    assert reader_fails_once.failed == 1
    assert len(revisions) == 2 and revisions[0] < revisions[1]
    assert any("failed unexpectedly" in r.getMessage() for r in caplog.records)


class _DropDeletes:
    """WatchMux.on_response that drops every DELETE event: a lost notification."""

    def __init__(self) -> None:
        self.dropped = 0
        self.original = WatchMux.on_response

    def __call__(self, mux: WatchMux, response: Any) -> Any:
        if any(e.type == kv_pb2.Event.DELETE for e in response.events):
            self.dropped += 1
            dropped = type(response)(header=response.header, watch_id=response.watch_id)
            return self.original(mux, dropped)
        return self.original(mux, response)


@pytest.fixture
def deletes_dropped(monkeypatch: pytest.MonkeyPatch) -> Iterator[_DropDeletes]:
    """Every DELETE event lost, and lock waiters re-reading every 0.3 s (not 5 s)."""
    from etcdgen._async import concurrency as async_concurrency
    from etcdgen._sync import concurrency as sync_concurrency

    dropping = _DropDeletes()
    monkeypatch.setattr(WatchMux, "on_response", lambda mux, r: dropping(mux, r))
    for module in (sync_concurrency, async_concurrency):
        monkeypatch.setattr(module, "RECHECK_INTERVAL", 0.3)
    yield dropping


def test_lock_waiter_gets_the_lock_when_the_delete_never_reaches_its_watch_provoked(
    etcd: EtcdServer, deletes_dropped: _DropDeletes, caplog: pytest.LogCaptureFixture
) -> None:
    with (
        etcdgen.Client(etcd.endpoint) as client,
        Session(client, ttl=30) as first_session,
        Session(client, ttl=30) as second_session,
    ):
        first = Mutex(first_session, "lost-delete/lock")
        second = Mutex(second_session, "lost-delete/lock")
        first.lock()
        waiter = threading.Thread(target=second.lock, daemon=True)
        waiter.start()
        hub = client._connection.watches()
        # The waiter is queued once its watch on the holder's key is created.
        wait_for(lambda: any(w.creations for w in list(hub.mux.live)), "the waiter's watch")
        first.unlock()
        waiter.join(timeout=10)
        assert not waiter.is_alive(), "the waiter never got the lock"
        assert client.get("lost-delete/lock/", prefix=True).kvs[0].key == second.key
        second.unlock()
    assert deletes_dropped.dropped >= 1
    assert any("did not report it" in r.getMessage() for r in caplog.records)


def test_async_lock_waiter_gets_the_lock_when_the_delete_never_reaches_its_watch_provoked(
    etcd: EtcdServer, deletes_dropped: _DropDeletes, caplog: pytest.LogCaptureFixture
) -> None:

    async def main() -> None:
        async with (
            etcdgen.AsyncClient(etcd.endpoint) as client,
            AsyncSession(client, ttl=30) as first_session,
            AsyncSession(client, ttl=30) as second_session,
        ):
            first = AsyncMutex(first_session, "lost-delete-async/lock")
            second = AsyncMutex(second_session, "lost-delete-async/lock")
            await first.lock()
            waiter = asyncio.create_task(second.lock())
            hub = client._connection.watches()
            await async_wait_for(
                lambda: any(w.creations for w in list(hub.mux.live)), "the waiter's watch"
            )
            await first.unlock()
            async with asyncio.timeout(10):
                await waiter
            holder = await client.get("lost-delete-async/lock/", prefix=True)
            assert holder.kvs[0].key == second.key
            await second.unlock()

    asyncio.run(main())
    assert deletes_dropped.dropped >= 1
    assert any("did not report it" in r.getMessage() for r in caplog.records)
