"""One etcd process (:class:`EtcdServer`) and what it reports about itself.

etcd logs to a file in the server's temporary work dir (a pipe nobody reads would fill up
and block etcd); the last lines go into :class:`EtcdStartError` when a start fails.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, TypeVar

from . import ports as _ports
from .binaries import EtcdBinary, _supported_flags, _version_matches, find_etcd_binary
from .errors import EtcdNotFoundError, EtcdRequestError, EtcdStartError
from .ports import LOOPBACK
from .process import (
    _TERMINATING_SIGNALS,
    LOG_TAIL_LINES,
    STOP_TIMEOUT,
    _clean_env,
    _go_arch,
    _register,
    _tail,
    _unregister,
    _wait_stopped,
)
from .tls import ServerTLS

DEFAULT_HEARTBEAT_INTERVAL_MS = 25
DEFAULT_ELECTION_TIMEOUT_MS = 250

_no_proxy_opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))


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

    To start several servers together (as :class:`EtcdCluster` does), take the steps of
    :meth:`start` one by one: :meth:`launch` spawns etcd without waiting,
    :meth:`wait_serving_peers` waits until it answers on its peer port, :meth:`wait_ready`
    until it is healthy.  :meth:`terminate` sends SIGTERM without waiting, so several
    servers can shut down at once before :meth:`stop` reaps each.

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
        proc = self._proc  # read once: the peer proxy's threads ask too
        return proc is not None and proc.poll() is None

    @property
    def paused(self) -> bool:
        return self._paused and self.running

    @property
    def pid(self) -> int:
        proc = self._proc  # read once: the peer proxy's threads ask too
        if proc is None or proc.poll() is not None:
            raise RuntimeError(f"{self.name}: not running")
        return proc.pid

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
            self.launch()
            self.wait_ready()
            return self
        can_retry = self._fixed_client_port is None or self._fixed_peer_port is None
        attempts = 3 if can_retry else 1
        for attempt in range(1, attempts + 1):
            self._prepare()
            try:
                self.launch()
                self.wait_ready()
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
            self.terminate()
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

    # -- starting and stopping in steps --------------------------------------------------------

    def launch(self: _ServerT) -> _ServerT:
        """Spawn etcd and return at once, without waiting for it; returns ``self``.

        The first step of :meth:`start`.  A server without resources first gets its ports
        (free ones, unless fixed) and a temporary work dir; after :meth:`kill` it comes
        back on its data dir and ports.  Follow with :meth:`wait_ready`.  Unlike
        :meth:`start`, nothing is retried: if a port was taken, :meth:`wait_ready` raises
        :class:`EtcdStartError` (``address_in_use``).  After a failed step, call
        :meth:`stop` to clean up.
        """
        if self.running:
            raise RuntimeError(f"{self.name}: already running")
        if self._workdir is None:
            self._prepare()
        self._spawn()
        return self

    def wait_ready(self, timeout: float | None = None) -> None:
        """Poll ``/health`` until the launched server is healthy.

        ``timeout`` defaults to ``startup_timeout``.  Raises :class:`EtcdStartError` (with
        the log's last lines) if the process exits, or if it is not healthy in time; then
        the process is killed.  A cluster member is healthy only once a quorum is up, so
        launch every member before waiting for any.
        """
        proc = self._proc
        if proc is None:
            raise RuntimeError(f"{self.name}: not launched")
        if timeout is None:
            timeout = self.startup_timeout
        deadline = time.monotonic() + timeout
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
                    f"after {timeout:.3g} s; log: {self.log_path}",
                    log_tail=tail,
                )
            time.sleep(0.05)

    def serves_peers(self, timeout: float = 0.25) -> bool:
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

    def wait_serving_peers(self, timeout: float | None = None) -> bool:
        """Poll until the launched server answers on its peer listener; whether it does.

        Returns False, without raising, if the process exits or ``timeout`` (default:
        ``startup_timeout``) passes; :meth:`wait_ready` then tells why.  A new cluster
        member asks its peers whether it already belongs to the cluster, waiting 1 s for
        each that has bound its peer port but does not answer yet; launching members one
        after the other once the previous one serves its peers avoids that wait.
        """
        deadline = time.monotonic() + (self.startup_timeout if timeout is None else timeout)
        proc = self._proc
        while proc is not None and proc.poll() is None and time.monotonic() < deadline:
            if self.serves_peers():
                return True
            time.sleep(0.01)
        return False

    def terminate(self) -> None:
        """Send SIGTERM (resuming a paused process) and return without waiting.

        :meth:`stop` then waits for the exit and cleans up, without signalling again;
        terminating several servers first lets them shut down at the same time.  Does
        nothing if the process is not running or was already terminated.
        """
        proc = self._proc
        if proc is not None and proc.poll() is None and self._term_sent is not proc:
            self._term_sent = proc
            proc.send_signal(signal.SIGTERM)
            if self._paused:
                proc.send_signal(signal.SIGCONT)
            self._paused = False

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
        free = iter(_ports._free_ports(sum(wanted)))
        self._client_port = self._fixed_client_port or next(free)
        self._peer_port = self._fixed_peer_port or next(free)
        safe_name = re.sub(r"[^A-Za-z0-9_.-]", "_", self.name)
        self._workdir = Path(tempfile.mkdtemp(prefix=f"etcdgen-{safe_name}-"))
        _register(self)

    def _spawn(self) -> None:
        """Spawn the process in the prepared work dir (the core of :meth:`launch`)."""
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
