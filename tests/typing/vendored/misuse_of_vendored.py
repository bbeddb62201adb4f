"""Deliberate misuse of vendored etcdgen copies: mypy must reject each line marked `# E:`.

`liba._vendor.etcdgen` is a copy of the etcd 3.5.1 API, `libb._vendor.etcdgen` one of
3.4.23. The errors prove that mypy read each copy's own stubs (Any would accept all):
wrong argument types, RPCs and messages 3.4 lacks, and one copy's messages given to the
other's client.
"""

from __future__ import annotations

from liba._vendor.etcdgen import Client
from liba._vendor.etcdgen.generated.etcdserverpb import rpc_pb2
from libb._vendor.etcdgen import Client as ClientB
from libb._vendor.etcdgen.generated.etcdserverpb import rpc_pb2 as rpc_pb2_b


def misuse(client: Client, client_b: ClientB) -> None:
    client.rpc.kv.put(key=123, value="v")  # E: [arg-type] "key" to "put" of "KVClient"
    client.rpc.kv.range(key="k", limit="10")  # E: [arg-type] "limit" to "range"
    _reply: rpc_pb2.PutResponse = client.rpc.kv.range(key="k")  # E: [assignment] RangeResponse
    client_b.rpc.auth.auth_status()  # E: [attr-defined] "AuthClient" has no attribute "auth_status"
    rpc_pb2_b.DowngradeRequest()  # E: [attr-defined] Module has no attribute "DowngradeRequest"
    client_b.rpc.kv.range(rpc_pb2.RangeRequest(key=b"k"))  # E: [arg-type] liba._vendor.etcdgen
