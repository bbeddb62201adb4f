"""Endpoints against a real 3-member etcd 3.5 cluster: mixed forms, spreading, member sync.

The per-member call counts come from each member's own Prometheus metrics
(`grpc_server_handled_total`), so they count what the servers saw.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator

import pytest
from conftest import require_etcd_binary
from polling import wait_for

import etcdgen
from etcdgen.testing import EtcdCluster, EtcdServer

pytestmark = pytest.mark.slow

CALLS = 300


def handled(member: EtcdServer, method: str) -> float:
    labels = f'grpc_code="OK",grpc_method="{method}",grpc_service="etcdserverpb.KV"'
    name = "grpc_server_handled_total{" + labels + ',grpc_type="unary"}'

    return member.metric(name) or 0.0


@pytest.fixture(scope="module")
def mixed() -> Iterator[tuple[EtcdCluster, list[str]]]:
    """A cluster whose members are reached as localhost:P, 127.0.0.1:P and a unix socket."""
    binary = require_etcd_binary("3.5")
    with EtcdCluster(3, binary=binary, name_prefix="mixed") as cluster:
        third = cluster.members[2]
        # Restart the third member listening on a unix socket too (the last flag wins).
        # etcd wants unix://host:port and makes that file in its working directory.
        name = f"localhost:{third.client_port + 10000}"
        third.extra_args += ("--listen-client-urls", f"{third.client_url},unix://{name}")
        third.restart()
        socket_path = third.log_path.parent / name
        assert socket_path.exists(), socket_path
        endpoints = [
            f"localhost:{cluster.members[0].client_port}",
            cluster.members[1].endpoint,
            f"unix://{socket_path}",
        ]
        yield cluster, endpoints


def spread(cluster: EtcdCluster, method: str, run: Callable[[], None]) -> list[float]:
    before = [handled(m, method) for m in cluster.members]
    run()
    return [handled(m, method) - b for m, b in zip(cluster.members, before, strict=True)]


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_mixed_endpoint_forms_spread_calls_over_every_member(
    mixed: tuple[EtcdCluster, list[str]], mode: str
) -> None:
    cluster, endpoints = mixed

    def sync_run(call: str) -> Callable[[], None]:
        def run() -> None:
            with etcdgen.Client(endpoints) as client:
                for i in range(CALLS):
                    client.get("spread") if call == "get" else client.put(f"spread/{i}", "v")

        return run

    def async_run(call: str) -> Callable[[], None]:
        async def main() -> None:
            async with etcdgen.AsyncClient(endpoints) as client:
                for i in range(CALLS):
                    if call == "get":
                        await client.get("spread")
                    else:
                        await client.put(f"spread/{i}", "v")

        return lambda: asyncio.run(main())

    make = sync_run if mode == "sync" else async_run
    reads = spread(cluster, "Range", make("get"))
    writes = spread(cluster, "Put", make("put"))
    print(f"\n[{mode}] Range per member {reads}, Put per member {writes}")
    # Health probes read too (one small Range per member per second): allow for them.
    for counts in (reads, writes):
        assert sum(counts) >= CALLS
        for count in counts:
            assert CALLS * 0.25 <= count <= CALLS * 0.45, counts


def test_endpoint_health_reports_each_member(mixed: tuple[EtcdCluster, list[str]]) -> None:
    cluster, endpoints = mixed
    with etcdgen.Client(endpoints, health_check_interval=0.2) as client:
        client.get("k")
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            report = client.endpoint_health()
            if all(h.last_probe_latency is not None for h in report.values()):
                break
            time.sleep(0.05)
    assert list(report) == endpoints == list(client.endpoints)
    for health in report.values():
        assert health.healthy and health.leader_known and health.state == "healthy"
        assert health.version == cluster.version and not health.learner
        assert health.last_error == "" and health.last_probe_latency is not None


def plain(endpoints: tuple[str, ...]) -> set[str]:
    """MemberList gives URLs (http://host:port); the cluster lists host:port."""
    return {e.removeprefix("http://") for e in endpoints}


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_auto_sync_picks_up_added_and_removed_members(mode: str) -> None:
    binary = require_etcd_binary("3.5")
    with EtcdCluster(3, binary=binary, name_prefix=f"sync{mode}") as cluster:
        first = cluster.members[0]
        options = {"auto_sync_interval": 0.3, "health_check_interval": 0.3}
        if mode == "sync":
            client: etcdgen.Client | None = etcdgen.Client(first.endpoint, **options)  # type: ignore[arg-type]
            endpoints = lambda: plain(client.endpoints)  # noqa: E731
            call = lambda: client.get("k")  # noqa: E731
        else:
            loop = asyncio.new_event_loop()
            aclient = etcdgen.AsyncClient(first.endpoint, **options)  # type: ignore[arg-type]
            endpoints = lambda: plain(aclient.endpoints)  # noqa: E731

            def call() -> None:
                loop.run_until_complete(aclient.get("k"))
                # Let the prober task run its rounds between calls.
                loop.run_until_complete(asyncio.sleep(0.05))

        def calls_until(condition: Callable[[], bool], what: str) -> None:
            def step() -> bool:
                call()
                return condition()

            wait_for(step, what, 20)

        try:
            calls_until(lambda: endpoints() == set(cluster.endpoints), "the first sync")
            added = cluster.add_member()
            calls_until(lambda: added.endpoint in endpoints(), "the added member")
            learner = cluster.add_member(learner=True)
            calls_until(lambda: learner.endpoint in endpoints(), "the added learner")
            removed = cluster.members[1]
            removed_endpoint = removed.endpoint
            cluster.remove_member(removed)
            calls_until(lambda: removed_endpoint not in endpoints(), "the removed member")
            # Calls keep working on the new list; the learner serves only what it may.
            for _ in range(20):
                call()
        finally:
            if mode == "sync":
                assert client is not None
                client.close()
            else:
                loop.run_until_complete(aclient.close())
                loop.close()
