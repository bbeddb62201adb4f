# Generated from etcdgen/_async/operations.py by scripts/unasync.py. Do not edit.
"""`Operations`: the operator's methods of `Client` (members, snapshots...)."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from .._core.errors import EtcdError, SnapshotError
from .._core.timeout import DEFAULT, Timeout
from .._core.validate import flag, integer
from ..generated import methods
from ..generated.errors import FutureRevError
from ..generated.etcdserverpb import rpc_pb2
from ..operations import (
    Alarm,
    AlarmName,
    ConsistencyReport,
    EndpointStatus,
    HashKV,
    Member,
    MemberStatus,
    SnapshotDigest,
    alarm_name,
    alarm_number,
    member_id_arg,
    peer_urls_arg,
)
from .connection import Connection

#: Downgrade came with etcd 3.5: absent when this copy is generated from 3.4's API.
_DOWNGRADE: Any = getattr(methods, "MAINTENANCE_DOWNGRADE", None)
_DOWNGRADE_ACTIONS = {"validate": 0, "enable": 1, "cancel": 2}
#: statuses() and consistency_check(): how long one member may take to answer.
PROBE_TIMEOUT = 3.0


class Operations:
    """The operator's methods; the client class supplies `_connection`."""

    _connection: Connection

    # -- members -----------------------------------------------------------------------------

    def member_list(
        self, *, linearizable: bool = False, timeout: Timeout = DEFAULT
    ) -> tuple[Member, ...]:
        """Every member (`linearizable=True`: as the leader knows it, etcd >= 3.5)."""
        # `linearizable` came with etcd 3.5 (absent from a copy generated from 3.4's API).
        options: dict[str, Any] = (
            {"linearizable": True} if flag("linearizable", linearizable) else {}
        )
        request = rpc_pb2.MemberListRequest(**options)
        reply = self._connection.invoker.unary_unary(methods.CLUSTER_MEMBER_LIST, request, timeout)
        return tuple(Member.from_message(m) for m in reply.members)

    def member_add(
        self, peer_urls: str | list[str], *, learner: bool = False, timeout: Timeout = DEFAULT
    ) -> Member:
        """Add a member (start it with `--initial-cluster-state existing`); returns it."""
        request = rpc_pb2.MemberAddRequest(
            peerURLs=peer_urls_arg(peer_urls), isLearner=flag("learner", learner)
        )
        reply = self._connection.invoker.unary_unary(methods.CLUSTER_MEMBER_ADD, request, timeout)
        return Member.from_message(reply.member)

    def member_remove(self, member_id: int, *, timeout: Timeout = DEFAULT) -> None:
        request = rpc_pb2.MemberRemoveRequest(ID=member_id_arg(member_id))
        self._connection.invoker.unary_unary(methods.CLUSTER_MEMBER_REMOVE, request, timeout)

    def member_update(
        self, member_id: int, peer_urls: str | list[str], *, timeout: Timeout = DEFAULT
    ) -> None:
        request = rpc_pb2.MemberUpdateRequest(
            ID=member_id_arg(member_id), peerURLs=peer_urls_arg(peer_urls)
        )
        self._connection.invoker.unary_unary(methods.CLUSTER_MEMBER_UPDATE, request, timeout)

    def member_promote(self, member_id: int, *, timeout: Timeout = DEFAULT) -> None:
        """Make a learner a voting member (it must have caught up with the leader)."""
        request = rpc_pb2.MemberPromoteRequest(ID=member_id_arg(member_id))
        self._connection.invoker.unary_unary(methods.CLUSTER_MEMBER_PROMOTE, request, timeout)

    # -- status ------------------------------------------------------------------------------

    def status(self, endpoint: str | None = None, *, timeout: Timeout = DEFAULT) -> MemberStatus:
        """`Status` of `endpoint`'s member (None: any healthy member)."""
        request = rpc_pb2.StatusRequest()
        invoker = self._connection.invoker
        if endpoint is None:
            reply = invoker.unary_unary(methods.MAINTENANCE_STATUS, request, timeout)
            return MemberStatus.from_message("", reply)
        reply = invoker.unary_unary_on(endpoint, methods.MAINTENANCE_STATUS, request, timeout)
        return MemberStatus.from_message(endpoint, reply)

    def statuses(self, *, timeout: Timeout = PROBE_TIMEOUT) -> tuple[EndpointStatus, ...]:
        """The status of every endpoint; one that does not answer gets an `error` instead."""
        found = []
        for endpoint in self._connection.endpoints:
            try:
                status = self.status(endpoint, timeout=timeout)
            except EtcdError as error:
                found.append(EndpointStatus(endpoint, None, str(error)))
            else:
                found.append(EndpointStatus(endpoint, status, None))
        return tuple(found)

    # -- maintenance -------------------------------------------------------------------------

    def defragment(self, endpoint: str, *, timeout: Timeout = 60.0) -> None:
        """Defragment `endpoint`'s backend (it blocks that member while it runs)."""
        self._connection.invoker.unary_unary_on(
            endpoint, methods.MAINTENANCE_DEFRAGMENT, rpc_pb2.DefragmentRequest(), timeout
        )

    def hash_kv(self, endpoint: str, *, revision: int = 0, timeout: Timeout = DEFAULT) -> HashKV:
        """The hash of `endpoint`'s key-value store up to `revision` (0: the latest)."""
        request = rpc_pb2.HashKVRequest(revision=integer("revision", revision))
        reply = self._connection.invoker.unary_unary_on(
            endpoint, methods.MAINTENANCE_HASH_KV, request, timeout
        )
        return HashKV(
            endpoint,
            reply.header.member_id,
            reply.hash,
            reply.compact_revision,
            revision or reply.header.revision,
        )

    def consistency_check(
        self, *, revision: int | None = None, timeout: Timeout = PROBE_TIMEOUT
    ) -> ConsistencyReport:
        """HashKV of every member at one revision (the latest, unless given), compared."""
        if revision is None:
            revision = (
                self._connection.invoker.unary_unary(
                    methods.KV_RANGE, rpc_pb2.RangeRequest(key=b"\0", count_only=True), timeout
                )
            ).header.revision
        hashes, unreachable = [], []
        for endpoint in self._connection.endpoints:
            try:
                hashes.append(self._hash_at(endpoint, revision, timeout))
            except EtcdError as error:
                unreachable.append((endpoint, str(error)))
        return ConsistencyReport(revision, tuple(hashes), tuple(unreachable))

    def _hash_at(self, endpoint: str, revision: int, timeout: Timeout) -> HashKV:
        try:
            return self.hash_kv(endpoint, revision=revision, timeout=timeout)
        except FutureRevError:
            # A follower that has not applied `revision` yet (it lags under load). A
            # linearizable read on it returns once it has caught up with the leader's
            # commit at the time of the read, which includes `revision`: then ask again.
            request = rpc_pb2.RangeRequest(key=b"\0", count_only=True)
            invoker = self._connection.invoker
            invoker.unary_unary_on(endpoint, methods.KV_RANGE, request, timeout)
            return self.hash_kv(endpoint, revision=revision, timeout=timeout)

    def alarms(self, *, timeout: Timeout = DEFAULT) -> tuple[Alarm, ...]:
        """The raised alarms (e.g. NOSPACE: the backend quota is full)."""
        request = rpc_pb2.AlarmRequest(action=rpc_pb2.AlarmRequest.GET)
        reply = self._connection.invoker.unary_unary(methods.MAINTENANCE_ALARM, request, timeout)
        return tuple(Alarm(a.memberID, alarm_name(a.alarm)) for a in reply.alarms)

    def alarm_disarm(
        self,
        member_id: int | None = None,
        *,
        alarm: AlarmName = "NOSPACE",
        timeout: Timeout = DEFAULT,
    ) -> tuple[Alarm, ...]:
        """Clear `alarm` on `member_id` (None: on every member that raised it)."""
        number = alarm_number(alarm)
        targets = (
            [member_id_arg(member_id)]
            if member_id is not None
            else [a.member_id for a in self.alarms(timeout=timeout) if a.alarm == alarm]
        )
        cleared: list[Alarm] = []
        for target in targets:
            request = rpc_pb2.AlarmRequest(
                action=rpc_pb2.AlarmRequest.DEACTIVATE,
                memberID=target,
                alarm=number,  # type: ignore[arg-type]  # an AlarmType value
            )
            reply = self._connection.invoker.unary_unary(
                methods.MAINTENANCE_ALARM, request, timeout
            )
            cleared.extend(Alarm(a.memberID, alarm_name(a.alarm)) for a in reply.alarms)
        return tuple(cleared)

    def move_leader(self, target_id: int, *, timeout: Timeout = DEFAULT) -> None:
        """Hand leadership to member `target_id` (sent to the current leader, found here)."""
        target = member_id_arg(target_id, "target_id")
        leader_endpoint = None
        for entry in self.statuses():
            if entry.status is not None and entry.status.is_leader:
                leader_endpoint = entry.endpoint
        if leader_endpoint is None:
            raise EtcdError(
                "no endpoint of this client is the leader now (no leader, or the leader "
                "is not among the endpoints: add it, or call sync_endpoints())"
            )
        self._connection.invoker.unary_unary_on(
            leader_endpoint,
            methods.MAINTENANCE_MOVE_LEADER,
            rpc_pb2.MoveLeaderRequest(targetID=target),
            timeout,
        )

    def downgrade(self, action: str, version: str = "", *, timeout: Timeout = DEFAULT) -> str:
        """Cluster downgrade (etcd >= 3.5): "validate", "enable" or "cancel"; the version."""
        if _DOWNGRADE is None:
            raise EtcdError("this copy of etcdgen was generated from an etcd API without Downgrade")
        kind = _DOWNGRADE_ACTIONS.get(action)
        if kind is None:
            raise ValueError(
                f"action must be one of {', '.join(_DOWNGRADE_ACTIONS)}; got {action!r}"
            )
        request = _DOWNGRADE.request_type(action=kind, version=version)
        reply = self._connection.invoker.unary_unary(_DOWNGRADE, request, timeout)
        return str(reply.version)

    # -- snapshots ---------------------------------------------------------------------------

    def snapshot_stream(
        self, endpoint: str | None = None, *, timeout: Timeout = None
    ) -> Iterator[bytes]:
        """The backend of `endpoint`'s member (None: any) as chunks of bytes.

        The last 32 bytes of the whole stream are the SHA-256 of what precedes them
        (etcd's format; `etcdutl snapshot status` checks it).
        """
        stream = self._connection.invoker.unary_stream(
            methods.MAINTENANCE_SNAPSHOT, rpc_pb2.SnapshotRequest(), timeout, endpoint
        )
        try:
            for reply in stream:
                if reply.blob:
                    yield reply.blob
        finally:
            stream.cancel()

    def snapshot(
        self,
        path: str | os.PathLike[str],
        *,
        endpoint: str | None = None,
        progress: Callable[[int], object] | None = None,
        timeout: Timeout = None,
    ) -> int:
        """Save a snapshot to `path`; returns its size.

        The data goes to a temporary file beside `path`; only once the stream ended
        and its SHA-256 checked out is it renamed to `path`. A failed or interrupted
        snapshot leaves nothing at `path`. `progress(bytes_so_far)` is called per chunk.
        """
        target = Path(path)
        digest = SnapshotDigest()
        handle, temporary = tempfile.mkstemp(
            prefix=f".{target.name}.", suffix=".part", dir=target.parent or "."
        )
        try:
            with os.fdopen(handle, "wb") as out:
                for chunk in self.snapshot_stream(endpoint, timeout=timeout):
                    out.write(chunk)
                    digest.feed(chunk)
                    if progress is not None:
                        progress(digest.size)
                out.flush()
                os.fsync(out.fileno())
            if not digest.verified():
                raise SnapshotError(
                    f"the snapshot stream ({digest.size:,} bytes) ended without a valid "
                    "SHA-256: it was cut short or corrupted; nothing was saved"
                )
            os.replace(temporary, target)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
        return digest.size
