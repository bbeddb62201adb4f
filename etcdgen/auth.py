"""Plain values and request building for the auth admin API (shared by both clients).

`Client.role_get()` and friends return these instead of raw protobuf replies:
a permission is `(permission, key, range_end)` with the prefix form recognised,
and names are plain `str`.
"""

from __future__ import annotations

from typing import Literal, NamedTuple

from ._core.describe import key_span, prefix_end
from ._core.secret import MASK, SealedRequest, Secret
from ._core.validate import choice, flag, shown
from .generated.authpb import auth_pb2
from .generated.etcdserverpb import rpc_pb2
from .kv import KeyLike, key_range

PermissionName = Literal["read", "write", "readwrite"]

_PERMISSION_TYPES: dict[str, int] = {
    "read": auth_pb2.Permission.READ,
    "write": auth_pb2.Permission.WRITE,
    "readwrite": auth_pb2.Permission.READWRITE,
}
_PERMISSION_NAMES = {number: name for name, number in _PERMISSION_TYPES.items()}


class Permission(NamedTuple):
    """One permission of a role: `permission` on `key` (up to `range_end`).

    `range_end` is None for a single key; `prefix` tells whether the range is
    exactly "every key starting with `key`" (how `prefix=True` grants it).
    """

    permission: PermissionName
    key: bytes
    range_end: bytes | None

    @property
    def prefix(self) -> bool:
        return self.range_end is not None and self.range_end == prefix_end(self.key)

    def __str__(self) -> str:
        return f"{self.permission} on {key_span(self.key, self.range_end or b'')}"


class AuthStatus(NamedTuple):
    enabled: bool
    #: The auth store's revision (bumped by every auth change; JWTs older than it fail);
    #: None from etcd 3.4, which does not tell.
    revision: int | None


class User(NamedTuple):
    name: str
    roles: tuple[str, ...]


def name_arg(what: str, value: object) -> str:
    """A user or role name: a non-empty str (etcd refuses empty names)."""
    if not isinstance(value, str):
        raise TypeError(f"{what} must be a string, got {shown(value)}")
    if not value:
        raise ValueError(f"{what} must not be empty")
    return value


def password_arg(value: object) -> Secret:
    if isinstance(value, Secret):
        return value
    if not isinstance(value, str):
        raise TypeError(f"password must be a string, got {type(value).__name__}")
    return Secret(value)


def user_add_request(name: str, password: object, no_password: object) -> SealedRequest:
    name = name_arg("name", name)
    passwordless = flag("no_password", no_password)
    if passwordless:
        if password is not None:
            raise ValueError("give password= or no_password=True, not both")
        return SealedRequest(
            lambda: rpc_pb2.AuthUserAddRequest(
                name=name, options=auth_pb2.UserAddOptions(no_password=True)
            ),
            f"AuthUserAddRequest(name={name!r}, no_password=True)",
        )
    if password is None:
        raise ValueError(
            "give the new user a password=, or no_password=True for a user that can only "
            "log in with a client certificate (CN = user name)"
        )
    secret = password_arg(password)
    return SealedRequest(
        lambda: rpc_pb2.AuthUserAddRequest(name=name, password=secret.reveal()),
        f"AuthUserAddRequest(name={name!r}, password={MASK!r})",
    )


def change_password_request(name: str, password: object) -> SealedRequest:
    name = name_arg("name", name)
    secret = password_arg(password)
    return SealedRequest(
        lambda: rpc_pb2.AuthUserChangePasswordRequest(name=name, password=secret.reveal()),
        f"AuthUserChangePasswordRequest(name={name!r}, password={MASK!r})",
    )


def grant_permission_request(
    role: str,
    key: KeyLike,
    range_end: KeyLike | None,
    prefix: bool,
    permission: object,
) -> rpc_pb2.AuthRoleGrantPermissionRequest:
    perm_type = choice("permission", permission, _PERMISSION_TYPES)
    start, end = key_range(key, range_end=range_end, prefix=prefix)
    return rpc_pb2.AuthRoleGrantPermissionRequest(
        name=name_arg("role", role),
        perm=auth_pb2.Permission(permType=perm_type, key=start, range_end=end),  # type: ignore[arg-type]
    )


def revoke_permission_request(
    role: str, key: KeyLike, range_end: KeyLike | None, prefix: bool
) -> rpc_pb2.AuthRoleRevokePermissionRequest:
    start, end = key_range(key, range_end=range_end, prefix=prefix)
    return rpc_pb2.AuthRoleRevokePermissionRequest(
        role=name_arg("role", role), key=start, range_end=end
    )


def permissions_of(reply: rpc_pb2.AuthRoleGetResponse) -> tuple[Permission, ...]:
    return tuple(
        Permission(
            _PERMISSION_NAMES.get(perm.permType, "read"),  # type: ignore[arg-type]
            perm.key,
            perm.range_end or None,
        )
        for perm in reply.perm
    )
