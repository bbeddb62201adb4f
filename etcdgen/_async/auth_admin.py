"""`AsyncAuthAdmin`: users, roles and permissions, as methods of `AsyncClient`.

This file is the source of `etcdgen/_sync/auth_admin.py` (`scripts/unasync.py`).
Calls that carry a password send a `SealedRequest`, so the password never sits
in a message whose repr would show it (see `etcdgen/_core/secret.py`).
Managing auth needs the root role; etcd answers others with
`PermissionDeniedError`.
"""

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
from ..generated.aio import AsyncRpcClients
from ..generated.errors import AuthFailedError, AuthNotEnabledError
from ..kv import KeyLike
from .connection import AsyncConnection

_AUTHENTICATE = sealed_spec(methods.AUTH_AUTHENTICATE)
#: AuthStatus came with etcd 3.5: absent when this copy is generated from 3.4's API.
_AUTH_STATUS: Any = getattr(methods, "AUTH_AUTH_STATUS", None)
_USER_ADD = sealed_spec(methods.AUTH_USER_ADD)
_USER_CHANGE_PASSWORD = sealed_spec(methods.AUTH_USER_CHANGE_PASSWORD)
#: etcd refuses user names with a NUL byte, so no user has this one.
_NO_SUCH_USER = "\x00etcdgen-auth-status-probe"


class AsyncAuthAdmin:
    """The auth admin methods; the client class supplies `rpc` and `_connection`."""

    rpc: AsyncRpcClients
    _connection: AsyncConnection

    async def auth_enable(self, *, timeout: Timeout = DEFAULT) -> None:
        """Turn auth on (a `root` user with the `root` role must exist)."""
        await self.rpc.auth.auth_enable(timeout=timeout)

    async def auth_disable(self, *, timeout: Timeout = DEFAULT) -> None:
        """Turn auth off (needs the root role)."""
        await self.rpc.auth.auth_disable(timeout=timeout)

    async def auth_status(self, *, timeout: Timeout = DEFAULT) -> AuthStatus:
        """Whether auth is on, and the auth store's revision (None from etcd 3.4).

        etcd 3.4 has no AuthStatus RPC; there the answer comes from an Authenticate
        call with a user name that cannot exist, which tells "auth is not enabled"
        apart from "authentication failed".
        """
        if _AUTH_STATUS is not None:
            try:
                reply = await self._connection.invoker.unary_unary(
                    _AUTH_STATUS, _AUTH_STATUS.request_type(), timeout
                )
            except EtcdError as error:
                if error.code is not grpc.StatusCode.UNIMPLEMENTED:
                    raise
            else:
                return AuthStatus(reply.enabled, reply.authRevision)
        probe = sealed_authenticate(_NO_SUCH_USER, Secret(_NO_SUCH_USER))
        try:
            await self._connection.invoker.unary_unary(_AUTHENTICATE, probe, timeout)
        except AuthNotEnabledError:
            return AuthStatus(False, None)
        except AuthFailedError:
            return AuthStatus(True, None)
        return AuthStatus(True, None)

    async def user_add(
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
        await self._connection.invoker.unary_unary(_USER_ADD, request, timeout)

    async def user_get(self, name: str, *, timeout: Timeout = DEFAULT) -> User:
        """The user `name` and its roles (`UserNotFoundError` if there is none)."""
        reply = await self.rpc.auth.user_get(name=name_arg("name", name), timeout=timeout)
        return User(name, tuple(reply.roles))

    async def user_list(self, *, timeout: Timeout = DEFAULT) -> tuple[str, ...]:
        """Every user name, sorted."""
        reply = await self.rpc.auth.user_list(timeout=timeout)
        return tuple(reply.users)

    async def user_delete(self, name: str, *, timeout: Timeout = DEFAULT) -> None:
        await self.rpc.auth.user_delete(name=name_arg("name", name), timeout=timeout)

    async def user_change_password(
        self, name: str, password: str | Secret, *, timeout: Timeout = DEFAULT
    ) -> None:
        """Set a new password (the user's existing tokens stay valid until they expire)."""
        request = change_password_request(name, password)
        del password  # as in user_add
        await self._connection.invoker.unary_unary(_USER_CHANGE_PASSWORD, request, timeout)

    async def user_grant_role(self, user: str, role: str, *, timeout: Timeout = DEFAULT) -> None:
        await self.rpc.auth.user_grant_role(
            user=name_arg("user", user), role=name_arg("role", role), timeout=timeout
        )

    async def user_revoke_role(self, user: str, role: str, *, timeout: Timeout = DEFAULT) -> None:
        await self.rpc.auth.user_revoke_role(
            name=name_arg("user", user), role=name_arg("role", role), timeout=timeout
        )

    async def role_add(self, name: str, *, timeout: Timeout = DEFAULT) -> None:
        await self.rpc.auth.role_add(name=name_arg("name", name), timeout=timeout)

    async def role_get(self, name: str, *, timeout: Timeout = DEFAULT) -> tuple[Permission, ...]:
        """The permissions of role `name`: `(permission, key, range_end)` tuples.

        `range_end` is None for a single key; `Permission.prefix` is True for a
        permission granted with `prefix=True`.
        """
        reply = await self.rpc.auth.role_get(role=name_arg("name", name), timeout=timeout)
        return permissions_of(reply)

    async def role_list(self, *, timeout: Timeout = DEFAULT) -> tuple[str, ...]:
        """Every role name, sorted."""
        reply = await self.rpc.auth.role_list(timeout=timeout)
        return tuple(reply.roles)

    async def role_delete(self, name: str, *, timeout: Timeout = DEFAULT) -> None:
        await self.rpc.auth.role_delete(role=name_arg("name", name), timeout=timeout)

    async def role_grant_permission(
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
        await self.rpc.auth.role_grant_permission(request, timeout=timeout)

    async def role_revoke_permission(
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
        await self.rpc.auth.role_revoke_permission(request, timeout=timeout)
