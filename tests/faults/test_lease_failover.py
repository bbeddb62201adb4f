"""A kept-alive lease survives the restart of the member its stream uses (3-member 3.5)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest
from conftest import require_etcd_binary
from polling import async_holds_for, async_wait_for, holds_for, wait_for

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
    def stream_endpoint() -> str:
        return str(getattr(client._connection.leases()._stream, "endpoint", ""))

    wait_for(stream_endpoint, "the keep-alive stream to open", 10)
    return next(m for m in cluster.members if m.endpoint == stream_endpoint())


def test_lease_survives_member_restart(cluster: EtcdCluster) -> None:
    with etcdgen.Client(cluster.endpoints) as client, client.lease(ttl=TTL) as lease:
        client.put("lf/key", "1", lease=lease)
        member = keeper_member(client, cluster)
        opens = client._connection.leases().opens
        member.kill()
        # Two TTLs with the member down, then up again: renewals go elsewhere.
        holds_for(2 * TTL, lease.check)
        member.restart()
        holds_for(TTL, lease.check)
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
            await async_wait_for(
                lambda: keeper._stream is not None and keeper._stream.endpoint,
                "the keep-alive stream to open",
            )
            member = next(m for m in cluster.members if m.endpoint == keeper._stream.endpoint)
            await asyncio.to_thread(member.kill)
            await hold(client, lease, 2 * TTL)  # the member stays down two TTLs
            await asyncio.to_thread(member.restart)
            await hold(client, lease, TTL)
            assert (await client.get("alf/key")).count == 1

    asyncio.run(scenario())


async def hold(client: etcdgen.AsyncClient, lease: etcdgen.AsyncLease, seconds: float) -> None:
    """For `seconds`, keep checking that the server still has the lease and it is not lost."""

    async def check() -> None:
        lease.check()
        assert (await client.lease_time_to_live(lease.id)).TTL > 0

    await async_holds_for(seconds, check)
