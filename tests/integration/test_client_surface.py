"""The key-value surface of `Client` and `AsyncClient` against real etcd 3.5.1 and 3.4.23.

Each scenario is written once and run with both clients (see rpc_calls.done).
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from rpc_calls import MODES, done

import etcdgen
from etcdgen import Compare, Op
from etcdgen.testing import EtcdServer

_unique = itertools.count()
ClientScenario = Callable[[Any], Awaitable[None]]


@pytest.fixture(params=MODES)
def mode(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def run(endpoint: str, mode: str, scenario: ClientScenario, **options: Any) -> None:
    async def main() -> None:
        if mode == "sync":
            with etcdgen.Client(endpoint, **options) as client:
                await scenario(client)
        else:
            async with etcdgen.AsyncClient([endpoint], **options) as aclient:
                await scenario(aclient)

    asyncio.run(main())


async def collect(items: Any) -> list[Any]:
    if hasattr(items, "__anext__"):
        return [item async for item in items]
    return list(items)


def prefix() -> str:
    return f"surface/{next(_unique)}/"


def test_put_get_options(etcd: EtcdServer, mode: str) -> None:
    p = prefix()

    async def scenario(c: Any) -> None:
        first = await done(c.put(f"{p}k", "v"))
        r = await done(c.get(f"{p}k"))
        assert r.kvs[0].value == b"v" and r.count == 1
        second = await done(c.put(f"{p}k", b"w", prev_kv=True))
        assert second.prev_kv.value == b"v"
        for name in ("a", "b", "c", "d"):
            await done(c.put(f"{p}dir/{name}", name * 3))
        listed = await done(c.get(f"{p}dir/", prefix=True, limit=3, sort_order="descend"))
        assert [kv.key[-1:] for kv in listed.kvs] == [b"d", b"c", b"b"] and listed.more
        ranged = await done(c.get(f"{p}dir/a", range_end=f"{p}dir/c"))
        assert [kv.key[-1:] for kv in ranged.kvs] == [b"a", b"b"]
        after = await done(c.get(f"{p}dir/c", from_key=True, keys_only=True))
        assert [kv.key[-1:] for kv in after.kvs][:2] == [b"c", b"d"]
        assert all(kv.value == b"" for kv in after.kvs)
        counted = await done(c.get(f"{p}dir/", prefix=True, count_only=True))
        assert counted.count == 4 and len(counted.kvs) == 0
        old = await done(c.get(f"{p}k", revision=first.header.revision, serializable=True))
        assert old.kvs[0].value == b"v"
        by_mod = await done(c.get(f"{p}dir/", prefix=True, sort_target="mod", sort_order="ascend"))
        assert [kv.key[-1:] for kv in by_mod.kvs] == [b"a", b"b", b"c", b"d"]
        newest = await done(
            c.get(f"{p}dir/", prefix=True, min_mod_revision=by_mod.kvs[-1].mod_revision)
        )
        assert [kv.key[-1:] for kv in newest.kvs] == [b"d"]
        created = await done(
            c.get(f"{p}dir/", prefix=True, max_create_revision=by_mod.kvs[0].create_revision)
        )
        assert [kv.key[-1:] for kv in created.kvs] == [b"a"]
        lease = await done(c.rpc.lease.lease_grant(TTL=60))
        await done(c.put(f"{p}leased", "x", lease=lease.ID))
        await done(c.put(f"{p}leased", "y", ignore_lease=True))
        kept = (await done(c.get(f"{p}leased"))).kvs[0]
        assert kept.lease == lease.ID and kept.value == b"y"
        await done(c.put(f"{p}leased", ignore_value=True, lease=0))
        assert (await done(c.get(f"{p}leased"))).kvs[0].value == b"y"
        await done(c.rpc.lease.lease_revoke(ID=lease.ID))

    run(etcd.endpoint, mode, scenario)


def test_delete_and_compact(etcd: EtcdServer, mode: str) -> None:
    p = prefix()

    async def scenario(c: Any) -> None:
        for name in ("a", "b", "c"):
            await done(c.put(f"{p}{name}", name))
        gone = await done(c.delete(f"{p}a"))
        assert gone.deleted == 1
        rest = await done(c.delete(p, prefix=True, prev_kv=True))
        assert rest.deleted == 2 and sorted(kv.value for kv in rest.prev_kvs) == [b"b", b"c"]
        first = await done(c.put(f"{p}x", "1"))
        await done(c.put(f"{p}x", "2"))
        await done(c.compact(first.header.revision + 1, physical=True))
        with pytest.raises(etcdgen.CompactedError):
            await done(c.get(f"{p}x", revision=first.header.revision))

    run(etcd.endpoint, mode, scenario)


def test_txn_with_every_compare_and_op(etcd: EtcdServer, mode: str) -> None:
    p = prefix()

    async def scenario(c: Any) -> None:
        put = await done(c.put(f"{p}k", "v"))
        kv = (await done(c.get(f"{p}k"))).kvs[0]
        yes = await done(
            c.txn(
                compare=[
                    Compare.value(f"{p}k") == "v",
                    Compare.value(f"{p}k") != "x",
                    Compare.value(f"{p}k") > "a",
                    Compare.value(f"{p}k") < "z",
                    Compare.version(f"{p}k") == 1,
                    Compare.version(f"{p}missing") == 0,
                    Compare.create_revision(f"{p}k") == kv.create_revision,
                    Compare.mod_revision(f"{p}k") == put.header.revision,
                    Compare.lease(f"{p}k") == 0,
                    Compare.version(p, prefix=True) > 0,
                    Compare.mod_revision(f"{p}a", range_end=f"{p}z") < put.header.revision + 1,
                ],
                success=[
                    Op.put(f"{p}k", "w", prev_kv=True),
                    Op.get(f"{p}k"),
                    Op.get(p, prefix=True, count_only=True),
                    # Nested compares are evaluated on the store as it was before the
                    # outer transaction, so the earlier put is not seen yet.
                    Op.txn(
                        compare=[Compare.value(f"{p}k") == "v"],
                        success=[Op.put(f"{p}nested", "yes")],
                        failure=[],
                    ),
                    Op.delete(f"{p}nothing"),
                ],
                failure=[Op.put(f"{p}failed", "1")],
            )
        )
        assert yes.succeeded
        assert yes.responses[0].response_put.prev_kv.value == b"v"
        assert yes.responses[1].response_range.kvs[0].value == b"w"
        assert yes.responses[2].response_range.count == 1
        assert yes.responses[3].response_txn.succeeded
        assert yes.responses[4].response_delete_range.deleted == 0
        no = await done(
            c.txn(
                compare=[Compare.value(f"{p}k") == "not-it"],
                success=[Op.put(f"{p}never", "1")],
                failure=[Op.delete(f"{p}k", prev_kv=True)],
            )
        )
        assert not no.succeeded
        assert no.responses[0].response_delete_range.prev_kvs[0].value == b"w"
        assert (await done(c.get(f"{p}nested"))).kvs[0].value == b"yes"
        assert (await done(c.get(f"{p}never"))).count == 0

    run(etcd.endpoint, mode, scenario)


def test_iter_prefix_reads_pages_at_one_revision(etcd: EtcdServer, mode: str) -> None:
    p = prefix()

    async def scenario(c: Any) -> None:
        total = 250
        for i in range(total):
            await done(c.put(f"{p}{i:04d}", f"v{i}"))
        seen = []
        async_items = c.iter_prefix(p, page_size=40)
        # Writes while paging: new keys and changed values must not show up.
        writer_done = False
        if hasattr(async_items, "__anext__"):
            async for kv in async_items:
                seen.append(kv)
                if len(seen) == 50 and not writer_done:
                    await done(c.put(f"{p}0999", "late"))
                    await done(c.put(f"{p}0200", "changed"))
                    writer_done = True
        else:
            for kv in async_items:
                seen.append(kv)
                if len(seen) == 50 and not writer_done:
                    c.put(f"{p}0999", "late")
                    c.put(f"{p}0200", "changed")
                    writer_done = True
        assert [kv.key for kv in seen] == [f"{p}{i:04d}".encode() for i in range(total)]
        assert seen[200].value == b"v200"
        keys = await collect(c.iter_range(f"{p}0010", f"{p}0013", page_size=2, keys_only=True))
        assert [kv.key for kv in keys] == [f"{p}{i:04d}".encode() for i in (10, 11, 12)]

    run(etcd.endpoint, mode, scenario)


def test_client_side_validation(etcd: EtcdServer, mode: str) -> None:
    async def scenario(c: Any) -> None:
        with pytest.raises(etcdgen.EmptyKeyError, match="non-empty key"):
            await done(c.put("", "v"))
        with pytest.raises(etcdgen.EmptyKeyError):
            await done(c.get(b""))
        with pytest.raises(ValueError, match="prefix=, from_key= and range_end="):
            await done(c.get("a", prefix=True, range_end="b"))
        with pytest.raises(ValueError, match="sort_order must be one of"):
            await done(c.get("a", sort_order="sideways"))
        with pytest.raises(ValueError, match="keys_only and count_only"):
            await done(c.get("a", keys_only=True, count_only=True))
        with pytest.raises(ValueError, match="ignore_value"):
            await done(c.put("a", "v", ignore_value=True))
        with pytest.raises(TypeError, match="Compare"):
            await done(c.txn(compare=[Op.put("a", "b")]))
        with pytest.raises(etcdgen.RequestTooLargeError) as too_big:
            await done(c.put("big", b"x" * (2 * 1024 * 1024 + 1)))
        assert "max_send_bytes of 2,097,152" in str(too_big.value)
        # An empty key with prefix=True means "every key" (as etcdctl get "" --prefix).
        everything = await done(c.get("", prefix=True, count_only=True))
        assert everything.count > 0

    run(etcd.endpoint, mode, scenario)


def test_large_values_are_received_beyond_grpc_default_limit(etcd: EtcdServer, mode: str) -> None:
    p = prefix()

    async def scenario(c: Any) -> None:
        value = b"v" * (1024 * 1024)  # under etcd's 1.5 MiB request limit
        for i in range(5):
            await done(c.put(f"{p}{i}", value))
        # ~5 MiB in one response: over grpcio's default 4 MiB receive limit.
        reply = await done(c.get(p, prefix=True))
        assert len(reply.kvs) == 5 and all(kv.value == value for kv in reply.kvs)
        await done(c.delete(p, prefix=True))

    run(etcd.endpoint, mode, scenario)


def test_per_call_timeout_raises_a_timeout_error(etcd: EtcdServer, mode: str) -> None:
    with EtcdServer(binary=etcd.binary, name="paused") as server:

        async def scenario(c: Any) -> None:
            await done(c.put("k", "v"))
            server.pause()
            try:
                with pytest.raises(TimeoutError) as raised:
                    await done(c.get("k", timeout=0.5))
            finally:
                server.resume()
            assert isinstance(raised.value, etcdgen.EtcdError)

        run(server.endpoint, mode, scenario)


def test_unreachable_endpoints_fail_within_connect_timeout(mode: str) -> None:
    import socket
    import time

    with socket.socket() as a, socket.socket() as b:
        a.bind(("127.0.0.1", 0))
        b.bind(("127.0.0.1", 0))
        endpoints = [f"127.0.0.1:{s.getsockname()[1]}" for s in (a, b)]

    async def main() -> float:
        started = time.monotonic()
        client: Any = (
            etcdgen.Client(endpoints, connect_timeout=1.0, timeout=10.0)
            if mode == "sync"
            else etcdgen.AsyncClient(endpoints, connect_timeout=1.0, timeout=10.0)
        )
        try:
            with pytest.raises(etcdgen.ConnectionFailedError) as raised:
                await done(client.get("k"))
        finally:
            await done(client.close())
        assert raised.value.endpoints == tuple(endpoints)
        assert all(e in str(raised.value) for e in endpoints)
        return time.monotonic() - started

    elapsed = asyncio.run(main())
    assert elapsed < 3.0


def test_closed_client_raises_a_clear_error(etcd: EtcdServer, mode: str) -> None:
    async def main() -> None:
        client: Any = (
            etcdgen.Client(etcd.endpoint) if mode == "sync" else etcdgen.AsyncClient(etcd.endpoint)
        )
        await done(client.put("closing", "v"))
        await done(client.close())
        with pytest.raises(etcdgen.ClientClosedError, match="closed"):
            await done(client.get("closing"))

    asyncio.run(main())


def test_bad_options_are_rejected() -> None:
    with pytest.raises(ValueError, match="keepalive_time"):
        etcdgen.Client("127.0.0.1:2379", keepalive_time=1.0)
    with pytest.raises(ValueError, match="both cert= and key="):
        etcdgen.Client("127.0.0.1:2379", cert=b"x")
    with pytest.raises(ValueError, match="host:port"):
        etcdgen.Client("localhost")
    with pytest.raises(ValueError, match="timeout"):
        etcdgen.Client("127.0.0.1:2379", timeout=0)
