"""A library's own code using its vendored etcdgen: must pass `mypy --strict`.

tests/integration/test_vendoring.py copies this file next to `liba/_vendor/etcdgen`
(a copy made by `python -m etcdgen vendor`) and runs mypy there.
"""

from __future__ import annotations

from liba._vendor.etcdgen import AsyncClient, Client, EmptyKeyError, EtcdError
from liba._vendor.etcdgen.generated.etcdserverpb import rpc_pb2
from liba._vendor.etcdgen.generated.mvccpb import kv_pb2


def first_value(endpoint: str) -> bytes:
    with Client(endpoint, timeout=2.0) as client:
        put: rpc_pb2.PutResponse = client.rpc.kv.put(key="k", value=b"v", prev_kv=True)
        reply: rpc_pb2.RangeResponse = client.rpc.kv.range(key="k", revision=put.header.revision)
        first: kv_pb2.KeyValue = reply.kvs[0]
        client.rpc.kv.range(rpc_pb2.RangeRequest(key=b"k", sort_order=rpc_pb2.RangeRequest.DESCEND))
        downgrade = rpc_pb2.DowngradeRequest(action=rpc_pb2.DowngradeRequest.VALIDATE)
        _action: int = downgrade.action
        status: rpc_pb2.AuthStatusResponse = client.rpc.auth.auth_status()
        _enabled: bool = status.enabled
        try:
            client.rpc.kv.put(key=b"", value=b"v")
        except EmptyKeyError as error:
            _message: str = error.server_message
        except EtcdError:
            pass
        return first.value


async def count(endpoint: str) -> int:
    async with AsyncClient([endpoint]) as client:
        reply = await client.rpc.kv.range(key="k", count_only=True)
        total: int = reply.count
        return total
