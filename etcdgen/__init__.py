"""etcdgen: a complete, typed etcd v3 client (sync and asyncio).

    import etcdgen
    with etcdgen.Client("127.0.0.1:2379") as client:
        client.put("greeting", "hello")
        print(client.get("greeting").kvs[0].value)

The top level holds what user code writes against: the clients, `Compare`/`Op`,
`RetrySettings`, `Timeout`/`DEFAULT`, every error, watch/lease handles, and
`etcdgen.concurrency` (Session, Mutex, Election, STM). Also: `etcdgen.spec`
(how RPCs are described), `etcdgen.metrics`, `etcdgen.tracing`, `etcdgen.testing`.
"""

# ruff: noqa: E402  (the imports below must follow prepare_environment)
# Before anything imports grpc: gRPC reads its fork-support switch once, at import.
from ._core import fork as _fork  # isort: skip

_fork.prepare_environment()

from . import concurrency
from ._async.lease import AsyncLease
from ._async.watch import AsyncWatch
from ._core.balancer import EndpointHealth
from ._core.coalesce import CoalesceSettings, ReadBatchStats
from ._core.endpoints import InvalidEndpointError
from ._core.errors import (
    ClientClosedError,
    ConnectionFailedError,
    EtcdError,
    ForkedProcessError,
    LeaseExpiredError,
    SnapshotError,
    UnavailableError,
    UnsupportedByServerError,
    UnsupportedClusterError,
    WrongEventLoopError,
)
from ._core.events import Event, EventHook
from ._core.retry import RetrySettings
from ._core.secret import Secret
from ._core.spec import AsyncResponseStream, ResponseStream
from ._core.timeout import DEFAULT, Timeout
from ._core.watch_state import WatchCompactedError
from ._sync.lease import Lease
from ._sync.watch import Watch
from ._version import __version__
from .auth import AuthStatus, Permission, User
from .client import AsyncClient, Client
from .generated import ETCD_API_VERSION
from .generated import errors as _generated_errors
from .generated.errors import *  # noqa: F403  (one class per etcd error; see its __all__)
from .kv import Compare, CompareTarget, Op
from .operations import (
    Alarm,
    ConsistencyReport,
    EndpointStatus,
    HashKV,
    Member,
    MemberStatus,
)

__all__ = [
    "DEFAULT",
    "ETCD_API_VERSION",
    "Alarm",
    "AsyncClient",
    "AsyncLease",
    "AsyncResponseStream",
    "AsyncWatch",
    "AuthStatus",
    "Client",
    "ClientClosedError",
    "CoalesceSettings",
    "Compare",
    "CompareTarget",
    "ConnectionFailedError",
    "ConsistencyReport",
    "EndpointHealth",
    "EndpointStatus",
    "EtcdError",
    "Event",
    "EventHook",
    "ForkedProcessError",
    "HashKV",
    "InvalidEndpointError",
    "Lease",
    "LeaseExpiredError",
    "Member",
    "MemberStatus",
    "Op",
    "Permission",
    "ReadBatchStats",
    "ResponseStream",
    "RetrySettings",
    "Secret",
    "SnapshotError",
    "Timeout",
    "UnavailableError",
    "UnsupportedByServerError",
    "UnsupportedClusterError",
    "User",
    "Watch",
    "WatchCompactedError",
    "WrongEventLoopError",
    "__version__",
    "concurrency",
]
# Star re-exports are spelled out this way so that type checkers see them.
__all__ += _generated_errors.__all__
