"""Hand-kept table of the etcd server errors known to etcd's Go client.

Each entry describes one error that an etcd server reports to clients as a gRPC
status. The facts (names, exact messages, status codes) were read from the
``rpctypes`` package of etcd (``api/v3rpc/rpctypes/error.go``) and the server's
error translation (``v3rpc/util.go``) at three reference versions, the keys of
:data:`VERSIONS`:

* ``"3.4"``: etcd 3.4.23 (``etcdserver/api/v3rpc/rpctypes`` in that tree),
* ``"3.5"``: etcd 3.5.1, the version of the API the generator renders,
* ``"3.6"``: etcd 3.6 (3.6.0 through 3.6.14 have the same file).

The table lists every ``ErrGRPC*`` status declared by those files, named after
its client-side ``Err*`` counterpart. Where the Go package declares no ``Err*``
variable for a status (watch canceled, permission not given, rpc not supported
for learner, request canceled, context deadline exceeded, invalid client api
version), the name is formed the same way from the ``ErrGRPC*`` name. Go's own
message-to-error lookup leaves several of these out; this table does not.

Every rule the generator applies to an error is a column here (or, for the
class name, a rule function in this module), so ``codegen/load.py`` and
``codegen/render.py`` only copy the table out:

* ``category`` names the base class the error subclasses, one of
  :data:`CATEGORIES`, so that ``except AuthError`` catches every auth failure.
  Each category's summary and details are its class docstring.
* ``codes`` is the ``grpc.StatusCode`` member name each reference version
  declares for the error; a version that does not declare it is left out. The
  class's ``status`` is the code of :data:`STATUS_VERSION`, or for errors that
  version does not declare, the code of the newest version that does; its
  ``since`` is the earliest version in ``codes``.
* ``unknown_in`` lists the versions whose server sends the error (under
  ``message`` or one of the ``aliases``) with status ``UNKNOWN`` instead: it
  hands gRPC an error value without its status attached.
* ``aliases`` are other exact messages that some reference version sends for
  the same condition.
* ``builtin_base`` is a builtin exception class the error also subclasses
  (``TimeoutError`` for the errors that mean "it took too long").
* ``summary`` is the class docstring.

Class names follow :func:`error_class_name`: ``ErrFoo`` -> ``FooError``, with an
``Etcd`` prefix where the name would shadow a builtin (``EtcdTimeoutError``).

Errors whose message the table does not know fall back to a class by their gRPC
status code, from :data:`CODE_FALLBACKS`, which covers every code but ``OK``.
Where an etcd class (or a runtime one from ``etcdgen._core.errors``) already
means exactly what the code says, the code falls back to it: ``CANCELLED`` to
``CanceledError``, ``DEADLINE_EXCEEDED`` to ``DeadlineExceededError``,
``PERMISSION_DENIED`` to ``PermissionDeniedError``, ``UNAVAILABLE`` to the
runtime's ``UnavailableError`` (no member could serve the call). Every other
code gets a class of its own from :data:`STATUS_ERRORS`, named
``<Code>StatusError`` (:func:`status_class_name`) under :data:`STATUS_BASE`,
``GrpcStatusError``. The ``StatusError`` suffix keeps those apart from etcd's
own names (``InvalidArgumentStatusError`` is not an etcd error called "invalid
argument") and says that the class tells only the status; sharing one base
lets callers catch "some status etcdgen has no name for". A generic class can
still join a category where every error with that code belongs there:
``UnauthenticatedStatusError`` is an ``AuthError``. ``RESOURCE_EXHAUSTED`` does
not fall back to ``NoSpaceError`` or ``TooManyRequestsError``: gRPC itself sends
that code for oversized messages, so neither would be accurate.
"""

import builtins
from collections.abc import Mapping
from dataclasses import dataclass, field

__all__ = [
    "CATEGORIES",
    "CODE_FALLBACKS",
    "ERRORS",
    "RUNTIME_FALLBACKS",
    "STATUS_BASE",
    "STATUS_CODES",
    "STATUS_ERRORS",
    "STATUS_VERSION",
    "VERSIONS",
    "Category",
    "ErrorSpec",
    "StatusErrorSpec",
    "class_name",
    "error_class_name",
    "from_version",
    "status_class_name",
]

#: The reference versions, oldest first: the key ``codes`` uses -> the release read.
VERSIONS: Mapping[str, str] = {"3.4": "3.4.23", "3.5": "3.5.1", "3.6": "3.6.0"}

#: Whose code becomes a class's ``status``: the version of the rendered API (protos/VERSION).
STATUS_VERSION = "3.5"

#: Every ``grpc.StatusCode`` member name, in the order of their numbers.
STATUS_CODES = (
    "OK",
    "CANCELLED",
    "UNKNOWN",
    "INVALID_ARGUMENT",
    "DEADLINE_EXCEEDED",
    "NOT_FOUND",
    "ALREADY_EXISTS",
    "PERMISSION_DENIED",
    "RESOURCE_EXHAUSTED",
    "FAILED_PRECONDITION",
    "ABORTED",
    "OUT_OF_RANGE",
    "UNIMPLEMENTED",
    "INTERNAL",
    "UNAVAILABLE",
    "DATA_LOSS",
    "UNAUTHENTICATED",
)


@dataclass(frozen=True)
class Category:
    """A base class of the generated errors: its name and its docstring."""

    name: str
    #: The docstring's first line (it has to fit on one).
    summary: str
    #: The rest of the docstring, if any.
    details: str = ""


#: The category bases, in the order the generated module defines them.
CATEGORIES: tuple[Category, ...] = (
    Category(
        "AuthError",
        "Authentication and access control: credentials, tokens, users, roles, permissions.",
    ),
    Category(
        "KeyValueError",
        "Key-value requests: keys, values, revisions, compaction, ranges, transactions.",
    ),
    Category("LeaseError", "Leases: their IDs and TTLs, and leases that no longer exist."),
    Category("WatchError", "Watches the server ended."),
    Category(
        "ClusterError",
        "Cluster membership and administration.",
        "Members and learners, peer URLs, leadership transfer, the cluster ID and version,"
        " downgrades, and membership changes refused while the cluster is unhealthy.",
    ),
    Category(
        "AlarmError",
        "An alarm keeps the cluster from serving requests until an operator acts.",
        "The database reached its space quota (the NOSPACE alarm: writes and lease grants are"
        " refused), or members were found to hold different data (CORRUPT: key-value and lease"
        " requests are refused).",
    ),
    Category(
        "AvailabilityError",
        "The member that got the request cannot serve it at the moment.",
        "It has no leader or is not the leader, is a learner, is not ready or is stopping, or"
        " has too many pending proposals. Nothing is wrong with the request: another member,"
        " or the same one a little later, may serve it. `UnavailableError`, raised when no"
        " member could be reached at all, is not one of these.",
    ),
    Category(
        "UnfinishedRequestError",
        "The server stopped working on the request before it finished.",
        "It timed out or was canceled. A write may or may not have been applied: read before"
        " retrying one. The timeouts among these are also `TimeoutError`s.",
    ),
    Category(
        "RequestRejectedError",
        "The server rejected the request as a whole, whatever service it was for.",
        "It is larger than the server accepts, or its metadata is invalid.",
    ),
)

_CATEGORY_NAMES = frozenset(c.name for c in CATEGORIES)


def from_version(version: str, code: str) -> dict[str, str]:
    """``codes`` for an error declared with one code by `version` and every later one."""
    versions = list(VERSIONS)
    return {v: code for v in versions[versions.index(version) :]}


def class_name(go_name: str) -> str:
    """Return the Python exception class name for a Go error name, before builtins are checked.

    ``ErrFoo`` becomes ``FooError``; a name that already ends in ``Error`` after
    the prefix is removed is not given a second suffix.
    """
    if not go_name.startswith("Err") or len(go_name) == len("Err"):
        raise ValueError(f"not a Go error name: {go_name!r}")
    base = go_name[len("Err") :]
    if base.endswith("Error"):
        return base
    return base + "Error"


def error_class_name(go_name: str) -> str:
    """The generated class name: :func:`class_name`, prefixed with ``Etcd`` where it would
    shadow a builtin (``ErrTimeout`` -> ``EtcdTimeoutError``, not ``TimeoutError``)."""
    name = class_name(go_name)
    return f"Etcd{name}" if hasattr(builtins, name) else name


def status_class_name(code: str) -> str:
    """The generic fallback class for a status code: ``DATA_LOSS`` -> ``DataLossStatusError``."""
    return "".join(word.capitalize() for word in code.split("_")) + "StatusError"


def _is_builtin_exception(name: str) -> bool:
    value = getattr(builtins, name, None)
    return isinstance(value, type) and issubclass(value, BaseException)


@dataclass(frozen=True, kw_only=True)
class ErrorSpec:
    """One etcd server error, as the generator needs it (build it with keywords)."""

    go_name: str
    message: str
    aliases: tuple[str, ...] = ()
    category: str
    #: Reference version -> declared status code (``hash=False``: a dict is unhashable).
    codes: Mapping[str, str] = field(hash=False)
    unknown_in: tuple[str, ...] = ()
    builtin_base: str = ""
    summary: str

    def __post_init__(self) -> None:
        problems = []
        if self.category not in _CATEGORY_NAMES:
            problems.append(f"category {self.category!r} is not in CATEGORIES")
        if not self.codes:
            problems.append("codes is empty")
        for version in (*self.codes, *self.unknown_in):
            if version not in VERSIONS:
                problems.append(f"version {version!r} is not in VERSIONS")
        for code in self.codes.values():
            if code not in STATUS_CODES or code == "OK":
                problems.append(f"{code!r} is not an error status code")
        if self.builtin_base and not _is_builtin_exception(self.builtin_base):
            problems.append(f"builtin_base {self.builtin_base!r} is not a builtin exception")
        if problems:
            raise ValueError(f"{self.go_name}: " + "; ".join(problems))

    @property
    def code(self) -> str:
        """The status the generated class carries (see the module docstring)."""
        if STATUS_VERSION in self.codes:
            return self.codes[STATUS_VERSION]
        return self.codes[max(self.codes, key=list(VERSIONS).index)]

    @property
    def since(self) -> str:
        """The earliest reference version that declares the error."""
        return min(self.codes, key=list(VERSIONS).index)

    @property
    def sent_codes(self) -> dict[str, str]:
        """Reference version -> the status its server sends the error with, oldest first."""
        return {
            v: "UNKNOWN" if v in self.unknown_in else self.codes[v]
            for v in VERSIONS
            if v in self.codes or v in self.unknown_in
        }


@dataclass(frozen=True, kw_only=True)
class StatusErrorSpec:
    """The generic class a status code falls back to (see the module docstring)."""

    code: str
    summary: str
    #: A category the class also subclasses, when every error with the code belongs there.
    category: str = ""

    def __post_init__(self) -> None:
        if self.code not in STATUS_CODES or self.code == "OK":
            raise ValueError(f"{self.code!r} is not an error status code")
        if self.category and self.category not in _CATEGORY_NAMES:
            raise ValueError(f"{self.code}: category {self.category!r} is not in CATEGORIES")

    @property
    def class_name(self) -> str:
        return status_class_name(self.code)


#: The base of the generic per-code classes.
STATUS_BASE = Category(
    "GrpcStatusError",
    "A failed call whose message the error table does not know, classed by its status code.",
    "`code` and `details` keep what the server (or gRPC) sent.",
)

STATUS_ERRORS: tuple[StatusErrorSpec, ...] = (
    StatusErrorSpec(
        code="UNKNOWN",
        summary=(
            "The server sent no status of its own, as etcd does for errors it leaves untranslated."
        ),
    ),
    StatusErrorSpec(code="INVALID_ARGUMENT", summary="The request was rejected as invalid."),
    StatusErrorSpec(code="NOT_FOUND", summary="Something the request names does not exist."),
    StatusErrorSpec(
        code="ALREADY_EXISTS", summary="Something the request would create already exists."
    ),
    StatusErrorSpec(
        code="RESOURCE_EXHAUSTED",
        summary=(
            "A limit was reached: a quota or rate limit of the server, or a message size limit"
            " of gRPC."
        ),
    ),
    StatusErrorSpec(
        code="FAILED_PRECONDITION",
        summary="The cluster is not in a state in which the request can be carried out.",
    ),
    StatusErrorSpec(
        code="ABORTED",
        summary="The operation was aborted, typically because of a concurrency conflict.",
    ),
    StatusErrorSpec(
        code="OUT_OF_RANGE", summary="A value in the request is outside the valid range."
    ),
    StatusErrorSpec(
        code="UNIMPLEMENTED",
        summary=(
            "The server does not implement this call, for example an etcd release older than"
            " the RPC."
        ),
    ),
    StatusErrorSpec(code="INTERNAL", summary="The server or gRPC hit an internal error."),
    StatusErrorSpec(code="DATA_LOSS", summary="Data was lost or corrupted."),
    StatusErrorSpec(
        code="UNAUTHENTICATED",
        summary="The request does not carry valid authentication credentials.",
        category="AuthError",
    ),
)

#: Classes of ``etcdgen._core.errors`` that :data:`CODE_FALLBACKS` may name.
RUNTIME_FALLBACKS = frozenset({"UnavailableError"})

#: Status code -> the class an error with that code and an unknown message becomes:
#: an etcd error class, a generic class of STATUS_ERRORS, or one of RUNTIME_FALLBACKS.
CODE_FALLBACKS: Mapping[str, str] = {
    "CANCELLED": "CanceledError",
    "UNKNOWN": "UnknownStatusError",
    "INVALID_ARGUMENT": "InvalidArgumentStatusError",
    "DEADLINE_EXCEEDED": "DeadlineExceededError",
    "NOT_FOUND": "NotFoundStatusError",
    "ALREADY_EXISTS": "AlreadyExistsStatusError",
    "PERMISSION_DENIED": "PermissionDeniedError",
    "RESOURCE_EXHAUSTED": "ResourceExhaustedStatusError",
    "FAILED_PRECONDITION": "FailedPreconditionStatusError",
    "ABORTED": "AbortedStatusError",
    "OUT_OF_RANGE": "OutOfRangeStatusError",
    "UNIMPLEMENTED": "UnimplementedStatusError",
    "INTERNAL": "InternalStatusError",
    "UNAVAILABLE": "UnavailableError",
    "DATA_LOSS": "DataLossStatusError",
    "UNAUTHENTICATED": "UnauthenticatedStatusError",
}


ERRORS: tuple[ErrorSpec, ...] = (
    ErrorSpec(
        go_name="ErrAuthFailed",
        message="etcdserver: authentication failed, invalid user ID or password",
        category="AuthError",
        codes=from_version("3.4", "INVALID_ARGUMENT"),
        summary="The user name or password is wrong; check the credentials.",
    ),
    ErrorSpec(
        go_name="ErrAuthNotEnabled",
        message="etcdserver: authentication is not enabled",
        category="AuthError",
        codes=from_version("3.4", "FAILED_PRECONDITION"),
        summary="The operation needs authentication turned on, but it is off in this cluster.",
    ),
    # 3.5.0 and 3.5.1 lost this status: their servers pass the auth store's own
    # error through as UNKNOWN. 3.4 and 3.5.2+ declare it again.
    ErrorSpec(
        go_name="ErrAuthOldRevision",
        message="etcdserver: revision of auth store is old",
        aliases=("auth: revision in header is old",),
        category="AuthError",
        codes={"3.4": "INVALID_ARGUMENT", "3.6": "INVALID_ARGUMENT"},
        unknown_in=("3.5",),
        summary=(
            "Users, roles or permissions changed after the request was checked;"
            " fetch a fresh token and retry."
        ),
    ),
    ErrorSpec(
        go_name="ErrBadLeaderTransferee",
        message="etcdserver: bad leader transferee",
        category="ClusterError",
        codes=from_version("3.4", "FAILED_PRECONDITION"),
        summary="The member named as the new leader cannot take over leadership.",
    ),
    # No client-side Err* variable in Go; named from ErrGRPCCanceled.
    ErrorSpec(
        go_name="ErrCanceled",
        message="etcdserver: request canceled",
        category="UnfinishedRequestError",
        codes=from_version("3.5", "CANCELLED"),
        summary="The request was canceled before the server finished it.",
    ),
    # Spelled ErrClusterIdMismatch in 3.5.10+ (kept as a deprecated alias in 3.6).
    ErrorSpec(
        go_name="ErrClusterIDMismatch",
        message="etcdserver: cluster ID mismatch",
        category="ClusterError",
        codes=from_version("3.6", "FAILED_PRECONDITION"),
        summary="Two members disagree on the cluster ID, so they are not part of the same cluster.",
    ),
    ErrorSpec(
        go_name="ErrClusterVersionUnavailable",
        message="etcdserver: cluster version not found during downgrade",
        category="ClusterError",
        codes={"3.5": "UNAVAILABLE", "3.6": "FAILED_PRECONDITION"},
        summary="The cluster version is not known yet, so the downgrade request cannot be handled.",
    ),
    ErrorSpec(
        go_name="ErrCompacted",
        message="etcdserver: mvcc: required revision has been compacted",
        category="KeyValueError",
        codes=from_version("3.4", "OUT_OF_RANGE"),
        summary="The requested revision was removed by compaction; use a newer revision.",
    ),
    ErrorSpec(
        go_name="ErrCorrupt",
        message="etcdserver: corrupt cluster",
        category="AlarmError",
        codes=from_version("3.4", "DATA_LOSS"),
        summary="The cluster found corrupted data and refuses requests until an operator acts.",
    ),
    # No client-side Err* variable in Go; named from ErrGRPCDeadlineExceeded.
    ErrorSpec(
        go_name="ErrDeadlineExceeded",
        message="etcdserver: context deadline exceeded",
        category="UnfinishedRequestError",
        codes=from_version("3.5", "DEADLINE_EXCEEDED"),
        builtin_base="TimeoutError",
        summary="The request ran out of time on the server before it finished.",
    ),
    ErrorSpec(
        go_name="ErrDowngradeInProcess",
        message="etcdserver: cluster has a downgrade job in progress",
        category="ClusterError",
        codes=from_version("3.5", "FAILED_PRECONDITION"),
        summary="A downgrade is already running; wait for it or cancel it first.",
    ),
    ErrorSpec(
        go_name="ErrDuplicateKey",
        message="etcdserver: duplicate key given in txn request",
        category="KeyValueError",
        codes=from_version("3.4", "INVALID_ARGUMENT"),
        summary="A transaction branch writes the same key more than once.",
    ),
    ErrorSpec(
        go_name="ErrEmptyKey",
        message="etcdserver: key is not provided",
        category="KeyValueError",
        codes=from_version("3.4", "INVALID_ARGUMENT"),
        summary="The request has no key; give a non-empty key.",
    ),
    ErrorSpec(
        go_name="ErrFutureRev",
        message="etcdserver: mvcc: required revision is a future revision",
        category="KeyValueError",
        codes=from_version("3.4", "OUT_OF_RANGE"),
        summary="The requested revision is newer than the store's current revision.",
    ),
    ErrorSpec(
        go_name="ErrInvalidAuthMgmt",
        message="etcdserver: invalid auth management",
        category="AuthError",
        codes=from_version("3.4", "INVALID_ARGUMENT"),
        summary=(
            "The auth change is not allowed, such as taking the root role from the root user"
            " while auth is on."
        ),
    ),
    ErrorSpec(
        go_name="ErrInvalidAuthToken",
        message="etcdserver: invalid auth token",
        category="AuthError",
        codes=from_version("3.4", "UNAUTHENTICATED"),
        summary="The auth token is invalid or has expired; authenticate again.",
    ),
    # No client-side Err* variable in Go; named from ErrGRPCInvalidClientAPIVersion.
    ErrorSpec(
        go_name="ErrInvalidClientAPIVersion",
        message="etcdserver: invalid client api version",
        category="RequestRejectedError",
        codes=from_version("3.6", "INVALID_ARGUMENT"),
        summary="The client API version sent with the request is not one the server accepts.",
    ),
    ErrorSpec(
        go_name="ErrInvalidDowngradeTargetVersion",
        message="etcdserver: invalid downgrade target version",
        category="ClusterError",
        codes=from_version("3.5", "INVALID_ARGUMENT"),
        summary="The cluster cannot be downgraded to the requested version.",
    ),
    ErrorSpec(
        go_name="ErrInvalidSortOption",
        message="etcdserver: invalid sort option",
        category="KeyValueError",
        codes=from_version("3.6", "INVALID_ARGUMENT"),
        summary="The range request asks for a sort order or sort target the server does not know.",
    ),
    ErrorSpec(
        go_name="ErrKeyNotFound",
        message="etcdserver: key not found",
        category="KeyValueError",
        codes=from_version("3.4", "INVALID_ARGUMENT"),
        summary="A put with ignore_value or ignore_lease needs an existing key, and there is none.",
    ),
    ErrorSpec(
        go_name="ErrLeaderChanged",
        message="etcdserver: leader changed",
        category="AvailabilityError",
        codes=from_version("3.4", "UNAVAILABLE"),
        summary="Leadership changed while the request was in flight; retry it.",
    ),
    ErrorSpec(
        go_name="ErrLeaseExist",
        message="etcdserver: lease already exists",
        category="LeaseError",
        codes=from_version("3.4", "FAILED_PRECONDITION"),
        summary="A lease with the requested ID already exists; use another ID or let etcd pick.",
    ),
    ErrorSpec(
        go_name="ErrLeaseNotFound",
        message="etcdserver: requested lease not found",
        category="LeaseError",
        codes=from_version("3.4", "NOT_FOUND"),
        summary="The lease does not exist, or it has already expired or been revoked.",
    ),
    ErrorSpec(
        go_name="ErrLeaseProvided",
        message="etcdserver: lease is provided",
        category="KeyValueError",
        codes=from_version("3.4", "INVALID_ARGUMENT"),
        summary="A put sets ignore_lease and also names a lease; drop one of the two.",
    ),
    ErrorSpec(
        go_name="ErrLeaseTTLTooLarge",
        message="etcdserver: too large lease TTL",
        category="LeaseError",
        codes=from_version("3.4", "OUT_OF_RANGE"),
        summary="The requested lease TTL is above the largest one the server allows.",
    ),
    ErrorSpec(
        go_name="ErrMemberBadURLs",
        message="etcdserver: given member URLs are invalid",
        category="ClusterError",
        codes=from_version("3.4", "INVALID_ARGUMENT"),
        summary="One or more of the given member URLs cannot be parsed.",
    ),
    ErrorSpec(
        go_name="ErrMemberExist",
        message="etcdserver: member ID already exist",
        category="ClusterError",
        codes=from_version("3.4", "FAILED_PRECONDITION"),
        summary="A member with this ID is already in the cluster.",
    ),
    ErrorSpec(
        go_name="ErrMemberLearnerNotReady",
        message="etcdserver: can only promote a learner member which is in sync with leader",
        category="ClusterError",
        codes=from_version("3.4", "FAILED_PRECONDITION"),
        summary="The learner has not caught up with the leader yet; retry the promotion later.",
    ),
    # The server hands this one to gRPC without its status, so it arrives as UNKNOWN.
    ErrorSpec(
        go_name="ErrMemberNotEnoughStarted",
        message="etcdserver: re-configuration failed due to not enough started members",
        category="ClusterError",
        codes=from_version("3.4", "FAILED_PRECONDITION"),
        unknown_in=(
            "3.4",
            "3.5",
            "3.6",
        ),
        summary="The membership change would leave too few started members, so it was refused.",
    ),
    ErrorSpec(
        go_name="ErrMemberNotFound",
        message="etcdserver: member not found",
        category="ClusterError",
        codes=from_version("3.4", "NOT_FOUND"),
        summary="No member with this ID is in the cluster; it may have been removed.",
    ),
    ErrorSpec(
        go_name="ErrMemberNotLearner",
        message="etcdserver: can only promote a learner member",
        category="ClusterError",
        codes=from_version("3.4", "FAILED_PRECONDITION"),
        summary="Only a learner member can be promoted, and this member is not one.",
    ),
    ErrorSpec(
        go_name="ErrNoInflightDowngrade",
        message="etcdserver: no inflight downgrade job",
        category="ClusterError",
        codes=from_version("3.5", "FAILED_PRECONDITION"),
        summary="There is no downgrade in progress to cancel.",
    ),
    ErrorSpec(
        go_name="ErrNoLeader",
        message="etcdserver: no leader",
        category="AvailabilityError",
        codes=from_version("3.4", "UNAVAILABLE"),
        summary="The member has no leader at the moment; retry later or on another member.",
    ),
    ErrorSpec(
        go_name="ErrNoSpace",
        message="etcdserver: mvcc: database space exceeded",
        category="AlarmError",
        codes=from_version("3.4", "RESOURCE_EXHAUSTED"),
        summary=(
            "The database hit its space quota; compact, defragment and disarm the NOSPACE alarm"
            " to allow writes."
        ),
    ),
    ErrorSpec(
        go_name="ErrNotCapable",
        message="etcdserver: not capable",
        category="AvailabilityError",
        codes={"3.4": "UNAVAILABLE", "3.5": "UNAVAILABLE", "3.6": "FAILED_PRECONDITION"},
        summary="The member cannot serve the v3 API yet, usually while the cluster version is set.",
    ),
    ErrorSpec(
        go_name="ErrNotLeader",
        message="etcdserver: not leader",
        category="AvailabilityError",
        codes=from_version("3.4", "FAILED_PRECONDITION"),
        summary="The request must be handled by the leader, and this member is not the leader.",
    ),
    # No client-side Err* variable in Go; named from ErrGPRCNotSupportedForLearner
    # (spelled ErrGRPCNotSupportedForLearner from 3.6 on).
    ErrorSpec(
        go_name="ErrNotSupportedForLearner",
        message="etcdserver: rpc not supported for learner",
        category="AvailabilityError",
        codes={"3.4": "UNAVAILABLE", "3.5": "UNAVAILABLE", "3.6": "FAILED_PRECONDITION"},
        summary="Learner members do not serve this call; send it to a voting member.",
    ),
    ErrorSpec(
        go_name="ErrPeerURLExist",
        message="etcdserver: Peer URLs already exists",
        category="ClusterError",
        codes=from_version("3.4", "FAILED_PRECONDITION"),
        summary="Another member already uses one of these peer URLs.",
    ),
    ErrorSpec(
        go_name="ErrPermissionDenied",
        message="etcdserver: permission denied",
        category="AuthError",
        codes=from_version("3.4", "PERMISSION_DENIED"),
        summary="The authenticated user has no permission for this operation.",
    ),
    # No client-side Err* variable in Go; named from ErrGRPCPermissionNotGiven.
    ErrorSpec(
        go_name="ErrPermissionNotGiven",
        message="etcdserver: permission not given",
        category="AuthError",
        codes=from_version("3.5", "INVALID_ARGUMENT"),
        summary="A request to grant a permission to a role did not include the permission.",
    ),
    ErrorSpec(
        go_name="ErrPermissionNotGranted",
        message="etcdserver: permission is not granted to the role",
        category="AuthError",
        codes=from_version("3.4", "FAILED_PRECONDITION"),
        summary="The role does not hold the permission that was asked to be revoked.",
    ),
    ErrorSpec(
        go_name="ErrRequestTooLarge",
        message="etcdserver: request is too large",
        category="RequestRejectedError",
        codes=from_version("3.4", "INVALID_ARGUMENT"),
        summary="The request is bigger than the server's maximum request size.",
    ),
    ErrorSpec(
        go_name="ErrRoleAlreadyExist",
        message="etcdserver: role name already exists",
        category="AuthError",
        codes=from_version("3.4", "FAILED_PRECONDITION"),
        summary="A role with this name already exists.",
    ),
    ErrorSpec(
        go_name="ErrRoleEmpty",
        message="etcdserver: role name is empty",
        category="AuthError",
        codes=from_version("3.4", "INVALID_ARGUMENT"),
        summary="The role name is empty; give a non-empty name.",
    ),
    ErrorSpec(
        go_name="ErrRoleNotFound",
        message="etcdserver: role name not found",
        category="AuthError",
        codes=from_version("3.4", "FAILED_PRECONDITION"),
        summary="No role with this name exists.",
    ),
    ErrorSpec(
        go_name="ErrRoleNotGranted",
        message="etcdserver: role is not granted to the user",
        category="AuthError",
        codes=from_version("3.4", "FAILED_PRECONDITION"),
        summary="The user does not have the role that was asked to be revoked.",
    ),
    ErrorSpec(
        go_name="ErrRootRoleNotExist",
        message="etcdserver: root user does not have root role",
        category="AuthError",
        codes=from_version("3.4", "FAILED_PRECONDITION"),
        summary="Auth cannot be enabled until the root user has the root role.",
    ),
    ErrorSpec(
        go_name="ErrRootUserNotExist",
        message="etcdserver: root user does not exist",
        category="AuthError",
        codes=from_version("3.4", "FAILED_PRECONDITION"),
        summary="Auth cannot be enabled until a root user exists; create it first.",
    ),
    ErrorSpec(
        go_name="ErrStopped",
        message="etcdserver: server stopped",
        category="AvailabilityError",
        codes=from_version("3.4", "UNAVAILABLE"),
        summary="The member is stopping or has stopped; use another member.",
    ),
    ErrorSpec(
        go_name="ErrTimeout",
        message="etcdserver: request timed out",
        category="UnfinishedRequestError",
        codes=from_version("3.4", "UNAVAILABLE"),
        builtin_base="TimeoutError",
        summary="The request timed out in the server; it may or may not have been applied.",
    ),
    ErrorSpec(
        go_name="ErrTimeoutDueToConnectionLost",
        message="etcdserver: request timed out, possibly due to connection lost",
        category="UnfinishedRequestError",
        codes=from_version("3.4", "UNAVAILABLE"),
        builtin_base="TimeoutError",
        summary="The request timed out, probably because the member lost contact with the leader.",
    ),
    ErrorSpec(
        go_name="ErrTimeoutDueToLeaderFail",
        message="etcdserver: request timed out, possibly due to previous leader failure",
        category="UnfinishedRequestError",
        codes=from_version("3.4", "UNAVAILABLE"),
        builtin_base="TimeoutError",
        summary="The request timed out, probably because the previous leader failed.",
    ),
    # Declared in 3.4 and again from 3.5.3 on; 3.5.0 to 3.5.2 neither declare nor send it.
    ErrorSpec(
        go_name="ErrTimeoutWaitAppliedIndex",
        message="etcdserver: request timed out, waiting for the applied index took too long",
        category="UnfinishedRequestError",
        codes={"3.4": "UNAVAILABLE", "3.6": "UNAVAILABLE"},
        builtin_base="TimeoutError",
        summary="The member was too slow applying earlier entries to serve the request; retry.",
    ),
    ErrorSpec(
        go_name="ErrTooManyLearners",
        message="etcdserver: too many learner members in cluster",
        category="ClusterError",
        codes=from_version("3.4", "FAILED_PRECONDITION"),
        summary="The cluster already has as many learner members as it allows.",
    ),
    ErrorSpec(
        go_name="ErrTooManyOps",
        message="etcdserver: too many operations in txn request",
        category="KeyValueError",
        codes=from_version("3.4", "INVALID_ARGUMENT"),
        summary="The transaction has more operations than the server allows.",
    ),
    # The server hands this one to gRPC without its status, so it arrives as UNKNOWN.
    ErrorSpec(
        go_name="ErrTooManyRequests",
        message="etcdserver: too many requests",
        category="AvailabilityError",
        codes=from_version("3.4", "RESOURCE_EXHAUSTED"),
        unknown_in=(
            "3.4",
            "3.5",
            "3.6",
        ),
        summary="The server has too many pending proposals; back off and retry.",
    ),
    ErrorSpec(
        go_name="ErrUnhealthy",
        message="etcdserver: unhealthy cluster",
        category="ClusterError",
        codes=from_version("3.4", "UNAVAILABLE"),
        summary="The cluster is not healthy enough for the requested change; retry once it is.",
    ),
    ErrorSpec(
        go_name="ErrUserAlreadyExist",
        message="etcdserver: user name already exists",
        category="AuthError",
        codes=from_version("3.4", "FAILED_PRECONDITION"),
        summary="A user with this name already exists.",
    ),
    ErrorSpec(
        go_name="ErrUserEmpty",
        message="etcdserver: user name is empty",
        category="AuthError",
        codes=from_version("3.4", "INVALID_ARGUMENT"),
        summary="The user name is empty; give a non-empty name.",
    ),
    ErrorSpec(
        go_name="ErrUserNotFound",
        message="etcdserver: user name not found",
        category="AuthError",
        codes=from_version("3.4", "FAILED_PRECONDITION"),
        summary="No user with this name exists.",
    ),
    ErrorSpec(
        go_name="ErrValueProvided",
        message="etcdserver: value is provided",
        category="KeyValueError",
        codes=from_version("3.4", "INVALID_ARGUMENT"),
        summary="A put sets ignore_value and also gives a value; drop one of the two.",
    ),
    # No client-side Err* variable in Go; named from ErrGRPCWatchCanceled.
    ErrorSpec(
        go_name="ErrWatchCanceled",
        message="etcdserver: watch canceled",
        category="WatchError",
        codes=from_version("3.4", "CANCELLED"),
        summary="The server canceled the watch.",
    ),
    ErrorSpec(
        go_name="ErrWrongDowngradeVersionFormat",
        message="etcdserver: wrong downgrade target version format",
        category="ClusterError",
        codes=from_version("3.5", "INVALID_ARGUMENT"),
        summary="The downgrade target is not a well-formed version string.",
    ),
)
