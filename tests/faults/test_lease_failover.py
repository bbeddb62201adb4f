"""A kept-alive lease survives the restart of the member its stream uses (3-member 3.5)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator

import pytest
from conftest import require_etcd_binary

import etcdgen
from etcdgen.testing import EtcdCluster

pytestmark = pytest.mark.slow

TTL = 3


@pytest.fixture(scope="module")
def cluster() -> Iterator[EtcdCluster]:
    binary = require_etcd_binary("3.5")
    with EtcdCluster(3, binary=binary, name_prefix="leasefault") as started:
        yield started


def keeper_member(client: etcdgen.Client, cluster: EtcdCluster) -> etcdgen.testing.EtcdServer:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        stream = client._connection.leases()._stream
        endpoint = getattr(stream, "endpoint", "")
        for member in cluster.members:
            if member.endpoint == endpoint:
                return member
        time.sleep(0.02)
    pytest.fail("the keep-alive stream never opened")


def test_lease_survives_member_restart(cluster: EtcdCluster) -> None:
    with etcdgen.Client(cluster.endpoints) as client, client.lease(ttl=TTL) as lease:
        client.put("lf/key", "1", lease=lease)
        member = keeper_member(client, cluster)
        opens = client._connection.leases().opens
        member.kill()
        started = time.monotonic()
        # Two TTLs with the member down, then up again: renewals go elsewhere.
        while time.monotonic() - started < 2 * TTL:
            lease.check()
            time.sleep(0.2)
        member.restart()
        started = time.monotonic()
        while time.monotonic() - started < TTL:
            lease.check()
            time.sleep(0.2)
        assert not lease.lost.is_set()
        assert client.get("lf/key").count == 1
        assert client._connection.leases().opens > opens
    print(f"lease kept across a member kill and restart; stream opened {opens + 1}+ times")


def test_async_lease_survives_member_restart(cluster: EtcdCluster) -> None:
    async def scenario() -> None:
        async with (
            etcdgen.AsyncClient(cluster.endpoints) as client,
            client.lease(ttl=TTL) as lease,
        ):
            await client.put("alf/key", "1", lease=lease)
            keeper = client._connection.leases()
            for _ in range(500):
                if keeper._stream is not None and keeper._stream.endpoint:
                    break
                await asyncio.sleep(0.02)
            member = next(m for m in cluster.members if m.endpoint == keeper._stream.endpoint)
            await asyncio.to_thread(member.kill)
            await hold(client, lease, 2 * TTL)  # the member stays down two TTLs
            await asyncio.to_thread(member.restart)
            await hold(client, lease, TTL)
            assert (await client.get("alf/key")).count == 1

    asyncio.run(scenario())


async def hold(client: etcdgen.AsyncClient, lease: etcdgen.AsyncLease, seconds: float) -> None:
    """For `seconds`, keep checking that the server still has the lease and it is not lost."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        lease.check()
        assert (await client.lease_time_to_live(lease.id)).TTL > 0
        await asyncio.sleep(0.2)
