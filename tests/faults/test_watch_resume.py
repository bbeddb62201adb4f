"""Watches that survive faults: every revision exactly once, in order.

A writer does N puts on fresh keys while the watcher's stream is broken by
(a) killing and restarting the member it uses (3-member 3.5 cluster), (b) a TCP
proxy in the test cutting its connection several times, (c) its auth token
expiring. Each run prints expected / received / duplicates / gaps, and asserts
received == expected, in order. Also: compaction while disconnected ends the
watch with CompactedError and the right compact_revision; a slow consumer's
buffer stays bounded while a second watcher on the same stream keeps up.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator

import pytest
from conftest import require_etcd_binary
from cutter import Cutter
from polling import wait_for

import etcdgen
from etcdgen.testing import EtcdBinary, EtcdCluster, EtcdServer

pytestmark = pytest.mark.slow

WRITES = 300


@pytest.fixture(scope="module")
def cluster() -> Iterator[EtcdCluster]:
    binary = require_etcd_binary("3.5")
    with EtcdCluster(3, binary=binary, name_prefix="watchfault") as started:
        yield started


def report(label: str, expected: list[int], received: list[int]) -> None:
    seen = set(received)
    duplicates = len(received) - len(seen)
    gaps = len(set(expected) - seen)
    ordered = received == sorted(received)
    print(
        f"{label}: expected {len(expected)} received {len(received)} duplicates {duplicates} "
        f"gaps {gaps} in order {ordered}"
    )
    assert received == expected


class Writer(threading.Thread):
    """Creates WRITES fresh keys (retrying through faults), recording each revision.

    Each write is a create-if-absent txn: a write whose outcome was unknown (its member
    died with it in flight) may still be applied later, and a plain put re-sent after it
    would write the key twice, an event the record would lack. Guarded, at most one
    of the attempts applies, and the key's revision says which.
    """

    def __init__(self, endpoints: list[str], prefix: str, pause: float = 0.01) -> None:
        super().__init__(daemon=True)
        self.endpoints, self.prefix, self.pause = endpoints, prefix, pause
        self.revisions: list[int] = []
        self.errors: list[str] = []

    def run(self) -> None:
        with etcdgen.Client(self.endpoints, timeout=10) as client:
            for i in range(WRITES):
                key = f"{self.prefix}{i:05d}"
                for _ in range(50):
                    try:
                        created = client.txn(
                            [etcdgen.Compare.version(key) == 0], [etcdgen.Op.put(key, str(i))]
                        )
                        if created.succeeded:
                            self.revisions.append(created.header.revision)
                        else:  # an earlier attempt was applied after all
                            self.revisions.append(client.get(key).kvs[0].mod_revision)
                        break
                    except etcdgen.EtcdError as error:
                        self.errors.append(str(error))
                time.sleep(self.pause)


def collect(watch: etcdgen.Watch, count: int, timeout: float = 60.0) -> list[int]:
    received: list[int] = []
    deadline = time.monotonic() + timeout
    while len(received) < count and time.monotonic() < deadline:
        response = watch.get(timeout=0.5)
        if response is not None:
            received.extend(e.kv.mod_revision for e in response.events)
    return received


def test_watch_survives_member_kill_and_restart(cluster: EtcdCluster) -> None:
    with etcdgen.Client(cluster.endpoints) as client, client.watch("kill/", prefix=True) as watch:
        hub = client._connection.watches()
        wait_for(lambda: hub.endpoint, "the watch stream")
        victim = next(m for m in cluster.members if m.endpoint == hub.endpoint)
        writer = Writer([m.endpoint for m in cluster.members], "kill/")
        writer.start()
        received: list[int] = []
        received += collect(watch, WRITES // 3, timeout=30)
        victim.kill()
        received += collect(watch, WRITES // 3, timeout=30)
        victim.restart()
        writer.join(timeout=120)
        received += collect(watch, len(writer.revisions) - len(received))
        opens = hub.opens
    report("member killed and restarted", sorted(writer.revisions), received)
    assert opens >= 2


def test_async_watch_survives_member_kill_and_restart(cluster: EtcdCluster) -> None:
    async def scenario() -> tuple[list[int], list[int]]:
        async with (
            etcdgen.AsyncClient(cluster.endpoints) as client,
            client.watch("akill/", prefix=True) as watch,
        ):
            hub = client._connection.watches()
            victim = next(m for m in cluster.members if m.endpoint == hub.endpoint)
            writer = Writer([m.endpoint for m in cluster.members], "akill/")
            writer.start()
            received: list[int] = []
            killed = restarted = False
            while len(received) < WRITES:
                response = await watch.get(timeout=30)
                assert response is not None, "the watch stalled"
                received.extend(e.kv.mod_revision for e in response.events)
                if len(received) > WRITES // 3 and not killed:
                    await asyncio.to_thread(victim.kill)
                    killed = True
                if len(received) > 2 * WRITES // 3 and not restarted:
                    await asyncio.to_thread(victim.restart)
                    restarted = True
            await asyncio.to_thread(writer.join, 60)
            return sorted(writer.revisions), received

    expected, received = asyncio.run(scenario())
    report("async: member killed and restarted", expected, received)


def test_watch_survives_connection_cuts(cluster: EtcdCluster) -> None:
    cutter = Cutter(cluster.members[0].client_port)
    try:
        with (
            etcdgen.Client(cutter.endpoint) as client,
            client.watch("cut/", prefix=True) as watch,
        ):
            writer = Writer([m.endpoint for m in cluster.members[1:]], "cut/")
            writer.start()
            received: list[int] = []
            for _ in range(4):
                received += collect(watch, WRITES // 6, timeout=30)
                accepted = cutter.accepted
                cutter.cut()
                wait_for(lambda a=accepted: cutter.accepted > a, "a new connection")
            writer.join(timeout=120)
            received += collect(watch, len(writer.revisions) - len(received))
    finally:
        cutter.close()
    report("connection cut 4 times", sorted(writer.revisions), received)


def test_async_watch_survives_connection_cuts(cluster: EtcdCluster) -> None:
    cutter = Cutter(cluster.members[0].client_port)

    async def scenario() -> tuple[list[int], list[int]]:
        async with (
            etcdgen.AsyncClient(cutter.endpoint) as client,
            client.watch("acut/", prefix=True) as watch,
        ):
            writer = Writer([m.endpoint for m in cluster.members[1:]], "acut/")
            writer.start()
            received: list[int] = []
            cuts = 0
            while len(received) < WRITES:
                response = await watch.get(timeout=30)
                assert response is not None, "the watch stalled"
                received.extend(e.kv.mod_revision for e in response.events)
                if cuts < 4 and len(received) > (cuts + 1) * WRITES // 6:
                    cutter.cut()
                    cuts += 1
            await asyncio.to_thread(writer.join, 60)
            return sorted(writer.revisions), received

    try:
        expected, received = asyncio.run(scenario())
    finally:
        cutter.close()
    report("async: connection cut 4 times", expected, received)


def test_compaction_while_disconnected_raises_compacted(cluster: EtcdCluster) -> None:
    cutter = Cutter(cluster.members[0].client_port)
    try:
        with (
            etcdgen.Client(cluster.endpoints) as writer,
            etcdgen.Client(cutter.endpoint, connect_timeout=30) as client,
            client.watch("compact/", prefix=True) as watch,
        ):
            first = writer.put("compact/a", "1").header.revision
            response = watch.get(timeout=10)
            assert response is not None and response.events[0].kv.mod_revision == first
            cutter.block()
            for i in range(5):
                last = writer.put(f"compact/b{i}", "x").header.revision
            writer.compact(last)
            cutter.unblock()
            with pytest.raises(etcdgen.CompactedError) as raised:
                while watch.get(timeout=30) is not None:
                    pass
    finally:
        cutter.close()
    assert raised.value.compact_revision == last  # type: ignore[attr-defined]
    assert "compacted" in str(raised.value)


def test_slow_consumer_is_paused_and_catches_up(cluster: EtcdCluster) -> None:
    with etcdgen.Client(cluster.endpoints) as client:
        slow = client.watch("slow/", prefix=True, max_buffered=8)
        fast = client.watch("slow/", prefix=True)
        with slow, fast:
            writer = Writer(cluster.endpoints, "slow/", pause=0.0)
            writer.start()
            # The fast watcher gets everything while the slow one reads nothing.
            fast_received = collect(fast, WRITES)
            writer.join(timeout=60)
            assert len(slow._watcher.buffer) <= 8
            assert slow._watcher.paused
            slow_received = collect(slow, WRITES)
    expected = sorted(writer.revisions)
    report("fast watcher beside a paused one", expected, fast_received)
    report("slow watcher after its pause", expected, slow_received)


def test_watch_survives_token_expiry(etcd_binary: EtcdBinary) -> None:
    with EtcdServer(binary=etcd_binary, extra_args=["--auth-token-ttl", "2"]) as server:
        with etcdgen.Client(server.endpoint) as admin:
            admin.user_add("root", "rootpw")
            admin.role_add("root")
            admin.user_grant_role("root", "root")
            admin.auth_enable()
        with (
            etcdgen.Client(server.endpoint, username="root", password="rootpw") as client,
            client.watch("tok/", prefix=True) as watch,
        ):
            expected: list[int] = []
            received: list[int] = []
            for round_ in range(3):
                expected.append(client.put(f"tok/{round_}", "1").header.revision)
                received += collect(watch, 1, timeout=10)
                # Idle past the TTL: the stream's token expires on the server; a new
                # watch on the same stream then needs a fresh token.
                stale = client._connection.tokens.metadata
                wait_until_refused(server, stale)
                with client.watch(f"second/{round_}") as second:
                    value = client.put(f"second/{round_}", "2").header.revision
                    got = collect(second, 1, timeout=10)
                    assert got == [value]
                expected.append(client.put(f"tok/{round_}b", "1").header.revision)
                received += collect(watch, 1, timeout=10)
            opens = client._connection.watches().opens
    report(f"token expired 3 times (stream opened {opens} times)", expected, received)
    assert opens >= 4  # each expiry re-opened the stream with a fresh token


def wait_until_refused(server: EtcdServer, metadata: object) -> None:
    # Each poll with a valid token resets its sliding TTL (2 s): poll more slowly.
    for _ in range(6):
        time.sleep(3.2)
        if _refused(server, metadata):
            return
    pytest.fail("the token never expired")


def _refused(server: EtcdServer, metadata: object) -> bool:
    import grpc

    from etcdgen.generated.etcdserverpb import rpc_pb2

    with grpc.insecure_channel(server.endpoint) as channel:
        call = channel.unary_unary(
            "/etcdserverpb.KV/Range",
            request_serializer=rpc_pb2.RangeRequest.SerializeToString,
            response_deserializer=rpc_pb2.RangeResponse.FromString,
        )
        try:
            call(rpc_pb2.RangeRequest(key=b"x"), timeout=5, metadata=metadata)  # type: ignore[arg-type]
        except grpc.RpcError as error:
            return "invalid auth token" in (error.details() or "")
        return False


def test_async_watch_survives_token_expiry(etcd_binary: EtcdBinary) -> None:
    with EtcdServer(binary=etcd_binary, extra_args=["--auth-token-ttl", "2"]) as server:
        with etcdgen.Client(server.endpoint) as admin:
            admin.user_add("root", "rootpw")
            admin.role_add("root")
            admin.user_grant_role("root", "root")
            admin.auth_enable()

        async def scenario() -> tuple[list[int], list[int], int]:
            expected: list[int] = []
            received: list[int] = []
            async with (
                etcdgen.AsyncClient(server.endpoint, username="root", password="rootpw") as client,
                client.watch("atok/", prefix=True) as watch,
            ):
                for round_ in range(3):
                    expected.append((await client.put(f"atok/{round_}", "1")).header.revision)
                    stale = client._connection.tokens.metadata
                    await asyncio.to_thread(wait_until_refused, server, stale)
                    # A new watch on the stream needs a fresh token: the stream re-opens.
                    async with client.watch(f"asecond/{round_}") as second:
                        value = (await client.put(f"asecond/{round_}", "2")).header.revision
                        response = await second.get(timeout=10)
                        assert response is not None
                        assert [e.kv.mod_revision for e in response.events] == [value]
                    expected.append((await client.put(f"atok/{round_}b", "1")).header.revision)
                    while len(received) < len(expected):
                        response = await watch.get(timeout=10)
                        assert response is not None, "the watch stalled"
                        received.extend(e.kv.mod_revision for e in response.events)
                return expected, received, client._connection.watches().opens

        expected, received, opens = asyncio.run(scenario())
    report(f"async: token expired 3 times (stream opened {opens} times)", expected, received)
    assert opens >= 4
