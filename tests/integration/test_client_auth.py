"""username/password: the client authenticates, sends its token, and refreshes it."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator

import pytest

import etcdgen
from etcdgen.generated.authpb import auth_pb2
from etcdgen.testing import EtcdBinary, EtcdServer

# etcd's simple-token keeper deletes a token at its first 1 s tick after the
# token's TTL (here 1 s) has passed since its last use: at most 2 s after it.
# Expiry is time-based and every request carrying the token resets it, so there
# is nothing to poll; a fixed wait is honest here, with a small margin.
TOKEN_EXPIRY = 1.0 + 1.0 + 0.2


@pytest.fixture
def auth_server(etcd_binary: EtcdBinary) -> Iterator[EtcdServer]:
    """etcd with auth on: root, and alice who may read and write app/."""
    # Simple tokens expire 1-2 s after their last use, so the test sees a refresh.
    with EtcdServer(binary=etcd_binary, extra_args=["--auth-token-ttl", "1"]) as server:
        with etcdgen.Client(server.endpoint) as admin:
            admin.rpc.auth.user_add(name="root", password="rootpw")
            admin.rpc.auth.role_add(name="root")
            admin.rpc.auth.user_grant_role(user="root", role="root")
            admin.rpc.auth.role_add(name="app")
            permission = auth_pb2.Permission(
                permType=auth_pb2.Permission.READWRITE, key=b"app/", range_end=b"app0"
            )
            admin.rpc.auth.role_grant_permission(name="app", perm=permission)
            admin.rpc.auth.user_add(name="alice", password="alicepw")
            admin.rpc.auth.user_grant_role(user="alice", role="app")
            admin.rpc.auth.auth_enable()
        yield server


def test_sync_client_authenticates_and_refreshes_its_token(auth_server: EtcdServer) -> None:
    with etcdgen.Client(auth_server.endpoint, username="alice", password="alicepw") as client:
        client.put("app/x", "1")
        assert client.get("app/x").kvs[0].value == b"1"
        with pytest.raises(etcdgen.PermissionDeniedError):
            client.put("other", "1")
        first = client._connection.tokens.token
        time.sleep(TOKEN_EXPIRY)  # the simple token expires on the server
        client.put("app/y", "2")
        assert client.get("app/y").kvs[0].value == b"2"
        assert client._connection.tokens.token not in (None, first)


def test_wrong_password_raises_auth_failed(auth_server: EtcdServer) -> None:
    # Entering the client logs in, so bad credentials surface right there.
    with (
        pytest.raises(etcdgen.AuthFailedError),
        etcdgen.Client(auth_server.endpoint, username="alice", password="nope"),
    ):
        pass
    # Without `with`, the first call logs in.
    client = etcdgen.Client(auth_server.endpoint, username="alice", password="nope")
    try:
        with pytest.raises(etcdgen.AuthFailedError):
            client.get("app/x")
    finally:
        client.close()


def test_no_credentials_on_an_auth_cluster(auth_server: EtcdServer) -> None:
    with etcdgen.Client(auth_server.endpoint) as client, pytest.raises(etcdgen.EtcdError) as raised:
        client.put("app/x", "1")
    assert isinstance(raised.value, (etcdgen.UserEmptyError, etcdgen.PermissionDeniedError))


def test_async_client_authenticates_and_refreshes(auth_server: EtcdServer) -> None:
    async def scenario() -> None:
        async with etcdgen.AsyncClient(
            auth_server.endpoint, username="alice", password="alicepw"
        ) as client:
            await client.put("app/a", "1")
            await asyncio.sleep(TOKEN_EXPIRY)  # the token expires; the client re-authenticates
            await client.put("app/a", "2")
            assert (await client.get("app/a")).kvs[0].value == b"2"
            with pytest.raises(etcdgen.PermissionDeniedError):
                await client.get("secret")

    asyncio.run(scenario())
