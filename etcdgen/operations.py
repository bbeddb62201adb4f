"""Plain values returned by the operator's methods (members, status, alarms, hashes)."""

from __future__ import annotations

import hashlib
from typing import Literal, NamedTuple

from ._core.validate import choice, integer
from .generated.etcdserverpb import rpc_pb2

AlarmName = Literal["NOSPACE", "CORRUPT", "NONE"]
_ALARMS: dict[str, int] = {
    "NONE": rpc_pb2.NONE,
    "NOSPACE": rpc_pb2.NOSPACE,
    "CORRUPT": rpc_pb2.CORRUPT,
}
_ALARM_NAMES = {number: name for name, number in _ALARMS.items()}
SHA256_SIZE = 32


class Member(NamedTuple):
    id: int
    name: str
    peer_urls: tuple[str, ...]
    client_urls: tuple[str, ...]
    is_learner: bool

    @classmethod
    def from_message(cls, member: rpc_pb2.Member) -> Member:
        return cls(
            member.ID,
            member.name,
            tuple(member.peerURLs),
            tuple(member.clientURLs),
            member.isLearner,
        )


class MemberStatus(NamedTuple):
    """One member's `Status` (as `etcdctl endpoint status`)."""

    endpoint: str
    member_id: int
    version: str
    db_size: int
    db_size_in_use: int
    leader: int
    is_leader: bool
    is_learner: bool
    raft_term: int
    raft_index: int
    raft_applied_index: int
    errors: tuple[str, ...]

    @classmethod
    def from_message(cls, endpoint: str, reply: rpc_pb2.StatusResponse) -> MemberStatus:
        return cls(
            endpoint=endpoint,
            member_id=reply.header.member_id,
            version=reply.version,
            db_size=reply.dbSize,
            db_size_in_use=reply.dbSizeInUse,
            leader=reply.leader,
            is_leader=reply.leader != 0 and reply.leader == reply.header.member_id,
            is_learner=reply.isLearner,
            raft_term=reply.raftTerm,
            raft_index=reply.raftIndex,
            raft_applied_index=reply.raftAppliedIndex,
            errors=tuple(reply.errors),
        )


class EndpointStatus(NamedTuple):
    """An entry of `statuses()`: the status, or why the endpoint did not answer."""

    endpoint: str
    status: MemberStatus | None
    error: str | None


class Alarm(NamedTuple):
    member_id: int
    alarm: str


class HashKV(NamedTuple):
    endpoint: str
    member_id: int
    hash: int
    compact_revision: int
    #: The store revision the hash was taken at.
    revision: int


class ConsistencyReport(NamedTuple):
    """`consistency_check()`: HashKV of every member at one revision."""

    revision: int
    hashes: tuple[HashKV, ...]
    #: Endpoints that did not answer, with the reason.
    unreachable: tuple[tuple[str, str], ...]

    @property
    def consistent(self) -> bool:
        """Every member answered and all hashes agree."""
        return not self.unreachable and len({h.hash for h in self.hashes}) <= 1


def alarm_number(value: object) -> int:
    return choice("alarm", value, _ALARMS)


def alarm_name(number: int) -> str:
    return _ALARM_NAMES.get(number, str(number))


def member_id_arg(value: object, name: str = "member_id") -> int:
    return integer(name, value, minimum=1, maximum=2**64 - 1)


def peer_urls_arg(value: object) -> list[str]:
    urls = [value] if isinstance(value, str) else value
    if not isinstance(urls, list | tuple) or not urls:
        raise TypeError("peer_urls must be a URL or a list of them, e.g. ['http://10.0.0.4:2380']")
    for url in urls:
        if not isinstance(url, str) or "://" not in url:
            raise ValueError(f"peer URL {url!r} must look like http://host:port")
    return list(urls)


class SnapshotDigest:
    """Checks the SHA-256 that etcd appends to a snapshot stream (its last 32 bytes)."""

    def __init__(self) -> None:
        self._hash = hashlib.sha256()
        self._tail = b""
        self.size = 0

    def feed(self, chunk: bytes) -> None:
        self.size += len(chunk)
        data = self._tail + chunk
        self._hash.update(data[:-SHA256_SIZE])
        self._tail = data[-SHA256_SIZE:]

    def verified(self) -> bool:
        return len(self._tail) == SHA256_SIZE and self._hash.digest() == self._tail
