"""Read coalescing (`coalesce_reads=True`) against real etcd: same answers as plain gets,
per-caller errors, timeouts and cancellation.

A batch is made deterministic by freezing the server (SIGSTOP) while one get is in
flight: the gets issued meanwhile queue behind it, and go out as one txn once the
server is resumed.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from polling import async_wait_for, wait_for

import etcdgen
from etcdgen.generated.etcdserverpb import rpc_pb2
from etcdgen.testing import EtcdServer

PREFIX = "coalesce/"


def waiting(client: Any) -> int:
    """Gets in flight (at most one per group) or queued behind them."""
    return sum(group.busy + len(group.queue) for group in client._reads._groups)


@pytest.fixture
def data(etcd: EtcdServer) -> Iterator[dict[str, int]]:
    """Keys under PREFIX, written in two rounds; the revisions of interest."""
    with etcdgen.Client(etcd.endpoint) as client:
        client.delete(PREFIX, prefix=True)
        first = 0
        for i in range(20):
            first = client.put(f"{PREFIX}k{i:02d}", f"v{i}").header.revision
        for i in range(0, 20, 3):
            client.put(f"{PREFIX}k{i:02d}", f"w{i}")
        latest = client.get(PREFIX, prefix=True, count_only=True).header.revision
        yield {"first": first, "latest": latest}
        client.delete(PREFIX, prefix=True)


def mixed_gets(revs: dict[str, int]) -> list[dict[str, Any]]:
    """Gets of every kind (each a `get` keyword set; key first)."""
    return [
        {"key": f"{PREFIX}k01"},
        {"key": f"{PREFIX}k03"},
        {"key": f"{PREFIX}missing"},
        {"key": f"{PREFIX}k0", "prefix": True, "limit": 4},
        {"key": f"{PREFIX}k05", "range_end": f"{PREFIX}k12", "limit": 50},
        {"key": f"{PREFIX}k0", "prefix": True, "limit": 3, "keys_only": True},
        {"key": PREFIX, "prefix": True, "count_only": True},
        {"key": PREFIX, "prefix": True, "limit": 5, "sort_order": "descend"},
        {"key": PREFIX, "prefix": True, "limit": 5, "sort_target": "mod", "sort_order": "ascend"},
        {"key": f"{PREFIX}k03", "revision": revs["first"]},
        {"key": PREFIX, "prefix": True, "limit": 30, "revision": revs["first"]},
        {"key": PREFIX, "prefix": True, "limit": 30, "min_mod_revision": revs["first"] + 1},
        {"key": f"{PREFIX}k06", "serializable": True},
        {"key": f"{PREFIX}k0", "prefix": True, "limit": 2, "serializable": True},
    ]


def comparable(response: rpc_pb2.RangeResponse) -> tuple[Any, ...]:
    kvs = tuple(
        (kv.key, kv.value, kv.create_revision, kv.mod_revision, kv.version, kv.lease)
        for kv in response.kvs
    )
    header = response.header
    return kvs, response.count, response.more, header.revision, header.cluster_id


def get(client: Any, kwargs: dict[str, Any]) -> Any:
    kwargs = dict(kwargs)
    return client.get(kwargs.pop("key"), **kwargs)


def batched(etcd: EtcdServer, client: Any, calls: list[Callable[[], Any]]) -> list[Any]:
    """Run `calls` so that all but the first queue behind it: outcomes, in order."""
    outcomes: list[Any] = [None] * len(calls)

    def run(index: int) -> None:
        try:
            outcomes[index] = calls[index]()
        except BaseException as error:
            outcomes[index] = error

    etcd.pause()
    try:
        first = threading.Thread(target=run, args=(0,))
        first.start()
        wait_for(lambda: client._reads._groups[0].busy, "the first get to be in flight", 5)
        threads = [threading.Thread(target=run, args=(i,)) for i in range(1, len(calls))]
        for thread in threads:
            thread.start()
        wait_for(lambda: waiting(client) == len(calls), "gets to queue", 5)
    finally:
        etcd.resume()
    for thread in [first, *threads]:
        thread.join(timeout=30)
    return outcomes


def test_coalesced_gets_answer_as_plain_gets(etcd: EtcdServer, data: dict[str, int]) -> None:
    gets = mixed_gets(data)
    with (
        etcdgen.Client(etcd.endpoint) as plain,
        etcdgen.Client(etcd.endpoint, coalesce_reads=True) as client,
    ):
        expected = [comparable(get(plain, kwargs)) for kwargs in gets]
        calls: list[Callable[[], Any]] = [
            (lambda kwargs=kwargs: get(client, kwargs)) for kwargs in [gets[0], *gets]
        ]
        outcomes = batched(etcd, client, calls)
        stats = client.read_batch_stats()
    for outcome in outcomes:
        assert isinstance(outcome, rpc_pb2.RangeResponse), outcome
    assert [comparable(o) for o in outcomes[1:]] == expected
    assert stats is not None and max(stats.sizes) >= 10, stats  # they went out together
    assert stats.resent_alone == 0
    # Each caller owns its response: changing one leaves the others alone.
    outcomes[1].kvs[0].value = b"changed"
    assert outcomes[2].kvs[0].value != b"changed"


def test_a_lone_get_is_a_plain_range(etcd: EtcdServer, data: dict[str, int]) -> None:
    events: list[etcdgen.Event] = []
    with etcdgen.Client(etcd.endpoint, coalesce_reads=True, event_hook=events.append) as client:
        for _ in range(5):
            assert client.get(f"{PREFIX}k01").kvs[0].value == b"v1"
        client.get(PREFIX, prefix=True)  # an unlimited range: never coalesced
        stats = client.read_batch_stats()
    calls = [e.rpc for e in events if e.kind == "call"]
    assert calls == ["/etcdserverpb.KV/Range"] * 6
    assert stats is not None and dict(stats.sizes) == {1: 5}


def test_an_error_of_one_get_reaches_only_its_caller(
    etcd: EtcdServer, data: dict[str, int]
) -> None:
    with etcdgen.Client(etcd.endpoint) as admin:
        compacted_at = admin.put(f"{PREFIX}compact-marker", "x").header.revision
        admin.compact(compacted_at)
    with etcdgen.Client(etcd.endpoint, coalesce_reads=True) as client:
        calls: list[Callable[[], Any]] = [
            lambda: client.get(f"{PREFIX}k01"),
            lambda: client.get(f"{PREFIX}k02"),
            lambda: client.get(f"{PREFIX}k03", revision=data["first"]),  # compacted away
            lambda: client.get(f"{PREFIX}k04"),
            lambda: client.get(f"{PREFIX}k05", revision=compacted_at + 10_000),  # future
            lambda: client.get(f"{PREFIX}k06", keys_only=True),
        ]
        outcomes = batched(etcd, client, calls)
        stats = client.read_batch_stats()
    assert isinstance(outcomes[2], etcdgen.CompactedError), outcomes[2]
    assert isinstance(outcomes[4], etcdgen.FutureRevError), outcomes[4]
    values = [outcomes[i].kvs[0].value for i in (0, 1, 3)]
    assert values == [b"v1", b"v2", b"v4"]
    assert outcomes[5].kvs[0].key == f"{PREFIX}k06".encode() and outcomes[5].kvs[0].value == b""
    assert stats is not None and stats.resent_alone == 5  # the failed batch's gets, alone


def test_timeouts_stay_per_caller(etcd: EtcdServer, data: dict[str, int]) -> None:
    with etcdgen.Client(etcd.endpoint, coalesce_reads=True) as client:
        results: dict[str, Any] = {}

        def run(name: str, timeout: float) -> None:
            started = time.monotonic()
            try:
                results[name] = client.get(f"{PREFIX}k01", timeout=timeout)
            except BaseException as error:
                results[name] = error
            results[name + " took"] = time.monotonic() - started

        etcd.pause()
        try:
            first = threading.Thread(target=run, args=("first", 30.0))
            first.start()
            wait_for(lambda: client._reads._groups[0].busy, "the first get in flight", 5)
            short = threading.Thread(target=run, args=("short", 0.3))
            long = threading.Thread(target=run, args=("long", 30.0))
            short.start()
            long.start()
            wait_for(lambda: "short took" in results, "the short get to time out", 10)
        finally:
            etcd.resume()
        for thread in (first, short, long):
            thread.join(timeout=40)
    assert isinstance(results["short"], etcdgen.DeadlineExceededError), results["short"]
    assert "0.3 s timeout" in str(results["short"])
    assert results["short took"] < 5  # its own timeout, not the batch's
    assert results["first"].kvs[0].value == b"v1"
    assert results["long"].kvs[0].value == b"v1"


def test_async_gets_coalesce_and_one_can_be_cancelled(
    etcd: EtcdServer, data: dict[str, int]
) -> None:
    gets = mixed_gets(data)

    async def scenario() -> tuple[list[Any], list[Any], etcdgen.ReadBatchStats | None]:
        async with (
            etcdgen.AsyncClient(etcd.endpoint) as plain,
            etcdgen.AsyncClient(etcd.endpoint, coalesce_reads=True) as client,
        ):
            expected = [comparable(await get(plain, kwargs)) for kwargs in gets]
            etcd.pause()
            try:
                first = asyncio.ensure_future(get(client, gets[0]))
                await async_wait_for(lambda: client._reads._groups[0].busy, "a get in flight")
                tasks = [asyncio.ensure_future(get(client, kwargs)) for kwargs in gets]
                doomed = asyncio.ensure_future(client.get(f"{PREFIX}k02"))
                await async_wait_for(lambda: waiting(client) == len(gets) + 2, "gets to queue")
                doomed.cancel()
            finally:
                etcd.resume()
            outcomes = await asyncio.gather(first, *tasks, return_exceptions=True)
            with pytest.raises(asyncio.CancelledError):
                await doomed
            return expected, outcomes, client.read_batch_stats()

    expected, outcomes, stats = asyncio.run(scenario())
    assert [comparable(o) for o in outcomes[1:]] == expected
    assert stats is not None and max(stats.sizes) >= 10, stats


def test_a_namespace_view_coalesces_inside_its_namespace(
    etcd: EtcdServer, data: dict[str, int]
) -> None:
    with etcdgen.Client(etcd.endpoint, coalesce_reads=True) as client:
        view = client.with_namespace(PREFIX)
        calls: list[Callable[[], Any]] = [
            lambda: view.get("k01"),
            lambda: view.get("k02"),
            lambda: view.get("k0", prefix=True, limit=2),
        ]
        outcomes = batched(etcd, view, calls)
        stats = view.read_batch_stats()
    assert [kv.key for kv in outcomes[2].kvs] == [b"k00", b"k01"]
    assert outcomes[1].kvs[0].key == b"k02"
    assert stats is not None and stats.sizes[2] == 1


def test_coalesce_reads_argument_is_checked() -> None:
    with pytest.raises(TypeError, match="coalesce_reads must be True, False or"):
        etcdgen.Client("127.0.0.1:1", coalesce_reads="yes")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="max_ops"):
        etcdgen.CoalesceSettings(max_ops=0)


def test_async_timeouts_stay_per_caller(etcd: EtcdServer, data: dict[str, int]) -> None:
    async def scenario() -> tuple[Any, Any, Any, float]:
        async with etcdgen.AsyncClient(etcd.endpoint, coalesce_reads=True) as client:
            etcd.pause()
            try:
                first = asyncio.ensure_future(client.get(f"{PREFIX}k01", timeout=30))
                await async_wait_for(lambda: client._reads._groups[0].busy, "a get in flight")
                started = time.monotonic()
                short = asyncio.ensure_future(client.get(f"{PREFIX}k02", timeout=0.3))
                long = asyncio.ensure_future(client.get(f"{PREFIX}k03", timeout=30))
                await asyncio.wait({short}, timeout=10)
                took = time.monotonic() - started
            finally:
                etcd.resume()
            outcomes = await asyncio.gather(first, short, long, return_exceptions=True)
            return (*outcomes, took)

    first, short, long, took = asyncio.run(scenario())
    assert isinstance(short, etcdgen.DeadlineExceededError) and "0.3 s timeout" in str(short)
    assert took < 5  # its own timeout, not the batch's
    assert first.kvs[0].value == b"v1" and long.kvs[0].value == b"w3"


def test_a_forbidden_key_fails_only_its_caller(etcd_binary: Any) -> None:
    """With auth on, a batch holding one key the user may not read fails as a whole on the
    server; re-sent one by one, only that caller gets PermissionDeniedError."""
    with EtcdServer(binary=etcd_binary, name="coalesce-auth") as server:
        with etcdgen.Client(server.endpoint) as admin:
            admin.put("open/a", "1")
            admin.put("open/b", "2")
            admin.put("secret/x", "3")
            admin.user_add("root", "root-pw")
            admin.role_add("root")
            admin.user_grant_role("root", "root")
            admin.role_add("reader")
            admin.role_grant_permission("reader", "open/", prefix=True, permission="read")
            admin.user_add("bob", "bob-pw")
            admin.user_grant_role("bob", "reader")
            admin.auth_enable()
        with etcdgen.Client(
            server.endpoint, username="bob", password="bob-pw", coalesce_reads=True
        ) as client:
            client.get("open/a")  # the token is fetched before the batch is staged
            calls: list[Callable[[], Any]] = [
                lambda: client.get("open/a"),
                lambda: client.get("open/b"),
                lambda: client.get("secret/x"),
                lambda: client.get("open/a", keys_only=True),
            ]
            outcomes = batched(server, client, calls)
            stats = client.read_batch_stats()
    assert isinstance(outcomes[2], etcdgen.PermissionDeniedError), outcomes[2]
    assert "secret/x" in str(outcomes[2])
    assert outcomes[0].kvs[0].value == b"1" and outcomes[1].kvs[0].value == b"2"
    assert outcomes[3].kvs[0].key == b"open/a"
    assert stats is not None and stats.resent_alone == 3
