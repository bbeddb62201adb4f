"""The watch API on a real etcd (3.5 and 3.4): options, callbacks, progress, closing."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest
from polling import async_wait_for, wait_for

import etcdgen
from etcdgen.generated.mvccpb import kv_pb2
from etcdgen.testing import EtcdServer


def next_events(watch: etcdgen.Watch, count: int) -> list[kv_pb2.Event]:
    found: list[kv_pb2.Event] = []
    while len(found) < count:
        response = watch.get(timeout=10)
        assert response is not None, f"only {len(found)} of {count} events"
        found.extend(response.events)
    return found


def test_watch_options(etcd: EtcdServer) -> None:
    with etcdgen.Client(etcd.endpoint) as client:
        start = client.put("wo/a", "1").header.revision
        client.put("wo/a", "2")
        client.delete("wo/a")
        with client.watch("wo/", prefix=True, start_revision=start, prev_kv=True) as watch:
            events = next_events(watch, 3)
        assert [e.type for e in events] == [kv_pb2.Event.PUT, kv_pb2.Event.PUT, kv_pb2.Event.DELETE]
        assert events[1].prev_kv.value == b"1"
        with client.watch("wo/", prefix=True, start_revision=start, filters=["noput"]) as watch:
            (deleted,) = next_events(watch, 1)
        assert deleted.type == kv_pb2.Event.DELETE
        with client.watch("wo/b", range_end="wo/d") as watch:
            client.put("wo/z", "outside")
            client.put("wo/c", "inside")
            (inside,) = next_events(watch, 1)
        assert inside.kv.key == b"wo/c"
        with client.watch("wo/m", from_key=True) as watch:
            client.put("wo/a", "before")
            client.put("wo/q", "after")
            (after,) = next_events(watch, 1)
        assert after.kv.key == b"wo/q"


def test_watch_from_now_sees_writes_made_inside_the_block(etcd: EtcdServer) -> None:
    with etcdgen.Client(etcd.endpoint) as client, client.watch("now/key") as watch:
        revision = client.put("now/key", "v").header.revision
        (event,) = next_events(watch, 1)
        assert event.kv.mod_revision == revision
        assert watch.next_revision == revision + 1


def test_request_progress_gives_an_event_less_response(etcd: EtcdServer) -> None:
    with etcdgen.Client(etcd.endpoint) as client, client.watch("progress/") as watch:
        watch.request_progress()
        response = watch.get(timeout=10)
        assert response is not None and not response.events
        assert response.header.revision > 0


def test_bad_watch_options_fail_locally(etcd: EtcdServer) -> None:
    with etcdgen.Client(etcd.endpoint) as client:
        with pytest.raises(etcdgen.EmptyKeyError, match="key is empty"):
            client.watch("")
        with pytest.raises(TypeError, match="filters"):
            client.watch("k", filters="noput")  # type: ignore[arg-type]
        with pytest.raises(ValueError, match="filters"):
            client.watch("k", filters=["noget"])
        with pytest.raises(ValueError, match="start_revision"):
            client.watch("k", start_revision=0)
        with pytest.raises(ValueError, match="max_buffered"):
            client.watch("k", max_buffered=0)


def test_compacted_start_revision_raises_compacted(etcd: EtcdServer) -> None:
    with etcdgen.Client(etcd.endpoint) as client:
        old = client.put("cmp/k", "1").header.revision
        latest = client.put("cmp/k", "2").header.revision
        client.compact(latest)
        with (
            client.watch("cmp/k", start_revision=old) as watch,
            pytest.raises(etcdgen.CompactedError) as raised,
        ):
            watch.get(timeout=10)
        assert raised.value.compact_revision == latest  # type: ignore[attr-defined]


def test_watch_callback(etcd: EtcdServer) -> None:
    seen: list[bytes] = []
    errors: list[etcdgen.EtcdError] = []
    with etcdgen.Client(etcd.endpoint) as client:
        handle = client.add_watch_callback(
            "cb/", lambda r: seen.extend(e.kv.value for e in r.events), prefix=True
        )
        for value in ("1", "2", "3"):
            client.put("cb/k", value)
        wait_for(lambda: len(seen) == 3, "the callbacks")
        assert seen == [b"1", b"2", b"3"]
        handle.cancel()
        client.put("cb/k", "4")
        latest = client.put("cb/k", "5").header.revision
        client.compact(latest)
        client.add_watch_callback("cb/k", seen.append, start_revision=2, on_error=errors.append)
        wait_for(lambda: errors, "on_error")
        assert isinstance(errors[0], etcdgen.CompactedError)
    assert seen[:3] == [b"1", b"2", b"3"] and len(seen) == 3


def test_closing_the_client_ends_iterators_and_threads(etcd: EtcdServer) -> None:
    client = etcdgen.Client(etcd.endpoint)
    watch = client.watch("close/")
    ended = threading.Event()

    def consume() -> None:
        for _ in watch:
            pass
        ended.set()

    consumer = threading.Thread(target=consume)
    consumer.start()
    started = time.monotonic()
    client.close()  # at once: the watch may still be being created
    assert time.monotonic() - started < 2.0  # promptly (it once waited 5 s for the reader)
    assert ended.wait(5), "the iterator did not end when the client closed"
    consumer.join(5)
    wait_for(
        lambda: not [t for t in threading.enumerate() if t.name.startswith("etcdgen-watch")],
        "the watch threads to stop",
        5,
    )
    with pytest.raises(etcdgen.ClientClosedError):
        client.watch("close/")


def test_async_watch_api(etcd: EtcdServer) -> None:
    async def scenario() -> None:
        seen: list[bytes] = []

        async def on_change(response: object) -> None:
            seen.extend(e.kv.value for e in response.events)  # type: ignore[attr-defined]

        client = etcdgen.AsyncClient(etcd.endpoint)
        async with client.watch("aw/", prefix=True) as watch:
            handle = client.add_watch_callback("aw/", on_change, prefix=True)
            await handle.wait_created(5)
            revision = (await client.put("aw/k", "1")).header.revision
            response = await watch.get(timeout=10)
            assert response is not None and response.events[0].kv.mod_revision == revision
            await async_wait_for(lambda: seen, "the callback")
            assert seen == [b"1"]
        pending = client.watch("aw/")
        ended = asyncio.get_running_loop().create_task(_drain(pending))
        await client.close()
        await asyncio.wait_for(ended, 5)

    asyncio.run(scenario())


async def _drain(watch: etcdgen.AsyncWatch) -> None:
    async for _ in watch:
        pass
