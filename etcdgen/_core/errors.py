"""The root of etcdgen's exception tree.

Every etcd server error has a generated subclass (see
`etcdgen.generated.errors`), found by the server's exact message. Errors the
table does not know fall back to a class per gRPC code (chosen in the
generated module), and always keep the code and the server's message.
"""

from __future__ import annotations

from typing import ClassVar

import grpc


class EtcdError(Exception):
    """An error from etcd or from talking to it.

    Attributes:
        code: the gRPC status code, when the error came from a call.
        details: the server's message (or the client's, for local errors).
        attempts: how many times the call was sent before giving up.
    """

    #: The exact message etcd sends for this error (set on generated classes).
    server_message: ClassVar[str] = ""
    #: The gRPC code etcd sends with it.
    status: ClassVar[grpc.StatusCode | None] = None
    #: The earliest etcd minor release (of 3.4, 3.5, 3.6) that declares it.
    since: ClassVar[str] = ""

    def __init__(
        self, details: str, code: grpc.StatusCode | None = None, *, attempts: int = 1
    ) -> None:
        super().__init__(details)
        self.details = details
        self.code = code if code is not None else self.status
        self.attempts = attempts

    def __str__(self) -> str:
        parts = [self.details or type(self).__name__]
        if self.code is not None:
            parts.append(f"[{self.code.name}]")
        if self.attempts > 1:
            parts.append(f"after {self.attempts} attempts")
        return " ".join(parts)


class UnavailableError(EtcdError):
    """No etcd member could serve the call (connection refused, member down)."""


class ClientClosedError(EtcdError):
    """The client was closed; create a new one to make more calls."""


def status_of(error: grpc.RpcError) -> tuple[grpc.StatusCode | None, str]:
    """The code and details of a grpc error (grpcio leaves them untyped)."""
    code_method = getattr(error, "code", None)
    details_method = getattr(error, "details", None)
    code = code_method() if callable(code_method) else None
    details = details_method() if callable(details_method) else None
    return (code if isinstance(code, grpc.StatusCode) else None), (details or "")


class ConnectionFailedError(UnavailableError):
    """No endpoint could be connected to within the client's connect_timeout.

    Attributes:
        endpoints: the endpoints that were tried.
    """

    def __init__(self, details: str, endpoints: tuple[str, ...], *, attempts: int = 1) -> None:
        super().__init__(details, grpc.StatusCode.UNAVAILABLE, attempts=attempts)
        self.endpoints = endpoints


class UnsupportedClusterError(EtcdError):
    """No endpoint may be used: every member was refused (e.g. `reject_old_cluster=True`)."""


class UnsupportedByServerError(EtcdError):
    """The call uses an RPC, field or enum value newer than the member's etcd release.

    Raised before sending, instead of the server's opaque UNIMPLEMENTED or, worse, a
    field it would silently ignore. `element` names it (`MemberListRequest.linearizable`),
    `required` is the release that introduced it, `server_version` the member's
    release and `endpoint` the member.
    """

    status = grpc.StatusCode.UNIMPLEMENTED

    def __init__(
        self, details: str, *, element: str, required: str, server_version: str, endpoint: str
    ) -> None:
        super().__init__(details, grpc.StatusCode.UNIMPLEMENTED)
        self.element = element
        self.required = required
        self.server_version = server_version
        self.endpoint = endpoint


class WrongEventLoopError(EtcdError, RuntimeError):
    """An `AsyncClient` was used from an event loop other than the one it is bound to."""


class ForkedProcessError(EtcdError, RuntimeError):
    """A client inherited through `os.fork()` cannot be used here; make a new one in the child."""


class LeaseExpiredError(EtcdError):
    """A managed lease was lost (expired, revoked elsewhere, or not renewed in time).

    Keys attached to it are (or soon will be) deleted; whatever it guarded (a lock,
    an election) is no longer held. Grant a new lease and start over.
    """


class LockedError(EtcdError):
    """`Mutex.try_lock()`: another session holds the lock."""


class SessionExpiredError(EtcdError):
    """A concurrency session's lease was lost: its locks and leadership are gone.

    Make a new `Session` (and take the lock again) before going on.
    """


class ElectionNotLeaderError(EtcdError):
    """`Election.proclaim()` by a session that is not (or no longer) the leader."""


class NoLeaderElectedError(EtcdError):
    """`Election.leader()` while no candidate holds the election."""


class STMConflictError(EtcdError):
    """An STM transaction kept conflicting past its `max_attempts`."""


class SnapshotError(EtcdError):
    """A snapshot stream ended early or failed its SHA-256 check; no file was left."""
