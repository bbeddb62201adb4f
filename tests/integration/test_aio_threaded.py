"""ThreadedAioChannel, the asyncio transport of a child forked while grpc.aio was in use,
against a real etcd (in this process: the adapter needs no fork to be exercised).

A forked child's new AsyncClient over it is covered by test_fork_async.py.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import grpc
import pytest

from etcdgen._core.aio_threaded import STREAM_WINDOW, ThreadedAioChannel
from etcdgen.generated.etcdserverpb import rpc_pb2
from etcdgen.testing import EtcdServer
from tests.polling import async_holds_for, async_wait_for

PUT = "/etcdserverpb.KV/Put"
RANGE = "/etcdserverpb.KV/Range"
WATCH = "/etcdserverpb.Watch/Watch"
SNAPSHOT = "/etcdserverpb.Maintenance/Snapshot"


def _channel(endpoint: str) -> ThreadedAioChannel:
    return ThreadedAioChannel(grpc.insecure_channel(endpoint))


def _put(channel: ThreadedAioChannel) -> object:
    return channel.unary_unary(
        PUT, rpc_pb2.PutRequest.SerializeToString, rpc_pb2.PutResponse.FromString
    )


def _range(channel: ThreadedAioChannel) -> object:
    return channel.unary_unary(
        RANGE, rpc_pb2.RangeRequest.SerializeToString, rpc_pb2.RangeResponse.FromString
    )


def _watch(channel: ThreadedAioChannel) -> object:
    return channel.stream_stream(
        WATCH, rpc_pb2.WatchRequest.SerializeToString, rpc_pb2.WatchResponse.FromString
    )


def _create(key: bytes, start: int = 0, prefix: bool = False) -> rpc_pb2.WatchRequest:
    end = key[:-1] + bytes([key[-1] + 1]) if prefix else b""
    return rpc_pb2.WatchRequest(
        create_request=rpc_pb2.WatchCreateRequest(key=key, range_end=end, start_revision=start)
    )


@pytest.fixture(scope="module")
def etcd35(etcd: EtcdServer) -> EtcdServer:
    if not etcd.version.startswith("3.5"):
        pytest.skip("transport-level behaviour; covered with 3.5")
    return etcd


def test_unary_calls_answer_and_fail_with_rpc_errors(etcd35: EtcdServer) -> None:
    async def main() -> None:
        channel = _channel(etcd35.endpoint)
        put, get = _put(channel), _range(channel)
        reply = await put(rpc_pb2.PutRequest(key=b"threaded/a", value=b"1"), timeout=5)  # type: ignore[operator]
        assert reply.header.revision > 0
        found = await get(rpc_pb2.RangeRequest(key=b"threaded/a"), timeout=5)  # type: ignore[operator]
        assert [kv.value for kv in found.kvs] == [b"1"]
        with pytest.raises(grpc.RpcError) as caught:
            await get(rpc_pb2.RangeRequest(key=b""), timeout=5)  # type: ignore[operator]
        assert caught.value.code() is grpc.StatusCode.INVALID_ARGUMENT  # type: ignore[attr-defined]
        await channel.close()
        with pytest.raises(ValueError, match="closed channel"):
            get(rpc_pb2.RangeRequest(key=b"threaded/a"))  # type: ignore[operator]

    asyncio.run(main())


def test_cancelling_the_awaiting_task_cancels_the_call() -> None:
    async def main(server: EtcdServer) -> None:
        channel = _channel(server.endpoint)
        get = _range(channel)
        await get(rpc_pb2.RangeRequest(key=b"k"), timeout=5)  # type: ignore[operator]
        server.pause()  # a frozen member: the call would wait for its deadline
        try:
            call = get(rpc_pb2.RangeRequest(key=b"k"), timeout=30)  # type: ignore[operator]
            task = asyncio.ensure_future(call)
            await asyncio.sleep(0)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await asyncio.wait_for(task, 5)
            assert call._future.cancelled()
        finally:
            server.resume()
            await channel.close()

    with EtcdServer(name="threaded-cancel") as server:
        asyncio.run(main(server))


def test_closing_the_channel_ends_its_calls_with_cancelled_error() -> None:
    """What grpc.aio does, and what the invoker's failover relies on."""

    async def main(server: EtcdServer) -> None:
        channel = _channel(server.endpoint)
        get = _range(channel)
        await get(rpc_pb2.RangeRequest(key=b"k"), timeout=5)  # type: ignore[operator]
        watch = _watch(channel)(None)  # type: ignore[operator]
        await watch.write(_create(b"threaded/close"))
        assert (await watch.__anext__()).created
        server.pause()
        try:
            pending = asyncio.ensure_future(get(rpc_pb2.RangeRequest(key=b"k"), timeout=30))  # type: ignore[operator]
            reading = asyncio.ensure_future(watch.__anext__())
            await asyncio.sleep(0)
            await channel.close()
            for future in (pending, reading):
                with pytest.raises(asyncio.CancelledError):
                    await asyncio.wait_for(future, 5)
        finally:
            server.resume()

    with EtcdServer(name="threaded-close") as server:
        asyncio.run(main(server))


def test_bidirectional_stream_with_write_and_cancel(etcd35: EtcdServer) -> None:
    async def main() -> None:
        channel = _channel(etcd35.endpoint)
        put = _put(channel)
        watch = _watch(channel)(None, metadata=(("hasleader", "true"),))  # type: ignore[operator]
        await watch.write(_create(b"threaded/w"))
        created = await watch.__anext__()
        assert created.created
        await put(rpc_pb2.PutRequest(key=b"threaded/w", value=b"x"), timeout=5)  # type: ignore[operator]
        event = await watch.__anext__()
        assert [e.kv.value for e in event.events] == [b"x"]
        watch.cancel()
        with pytest.raises(asyncio.CancelledError):
            await asyncio.wait_for(watch.__anext__(), 5)
        await channel.close()

    asyncio.run(main())


def test_stream_fed_by_an_async_iterator_and_ended_by_the_server(etcd35: EtcdServer) -> None:
    async def main() -> None:
        channel = _channel(etcd35.endpoint)
        put = _put(channel)
        first = await put(rpc_pb2.PutRequest(key=b"threaded/it", value=b"1"), timeout=5)  # type: ignore[operator]
        sent = asyncio.Event()

        async def requests() -> AsyncIterator[rpc_pb2.WatchRequest]:
            yield _create(b"threaded/it", start=first.header.revision)
            sent.set()

        watch = _watch(channel)(requests())  # type: ignore[operator]
        responses = [r async for r in _until_event(watch)]
        assert sent.is_set()
        assert [e.kv.value for r in responses for e in r.events] == [b"1"]
        snapshot = channel.unary_stream(
            SNAPSHOT,
            rpc_pb2.SnapshotRequest.SerializeToString,
            rpc_pb2.SnapshotResponse.FromString,
        )(rpc_pb2.SnapshotRequest(), timeout=30)  # type: ignore[operator]
        chunks = [chunk async for chunk in snapshot]  # ends with the server's last chunk
        assert sum(len(c.blob) for c in chunks) > 0
        assert chunks[-1].remaining_bytes == 0
        watch.cancel()
        await channel.close()

    asyncio.run(main())


async def _until_event(watch: object) -> AsyncIterator[rpc_pb2.WatchResponse]:
    async for response in watch:  # type: ignore[attr-defined]
        yield response
        if response.events:
            return


def test_a_slow_consumer_holds_the_reader_back(etcd35: EtcdServer) -> None:
    """The reader thread stays at most STREAM_WINDOW responses ahead of the consumer."""

    async def main() -> None:
        channel = _channel(etcd35.endpoint)
        watch = _watch(channel)(None)  # type: ignore[operator]
        wanted = STREAM_WINDOW * 3
        for index in range(wanted):  # each create is answered by one response
            await watch.write(_create(b"threaded/slow/%03d" % index))
        queued = watch._responses
        await async_wait_for(lambda: queued.qsize() >= STREAM_WINDOW, "the window to fill")
        await async_holds_for(0.5, lambda: _at_most(queued.qsize(), STREAM_WINDOW + 1))
        created = 0
        async for response in watch:
            created += response.created
            if created == wanted:
                break
        watch.cancel()
        await channel.close()

    asyncio.run(main())


def _at_most(value: int, bound: int) -> None:
    assert value <= bound, (value, bound)
