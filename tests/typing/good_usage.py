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
        return count


if __name__ == "__main__":
    print(sync_usage("127.0.0.1:2379"), asyncio.run(async_usage("127.0.0.1:2379")))
