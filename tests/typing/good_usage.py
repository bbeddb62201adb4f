"""A user's code: must pass `mypy --strict` (checked by tests/unit/test_typing.py)."""

from __future__ import annotations

import asyncio

import etcdgen
from etcdgen.generated.etcdserverpb import rpc_pb2
from etcdgen.generated.mvccpb import kv_pb2


def sync_usage(endpoint: str) -> list[bytes]:
    with etcdgen.Client(endpoint, timeout=2.0) as client:
        put: rpc_pb2.PutResponse = client.rpc.kv.put(key="k", value=b"v", prev_kv=True)
        revision: int = put.header.revision
        reply = client.rpc.kv.range(
            key=b"k",
            range_end="l",
            revision=revision,
            sort_order=rpc_pb2.RangeRequest.DESCEND,
            timeout=None,
        )
        first: kv_pb2.KeyValue = reply.kvs[0]
        client.rpc.kv.range(rpc_pb2.RangeRequest(key=b"k"))
        compare = rpc_pb2.Compare(key=b"k", target=rpc_pb2.Compare.VERSION, version=1)
        client.rpc.kv.txn(compare=[compare], success=[], failure=[], timeout=etcdgen.DEFAULT)
        stream: etcdgen.ResponseStream[rpc_pb2.SnapshotResponse] = client.rpc.maintenance.snapshot()
        for chunk in stream:
            _blob: bytes = chunk.blob
        stream.cancel()
        try:
            client.rpc.lease.lease_revoke(ID=1)
        except etcdgen.LeaseNotFoundError as error:
            _code = error.code
        except etcdgen.EtcdError:
            pass
        # The key-value surface.
        client.put("a", b"1", lease=None, prev_kv=True)
        got: rpc_pb2.RangeResponse = client.get(
            "dir/", prefix=True, limit=10, sort_order="descend", sort_target="mod"
        )
        client.delete("dir/", prefix=True, prev_kv=True)
        txn: rpc_pb2.TxnResponse = client.txn(
            compare=[etcdgen.Compare.value("a") == "1", etcdgen.Compare.version("b") > 0],
            success=[etcdgen.Op.put("a", "2"), etcdgen.Op.get("a")],
            failure=[etcdgen.Op.delete("a"), etcdgen.Op.txn([], [], [])],
        )
        keys: list[bytes] = [kv.key for kv in client.iter_prefix("dir/", page_size=100)]
        client.compact(got.header.revision, physical=True)
        _ok: bool = txn.succeeded and bool(keys)
        return [first.key, first.value]


async def async_usage(endpoint: str) -> int:
    async with etcdgen.AsyncClient([endpoint]) as client:
        reply = await client.rpc.kv.range(key="k", keys_only=True)
        count: int = reply.count
        watch = client.rpc.watch.watch(
            [rpc_pb2.WatchRequest(create_request=rpc_pb2.WatchCreateRequest(key=b"k"))]
        )
        async for event in watch:
            _ids: int = event.watch_id
            break
        await client.put("k", "v")
        values = [kv.value async for kv in client.iter_prefix("k")]
        return count + len(values)


if __name__ == "__main__":
    print(sync_usage("127.0.0.1:2379"), asyncio.run(async_usage("127.0.0.1:2379")))
