"""What the connection layer needs to know about etcd itself (both modes).

- The health probe is `Maintenance.Status` (does the member know a leader,
  is it a learner, which version) together with a linearizable count-only
  read of the key "health" (can it serve consensus reads now?).
- A member sync turns a `MemberList` reply into endpoints: one client URL per
  member (of the client's kind, TLS or not), members without client URLs
  (added but never started) skipped, learners flagged.
- `reject_old_cluster=True` refuses members older than etcd 3.4 (Go's
  `RejectOldCluster` refuses clusters it cannot talk to safely; 3.4 is the
  oldest release this client is tested against).
"""

from __future__ import annotations

from collections.abc import Iterable

from ._core.endpoints import Endpoint, InvalidEndpointError, parse_endpoint
from ._core.health import ProbeSpec, StatusInfo
from .generated import methods
from .generated.etcdserverpb import rpc_pb2

OLDEST_SUPPORTED = (3, 4)


def status_probe(interval: float, timeout: float, reject_old_cluster: bool) -> ProbeSpec:
    def interpret(response: rpc_pb2.StatusResponse) -> StatusInfo:
        version = str(response.version)
        rejected = ""
        if reject_old_cluster and _older_than_supported(version):
            rejected = f"etcd {version} is older than 3.4 (reject_old_cluster=True)"
        return StatusInfo(
            leader_known=response.leader != 0,
            learner=bool(response.isLearner),
            version=version,
            rejected=rejected,
        )

    return ProbeSpec(
        status=methods.MAINTENANCE_STATUS,
        status_request=rpc_pb2.StatusRequest(),
        # The key etcdctl's health check reads too; count_only keeps the reply tiny.
        read=methods.KV_RANGE,
        read_request=rpc_pb2.RangeRequest(key=b"health", count_only=True),
        interpret=interpret,
        interval=interval,
        timeout=timeout,
    )


def _older_than_supported(version: str) -> bool:
    try:
        major, minor = (int(part) for part in version.split(".")[:2])
    except ValueError:
        return False
    return (major, minor) < OLDEST_SUPPORTED


def endpoints_from_members(
    members: Iterable[rpc_pb2.Member], tls: bool
) -> tuple[list[Endpoint], set[str]]:
    """The endpoints of a MemberList reply, and the texts of those that are learners."""
    found: list[Endpoint] = []
    learners: set[str] = set()
    for member in members:
        chosen = None
        for url in member.clientURLs:
            try:
                endpoint = parse_endpoint(url)
            except InvalidEndpointError:
                continue
            if endpoint.tls == tls:
                chosen = endpoint
                break
        if chosen is None:
            continue  # not started yet, or only URLs of the other kind
        found.append(chosen)
        if member.isLearner:
            learners.add(chosen.text)
    return found, learners
