"""Long-lived streams carry `hasleader=true`: a member that loses its leader ends them.

A watch opened on a member that is then cut off from its peers (harness TCP
proxy on the peer traffic; the client port stays open) ends with
`NoLeaderError` within a few election timeouts, instead of staying silent
forever - and, with `require_leader=False`, it does stay silent (the control).
The client here has only that member as endpoint, so no failover interferes.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Iterator

import pytest
from conftest import require_etcd_binary

import etcdgen
from etcdgen.generated.etcdserverpb import rpc_pb2
from etcdgen.testing import EtcdCluster, EtcdServer

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def cluster() -> Iterator[EtcdCluster]:
    binary = require_etcd_binary("3.5")
    with EtcdCluster(3, binary=binary, peer_proxy=True, name_prefix="leader") as started:
        yield started


def watch_outcome(
    client: etcdgen.Client, cluster: EtcdCluster, member: EtcdServer, wait: float
) -> object:
    """Open a watch, isolate its member, and return what the stream ended with (or None)."""
    done = threading.Event()

    def requests() -> Iterator[rpc_pb2.WatchRequest]:
        yield rpc_pb2.WatchRequest(create_request=rpc_pb2.WatchCreateRequest(key=b"leader/k"))
        done.wait(30)  # keep the request side open

    stream = client.rpc.watch.watch(requests())
    outcomes: queue.Queue[object] = queue.Queue()

    def read() -> None:
        try:
            for response in stream:
                outcomes.put(response)
        except etcdgen.EtcdError as error:
            outcomes.put(error)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    created = outcomes.get(timeout=10)
    assert isinstance(created, rpc_pb2.WatchResponse) and created.created
    cluster.isolate(member)
    try:
        try:
            return outcomes.get(timeout=wait)
        except queue.Empty:
            return None
    finally:
        cluster.heal(member)
        done.set()
        stream.cancel()
        reader.join(10)
        deadline = time.monotonic() + 20
        while member.status().leader == 0 and time.monotonic() < deadline:
            time.sleep(0.05)


def test_watch_on_a_member_that_loses_its_leader_ends_with_no_leader(
    cluster: EtcdCluster,
) -> None:
    member = cluster.followers()[0]
    with etcdgen.Client(member.endpoint) as client:
        outcome = watch_outcome(client, cluster, member, wait=10)
    assert isinstance(outcome, etcdgen.NoLeaderError), outcome


def test_without_require_leader_the_watch_stays_silent(cluster: EtcdCluster) -> None:
    member = cluster.followers()[0]
    with etcdgen.Client(member.endpoint, require_leader=False) as client:
        outcome = watch_outcome(client, cluster, member, wait=3)
    assert outcome is None, outcome
