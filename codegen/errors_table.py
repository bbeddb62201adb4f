"""Hand-kept table of the etcd server errors known to etcd's Go client.

Each entry describes one error that an etcd server reports to clients as a gRPC
status. The facts (names, exact messages, status codes) were read from the
``rpctypes`` package of etcd (``api/v3rpc/rpctypes/error.go``) at three reference
versions:

* etcd 3.4.23 (``etcdserver/api/v3rpc/rpctypes`` in that tree),
* etcd 3.5.1, the version whose names, messages and codes the table records,
* etcd 3.6 (3.6.0 through 3.6.14 have the same file).

The table lists every ``ErrGRPC*`` status declared by those files, named after
its client-side ``Err*`` counterpart. Where the Go package declares no ``Err*``
variable for a status (watch canceled, permission not given, rpc not supported
for learner, request canceled, context deadline exceeded, invalid client api
version), the name is formed the same way from the ``ErrGRPC*`` name. Go's own
message-to-error lookup leaves several of these out; this table does not.

Field notes:

* ``code`` is the ``grpc.StatusCode`` member name that goes with ``message``.
  It is the 3.5.1 code, or for errors 3.5.1 does not declare, the code of the
  versions that do.
* ``aliases`` are other exact messages that some reference version sends for
  the same condition.
* ``other_codes`` are other status codes the same error can arrive with: a
  different code declared by another version, or ``UNKNOWN`` where the server
  sends the error without attaching its declared status.
* ``since`` is the earliest of 3.4, 3.5 and 3.6 (judged by 3.4.23, 3.5.1 and
  3.6) whose ``rpctypes`` declares the error.

The code generator renders each entry as a Python exception class named by the
rule ``ErrFoo`` -> ``FooError`` (see :func:`class_name`), with ``summary`` as the
class docstring.
"""

from dataclasses import dataclass

__all__ = ["ERRORS", "ErrorSpec", "class_name"]


@dataclass(frozen=True, kw_only=True)
class ErrorSpec:
    """One etcd server error, as the generator needs it (build it with keywords)."""

    go_name: str
    message: str
    code: str
    aliases: tuple[str, ...] = ()
    summary: str
    since: str = "3.5"
    other_codes: tuple[str, ...] = ()


def class_name(go_name: str) -> str:
    """Return the Python exception class name for a Go error name.

    ``ErrFoo`` becomes ``FooError``; a name that already ends in ``Error`` after
    the prefix is removed is not given a second suffix.
    """
    if not go_name.startswith("Err") or len(go_name) == len("Err"):
        raise ValueError(f"not a Go error name: {go_name!r}")
    base = go_name[len("Err") :]
    if base.endswith("Error"):
        return base
    return base + "Error"


ERRORS: tuple[ErrorSpec, ...] = (
    ErrorSpec(
        go_name="ErrAuthFailed",
        message="etcdserver: authentication failed, invalid user ID or password",
        code="INVALID_ARGUMENT",
        summary="The user name or password is wrong; check the credentials.",
        since="3.4",
    ),
    ErrorSpec(
        go_name="ErrAuthNotEnabled",
        message="etcdserver: authentication is not enabled",
        code="FAILED_PRECONDITION",
        summary="The operation needs authentication turned on, but it is off in this cluster.",
        since="3.4",
    ),
    # 3.5.0 and 3.5.1 lost this status: their servers pass the auth store's own
    # error through as UNKNOWN. 3.4 and 3.5.2+ declare it again.
    ErrorSpec(
        go_name="ErrAuthOldRevision",
        message="etcdserver: revision of auth store is old",
        code="INVALID_ARGUMENT",
        aliases=("auth: revision in header is old",),
        summary=(
            "Users, roles or permissions changed after the request was checked;"
            " fetch a fresh token and retry."
        ),
        since="3.4",
        other_codes=("UNKNOWN",),
    ),
    ErrorSpec(
        go_name="ErrBadLeaderTransferee",
        message="etcdserver: bad leader transferee",
        code="FAILED_PRECONDITION",
        summary="The member named as the new leader cannot take over leadership.",
        since="3.4",
    ),
    # No client-side Err* variable in Go; named from ErrGRPCCanceled.
    ErrorSpec(
        go_name="ErrCanceled",
        message="etcdserver: request canceled",
        code="CANCELLED",
        summary="The request was canceled before the server finished it.",
        since="3.5",
    ),
    # Spelled ErrClusterIdMismatch in 3.5.10+ (kept as a deprecated alias in 3.6).
    ErrorSpec(
        go_name="ErrClusterIDMismatch",
        message="etcdserver: cluster ID mismatch",
        code="FAILED_PRECONDITION",
        summary="Two members disagree on the cluster ID, so they are not part of the same cluster.",
        since="3.6",
    ),
    ErrorSpec(
        go_name="ErrClusterVersionUnavailable",
        message="etcdserver: cluster version not found during downgrade",
        code="UNAVAILABLE",
        summary="The cluster version is not known yet, so the downgrade request cannot be handled.",
        since="3.5",
        other_codes=("FAILED_PRECONDITION",),
    ),
    ErrorSpec(
        go_name="ErrCompacted",
        message="etcdserver: mvcc: required revision has been compacted",
        code="OUT_OF_RANGE",
        summary="The requested revision was removed by compaction; use a newer revision.",
        since="3.4",
    ),
    ErrorSpec(
        go_name="ErrCorrupt",
        message="etcdserver: corrupt cluster",
        code="DATA_LOSS",
        summary="The cluster found corrupted data and refuses requests until an operator acts.",
        since="3.4",
    ),
    # No client-side Err* variable in Go; named from ErrGRPCDeadlineExceeded.
    ErrorSpec(
        go_name="ErrDeadlineExceeded",
        message="etcdserver: context deadline exceeded",
        code="DEADLINE_EXCEEDED",
        summary="The request ran out of time on the server before it finished.",
        since="3.5",
    ),
    ErrorSpec(
        go_name="ErrDowngradeInProcess",
        message="etcdserver: cluster has a downgrade job in progress",
        code="FAILED_PRECONDITION",
        summary="A downgrade is already running; wait for it or cancel it first.",
        since="3.5",
    ),
    ErrorSpec(
        go_name="ErrDuplicateKey",
        message="etcdserver: duplicate key given in txn request",
        code="INVALID_ARGUMENT",
        summary="A transaction branch writes the same key more than once.",
        since="3.4",
    ),
    ErrorSpec(
        go_name="ErrEmptyKey",
        message="etcdserver: key is not provided",
        code="INVALID_ARGUMENT",
        summary="The request has no key; give a non-empty key.",
        since="3.4",
    ),
    ErrorSpec(
        go_name="ErrFutureRev",
        message="etcdserver: mvcc: required revision is a future revision",
        code="OUT_OF_RANGE",
        summary="The requested revision is newer than the store's current revision.",
        since="3.4",
    ),
    ErrorSpec(
        go_name="ErrInvalidAuthMgmt",
        message="etcdserver: invalid auth management",
        code="INVALID_ARGUMENT",
        summary=(
            "The auth change is not allowed, such as taking the root role from the root user"
            " while auth is on."
        ),
        since="3.4",
    ),
    ErrorSpec(
        go_name="ErrInvalidAuthToken",
        message="etcdserver: invalid auth token",
        code="UNAUTHENTICATED",
        summary="The auth token is invalid or has expired; authenticate again.",
        since="3.4",
    ),
    # No client-side Err* variable in Go; named from ErrGRPCInvalidClientAPIVersion.
    ErrorSpec(
        go_name="ErrInvalidClientAPIVersion",
        message="etcdserver: invalid client api version",
        code="INVALID_ARGUMENT",
        summary="The client API version sent with the request is not one the server accepts.",
        since="3.6",
    ),
    ErrorSpec(
        go_name="ErrInvalidDowngradeTargetVersion",
        message="etcdserver: invalid downgrade target version",
        code="INVALID_ARGUMENT",
        summary="The cluster cannot be downgraded to the requested version.",
        since="3.5",
    ),
    ErrorSpec(
        go_name="ErrInvalidSortOption",
        message="etcdserver: invalid sort option",
        code="INVALID_ARGUMENT",
        summary="The range request asks for a sort order or sort target the server does not know.",
        since="3.6",
    ),
    ErrorSpec(
        go_name="ErrKeyNotFound",
        message="etcdserver: key not found",
        code="INVALID_ARGUMENT",
        summary="A put with ignore_value or ignore_lease needs an existing key, and there is none.",
        since="3.4",
    ),
    ErrorSpec(
        go_name="ErrLeaderChanged",
        message="etcdserver: leader changed",
        code="UNAVAILABLE",
        summary="Leadership changed while the request was in flight; retry it.",
        since="3.4",
    ),
    ErrorSpec(
        go_name="ErrLeaseExist",
        message="etcdserver: lease already exists",
        code="FAILED_PRECONDITION",
        summary="A lease with the requested ID already exists; use another ID or let etcd pick.",
        since="3.4",
    ),
    ErrorSpec(
        go_name="ErrLeaseNotFound",
        message="etcdserver: requested lease not found",
        code="NOT_FOUND",
        summary="The lease does not exist, or it has already expired or been revoked.",
        since="3.4",
    ),
    ErrorSpec(
        go_name="ErrLeaseProvided",
        message="etcdserver: lease is provided",
        code="INVALID_ARGUMENT",
        summary="A put sets ignore_lease and also names a lease; drop one of the two.",
        since="3.4",
    ),
    ErrorSpec(
        go_name="ErrLeaseTTLTooLarge",
        message="etcdserver: too large lease TTL",
        code="OUT_OF_RANGE",
        summary="The requested lease TTL is above the largest one the server allows.",
        since="3.4",
    ),
    ErrorSpec(
        go_name="ErrMemberBadURLs",
        message="etcdserver: given member URLs are invalid",
        code="INVALID_ARGUMENT",
        summary="One or more of the given member URLs cannot be parsed.",
        since="3.4",
    ),
    ErrorSpec(
        go_name="ErrMemberExist",
        message="etcdserver: member ID already exist",
        code="FAILED_PRECONDITION",
        summary="A member with this ID is already in the cluster.",
        since="3.4",
    ),
    ErrorSpec(
        go_name="ErrMemberLearnerNotReady",
        message="etcdserver: can only promote a learner member which is in sync with leader",
        code="FAILED_PRECONDITION",
        summary="The learner has not caught up with the leader yet; retry the promotion later.",
        since="3.4",
    ),
    # The server hands this one to gRPC without its status, so it arrives as UNKNOWN.
    ErrorSpec(
        go_name="ErrMemberNotEnoughStarted",
        message="etcdserver: re-configuration failed due to not enough started members",
        code="FAILED_PRECONDITION",
        summary="The membership change would leave too few started members, so it was refused.",
        since="3.4",
        other_codes=("UNKNOWN",),
    ),
    ErrorSpec(
        go_name="ErrMemberNotFound",
        message="etcdserver: member not found",
        code="NOT_FOUND",
        summary="No member with this ID is in the cluster; it may have been removed.",
        since="3.4",
    ),
    ErrorSpec(
        go_name="ErrMemberNotLearner",
        message="etcdserver: can only promote a learner member",
        code="FAILED_PRECONDITION",
        summary="Only a learner member can be promoted, and this member is not one.",
        since="3.4",
    ),
    ErrorSpec(
        go_name="ErrNoInflightDowngrade",
        message="etcdserver: no inflight downgrade job",
        code="FAILED_PRECONDITION",
        summary="There is no downgrade in progress to cancel.",
        since="3.5",
    ),
    ErrorSpec(
        go_name="ErrNoLeader",
        message="etcdserver: no leader",
        code="UNAVAILABLE",
        summary="The member has no leader at the moment; retry later or on another member.",
        since="3.4",
    ),
    ErrorSpec(
        go_name="ErrNoSpace",
        message="etcdserver: mvcc: database space exceeded",
        code="RESOURCE_EXHAUSTED",
        summary=(
            "The database hit its space quota; compact, defragment and disarm the NOSPACE alarm"
            " to allow writes."
        ),
        since="3.4",
    ),
    ErrorSpec(
        go_name="ErrNotCapable",
        message="etcdserver: not capable",
        code="UNAVAILABLE",
        summary="The member cannot serve the v3 API yet, usually while the cluster version is set.",
        since="3.4",
        other_codes=("FAILED_PRECONDITION",),
    ),
    ErrorSpec(
        go_name="ErrNotLeader",
        message="etcdserver: not leader",
        code="FAILED_PRECONDITION",
        summary="The request must be handled by the leader, and this member is not the leader.",
        since="3.4",
    ),
    # No client-side Err* variable in Go; named from ErrGPRCNotSupportedForLearner
    # (spelled ErrGRPCNotSupportedForLearner from 3.6 on).
    ErrorSpec(
        go_name="ErrNotSupportedForLearner",
        message="etcdserver: rpc not supported for learner",
        code="UNAVAILABLE",
        summary="Learner members do not serve this call; send it to a voting member.",
        since="3.4",
        other_codes=("FAILED_PRECONDITION",),
    ),
    ErrorSpec(
        go_name="ErrPeerURLExist",
        message="etcdserver: Peer URLs already exists",
        code="FAILED_PRECONDITION",
        summary="Another member already uses one of these peer URLs.",
        since="3.4",
    ),
    ErrorSpec(
        go_name="ErrPermissionDenied",
        message="etcdserver: permission denied",
        code="PERMISSION_DENIED",
        summary="The authenticated user has no permission for this operation.",
        since="3.4",
    ),
    # No client-side Err* variable in Go; named from ErrGRPCPermissionNotGiven.
    ErrorSpec(
        go_name="ErrPermissionNotGiven",
        message="etcdserver: permission not given",
        code="INVALID_ARGUMENT",
        summary="A request to grant a permission to a role did not include the permission.",
        since="3.5",
    ),
    ErrorSpec(
        go_name="ErrPermissionNotGranted",
        message="etcdserver: permission is not granted to the role",
        code="FAILED_PRECONDITION",
        summary="The role does not hold the permission that was asked to be revoked.",
        since="3.4",
    ),
    ErrorSpec(
        go_name="ErrRequestTooLarge",
        message="etcdserver: request is too large",
        code="INVALID_ARGUMENT",
        summary="The request is bigger than the server's maximum request size.",
        since="3.4",
    ),
    ErrorSpec(
        go_name="ErrRoleAlreadyExist",
        message="etcdserver: role name already exists",
        code="FAILED_PRECONDITION",
        summary="A role with this name already exists.",
        since="3.4",
    ),
    ErrorSpec(
        go_name="ErrRoleEmpty",
        message="etcdserver: role name is empty",
        code="INVALID_ARGUMENT",
        summary="The role name is empty; give a non-empty name.",
        since="3.4",
    ),
    ErrorSpec(
        go_name="ErrRoleNotFound",
        message="etcdserver: role name not found",
        code="FAILED_PRECONDITION",
        summary="No role with this name exists.",
        since="3.4",
    ),
    ErrorSpec(
        go_name="ErrRoleNotGranted",
        message="etcdserver: role is not granted to the user",
        code="FAILED_PRECONDITION",
        summary="The user does not have the role that was asked to be revoked.",
        since="3.4",
    ),
    ErrorSpec(
        go_name="ErrRootRoleNotExist",
        message="etcdserver: root user does not have root role",
        code="FAILED_PRECONDITION",
        summary="Auth cannot be enabled until the root user has the root role.",
        since="3.4",
    ),
    ErrorSpec(
        go_name="ErrRootUserNotExist",
        message="etcdserver: root user does not exist",
        code="FAILED_PRECONDITION",
        summary="Auth cannot be enabled until a root user exists; create it first.",
        since="3.4",
    ),
    ErrorSpec(
        go_name="ErrStopped",
        message="etcdserver: server stopped",
        code="UNAVAILABLE",
        summary="The member is stopping or has stopped; use another member.",
        since="3.4",
    ),
    ErrorSpec(
        go_name="ErrTimeout",
        message="etcdserver: request timed out",
        code="UNAVAILABLE",
        summary="The request timed out in the server; it may or may not have been applied.",
        since="3.4",
    ),
    ErrorSpec(
        go_name="ErrTimeoutDueToConnectionLost",
        message="etcdserver: request timed out, possibly due to connection lost",
        code="UNAVAILABLE",
        summary="The request timed out, probably because the member lost contact with the leader.",
        since="3.4",
    ),
    ErrorSpec(
        go_name="ErrTimeoutDueToLeaderFail",
        message="etcdserver: request timed out, possibly due to previous leader failure",
        code="UNAVAILABLE",
        summary="The request timed out, probably because the previous leader failed.",
        since="3.4",
    ),
    # Declared in 3.4 and again from 3.5.3 on; 3.5.0 to 3.5.2 neither declare nor send it.
    ErrorSpec(
        go_name="ErrTimeoutWaitAppliedIndex",
        message="etcdserver: request timed out, waiting for the applied index took too long",
        code="UNAVAILABLE",
        summary="The member was too slow applying earlier entries to serve the request; retry.",
        since="3.4",
    ),
    ErrorSpec(
        go_name="ErrTooManyLearners",
        message="etcdserver: too many learner members in cluster",
        code="FAILED_PRECONDITION",
        summary="The cluster already has as many learner members as it allows.",
        since="3.4",
    ),
    ErrorSpec(
        go_name="ErrTooManyOps",
        message="etcdserver: too many operations in txn request",
        code="INVALID_ARGUMENT",
        summary="The transaction has more operations than the server allows.",
        since="3.4",
    ),
    # The server hands this one to gRPC without its status, so it arrives as UNKNOWN.
    ErrorSpec(
        go_name="ErrTooManyRequests",
        message="etcdserver: too many requests",
        code="RESOURCE_EXHAUSTED",
        summary="The server has too many pending proposals; back off and retry.",
        since="3.4",
        other_codes=("UNKNOWN",),
    ),
    ErrorSpec(
        go_name="ErrUnhealthy",
        message="etcdserver: unhealthy cluster",
        code="UNAVAILABLE",
        summary="The cluster is not healthy enough for the requested change; retry once it is.",
        since="3.4",
    ),
    ErrorSpec(
        go_name="ErrUserAlreadyExist",
        message="etcdserver: user name already exists",
        code="FAILED_PRECONDITION",
        summary="A user with this name already exists.",
        since="3.4",
    ),
    ErrorSpec(
        go_name="ErrUserEmpty",
        message="etcdserver: user name is empty",
        code="INVALID_ARGUMENT",
        summary="The user name is empty; give a non-empty name.",
        since="3.4",
    ),
    ErrorSpec(
        go_name="ErrUserNotFound",
        message="etcdserver: user name not found",
        code="FAILED_PRECONDITION",
        summary="No user with this name exists.",
        since="3.4",
    ),
    ErrorSpec(
        go_name="ErrValueProvided",
        message="etcdserver: value is provided",
        code="INVALID_ARGUMENT",
        summary="A put sets ignore_value and also gives a value; drop one of the two.",
        since="3.4",
    ),
    # No client-side Err* variable in Go; named from ErrGRPCWatchCanceled.
    ErrorSpec(
        go_name="ErrWatchCanceled",
        message="etcdserver: watch canceled",
        code="CANCELLED",
        summary="The server canceled the watch.",
        since="3.4",
    ),
    ErrorSpec(
        go_name="ErrWrongDowngradeVersionFormat",
        message="etcdserver: wrong downgrade target version format",
        code="INVALID_ARGUMENT",
        summary="The downgrade target is not a well-formed version string.",
        since="3.5",
    ),
)
