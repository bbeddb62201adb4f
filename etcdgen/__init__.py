"""etcdgen: a complete, typed etcd v3 client (sync and asyncio).

import etcdgen
with etcdgen.Client("127.0.0.1:2379") as client:
    client.rpc.kv.put(key="greeting", value="hello")
    print(client.rpc.kv.range(key="greeting").kvs[0].value)
"""

from ._core.retry import RetrySettings
from ._core.spec import CallKind, Effect, MethodPolicy, MethodSpec, Retry
from ._core.timeout import DEFAULT, Timeout
from ._version import __version__
from .client import AsyncClient, Client
from .errors import *  # noqa: F403  (errors.__all__ lists every exception class)
from .errors import __all__ as _errors_all
from .generated import ETCD_API_VERSION

__all__ = [
    "DEFAULT",
    "ETCD_API_VERSION",
    "AsyncClient",
    "CallKind",
    "Client",
    "Effect",
    "MethodPolicy",
    "MethodSpec",
    "Retry",
    "RetrySettings",
    "Timeout",
    "__version__",
    *_errors_all,
]
