"""The operator's surface on a real 3-member etcd 3.5 cluster, and its CLI."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import require_etcd_binary
from polling import wait_for

import etcdgen
from etcdgen.testing import EtcdCluster, EtcdServer, _clean_env, _free_ports

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def cluster() -> Iterator[EtcdCluster]:
    binary = require_etcd_binary("3.5")
    with EtcdCluster(3, binary=binary, name_prefix="ops") as started:
        yield started


def cli(cluster: EtcdCluster, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "etcdgen", *args, "--endpoints", ",".join(cluster.endpoints)],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
    )


def test_statuses_report_a_stopped_member(cluster: EtcdCluster) -> None:
    with etcdgen.Client(cluster.endpoints) as client:
        victim = cluster.members[2]
        victim.kill()
        try:
            entries = client.statuses()
        finally:
            victim.restart()
        by_endpoint = {e.endpoint: e for e in entries}
        assert by_endpoint[victim.endpoint].status is None
        assert "connect" in (by_endpoint[victim.endpoint].error or "").lower()
        answered = [e for e in entries if e.status is not None]
        assert len(answered) == 2 and all(e.error is None for e in answered)
        assert sum(e.status.is_leader for e in answered if e.status) <= 1
        print(f"statuses with one member stopped: {len(answered)} answered, 1 unreachable")


def test_defragment_reaches_the_named_member(cluster: EtcdCluster) -> None:
    target = cluster.members[1].endpoint
    with etcdgen.Client(cluster.endpoints) as client:
        for i in range(300):
            client.put(f"defrag/{i:04d}", b"x" * 4096)
        client.delete("defrag/", prefix=True)
        revision = client.get("defrag").header.revision
        client.compact(revision, physical=True)
        before = client.status(target).db_size
        client.defragment(target)
        after = client.status(target).db_size
        others = [
            client.status(m.endpoint).db_size for m in cluster.members if m.endpoint != target
        ]
    print(f"defragment {target}: dbSize {before:,} -> {after:,} (others {others})")
    assert after < before
    assert all(size > 10 * after for size in others)  # only the named member shrank


def test_move_leader_and_consistency_check(cluster: EtcdCluster) -> None:
    with etcdgen.Client(cluster.endpoints) as client:
        follower = next(e for e in client.statuses() if e.status and not e.status.is_leader)
        assert follower.status is not None
        client.move_leader(follower.status.member_id)
        wait_for(
            lambda: any(
                e.status and e.status.is_leader and e.endpoint == follower.endpoint
                for e in client.statuses()
            ),
            "the new leader",
            20,
        )
        client.put("check/k", "v")
        report = client.consistency_check()
        assert report.consistent and len(report.hashes) == 3 and report.revision > 0
        assert {h.revision for h in report.hashes} == {report.revision}
    print(f"leader moved to {follower.endpoint}; consistency check at revision {report.revision}")


def test_a_call_pinned_to_a_member_is_not_cut_by_its_eviction(cluster: EtcdCluster) -> None:
    # The prober closes a member's SAFE channel when it finds it bad (here: during a
    # leader move, the old leader briefly has none). A call the user pinned to that
    # member (status, move_leader, hash_kv) has nowhere else to go: it must get its answer.
    member = cluster.followers()[0]
    with etcdgen.Client([m.endpoint for m in cluster.members]) as client:
        client.status(member.endpoint)  # channels made
        results: list[object] = []
        member.pause()
        try:
            caller = threading.Thread(
                target=lambda: results.append(client.status(member.endpoint, timeout=10))
            )
            caller.start()
            state = client._connection.balancer.state_for(member.endpoint)
            client._connection.balancer.evicted(state)  # as health.apply_probe does
            client._connection.pool.evict(state)
        finally:
            member.resume()
        caller.join(15)
    assert len(results) == 1, "the pinned call failed (see the thread's traceback)"
    print(f"status of {member.endpoint} answered across an eviction of its channel")


def test_consistency_check_waits_for_a_lagging_follower(cluster: EtcdCluster) -> None:
    # A follower that was paused while the others took writes has not applied the
    # latest revision when it resumes; HashKV at that revision then says "future
    # revision" until it catches up. The check must wait for it, not report it.
    follower = cluster.followers()[0]
    others = [m.endpoint for m in cluster.members if m is not follower]
    with etcdgen.Client([follower.endpoint, *others]) as client:
        follower.pause()
        try:
            with etcdgen.Client(others) as writer:
                for i in range(100):
                    revision = writer.put(f"lag/{i:03d}", "v").header.revision
        finally:
            follower.resume()
        report = client.consistency_check(revision=revision)
    assert report.unreachable == ()
    assert report.revision == revision
    assert report.consistent and len(report.hashes) == 3
    print(f"consistency check right after a paused follower resumed: revision {report.revision}")


def test_snapshot_restores_and_an_interrupted_one_leaves_nothing(
    cluster: EtcdCluster, tmp_path: Path
) -> None:
    etcdutl = cluster.members[0].binary.path.with_name("etcdutl")
    if not etcdutl.exists():
        pytest.skip("no etcdutl next to etcd")
    path = tmp_path / "snap.db"
    seen: list[int] = []
    with etcdgen.Client(cluster.endpoints) as client:
        client.put("snap/k", "kept")
        size = client.snapshot(path, progress=seen.append)
    assert path.stat().st_size == size and seen == sorted(seen) and seen[-1] == size
    env = _clean_env("ETCDCTL_", "ETCDUTL_")
    status = subprocess.run(
        [str(etcdutl), "snapshot", "status", str(path), "-w", "json"],
        capture_output=True,
        text=True,
        check=True,
        env=env,
    )
    assert json.loads(status.stdout)["totalKey"] > 0
    (peer,) = _free_ports(1)
    restored = tmp_path / "restored"
    subprocess.run(
        [
            str(etcdutl),
            "snapshot",
            "restore",
            str(path),
            "--data-dir",
            str(restored),
            "--name",
            "restored",
            "--initial-cluster",
            f"restored=http://127.0.0.1:{peer}",
            "--initial-advertise-peer-urls",
            f"http://127.0.0.1:{peer}",
        ],
        capture_output=True,
        text=True,
        check=True,
        env=env,
    )
    with (
        EtcdServer(
            binary=cluster.members[0].binary,
            data_dir=restored,
            name="restored",
            peer_port=peer,
            initial_cluster=f"restored=http://127.0.0.1:{peer}",
        ) as server,
        etcdgen.Client(server.endpoint) as client,
    ):
        assert client.get("snap/k").kvs[0].value == b"kept"

    # Interrupted: the member serving the stream dies after the first chunk.
    victim = cluster.members[0]
    broken = tmp_path / "broken.db"
    with etcdgen.Client(cluster.endpoints) as client:
        for i in range(40):
            client.put(f"big/{i}", b"y" * 200_000)  # a backend of several chunks

        def kill_once(_: int) -> None:
            if victim.running:
                victim.kill()

        try:
            with pytest.raises(etcdgen.EtcdError):
                client.snapshot(broken, endpoint=victim.endpoint, progress=kill_once)
        finally:
            victim.restart()
            client.delete("big/", prefix=True)
    assert not broken.exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".broken.db")]


def test_async_operations(cluster: EtcdCluster) -> None:
    async def scenario() -> None:
        async with etcdgen.AsyncClient(cluster.endpoints) as client:
            members = await client.member_list()
            assert len(members) == 3
            entries = await client.statuses()
            assert all(e.status is not None for e in entries)
            report = await client.consistency_check()
            assert report.consistent
            assert await client.alarms() == ()

    asyncio.run(scenario())


def test_cli_commands(cluster: EtcdCluster, tmp_path: Path) -> None:
    result = cli(cluster, "status")
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[0].split()[:3] == ["endpoint", "id", "version"]
    assert len(result.stdout.splitlines()) == 4
    rows = json.loads(cli(cluster, "status", "--json").stdout)
    assert sorted(r["endpoint"] for r in rows) == sorted(cluster.endpoints)
    assert sum(r["is_leader"] for r in rows) == 1
    members = json.loads(cli(cluster, "members", "--json").stdout)
    assert len(members) == 3 and all(m["client_urls"] for m in members)
    assert "name" in cli(cluster, "members").stdout
    assert json.loads(cli(cluster, "alarms", "--json").stdout) == []
    check = json.loads(cli(cluster, "check", "--json").stdout)
    assert check["consistent"] and len(check["hashes"]) == 3
    assert len(json.loads(cli(cluster, "hashkv", "--json").stdout)) == 3
    assert cli(cluster, "defrag", "--member", cluster.endpoints[0]).returncode == 0
    saved = tmp_path / "cli.db"
    result = cli(cluster, "snapshot", "save", str(saved), "--json")
    assert result.returncode == 0 and json.loads(result.stdout)[0]["bytes"] == saved.stat().st_size
    follower = next(r for r in rows if not r["is_leader"])
    assert cli(cluster, "move-leader", follower["id"]).returncode == 0
    bad = cli(cluster, "move-leader", "not-hex")
    assert bad.returncode == 1 and len(bad.stderr.strip().splitlines()) == 1
    unreachable = subprocess.run(
        [
            sys.executable,
            "-m",
            "etcdgen",
            "members",
            "--endpoints",
            "127.0.0.1:1",
            "--command-timeout",
            "1",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
    )
    assert unreachable.returncode == 1 and "could not connect" in unreachable.stderr
