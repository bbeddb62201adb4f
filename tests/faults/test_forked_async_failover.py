"""A new AsyncClient in a forked child, over sync gRPC, fails over like any other.

The parent has an AsyncClient with open grpc.aio channels when it forks, so in the
child grpc.aio cannot start again and a new AsyncClient runs over
`ThreadedAioChannel` (etcdgen/_core/aio_threaded.py). There, 8 tasks read and one
watch follows a key while a follower of a 3-member etcd 3.5 cluster is frozen with
SIGSTOP: no read may fail and the watch must see every write, in order.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
from collections.abc import Iterator

import pytest
from conftest import require_etcd_binary
from forking import run_forked
from polling import async_wait_for

import etcdgen
from etcdgen._core import fork
from etcdgen.testing import EtcdCluster

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not hasattr(os, "fork"), reason="os.fork() is POSIX only"),
]

READERS = 8
CHILD_DEADLINE = 120.0


@pytest.fixture(scope="module")
def cluster() -> Iterator[EtcdCluster]:
    with EtcdCluster(3, binary=require_etcd_binary("3.5"), name_prefix="forkaio") as started:
        yield started


async def _child_run(endpoints: list[str], frozen: str, frozen_pid: int) -> dict[str, object]:
    report: dict[str, object] = {"aio_usable": fork.aio_usable()}
    async with etcdgen.AsyncClient(endpoints) as client:
        await client.put("forkaio/w", "0")
        start = (await client.get("forkaio/w")).header.revision + 1
        reads = [0]
        errors: list[str] = []
        seen: list[bytes] = []
        stop = asyncio.Event()

        async def reader() -> None:
            while not stop.is_set():
                try:
                    await client.get("forkaio/w")
                    reads[0] += 1
                except Exception as error:
                    errors.append(repr(error))
                    await asyncio.sleep(0.01)  # a failing call must not starve the loop

        async def follow() -> None:
            async with client.watch("forkaio/w", start_revision=start) as events:
                async for response in events:
                    seen.extend(e.kv.value for e in response.events)
                    if len(seen) >= 20:
                        return

        readers = [asyncio.create_task(reader()) for _ in range(READERS)]
        watcher = asyncio.create_task(follow())
        try:
            await async_wait_for(
                lambda: all(h.state == "healthy" for h in client.endpoint_health().values()),
                "every member probed healthy",
                20,
            )
            # The members' process objects belong to the parent: signal by pid.
            os.kill(frozen_pid, signal.SIGSTOP)
            try:
                await async_wait_for(
                    lambda: client.endpoint_health()[frozen].state == "unresponsive",
                    "the client to mark the frozen member",
                    20,
                )
                before = reads[0]
                await async_wait_for(lambda: reads[0] >= before + 200, "reads without it", 20)
                for value in range(1, 11):
                    await client.put("forkaio/w", str(value))
            finally:
                os.kill(frozen_pid, signal.SIGCONT)
            for value in range(11, 21):
                await client.put("forkaio/w", str(value))
            await asyncio.wait_for(watcher, 20)
        finally:
            stop.set()
            watcher.cancel()
            await asyncio.gather(*readers, watcher, return_exceptions=True)
        report.update(reads=reads[0], errors=errors[:5], failed=len(errors), seen=len(seen))
        report["in_order"] = seen == [str(v).encode() for v in range(1, 21)]
        report["frozen"] = frozen
    return report


def test_new_async_client_in_forked_child_fails_over(cluster: EtcdCluster) -> None:
    parent_client = etcdgen.AsyncClient(cluster.endpoints)
    loop = asyncio.new_event_loop()
    try:
        loop.run_until_complete(parent_client.put("forkaio/parent", "x"))  # aio channels open
        frozen = cluster.followers()[0]
        endpoints, frozen_endpoint, frozen_pid = cluster.endpoints, frozen.endpoint, frozen.pid
        status, text = run_forked(
            lambda: json.dumps(asyncio.run(_child_run(endpoints, frozen_endpoint, frozen_pid))),
            CHILD_DEADLINE,
        )
    finally:
        for member in cluster.members:  # in case the child died with one frozen
            if member.running:
                os.kill(member.pid, signal.SIGCONT)
    print(f"\n[forked child, sync gRPC underneath] {text}")
    assert status is not None, "the child hung"
    assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0, (status, text)
    report = json.loads(text)
    assert report["aio_usable"] is False  # so the child really ran over ThreadedAioChannel
    assert report["failed"] == 0, report["errors"]
    assert report["in_order"], report
    assert report["reads"] > 200
    loop.run_until_complete(parent_client.close())
    loop.close()
