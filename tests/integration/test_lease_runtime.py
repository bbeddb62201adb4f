"""Leases on a real etcd: the plain calls, and managed leases that are never lost silently."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time

import pytest
from polling import wait_for

import etcdgen
from etcdgen.testing import EtcdServer

TTL = 2


def test_lease_calls(etcd: EtcdServer) -> None:
    with etcdgen.Client(etcd.endpoint) as client:
        granted = client.lease_grant(30)
        assert granted.TTL == 30 and granted.ID in client.leases()
        client.put("lease/a", "1", lease=granted.ID)
        info = client.lease_time_to_live(granted.ID, keys=True)
        assert 0 < info.TTL <= 30 and info.grantedTTL == 30 and list(info.keys) == [b"lease/a"]
        assert 0 < client.lease_keep_alive_once(granted.ID) <= 30
        client.lease_revoke(granted.ID)
        assert client.get("lease/a").count == 0
        assert client.lease_time_to_live(granted.ID).TTL == -1
        with pytest.raises(etcdgen.LeaseNotFoundError):
            client.lease_keep_alive_once(granted.ID)
        with pytest.raises(etcdgen.LeaseNotFoundError):
            client.lease_revoke(granted.ID)
        with pytest.raises(ValueError, match="ttl"):
            client.lease_grant(0)
        with pytest.raises(TypeError, match="id"):
            client.lease_revoke("7")  # type: ignore[arg-type]


@pytest.mark.slow  # long-running: the main suite only (scripts/compat-matrix.sh)
def test_managed_lease_outlives_its_ttl_and_is_revoked_on_exit(etcd: EtcdServer) -> None:
    with etcdgen.Client(etcd.endpoint) as client:
        with client.lease(ttl=TTL) as lease:
            client.put("lease/kept", "1", lease=lease)
            client.txn(success=[etcdgen.Op.put("lease/op", "1", lease=lease)])
            started = time.monotonic()
            # Three TTLs: the key would be gone twice over without renewals.
            while time.monotonic() - started < 3 * TTL:
                assert client.lease_time_to_live(lease.id).TTL > 0
                lease.check()
                time.sleep(0.2)
            assert client.get("lease/kept").count == 1 and not lease.lost.is_set()
            assert 0 < lease.ttl <= TTL
        assert client.get("lease/kept").count == 0 and client.get("lease/op").count == 0


def test_lease_revoked_elsewhere_is_reported(etcd: EtcdServer) -> None:
    told: list[etcdgen.LeaseExpiredError] = []
    with etcdgen.Client(etcd.endpoint) as client:
        with client.lease(ttl=TTL, on_lost=told.append) as lease:
            with etcdgen.Client(etcd.endpoint) as other:
                other.lease_revoke(lease.id)
            assert lease.lost.wait(10)
            wait_for(lambda: told, "on_lost")
            with pytest.raises(etcdgen.LeaseExpiredError, match="gone on the server"):
                lease.check()
        assert isinstance(told[0], etcdgen.LeaseExpiredError)


@pytest.mark.slow  # long-running: the main suite only (scripts/compat-matrix.sh)
def test_async_managed_lease(etcd: EtcdServer) -> None:
    async def scenario() -> None:
        told: list[etcdgen.LeaseExpiredError] = []

        async def on_lost(error: etcdgen.LeaseExpiredError) -> None:
            told.append(error)

        async with etcdgen.AsyncClient(etcd.endpoint) as client:
            async with client.lease(ttl=TTL) as lease:
                await client.put("alease/kept", "1", lease=lease)
                started = time.monotonic()
                while time.monotonic() - started < 3 * TTL:
                    assert (await client.lease_time_to_live(lease.id)).TTL > 0
                    await asyncio.sleep(0.2)
                assert (await client.get("alease/kept")).count == 1
            assert (await client.get("alease/kept")).count == 0
            async with client.lease(ttl=TTL, on_lost=on_lost) as doomed:
                await client.lease_revoke(doomed.id)
                await asyncio.wait_for(doomed.lost.wait(), 10)
                for _ in range(100):
                    if told:
                        break
                    await asyncio.sleep(0.02)
                with pytest.raises(etcdgen.LeaseExpiredError):
                    doomed.check()
            assert told

    asyncio.run(scenario())


@pytest.mark.slow  # long-running: the main suite only (scripts/compat-matrix.sh)
def test_many_leases_share_one_stream(etcd: EtcdServer) -> None:
    with etcdgen.Client(etcd.endpoint) as client:
        leases = [client.lease(ttl=TTL).grant() for _ in range(20)]
        started = time.monotonic()
        while time.monotonic() - started < 2 * TTL:
            time.sleep(0.2)
        assert all(client.lease_time_to_live(lease.id).TTL > 0 for lease in leases)
        keeper = client._connection.leases()
        assert keeper.opens == 1
        for lease in leases:
            lease.revoke()


CHILD = textwrap.dedent(
    """
    import sys, time, etcdgen
    with etcdgen.Client(sys.argv[1]) as client:
        def told(error):
            print("lost:", error, flush=True)
        with client.lease(ttl=int(sys.argv[2]), on_lost=told) as lease:
            print("granted", lease.id, flush=True)
            if not lease.lost.wait(60):
                print("never told", flush=True)
            try:
                lease.check()
            except etcdgen.LeaseExpiredError:
                print("check raised", flush=True)
    """
)


def test_lease_lost_while_the_process_was_paused_is_reported(etcd: EtcdServer) -> None:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, etcd.endpoint, str(TTL)],
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert child.stdout is not None
        first = child.stdout.readline()
        assert first.startswith("granted"), first
        lease_id = int(first.split()[1])
        with etcdgen.Client(etcd.endpoint) as client:
            child.send_signal(signal.SIGSTOP)
            # Paused past its TTL: the server lets the lease expire.
            wait_for(lambda: client.lease_time_to_live(lease_id).TTL == -1, "the expiry", 20)
            child.send_signal(signal.SIGCONT)
        out, _ = child.communicate(timeout=30)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    assert "lost:" in out and "check raised" in out, out
    assert "never told" not in out


def test_lease_keepalive_thread_ends_with_the_client(etcd: EtcdServer) -> None:
    client = etcdgen.Client(etcd.endpoint)
    client.lease(ttl=TTL).grant()
    client.close()
    wait_for(
        lambda: not [t for t in threading.enumerate() if t.name == "etcdgen-lease"],
        "the keeper thread to end",
        5,
    )
