"""Start and stop real etcd servers for demos and tests.

Only the standard library is used, so any test suite with an etcd binary around can import
this without pulling in the client itself.  Typical use::

    from etcdgen.testing import EtcdCluster, EtcdServer

    with EtcdServer(version="3.5") as server:
        print(server.endpoint)  # "127.0.0.1:PORT", ready to accept requests

    with EtcdCluster(size=3, peer_proxy=True) as cluster:
        follower = cluster.followers()[0]
        cluster.isolate(follower)  # cut off from its peers; its client port stays open
        cluster.heal(follower)
        extra = cluster.add_member()
        cluster.remove_member(extra)

How the parts fit (one job per module; ``docs/testing.md`` has the design notes):

- :mod:`.binaries` finds an etcd binary (:func:`find_etcd_binary`, :func:`etcd_binary_at`)
  and probes its version and flags; :class:`EtcdBinary` is the result.
- :mod:`.ports` hands out free loopback ports.
- :mod:`.tls` holds :class:`ServerTLS`, the client-port TLS settings.
- :mod:`.process` has the process helpers (environment, stop waits, log tails) and the
  registry that stops every server left running at interpreter exit.
- :mod:`.server` runs one etcd process (:class:`EtcdServer`) and reads its state
  (:class:`MemberStatus`, :class:`MemberInfo`).  :meth:`EtcdServer.start` is
  :meth:`~EtcdServer.launch` then :meth:`~EtcdServer.wait_ready`, both public.
- :mod:`.proxy` is the peer TCP proxy that makes network partitions.
- :mod:`.cluster` bootstraps members together (:class:`EtcdCluster`) through the server's
  public steps, and adds faults and membership changes on top.
- :mod:`.errors`: :class:`EtcdNotFoundError`, :class:`EtcdStartError`,
  :class:`EtcdRequestError`.

Public names: EtcdBinary, EtcdCluster, EtcdNotFoundError, EtcdRequestError, EtcdServer,
EtcdStartError, MemberInfo, MemberStatus, ServerTLS, etcd_binary_at, find_etcd_binary.
``_clean_env``, ``_free_ports`` and ``_PeerProxy`` are re-exported for the project's own
tests; to monkeypatch one, patch the module that defines it (e.g.
``etcdgen.testing.ports._free_ports``), which is where the harness looks it up.

The classes are not thread-safe (drive each server or cluster from one thread), and they
rely on POSIX signals, so they run on Linux and macOS but not on Windows.
"""

from __future__ import annotations

# The "X as X" imports are re-exported but not in __all__, as in the former single-file
# module: its constants, and helpers the project's own tests use.
from .binaries import EtcdBinary, etcd_binary_at, find_etcd_binary
from .cluster import EtcdCluster
from .errors import EtcdNotFoundError, EtcdRequestError, EtcdStartError
from .ports import LOOPBACK as LOOPBACK
from .ports import _free_ports as _free_ports
from .process import LOG_TAIL_LINES as LOG_TAIL_LINES
from .process import STOP_TIMEOUT as STOP_TIMEOUT
from .process import _clean_env as _clean_env
from .proxy import _PeerProxy as _PeerProxy
from .server import DEFAULT_ELECTION_TIMEOUT_MS as DEFAULT_ELECTION_TIMEOUT_MS
from .server import DEFAULT_HEARTBEAT_INTERVAL_MS as DEFAULT_HEARTBEAT_INTERVAL_MS
from .server import EtcdServer, MemberInfo, MemberStatus
from .tls import ServerTLS

__all__ = [
    "EtcdBinary",
    "EtcdCluster",
    "EtcdNotFoundError",
    "EtcdRequestError",
    "EtcdServer",
    "EtcdStartError",
    "MemberInfo",
    "MemberStatus",
    "ServerTLS",
    "etcd_binary_at",
    "find_etcd_binary",
]
