"""Deliberate misuse: mypy must reject each marked line (see bad_usage.expected)."""

from __future__ import annotations

import etcdgen
from etcdgen.generated.etcdserverpb import rpc_pb2


def misuse(client: etcdgen.Client) -> None:
    client.rpc.kv.put(key=123, value="v")
    client.rpc.kv.range(key="k", limit="10")
    client.rpc.kv.range(key="k", no_such_field=True)
    client.rpc.kv.range(key="k", sort_order=2)
    _reply: rpc_pb2.PutResponse = client.rpc.kv.range(key="k")
    client.rpc.kv.range(rpc_pb2.PutRequest(key=b"k"))
    client.rpc.kv.range(key="k").kvs[0].value.upper(1)
    client.rpc.lease.lease_grant(TTL=1.5)


async def async_misuse(client: etcdgen.AsyncClient) -> None:
    _reply: rpc_pb2.RangeResponse = client.rpc.kv.range(key="k")
