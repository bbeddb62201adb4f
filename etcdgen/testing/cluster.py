"""A cluster of etcd members on loopback (:class:`EtcdCluster`): faults, membership changes."""

from __future__ import annotations

import contextlib
import re
import signal
import subprocess
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from types import TracebackType
from typing import Any, TypeVar

from . import ports as _ports
from .binaries import EtcdBinary, _version_matches, find_etcd_binary
from .errors import _BIND_ERROR, EtcdRequestError, EtcdStartError
from .ports import LOOPBACK
from .proxy import _PeerProxy
from .server import (
    DEFAULT_ELECTION_TIMEOUT_MS,
    DEFAULT_HEARTBEAT_INTERVAL_MS,
    EtcdServer,
    MemberInfo,
    _check_options,
    _int,
)
from .tls import ServerTLS

_ClusterT = TypeVar("_ClusterT", bound="EtcdCluster")


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
    peer port, see :meth:`start`), through the public steps of :class:`EtcdServer`
    (:meth:`~EtcdServer.launch`, :meth:`~EtcdServer.wait_serving_peers`,
    :meth:`~EtcdServer.wait_ready`).  :meth:`start` returns when every member is healthy and
    a leader exists.

    With ``peer_proxy=True`` every member advertises a peer URL served by a TCP proxy in
    this process (see :mod:`etcdgen.testing.proxy`), so :meth:`isolate` can partition a
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
            with contextlib.suppress(RuntimeError):  # not running (any more)
                pids[name] = member.pid
        return pids

    def _serving_check(self, name: str) -> Callable[[], bool]:
        """Whether member ``name`` serves its peer listener (answers ``GET /version`` there).

        Until then etcd is bootstrapping: its peer port accepts connections but answers
        nothing.  Called from the proxy's threads.
        """

        def serving() -> bool:
            server = self._proxied.get(name)
            return server is not None and server.running and server.serves_peers()

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
        ports = _ports._free_ports(2 * self.size)
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
                deadline = time.monotonic() + self.startup_timeout
                for member in members:
                    member.launch()
                    if self._proxy is None:
                        # Each member first asks its peers (GET /members) whether it is
                        # already part of the cluster, waiting 1 s for each peer that has
                        # bound its port but is still bootstrapping itself.  Launched one at
                        # a time, every peer asked is down (refused) or serving.  (With the
                        # proxy, a member's proxy only listens once it serves.)
                        member.wait_serving_peers(timeout=max(0.0, deadline - time.monotonic()))
                for member in members:
                    member.wait_ready(timeout=max(0.0, deadline - time.monotonic()))
                self.members = members
                self.leader(timeout=max(1.0, deadline - time.monotonic()))
                return self
            except BaseException as exc:
                bind_error = any(_BIND_ERROR in m.log_tail() for m in members)
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
                    member.terminate()
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
            client_port, peer_port = _ports._free_ports(2)
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
