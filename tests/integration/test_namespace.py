"""client.with_namespace(prefix): every key path checked against the raw keys."""

from __future__ import annotations

import asyncio
import uuid

import etcdgen
from etcdgen import Compare, Op
from etcdgen.concurrency import Mutex, Session
from etcdgen.testing import EtcdServer


def raw_keys(client: etcdgen.Client, prefix: str = "") -> list[bytes]:
    reply = client.get(prefix, prefix=True, keys_only=True)
    return [kv.key for kv in reply.kvs]


def test_kv_and_txn_paths(etcd: EtcdServer) -> None:
    with etcdgen.Client(etcd.endpoint) as root:
        client = root.with_namespace(f"ns-{uuid.uuid4().hex}/")  # apart from other tests' keys
        client.put("outside", "x")
        ns = client.with_namespace("app1/")
        assert ns.namespace == client.namespace + b"app1/"
        ns.put("a", "1")
        ns.put("b/c", "2")
        assert raw_keys(client, "app1/") == [b"app1/a", b"app1/b/c"]
        assert ns.get("a").kvs[0].key == b"a"
        assert [kv.key for kv in ns.get("b/", prefix=True).kvs] == [b"b/c"]
        # Every key of the namespace, and only those: no range leaves it.
        assert [kv.key for kv in ns.get("", prefix=True).kvs] == [b"a", b"b/c"]
        assert [kv.key for kv in ns.get("b", from_key=True).kvs] == [b"b/c"]
        assert [kv.key for kv in ns.get("a", range_end="b").kvs] == [b"a"]
        previous = ns.put("a", "1b", prev_kv=True).prev_kv
        assert previous.key == b"a" and previous.value == b"1"
        reply = ns.txn(
            compare=[Compare.value("a") == "1b"],
            success=[
                Op.put("t", "3"),
                Op.get("", prefix=True),
                Op.delete("b/", prefix=True, prev_kv=True),
            ],
        )
        assert reply.succeeded
        assert [kv.key for kv in reply.responses[1].response_range.kvs] == [b"a", b"b/c", b"t"]
        assert [kv.key for kv in reply.responses[2].response_delete_range.prev_kvs] == [b"b/c"]
        deleted = ns.delete("", prefix=True, prev_kv=True)
        assert sorted(kv.key for kv in deleted.prev_kvs) == [b"a", b"t"]
        assert raw_keys(client) == [b"outside"]
        nested = ns.with_namespace("inner/")
        nested.put("k", "v")
        assert raw_keys(client, "app1/") == [b"app1/inner/k"]
        assert [kv.key for kv in ns.get("", prefix=True).kvs] == [b"inner/k"]


def test_watch_lease_and_recipes_through_a_namespace(etcd: EtcdServer) -> None:
    with etcdgen.Client(etcd.endpoint) as client:
        ns = client.with_namespace("app2/")
        with ns.watch("w/", prefix=True, prev_kv=True) as watch:
            client.put("w/outside", "not seen")  # same suffix, outside the namespace
            ns.put("w/x", "1")
            ns.put("w/x", "2")
            events = []
            while len(events) < 2:
                response = watch.get(timeout=10)
                assert response is not None
                events.extend(response.events)
        assert [e.kv.key for e in events] == [b"w/x", b"w/x"]
        assert events[1].prev_kv.key == b"w/x" and events[1].prev_kv.value == b"1"
        with ns.lease(ttl=10) as lease:
            ns.put("leased", "v", lease=lease)
            assert list(ns.lease_time_to_live(lease.id, keys=True).keys) == [b"leased"]
            assert list(client.lease_time_to_live(lease.id, keys=True).keys) == [b"app2/leased"]
        with Session(ns, ttl=10) as session, Mutex(session, "locks/job") as mutex:
            assert mutex.key == f"locks/job/{session.lease_id:x}".encode()
            assert raw_keys(client, "app2/locks/") == [b"app2/" + mutex.key]
        ns.close()  # a view's close leaves the client open
        assert client.get("app2/w/x").kvs[0].value == b"2"  # the client still works


def test_async_namespace(etcd: EtcdServer) -> None:
    async def scenario() -> None:
        async with etcdgen.AsyncClient(etcd.endpoint) as client:
            ns = client.with_namespace("app3/")
            async with ns.watch("k") as watch:
                await ns.put("k", "1")
                response = await watch.get(timeout=10)
                assert response is not None and response.events[0].kv.key == b"k"
            assert (await client.get("app3/k")).kvs[0].value == b"1"
            assert [kv.key for kv in (await ns.get("", prefix=True)).kvs] == [b"k"]

    asyncio.run(scenario())
