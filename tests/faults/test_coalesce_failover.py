"""Coalesced reads survive a frozen member: a batch waiting on it moves elsewhere.

A 3-member etcd 3.5 cluster; 16 threads (and, separately, 16 tasks) read through
`coalesce_reads=True` while a follower is frozen with SIGSTOP for a while. No read
may fail, and batches must have formed (so the batch path, a read-only Txn, is
what failed over).
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator

import pytest
from conftest import require_etcd_binary
from polling import wait_for

import etcdgen
from etcdgen.testing import EtcdCluster

pytestmark = pytest.mark.slow

WORKERS = 16


@pytest.fixture(scope="module")
def cluster() -> Iterator[EtcdCluster]:
    with EtcdCluster(3, binary=require_etcd_binary("3.5"), name_prefix="coal") as started:
        yield started


def freeze_until_marked(cluster: EtcdCluster, client: object, reads: list[int]) -> str:
    """Freeze a follower until the client marks it and reads went on without it."""
    frozen = cluster.followers()[0]
    frozen.pause()
    try:
        health = client.endpoint_health  # type: ignore[attr-defined]
        wait_for(
            lambda: health()[frozen.endpoint].state == "unresponsive",
            "the client to mark the frozen member",
            20,
        )
        before = reads[0]
        wait_for(lambda: reads[0] >= before + 500, "reads to go on without the member", 20)
    finally:
        frozen.resume()
    return frozen.name


def test_sync_coalesced_reads_fail_over(cluster: EtcdCluster) -> None:
    errors: list[BaseException] = []
    reads = [0]
    stop = threading.Event()
    with etcdgen.Client(cluster.endpoints, coalesce_reads=True) as client:
        client.put("coal/k", "v")

        def reader() -> None:
            while not stop.is_set():
                try:
                    assert client.get("coal/k").kvs[0].value == b"v"
                    reads[0] += 1
                except BaseException as error:
                    errors.append(error)

        threads = [threading.Thread(target=reader) for _ in range(WORKERS)]
        for thread in threads:
            thread.start()
        try:
            name = freeze_until_marked(cluster, client, reads)
        finally:
            stop.set()
            for thread in threads:
                thread.join(timeout=30)
        stats = client.read_batch_stats()
    assert stats is not None
    print(
        f"\n[sync] froze {name}: reads={reads[0]} failed={len(errors)} batches={dict(stats.sizes)}"
    )
    assert errors == []
    assert max(stats.sizes) > 1


def test_async_coalesced_reads_fail_over(cluster: EtcdCluster) -> None:
    errors: list[BaseException] = []
    reads = [0]

    async def scenario() -> etcdgen.ReadBatchStats | None:
        async with etcdgen.AsyncClient(cluster.endpoints, coalesce_reads=True) as client:
            await client.put("coal/k", "v")
            stop = asyncio.Event()

            async def reader() -> None:
                while not stop.is_set():
                    try:
                        assert (await client.get("coal/k")).kvs[0].value == b"v"
                        reads[0] += 1
                    except BaseException as error:
                        errors.append(error)

            tasks = [asyncio.ensure_future(reader()) for _ in range(WORKERS)]
            try:
                await asyncio.to_thread(freeze_until_marked, cluster, client, reads)
            finally:
                stop.set()
                await asyncio.gather(*tasks)
            return client.read_batch_stats()

    stats = asyncio.run(scenario())
    assert stats is not None
    print(f"\n[async] reads={reads[0]} failed={len(errors)} batches={dict(stats.sizes)}")
    assert errors == []
    assert max(stats.sizes) > 1
