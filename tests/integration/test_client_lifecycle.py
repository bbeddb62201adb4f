"""close() and context exit release every channel and thread."""

from __future__ import annotations

import asyncio
import gc
import logging
import threading
import time

import pytest

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


# -- prompt close, garbage collection, event loops, deadlines --------------------------------


def test_close_is_prompt_and_silent(etcd: EtcdServer, capfd: pytest.CaptureFixture[str]) -> None:
    worst = 0.0
    for used in (True, False, True, False):
        client = etcdgen.Client(etcd.endpoint)
        if used:
            client.put("lifecycle/close", "v")
        started = time.perf_counter()
        client.close()
        worst = max(worst, time.perf_counter() - started)
    print(f"slowest close: {worst * 1000:.1f} ms")
    assert worst < 0.05
    # Wait (bounded) until the closed clients' background threads are gone, so that
    # anything they would print is in the captured output.
    _threads_settle(1)
    assert "Traceback" not in capfd.readouterr().err


def test_unclosed_client_is_released_by_gc_with_a_resource_warning(etcd: EtcdServer) -> None:
    use_sync(etcd.endpoint)
    baseline = _threads_settle(0, seconds=1.0)

    def leak() -> None:
        client = etcdgen.Client(etcd.endpoint)
        client.put("lifecycle/gc", "v")
        assert threading.active_count() > baseline  # its prober runs

    with pytest.warns(ResourceWarning, match="unclosed <Client"):
        leak()
        gc.collect()
    assert _threads_settle(baseline) <= baseline, [t.name for t in threading.enumerate()]


def test_async_client_made_outside_a_loop_works_in_successive_asyncio_runs(
    etcd: EtcdServer,
) -> None:
    client = etcdgen.AsyncClient(etcd.endpoint)  # module-level style: no loop running

    async def use(value: str) -> bytes:
        await client.put("lifecycle/loop", value)
        return bytes((await client.get("lifecycle/loop")).kvs[0].value)

    assert asyncio.run(use("1")) == b"1"
    assert asyncio.run(use("2")) == b"2"  # the first loop is closed: it rebinds
    asyncio.run(client.close())


def test_loops_ended_by_asyncio_run_leave_no_late_grpc_callbacks(
    etcd: EtcdServer, caplog: pytest.LogCaptureFixture
) -> None:
    """A loop that ends with the client's probes or watch in flight: gRPC's late
    completions must reach it before it closes, not print "Event loop is closed"
    from the next loop (see etcdgen/_core/aio_loop_end.py; about every other run of
    this pattern printed it before)."""
    client = etcdgen.AsyncClient(etcd.endpoint)  # module-level style

    async def short_run(index: int) -> None:
        await client.put("lifecycle/late", str(index))
        watch = client.watch("lifecycle/late")
        await watch.wait_created(5)  # left open: asyncio.run cancels its stream

    async def other_client() -> None:
        async with etcdgen.AsyncClient(etcd.endpoint) as other:
            await other.get("lifecycle/late")

    with caplog.at_level(logging.ERROR, logger="asyncio"):
        for index in range(8):
            asyncio.run(short_run(index))
            asyncio.run(other_client())
        asyncio.run(client.close())
    late = [r.getMessage() for r in caplog.records if "Event loop is closed" in str(r.exc_info)]
    assert late == [], late


def test_async_client_used_from_a_second_running_loop_says_so(etcd: EtcdServer) -> None:
    client = etcdgen.AsyncClient(etcd.endpoint)
    first_loop = asyncio.new_event_loop()
    ready, release = threading.Event(), threading.Event()

    async def hold() -> None:
        await client.get("lifecycle/loop")
        ready.set()
        while not release.is_set():
            await asyncio.sleep(0.01)
        await client.close()

    thread = threading.Thread(target=first_loop.run_until_complete, args=(hold(),))
    thread.start()
    try:
        assert ready.wait(10)
        with pytest.raises(etcdgen.WrongEventLoopError, match="one AsyncClient per event loop"):
            asyncio.run(client.get("lifecycle/loop"))
    finally:
        release.set()
        thread.join(10)
        first_loop.close()


@pytest.mark.parametrize("huge", [float("inf"), 1e10, 10 * 365 * 86400.0])
def test_infinite_and_huge_timeouts_mean_no_deadline(etcd: EtcdServer, huge: float) -> None:
    with etcdgen.Client(etcd.endpoint, timeout=huge) as client:
        client.put("lifecycle/t", "v")
        assert client.get("lifecycle/t", timeout=huge).count == 1

    async def main() -> int:
        async with etcdgen.AsyncClient(etcd.endpoint, timeout=huge) as aclient:
            return (await aclient.get("lifecycle/t", timeout=huge)).count

    assert asyncio.run(main()) == 1


def test_connect_timeout_bounds_a_frozen_member_without_a_deadline(etcd: EtcdServer) -> None:
    with EtcdServer(binary=etcd.binary, name="frozen") as server:
        endpoint = server.endpoint
        server.pause()
        try:
            client = etcdgen.Client(server.endpoint, timeout=None, connect_timeout=2)
            started = time.monotonic()
            with pytest.raises(etcdgen.ConnectionFailedError) as raised:
                client.get("k")
            elapsed = time.monotonic() - started
            client.close()
        finally:
            server.resume()
    assert 1.8 < elapsed < 3.5, elapsed
    assert "within 2 s (connect_timeout)" in str(raised.value)
    assert endpoint in str(raised.value)


def test_dead_endpoint_message_states_the_timeout_that_applied() -> None:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        endpoint = f"127.0.0.1:{sock.getsockname()[1]}"
    with (
        etcdgen.Client(endpoint, timeout=1) as client,
        pytest.raises(etcdgen.ConnectionFailedError) as raised,
    ):
        client.get("k")
    assert "within 1 s (timeout)" in str(raised.value)
    assert "Connection refused" in str(raised.value) or "connect" in str(raised.value)
