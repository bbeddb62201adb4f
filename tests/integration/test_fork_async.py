"""An AsyncClient with open channels, inherited by os.fork(): it goes on in the child,
a new AsyncClient works there too, and its inherited watches end with a clear error.

grpc.aio cannot run in a child forked while the parent's asyncio channels are open
(see etcdgen/_core/fork.py), so in such a child every AsyncClient, the inherited one
included, runs over sync gRPC (etcdgen/_core/aio_threaded.py). A watch the parent
opened cannot follow (its task stayed on the parent's loop): reading it in the child
raises ForkedProcessError instead of waiting for ever.
"""

from __future__ import annotations

import asyncio
import logging
import os

import pytest
from forking import run_forked

import etcdgen
from etcdgen.testing import EtcdServer

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="os.fork() is POSIX only")

#: The issue's bar: 20 forks in a row, none aborting or hanging.
FORKS = 20
CHILD_DEADLINE = 20.0


def grpc_older_than_1_85() -> bool:
    import grpc

    major, minor = (int(part) for part in grpc.__version__.split(".")[:2])
    return (major, minor) < (1, 85)


async def _use_a_new_client(endpoint: str) -> None:
    """What a child does with a client of its own: calls, a watch and a managed lease."""
    async with etcdgen.AsyncClient(endpoint) as client:
        put = await client.put("fork/async/child", str(os.getpid()))
        assert (await client.get("fork/async/child")).kvs[0].value == str(os.getpid()).encode()
        async with client.watch("fork/async/child", start_revision=put.header.revision) as events:
            async for response in events:
                assert response.events[0].kv.value == str(os.getpid()).encode()
                break
        async with client.lease(5) as lease:
            await client.put("fork/async/leased", "x", lease=lease.id)
            lease.check()


async def _use_the_inherited_client(
    client: etcdgen.AsyncClient, inherited_watch: etcdgen.AsyncWatch
) -> str:
    """The inherited client's calls work; its parent's watch ends with ForkedProcessError."""
    assert (await client.get("fork/async")).kvs[0].value == b"v"
    await client.put("fork/async/by-child", str(os.getpid()))
    try:
        await asyncio.wait_for(inherited_watch.get(), 5)
    except etcdgen.ForkedProcessError as error:
        told = str(error)
    else:
        raise AssertionError("the inherited watch did not end in the child")
    # A new watch on the inherited client works.
    put = await client.put("fork/async/by-child", "again")
    async with client.watch("fork/async/by-child", start_revision=put.header.revision) as w:
        async for response in w:
            assert response.events[0].kv.value == b"again"
            break
    return told


def test_inherited_open_async_client_goes_on_in_the_child(
    etcd: EtcdServer, caplog: pytest.LogCaptureFixture
) -> None:
    if not etcd.version.startswith("3.5"):
        pytest.skip("client-side behaviour; covered with 3.5")
    if grpc_older_than_1_85():
        pytest.skip("older gRPC's fork support ends every child of a grpc.aio user (1.49.1)")
    client = etcdgen.AsyncClient(etcd.endpoint)
    loop = asyncio.new_event_loop()
    failures: list[str] = []
    watch: etcdgen.AsyncWatch | None = None

    async def open_watch() -> etcdgen.AsyncWatch:
        opened = client.watch("fork/async/parent-watch")
        assert await opened.wait_created(5)
        return opened

    try:
        loop.run_until_complete(client.put("fork/async", "v"))
        watch = loop.run_until_complete(open_watch())
        inherited = watch
        for index in range(FORKS):

            def child() -> str:
                told = asyncio.run(_use_the_inherited_client(client, inherited))
                asyncio.run(_use_a_new_client(etcd.endpoint))
                return told

            with caplog.at_level(logging.WARNING, logger="etcdgen"):
                status, text = run_forked(child, CHILD_DEADLINE)
            if status is None or not os.WIFEXITED(status) or os.WEXITSTATUS(status) != 0:
                failures.append(f"fork {index}: status {status}: {text}")
                continue
            assert "open a new watch in the child" in text, text
            # The parent goes on between forks, its watch included.
            loop.run_until_complete(client.put("fork/async/parent-watch", str(index)))
            response = loop.run_until_complete(asyncio.wait_for(watch.get(), 5))
            assert response is not None
            assert response.events[0].kv.value == str(index).encode()
        assert failures == []
        warnings = [r for r in caplog.records if "AsyncClient has open channels" in r.message]
        assert len(warnings) == FORKS, caplog.records
        assert "Await client.close() before forking" in warnings[0].message
    finally:
        if watch is not None:
            watch.cancel()
        loop.run_until_complete(client.close())
        loop.close()
