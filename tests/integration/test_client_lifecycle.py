"""close() and context exit release every channel and thread."""

from __future__ import annotations

import asyncio
import gc
import threading
import time

import etcdgen
from etcdgen.testing import EtcdServer


def _threads_settle(limit: int, seconds: float = 5.0) -> int:
    """The live thread count, once it drops to `limit` (or after `seconds`)."""
    deadline = time.monotonic() + seconds
    while threading.active_count() > limit and time.monotonic() < deadline:
        gc.collect()
        time.sleep(0.05)
    return threading.active_count()


def use_sync(endpoint: str) -> None:
    with etcdgen.Client(endpoint) as client:
        client.put("lifecycle", "v")
        client.get("lifecycle")
        stream = client.rpc.maintenance.snapshot()
        next(stream)
        stream.cancel()


def test_sync_clients_leave_no_threads_behind(etcd: EtcdServer) -> None:
    use_sync(etcd.endpoint)  # grpc's process-wide threads start on first use
    baseline = _threads_settle(0, seconds=1.0)
    for _ in range(10):
        use_sync(etcd.endpoint)
    assert _threads_settle(baseline) <= baseline, [t.name for t in threading.enumerate()]


def test_async_clients_leave_no_tasks_or_threads_behind(etcd: EtcdServer) -> None:
    async def use_async() -> int:
        for _ in range(10):
            async with etcdgen.AsyncClient(etcd.endpoint) as client:
                await client.put("lifecycle", "a")
                await client.get("lifecycle")
        await asyncio.sleep(0)
        return len([t for t in asyncio.all_tasks() if t is not asyncio.current_task()])

    asyncio.run(use_async())
    baseline = _threads_settle(0, seconds=1.0)
    assert asyncio.run(use_async()) == 0
    assert _threads_settle(baseline) <= baseline
