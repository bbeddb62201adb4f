"""An AsyncClient with open channels, inherited by os.fork(): a clear error, never a crash,
and a new AsyncClient in the child works.

grpc.aio cannot run in a child forked while the parent's asyncio channels are open
(see etcdgen/_core/fork.py), so the inherited client refuses to start, saying what
to do, before it touches gRPC; a new AsyncClient made there runs over sync gRPC
(etcdgen/_core/aio_threaded.py).
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import time

import pytest

import etcdgen
from etcdgen.testing import EtcdServer

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="os.fork() is POSIX only")

#: The issue's bar: 20 forks in a row, none aborting or hanging.
FORKS = 20


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


def test_inherited_open_async_client_raises_forked_process_error(
    etcd: EtcdServer, caplog: pytest.LogCaptureFixture
) -> None:
    if not etcd.version.startswith("3.5"):
        pytest.skip("client-side behaviour; covered with 3.5")
    client = etcdgen.AsyncClient(etcd.endpoint)
    loop = asyncio.new_event_loop()
    crashed_in_grpc_fork_handler = 0
    told = 0
    try:
        loop.run_until_complete(client.put("fork/async", "v"))
        for _ in range(FORKS):
            read_end, write_end = os.pipe()
            with caplog.at_level(logging.WARNING, logger="etcdgen"):
                pid = os.fork()
            if pid == 0:  # the child
                os.write(write_end, b"+")  # os.fork() returned here: Python runs
                code = 1
                try:
                    asyncio.run(client.get("fork/async"))
                except etcdgen.ForkedProcessError as error:
                    os.write(write_end, str(error).encode())
                    try:
                        asyncio.run(_use_a_new_client(etcd.endpoint))
                        code = 0
                    except BaseException as error:
                        os.write(write_end, b" | new client: " + repr(error).encode())
                except BaseException as error:
                    os.write(write_end, repr(error).encode())
                os._exit(code)
            os.close(write_end)
            deadline = time.monotonic() + 20
            while True:
                done, status = os.waitpid(pid, os.WNOHANG)
                if done:
                    break
                if time.monotonic() > deadline:
                    os.kill(pid, signal.SIGKILL)
                    os.waitpid(pid, 0)
                    pytest.fail("the child hung")
                time.sleep(0.01)
            message = os.read(read_end, 4096).decode()
            os.close(read_end)
            if os.WIFSIGNALED(status) and not message:
                # gRPC's own child handler crashed inside os.fork(), before any Python
                # code ran in the child (about 1 child in 50 while grpc.aio channels are
                # open; see etcdgen/_core/fork.py). Nothing of ours ran, so nothing of
                # ours can be checked; the parent was warned (below).
                crashed_in_grpc_fork_handler += 1
                continue
            assert os.WIFEXITED(status), (status, message)
            if os.WEXITSTATUS(status) == os.EX_USAGE and grpc_older_than_1_85():
                # Older gRPC's fork support itself ends a child of a process that
                # used grpc.aio, before any code of ours runs (seen with 1.49.1).
                continue
            assert os.WEXITSTATUS(status) == 0, (status, message)
            assert "create a new AsyncClient in the child" in message
            told += 1
        # A rare crash in gRPC's handler is tolerated, not a habit of it.
        assert crashed_in_grpc_fork_handler <= 1, crashed_in_grpc_fork_handler
        if not grpc_older_than_1_85():
            assert told >= FORKS - 1
        warnings = [r for r in caplog.records if "AsyncClient has open channels" in r.message]
        assert len(warnings) == FORKS, caplog.records
        assert "Await client.close() before forking" in warnings[0].message
        # The parent's client goes on.
        assert loop.run_until_complete(client.get("fork/async")).count == 1
    finally:
        loop.run_until_complete(client.close())
        loop.close()
