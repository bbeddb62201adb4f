"""Per-RPC policy: what the protos do not say, decided by us and kept as data.

Every RPC in `protos/` must have an entry; generation stops otherwise, so an
etcd API bump forces a decision for each new RPC. The retry classes follow
etcd's Go client (`client/v3/retry.go`): the RPCs Go treats as repeatable are
SAFE here; every other unary RPC is IF_NOT_SENT (retried only when no server
can have seen it). Long-lived streams are NEVER retried by the invoker: the
watch and keep-alive runtimes resume them with state the invoker lacks.

Deviations from Go, on purpose:
- AuthStatus and Authenticate are SAFE: the first is a pure read; repeating
  the second only mints another token, which expires on its own.
- Observe (election) is SAFE like Snapshot: retrying re-opens a read stream.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

SAFE = "SAFE"
IF_NOT_SENT = "IF_NOT_SENT"
NEVER = "NEVER"
READ = "READ"
MUTATION = "MUTATION"

#: The oldest etcd release we test against: the `since` of an RPC about which neither
#: the protos (versions.txt) nor its entry here say anything.
BASELINE = "3.4"


@dataclass(frozen=True)
class MethodPolicyEntry:
    retry: str
    effect: str
    #: Hand-kept, only where the protos do not say (see load.method_since).
    since: str | None = None


def _p(retry: str, effect: str, since: str | None = None) -> MethodPolicyEntry:
    return MethodPolicyEntry(retry, effect, since)


POLICY: dict[str, MethodPolicyEntry] = {
    # KV
    "/etcdserverpb.KV/Range": _p(SAFE, READ),
    "/etcdserverpb.KV/Put": _p(IF_NOT_SENT, MUTATION),
    "/etcdserverpb.KV/DeleteRange": _p(IF_NOT_SENT, MUTATION),
    "/etcdserverpb.KV/Txn": _p(IF_NOT_SENT, MUTATION),
    "/etcdserverpb.KV/Compact": _p(IF_NOT_SENT, MUTATION),
    # Watch: resumed by the watch runtime from the last delivered revision.
    "/etcdserverpb.Watch/Watch": _p(NEVER, READ),
    # Lease: a repeated grant only orphans a lease that expires by itself.
    "/etcdserverpb.Lease/LeaseGrant": _p(SAFE, MUTATION),
    "/etcdserverpb.Lease/LeaseRevoke": _p(SAFE, MUTATION),
    "/etcdserverpb.Lease/LeaseKeepAlive": _p(NEVER, MUTATION),
    "/etcdserverpb.Lease/LeaseTimeToLive": _p(SAFE, READ),
    "/etcdserverpb.Lease/LeaseLeases": _p(SAFE, READ),
    # Cluster
    "/etcdserverpb.Cluster/MemberAdd": _p(IF_NOT_SENT, MUTATION),
    "/etcdserverpb.Cluster/MemberRemove": _p(IF_NOT_SENT, MUTATION),
    "/etcdserverpb.Cluster/MemberUpdate": _p(IF_NOT_SENT, MUTATION),
    "/etcdserverpb.Cluster/MemberList": _p(SAFE, READ),
    "/etcdserverpb.Cluster/MemberPromote": _p(IF_NOT_SENT, MUTATION),
    # Maintenance
    "/etcdserverpb.Maintenance/Alarm": _p(SAFE, MUTATION),
    "/etcdserverpb.Maintenance/Status": _p(SAFE, READ),
    "/etcdserverpb.Maintenance/Defragment": _p(IF_NOT_SENT, MUTATION),
    "/etcdserverpb.Maintenance/Hash": _p(SAFE, READ),
    "/etcdserverpb.Maintenance/HashKV": _p(SAFE, READ),
    "/etcdserverpb.Maintenance/Snapshot": _p(SAFE, READ),
    "/etcdserverpb.Maintenance/MoveLeader": _p(SAFE, MUTATION),
    "/etcdserverpb.Maintenance/Downgrade": _p(IF_NOT_SENT, MUTATION),
    # Auth
    "/etcdserverpb.Auth/AuthEnable": _p(IF_NOT_SENT, MUTATION),
    "/etcdserverpb.Auth/AuthDisable": _p(IF_NOT_SENT, MUTATION),
    "/etcdserverpb.Auth/AuthStatus": _p(SAFE, READ),
    "/etcdserverpb.Auth/Authenticate": _p(SAFE, READ),
    "/etcdserverpb.Auth/UserAdd": _p(IF_NOT_SENT, MUTATION),
    "/etcdserverpb.Auth/UserGet": _p(SAFE, READ),
    "/etcdserverpb.Auth/UserList": _p(SAFE, READ),
    "/etcdserverpb.Auth/UserDelete": _p(IF_NOT_SENT, MUTATION),
    "/etcdserverpb.Auth/UserChangePassword": _p(IF_NOT_SENT, MUTATION),
    "/etcdserverpb.Auth/UserGrantRole": _p(IF_NOT_SENT, MUTATION),
    "/etcdserverpb.Auth/UserRevokeRole": _p(IF_NOT_SENT, MUTATION),
    "/etcdserverpb.Auth/RoleAdd": _p(IF_NOT_SENT, MUTATION),
    "/etcdserverpb.Auth/RoleGet": _p(SAFE, READ),
    "/etcdserverpb.Auth/RoleList": _p(SAFE, READ),
    "/etcdserverpb.Auth/RoleDelete": _p(IF_NOT_SENT, MUTATION),
    "/etcdserverpb.Auth/RoleGrantPermission": _p(IF_NOT_SENT, MUTATION),
    "/etcdserverpb.Auth/RoleRevokePermission": _p(IF_NOT_SENT, MUTATION),
    # Lock and Election (server-side recipes keyed by lease: not blindly repeatable)
    "/v3lockpb.Lock/Lock": _p(IF_NOT_SENT, MUTATION),
    "/v3lockpb.Lock/Unlock": _p(IF_NOT_SENT, MUTATION),
    "/v3electionpb.Election/Campaign": _p(IF_NOT_SENT, MUTATION),
    "/v3electionpb.Election/Proclaim": _p(IF_NOT_SENT, MUTATION),
    "/v3electionpb.Election/Leader": _p(SAFE, READ),
    "/v3electionpb.Election/Observe": _p(SAFE, READ),
    "/v3electionpb.Election/Resign": _p(IF_NOT_SENT, MUTATION),
}


class MissingPolicyError(LookupError):
    """An RPC in the protos has no entry in POLICY."""


def policy_for(path: str, table: Mapping[str, MethodPolicyEntry] = POLICY) -> MethodPolicyEntry:
    """The entry for RPC `path`; a missing one stops generation with what to do."""
    try:
        return table[path]
    except KeyError:
        raise MissingPolicyError(
            f"no retry policy for RPC {path}: add it to codegen/policy.py (POLICY) with its "
            "retry class (SAFE / IF_NOT_SENT / NEVER) and effect (READ / MUTATION); and, if "
            "its messages carry no versionpb annotation, since= the etcd release that "
            "introduced it"
        ) from None
