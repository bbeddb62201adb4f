# Generated from etcdgen/_async/auth_admin.py by scripts/unasync.py. Do not edit.
"""`AuthAdmin`: users, roles and permissions, as methods of `Client`."""

from __future__ import annotations

from typing import Any

import grpc

from .._core.errors import EtcdError
from .._core.secret import Secret, sealed_authenticate, sealed_spec
from .._core.timeout import DEFAULT, Timeout
from ..auth import (
    AuthStatus,
    Permission,
    PermissionName,
    User,
    change_password_request,
    grant_permission_request,
    name_arg,
    permissions_of,
    revoke_permission_request,
    user_add_request,
)
from ..generated import methods
from ..generated.errors import AuthFailedError, AuthNotEnabledError
from ..generated.sync import RpcClients
from ..kv import KeyLike
from .connection import Connection

_AUTHENTICATE = sealed_spec(methods.AUTH_AUTHENTICATE)
#: AuthStatus came with etcd 3.5: absent when this copy is generated from 3.4's API.
_AUTH_STATUS: Any = getattr(methods, "AUTH_AUTH_STATUS", None)
_USER_ADD = sealed_spec(methods.AUTH_USER_ADD)
_USER_CHANGE_PASSWORD = sealed_spec(methods.AUTH_USER_CHANGE_PASSWORD)
#: etcd refuses user names with a NUL byte, so no user has this one.
_NO_SUCH_USER = "\x00etcdgen-auth-status-probe"


class AuthAdmin:
    """The auth admin methods; the client class supplies `rpc` and `_connection`."""

    rpc: RpcClients
    _connection: Connection

    def auth_enable(self, *, timeout: Timeout = DEFAULT) -> None:
        """Turn auth on (a `root` user with the `root` role must exist)."""
        self.rpc.auth.auth_enable(timeout=timeout)

    def auth_disable(self, *, timeout: Timeout = DEFAULT) -> None:
        """Turn auth off (needs the root role)."""
        self.rpc.auth.auth_disable(timeout=timeout)

    def auth_status(self, *, timeout: Timeout = DEFAULT) -> AuthStatus:
        """Whether auth is on, and the auth store's revision (None from etcd 3.4).

        etcd 3.4 has no AuthStatus RPC; there the answer comes from an Authenticate
        call with a user name that cannot exist, which tells "auth is not enabled"
        apart from "authentication failed".
        """
        if _AUTH_STATUS is not None:
            try:
                reply = self._connection.invoker.unary_unary(
                    _AUTH_STATUS, _AUTH_STATUS.request_type(), timeout
                )
            except EtcdError as error:
                if error.code is not grpc.StatusCode.UNIMPLEMENTED:
                    raise
            else:
                return AuthStatus(reply.enabled, reply.authRevision)
        probe = sealed_authenticate(_NO_SUCH_USER, Secret(_NO_SUCH_USER))
        try:
            self._connection.invoker.unary_unary(_AUTHENTICATE, probe, timeout)
        except AuthNotEnabledError:
            return AuthStatus(False, None)
        except AuthFailedError:
            return AuthStatus(True, None)
        return AuthStatus(True, None)

    def user_add(
        self,
        name: str,
        password: str | Secret | None = None,
        *,
        no_password: bool = False,
        timeout: Timeout = DEFAULT,
    ) -> None:
        """Create a user with `password`, or with `no_password=True` (certificate login only)."""
        request = user_add_request(name, password, no_password)
        del password  # this frame shows in tracebacks (and their locals): keep only the sealed one
        self._connection.invoker.unary_unary(_USER_ADD, request, timeout)

    def user_get(self, name: str, *, timeout: Timeout = DEFAULT) -> User:
        """The user `name` and its roles (`UserNotFoundError` if there is none)."""
        reply = self.rpc.auth.user_get(name=name_arg("name", name), timeout=timeout)
        return User(name, tuple(reply.roles))

    def user_list(self, *, timeout: Timeout = DEFAULT) -> tuple[str, ...]:
        """Every user name, sorted."""
        reply = self.rpc.auth.user_list(timeout=timeout)
        return tuple(reply.users)

    def user_delete(self, name: str, *, timeout: Timeout = DEFAULT) -> None:
        self.rpc.auth.user_delete(name=name_arg("name", name), timeout=timeout)

    def user_change_password(
        self, name: str, password: str | Secret, *, timeout: Timeout = DEFAULT
    ) -> None:
        """Set a new password (the user's existing tokens stay valid until they expire)."""
        request = change_password_request(name, password)
        del password  # as in user_add
        self._connection.invoker.unary_unary(_USER_CHANGE_PASSWORD, request, timeout)

    def user_grant_role(self, user: str, role: str, *, timeout: Timeout = DEFAULT) -> None:
        self.rpc.auth.user_grant_role(
            user=name_arg("user", user), role=name_arg("role", role), timeout=timeout
        )

    def user_revoke_role(self, user: str, role: str, *, timeout: Timeout = DEFAULT) -> None:
        self.rpc.auth.user_revoke_role(
            name=name_arg("user", user), role=name_arg("role", role), timeout=timeout
        )

    def role_add(self, name: str, *, timeout: Timeout = DEFAULT) -> None:
        self.rpc.auth.role_add(name=name_arg("name", name), timeout=timeout)

    def role_get(self, name: str, *, timeout: Timeout = DEFAULT) -> tuple[Permission, ...]:
        """The permissions of role `name`: `(permission, key, range_end)` tuples.

        `range_end` is None for a single key; `Permission.prefix` is True for a
        permission granted with `prefix=True`.
        """
        reply = self.rpc.auth.role_get(role=name_arg("name", name), timeout=timeout)
        return permissions_of(reply)

    def role_list(self, *, timeout: Timeout = DEFAULT) -> tuple[str, ...]:
        """Every role name, sorted."""
        reply = self.rpc.auth.role_list(timeout=timeout)
        return tuple(reply.roles)

    def role_delete(self, name: str, *, timeout: Timeout = DEFAULT) -> None:
        self.rpc.auth.role_delete(role=name_arg("name", name), timeout=timeout)

    def role_grant_permission(
        self,
        role: str,
        key: KeyLike,
        *,
        range_end: KeyLike | None = None,
        prefix: bool = False,
        permission: PermissionName = "read",
        timeout: Timeout = DEFAULT,
    ) -> None:
        """Let `role` read, write or both on `key` (or a prefix, or `[key, range_end)`)."""
        request = grant_permission_request(role, key, range_end, prefix, permission)
        self.rpc.auth.role_grant_permission(request, timeout=timeout)

    def role_revoke_permission(
        self,
        role: str,
        key: KeyLike,
        *,
        range_end: KeyLike | None = None,
        prefix: bool = False,
        timeout: Timeout = DEFAULT,
    ) -> None:
        """Take back the permission granted on exactly this key or range."""
        request = revoke_permission_request(role, key, range_end, prefix)
        self.rpc.auth.role_revoke_permission(request, timeout=timeout)
