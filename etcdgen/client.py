"""The public clients: `Client` (blocking) and `AsyncClient` (asyncio).

Both own one gRPC channel, expose every etcd RPC through the generated typed
clients under `.rpc` (`client.rpc.kv.range(key=b"k")`), and add the
key-value surface (`put`, `get`, `delete`, `txn`, `compact`, `iter_prefix`).
`AsyncClient` lives in `_async/client.py`; `Client` is derived from it.
"""

from ._async.client import AsyncClient
from ._sync.client import Client

__all__ = ["AsyncClient", "Client"]
