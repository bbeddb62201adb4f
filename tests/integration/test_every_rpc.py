"""Every RPC of the 8 etcd services, called through its generated wrapper.

Each scenario runs against real etcd 3.5.1 and 3.4.23 (the `etcd` fixture),
once with the sync and once with the asyncio client. RPCs that a server
release lacks (by the policy table's `since`) are checked to be refused by
that server instead. The last test proves every RPC was exercised.
"""

from __future__ import annotations

import asyncio
import itertools
import re
import socket
from collections.abc import Iterator

import grpc
import pytest
from rpc_calls import MODES, Calls, done, drain, run, take

import etcdgen
from etcdgen.generated.authpb import auth_pb2
from etcdgen.generated.etcdserverpb import rpc_pb2
from etcdgen.generated.methods import ALL_METHODS
from etcdgen.testing import EtcdServer

# (etcd version, mode) -> {(service, method)} called by the scenarios.
CALLED: dict[tuple[str, str], set[tuple[str, str]]] = {}
_unique = itertools.count()


@pytest.fixture(params=MODES)
def mode(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def record_for(server: EtcdServer, mode: str) -> set[tuple[str, str]]:
    return CALLED.setdefault((server.version[:3], mode), set())


def fresh_prefix() -> str:
    return f"every-rpc/{next(_unique)}/"


def prefix_end(prefix: str) -> bytes:
    raw = prefix.encode()
    return raw[:-1] + bytes([raw[-1] + 1])


def has(server: EtcdServer, since: str) -> bool:
    major, minor = (int(x) for x in since.split("."))
    return server.binary.version_info[:2] >= (major, minor)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_kv(etcd: EtcdServer, mode: str) -> None:
    p = fresh_prefix()

    async def scenario(c: Calls) -> None:
        first = await done(c.kv.put(key=f"{p}a", value="1"))
        second = await done(c.kv.put(key=f"{p}a", value=b"2", prev_kv=True))
        assert second.prev_kv.value == b"1"
        assert second.header.revision == first.header.revision + 1
        await done(c.kv.put(key=f"{p}b", value="3"))

        got = await done(
            c.kv.range(key=p, range_end=prefix_end(p), sort_order=rpc_pb2.RangeRequest.DESCEND)
        )
        assert [kv.key for kv in got.kvs] == [f"{p}b".encode(), f"{p}a".encode()]
        assert got.count == 2

        compare = rpc_pb2.Compare(
            key=f"{p}a".encode(),
            target=rpc_pb2.Compare.VALUE,
            result=rpc_pb2.Compare.EQUAL,
            value=b"2",
        )
        read = rpc_pb2.RequestOp(request_range=rpc_pb2.RangeRequest(key=f"{p}a".encode()))
        txn = await done(c.kv.txn(compare=[compare], success=[read], failure=[]))
        assert txn.succeeded
        assert txn.responses[0].response_range.kvs[0].value == b"2"

        deleted = await done(c.kv.delete_range(key=f"{p}b", prev_kv=True))
        assert deleted.deleted == 1 and deleted.prev_kvs[0].value == b"3"

        # Compact at the second put (not at a delete: etcd#18089), then the first
        # revision is gone.
        await done(c.kv.compact(revision=second.header.revision, physical=True))
        with pytest.raises(etcdgen.CompactedError) as raised:
            await done(c.kv.range(key=f"{p}a", revision=first.header.revision))
        assert raised.value.code is grpc.StatusCode.OUT_OF_RANGE

    run(etcd.endpoint, mode, scenario, record_for(etcd, mode))


def test_watch(etcd: EtcdServer, mode: str) -> None:
    p = fresh_prefix()

    async def scenario(c: Calls) -> None:
        feed = c.feed()
        create = rpc_pb2.WatchCreateRequest(key=p.encode(), range_end=prefix_end(p))
        feed.send(rpc_pb2.WatchRequest(create_request=create))
        stream = c.watch.watch(feed.requests())
        [created] = await take(stream, 1)
        assert created.created
        await done(c.kv.put(key=f"{p}k", value="v"))
        [change] = await take(stream, 1)
        assert change.watch_id == created.watch_id
        assert [(e.type, e.kv.key, e.kv.value) for e in change.events] == [
            (0, f"{p}k".encode(), b"v")
        ]
        cancel = rpc_pb2.WatchCancelRequest(watch_id=created.watch_id)
        feed.send(rpc_pb2.WatchRequest(cancel_request=cancel))
        [cancelled] = await take(stream, 1)
        assert cancelled.canceled and cancelled.watch_id == created.watch_id
        feed.close()
        stream.cancel()

    run(etcd.endpoint, mode, scenario, record_for(etcd, mode))


def test_lease(etcd: EtcdServer, mode: str) -> None:
    async def scenario(c: Calls) -> None:
        grant = await done(c.lease.lease_grant(TTL=30))
        assert grant.ID > 0 and grant.TTL == 30
        await done(c.kv.put(key=f"{fresh_prefix()}leased", value="x", lease=grant.ID))
        ttl = await done(c.lease.lease_time_to_live(ID=grant.ID, keys=True))
        assert 0 < ttl.TTL <= 30 and ttl.grantedTTL == 30 and len(ttl.keys) == 1
        leases = await done(c.lease.lease_leases())
        assert grant.ID in [lease.ID for lease in leases.leases]

        feed = c.feed()
        feed.send(rpc_pb2.LeaseKeepAliveRequest(ID=grant.ID))
        stream = c.lease.lease_keep_alive(feed.requests())
        [alive] = await take(stream, 1)
        assert alive.ID == grant.ID and alive.TTL == 30
        feed.close()
        stream.cancel()

        await done(c.lease.lease_revoke(ID=grant.ID))
        with pytest.raises(etcdgen.LeaseNotFoundError) as raised:
            await done(c.lease.lease_revoke(ID=grant.ID))
        assert raised.value.details == "etcdserver: requested lease not found"
        assert isinstance(raised.value.__cause__, grpc.RpcError)

    run(etcd.endpoint, mode, scenario, record_for(etcd, mode))


async def settle(server: EtcdServer) -> None:
    """Wait until raft has applied the previous membership change.

    Before proposing another one: etcd's raft (3.4 and 3.5) replaces a conf
    change proposed while `pendingConfIndex > raftLog.applied` by an empty
    entry, and the RPC then waits for it until its deadline (seen on 3.5.1 with
    back-to-back add/update/remove). The RPC that made the previous change
    returns once the server has applied it, but raft's own applied index moves
    only when the leader calls Advance() after persisting that Ready, which can
    be later. Status' raftAppliedIndex is the server's index, so the harness
    polls raft's (the raft.status expvar), bounded.
    """
    await asyncio.to_thread(server.wait_applied, 10.0)


def test_cluster(etcd: EtcdServer, mode: str) -> None:
    async def scenario(c: Calls) -> None:
        before = await done(c.cluster.member_list())
        assert len(before.members) == 1
        me = before.members[0]
        learner_url = f"http://127.0.0.1:{free_port()}"
        added = await done(c.cluster.member_add(peerURLs=[learner_url], isLearner=True))
        assert added.member.isLearner and list(added.member.peerURLs) == [learner_url]
        await settle(etcd)
        # The learner never starts, so it cannot be in sync with the leader.
        with pytest.raises(etcdgen.MemberLearnerNotReadyError):
            await done(c.cluster.member_promote(ID=added.member.ID))
        moved_url = f"http://127.0.0.1:{free_port()}"
        await done(c.cluster.member_update(ID=added.member.ID, peerURLs=[moved_url]))
        listed = await done(c.cluster.member_list())
        assert {m.ID: list(m.peerURLs) for m in listed.members}[added.member.ID] == [moved_url]
        await settle(etcd)
        await done(c.cluster.member_remove(ID=added.member.ID))
        assert [m.ID for m in (await done(c.cluster.member_list())).members] == [me.ID]
        await settle(etcd)
        await done(c.cluster.member_update(ID=me.ID, peerURLs=list(me.peerURLs)))
        after = await done(c.cluster.member_list())
        assert [m.ID for m in after.members] == [me.ID]

    run(etcd.endpoint, mode, scenario, record_for(etcd, mode))


def test_maintenance(etcd: EtcdServer, mode: str) -> None:
    async def scenario(c: Calls) -> None:
        status = await done(c.maintenance.status())
        assert status.version == etcd.version and status.leader == status.header.member_id
        alarms = await done(c.maintenance.alarm(action=rpc_pb2.AlarmRequest.GET))
        assert list(alarms.alarms) == []
        assert (await done(c.maintenance.hash())).hash != 0
        hashed = await done(c.maintenance.hash_kv(revision=0))
        assert hashed.hash != 0 and hashed.header.revision > 0
        await done(c.maintenance.defragment())
        chunks = await drain(c.maintenance.snapshot())
        assert sum(len(chunk.blob) for chunk in chunks) > 0
        assert chunks[-1].remaining_bytes == 0
        # Moving leadership to the current leader is a no-op that succeeds.
        await done(c.maintenance.move_leader(targetID=status.leader))
        with pytest.raises(etcdgen.BadLeaderTransfereeError):
            await done(c.maintenance.move_leader(targetID=status.leader + 1))
        if has(etcd, "3.5"):
            # A single-member 3.5 cluster has no downgrade in flight to cancel.
            with pytest.raises(etcdgen.NoInflightDowngradeError):
                await done(c.maintenance.downgrade(action=rpc_pb2.DowngradeRequest.CANCEL))
        else:
            with pytest.raises(etcdgen.EtcdError) as raised:
                await done(c.maintenance.downgrade(action=rpc_pb2.DowngradeRequest.CANCEL))
            assert raised.value.code is grpc.StatusCode.UNIMPLEMENTED

    run(etcd.endpoint, mode, scenario, record_for(etcd, mode))


@pytest.fixture
def auth_etcd(etcd: EtcdServer) -> Iterator[EtcdServer]:
    """A private server: enabling auth must not leak into other tests."""
    with EtcdServer(binary=etcd.binary, name="auth") as server:
        yield server


def test_auth(auth_etcd: EtcdServer, mode: str) -> None:
    server = auth_etcd

    async def scenario(c: Calls) -> None:
        await done(c.auth.user_add(name="root", password="rootpw"))
        await done(c.auth.role_add(name="root"))
        await done(c.auth.user_grant_role(user="root", role="root"))
        await done(c.auth.role_add(name="reader"))
        permission = auth_pb2.Permission(
            permType=auth_pb2.Permission.READ, key=b"a", range_end=b"b"
        )
        await done(c.auth.role_grant_permission(name="reader", perm=permission))
        await done(c.auth.user_add(name="alice", password="pw1"))
        await done(c.auth.user_grant_role(user="alice", role="reader"))
        assert list((await done(c.auth.user_get(name="alice"))).roles) == ["reader"]
        assert "alice" in (await done(c.auth.user_list())).users
        role = await done(c.auth.role_get(role="reader"))
        assert [(p.key, p.range_end) for p in role.perm] == [(b"a", b"b")]
        assert set((await done(c.auth.role_list())).roles) >= {"root", "reader"}
        await done(c.auth.user_change_password(name="alice", password="pw2"))
        if has(server, "3.5"):
            assert (await done(c.auth.auth_status())).enabled is False
        else:
            with pytest.raises(etcdgen.EtcdError) as raised:
                await done(c.auth.auth_status())
            assert raised.value.code is grpc.StatusCode.UNIMPLEMENTED

        await done(c.auth.auth_enable())
        with pytest.raises(etcdgen.AuthFailedError):
            await done(c.auth.authenticate(name="alice", password="pw1"))
        alice = await done(c.auth.authenticate(name="alice", password="pw2"))
        assert alice.token
        root = await done(c.auth.authenticate(name="root", password="rootpw"))
        assert root.token

    run(server.endpoint, mode, scenario, record_for(server, mode))
    # The rest needs root's token on every call.
    run_as_root(server, mode)


def run_as_root(server: EtcdServer, mode: str) -> None:
    record = record_for(server, mode)

    async def scenario(c: Calls) -> None:
        await done(c.auth.user_revoke_role(name="alice", role="reader"))
        await done(c.auth.role_revoke_permission(role="reader", key=b"a", range_end=b"b"))
        await done(c.auth.user_delete(name="alice"))
        await done(c.auth.role_delete(role="reader"))
        await done(c.auth.auth_disable())

    async def main() -> None:
        # The client's token source: fetched on first use, sent with every call.
        if mode == "sync":
            with etcdgen.Client(server.endpoint, username="root", password="rootpw") as client:
                await scenario(Calls(client.rpc, False, record))
        else:
            async with etcdgen.AsyncClient(
                server.endpoint, username="root", password="rootpw"
            ) as aclient:
                await scenario(Calls(aclient.rpc, True, record))

    asyncio.run(main())


def test_lock(etcd: EtcdServer, mode: str) -> None:
    name = f"{fresh_prefix()}lock".encode()

    async def scenario(c: Calls) -> None:
        lease = await done(c.lease.lease_grant(TTL=30))
        held = await done(c.lock.lock(name=name, lease=lease.ID))
        assert held.key.startswith(name + b"/")
        owner = await done(c.kv.range(key=held.key))
        assert owner.kvs[0].lease == lease.ID
        await done(c.lock.unlock(key=held.key))
        assert (await done(c.kv.range(key=held.key))).count == 0
        await done(c.lease.lease_revoke(ID=lease.ID))

    run(etcd.endpoint, mode, scenario, record_for(etcd, mode))


def test_election(etcd: EtcdServer, mode: str) -> None:
    name = f"{fresh_prefix()}election".encode()

    async def scenario(c: Calls) -> None:
        lease = await done(c.lease.lease_grant(TTL=30))
        campaign = await done(c.election.campaign(name=name, lease=lease.ID, value=b"v1"))
        leader_key = campaign.leader
        assert leader_key.name == name and leader_key.lease == lease.ID
        assert (await done(c.election.leader(name=name))).kv.value == b"v1"
        await done(c.election.proclaim(leader=leader_key, value=b"v2"))
        [observed] = await take(c.election.observe(name=name), 1)
        assert observed.kv.value == b"v2"
        await done(c.election.resign(leader=leader_key))
        with pytest.raises(etcdgen.EtcdError) as raised:
            await done(c.election.leader(name=name))
        assert raised.value.details == "election: no leader"
        await done(c.lease.lease_revoke(ID=lease.ID))

    run(etcd.endpoint, mode, scenario, record_for(etcd, mode))


def test_empty_key_is_rejected_with_its_class(etcd: EtcdServer, mode: str) -> None:
    async def scenario(c: Calls) -> None:
        with pytest.raises(etcdgen.EmptyKeyError) as raised:
            await done(c.kv.put(key="", value="x"))
        assert str(raised.value).startswith("etcdserver: key is not provided")
        assert raised.value.code is grpc.StatusCode.INVALID_ARGUMENT

    run(etcd.endpoint, mode, scenario)


def test_every_rpc_was_called(etcd_version: str) -> None:
    """Runs last in this module: each scenario above recorded the RPCs it called."""
    every = {(spec.service, spec.name) for spec in ALL_METHODS}
    services = {spec.service: spec for spec in ALL_METHODS}
    assert len(services) == 8
    python_names = {(_service_attr(spec.service), _snake(spec.name)) for spec in ALL_METHODS}
    assert len(python_names) == len(every)
    for mode_name in MODES:
        called = CALLED.get((etcd_version, mode_name), set())
        missing = sorted(python_names - called)
        assert not missing, f"etcd {etcd_version} {mode_name}: never called {missing}"


def _service_attr(service: str) -> str:
    return _snake(service.split(".")[1])


def _snake(name: str) -> str:
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])", "_", name).lower()
