"""Auth that stays out of the way: one token per client, refreshed once for all callers.

Real etcd (3.5 and 3.4) with simple tokens of a 2 s TTL, and JWT. Token expiry is
observed, not slept for: the tests poll the server with the stale token until it is
refused (etcd deletes an idle simple token at its first 1 s tick after the TTL).
"""

from __future__ import annotations

import asyncio
import logging
import subprocess
import threading
import time
import traceback
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest

import etcdgen
from etcdgen.generated.etcdserverpb import rpc_pb2
from etcdgen.testing import EtcdBinary, EtcdServer

ROOT_PASSWORD = "root-Pa55-word"
ALICE_PASSWORD = "alice-S3cret-pw"
TTL = 2
#: Every password these tests use (checked against logs and error texts).
PASSWORDS = (ROOT_PASSWORD, ALICE_PASSWORD, "wrong-password-1", "another-Secret-9", "bob-new-pw")
EXPIRIES = 5
WORKERS = 16


def set_up_auth(server: EtcdServer) -> None:
    """root, and alice who may read and write the prefix app/ (through the admin API)."""
    with etcdgen.Client(server.endpoint) as admin:
        admin.user_add("root", ROOT_PASSWORD)
        admin.role_add("root")
        admin.user_grant_role("root", "root")
        admin.role_add("app")
        admin.role_grant_permission("app", "app/", prefix=True, permission="readwrite")
        admin.user_add("alice", ALICE_PASSWORD)
        admin.user_grant_role("alice", "app")
        admin.auth_enable()


@pytest.fixture
def auth_server(etcd_binary: EtcdBinary) -> Iterator[EtcdServer]:
    with EtcdServer(binary=etcd_binary, extra_args=["--auth-token-ttl", str(TTL)]) as server:
        set_up_auth(server)
        yield server


def token_refused(endpoint: str, token: str) -> bool:
    """Whether the server refuses `token` now (one raw Range call carrying it)."""
    with grpc.insecure_channel(endpoint) as channel:
        call = channel.unary_unary(
            "/etcdserverpb.KV/Range",
            request_serializer=rpc_pb2.RangeRequest.SerializeToString,
            response_deserializer=rpc_pb2.RangeResponse.FromString,
        )
        try:
            call(rpc_pb2.RangeRequest(key=b"app/x"), timeout=5, metadata=(("token", token),))
        except grpc.RpcError as error:
            if "invalid auth token" in (error.details() or ""):
                return True
            raise
        return False


def wait_until_refused(endpoint: str, token: str) -> None:
    # A raw call with the token resets its TTL when it is still valid, so poll no
    # faster than the TTL: the token then expires between two polls.
    deadline = time.monotonic() + 6 * TTL
    while not token_refused(endpoint, token):
        if time.monotonic() > deadline:
            pytest.fail("the simple token never expired")
        time.sleep(TTL + 1.2)


@pytest.fixture(autouse=True)
def no_password_in_logs(caplog: pytest.LogCaptureFixture) -> Iterator[None]:
    """Every test here runs with DEBUG logging; no record may show a password."""
    with caplog.at_level(logging.DEBUG):
        yield
    text = "\n".join(
        f"{record.getMessage()} {record.exc_text or ''} {record.__dict__}"
        for record in caplog.records
    )
    for secret in PASSWORDS:
        assert secret not in text


class Recorder:
    """Counts Authenticate calls through the client's event hook."""

    def __init__(self) -> None:
        self.logins = 0
        self.lock = threading.Lock()

    def __call__(self, event: etcdgen.Event) -> None:
        if event.kind == "authenticate":
            with self.lock:
                self.logins += 1


# -- the admin API --------------------------------------------------------------------------------


def test_admin_api_users_roles_and_permissions(auth_server: EtcdServer) -> None:
    with etcdgen.Client(auth_server.endpoint, username="root", password=ROOT_PASSWORD) as root:
        assert root.auth_status().enabled
        assert set(root.user_list()) == {"root", "alice"}
        assert root.user_get("alice") == etcdgen.User("alice", ("app",))
        assert set(root.role_list()) == {"root", "app"}
        (granted,) = root.role_get("app")
        assert granted == ("readwrite", b"app/", b"app0")
        assert granted.prefix and str(granted) == "readwrite on prefix 'app/'"

        root.role_add("viewer")
        root.role_grant_permission("viewer", "cfg/a")
        root.role_grant_permission("viewer", "logs/", range_end="logs0", permission="write")
        perms = set(root.role_get("viewer"))
        assert etcdgen.Permission("read", b"cfg/a", None) in perms
        assert etcdgen.Permission("write", b"logs/", b"logs0") in perms
        root.role_revoke_permission("viewer", "cfg/a")
        assert root.role_get("viewer") == (etcdgen.Permission("write", b"logs/", b"logs0"),)

        root.user_add("bob", "bob-pw")
        root.user_grant_role("bob", "viewer")
        assert root.user_get("bob").roles == ("viewer",)
        root.user_revoke_role("bob", "viewer")
        assert root.user_get("bob").roles == ()
        root.user_change_password("bob", "bob-new-pw")
        with (
            etcdgen.Client(auth_server.endpoint, username="bob", password="bob-new-pw") as bob,
            pytest.raises(etcdgen.PermissionDeniedError),
        ):
            bob.get("cfg/a")
        root.user_delete("bob")
        root.role_delete("viewer")
        assert "bob" not in root.user_list() and "viewer" not in root.role_list()
        with pytest.raises(etcdgen.UserNotFoundError):
            root.user_get("bob")


def test_admin_api_refuses_bad_input_locally(auth_server: EtcdServer) -> None:
    with etcdgen.Client(auth_server.endpoint, username="root", password=ROOT_PASSWORD) as root:
        with pytest.raises(ValueError, match="password=, or no_password=True"):
            root.user_add("carol")
        with pytest.raises(ValueError, match="not both"):
            root.user_add("carol", "pw", no_password=True)
        with pytest.raises(ValueError, match="must not be empty"):
            root.role_add("")
        with pytest.raises(ValueError, match="permission"):
            root.role_grant_permission("app", "k", permission="all")  # type: ignore[arg-type]
        root.user_add("carol", no_password=True)
        assert root.user_get("carol").roles == ()


def test_async_admin_api(auth_server: EtcdServer) -> None:
    async def scenario() -> None:
        async with etcdgen.AsyncClient(
            auth_server.endpoint, username="root", password=ROOT_PASSWORD
        ) as root:
            status = await root.auth_status()
            assert status.enabled
            assert status.revision is None or status.revision > 0  # None: 3.4 has no AuthStatus
            await root.role_add("reader")
            await root.role_grant_permission("reader", "pub/", prefix=True)
            (perm,) = await root.role_get("reader")
            assert perm.prefix and perm.permission == "read"
            await root.user_add("dave", "dave-pw")
            await root.user_grant_role("dave", "reader")
            assert (await root.user_get("dave")).roles == ("reader",)
            await root.user_delete("dave")
            await root.role_delete("reader")

    asyncio.run(scenario())


# -- errors ---------------------------------------------------------------------------------------


def test_wrong_password_fails_fast_with_one_login(auth_server: EtcdServer) -> None:
    recorder = Recorder()
    started = time.monotonic()
    with pytest.raises(etcdgen.AuthFailedError):
        etcdgen.Client(
            auth_server.endpoint, username="alice", password="wrong", event_hook=recorder
        ).__enter__()
    assert time.monotonic() - started < 1.0
    assert recorder.logins == 0  # the one Authenticate call failed; nothing retried it


def test_async_wrong_password_fails_fast(auth_server: EtcdServer) -> None:
    async def scenario() -> float:
        client = etcdgen.AsyncClient(auth_server.endpoint, username="alice", password="wrong")
        started = time.monotonic()
        try:
            with pytest.raises(etcdgen.AuthFailedError):
                await client.get("app/x")
            return time.monotonic() - started
        finally:
            await client.close()

    assert asyncio.run(scenario()) < 1.0


def test_permission_denied_names_the_operation_and_key(auth_server: EtcdServer) -> None:
    with etcdgen.Client(auth_server.endpoint, username="alice", password=ALICE_PASSWORD) as alice:
        alice.put("app/ok", "1")  # within the role's prefix
        with pytest.raises(etcdgen.PermissionDeniedError) as raised:
            alice.put("secret/x", "1")
        assert "Put of key 'secret/x'" in str(raised.value)
        with pytest.raises(etcdgen.PermissionDeniedError) as raised:
            alice.get("other/", prefix=True)
        assert "Range of prefix 'other/'" in str(raised.value)
        with pytest.raises(etcdgen.PermissionDeniedError) as raised:
            alice.delete("app", prefix=True)  # "app" also covers "apple", outside app/
        assert "DeleteRange of prefix 'app'" in str(raised.value)
        with pytest.raises(etcdgen.PermissionDeniedError) as raised:
            alice.txn(success=[etcdgen.Op.put("app/y", "2"), etcdgen.Op.put("nope/z", "3")])
        assert "'nope/z'" in str(raised.value)
        with pytest.raises(etcdgen.PermissionDeniedError) as raised:
            alice.user_list()
        assert "root role" in str(raised.value)
        assert alice.get("app/y").count == 0  # the rejected transaction did nothing


def test_auth_disabled_on_the_server_keeps_credentials_working(auth_server: EtcdServer) -> None:
    with etcdgen.Client(auth_server.endpoint, username="alice", password=ALICE_PASSWORD) as alice:
        alice.put("app/a", "1")
        with etcdgen.Client(auth_server.endpoint, username="root", password=ROOT_PASSWORD) as root:
            root.auth_disable()
        alice.put("app/a", "2")  # the old token is simply ignored now
        # A new client with credentials on a server without auth: no token, calls work.
        with etcdgen.Client(auth_server.endpoint, username="alice", password="any") as late:
            assert late.get("app/a").kvs[0].value == b"2"
            late.put("elsewhere", "1")  # no auth: no permissions either
        with etcdgen.Client(auth_server.endpoint) as anyone:
            anyone.auth_enable()
        # Auth is back on: the credential-less client state recovers by logging in.
        alice.put("app/a", "3")
        assert alice.get("app/a").kvs[0].value == b"3"


# -- refresh under load ---------------------------------------------------------------------------


@pytest.mark.slow  # long-running: the main suite only (scripts/compat-matrix.sh)
def test_sixteen_threads_share_one_login_per_expiry(auth_server: EtcdServer) -> None:
    recorder = Recorder()
    failures: list[BaseException] = []
    calls = 0
    count_lock = threading.Lock()
    with etcdgen.Client(
        auth_server.endpoint, username="alice", password=ALICE_PASSWORD, event_hook=recorder
    ) as alice:

        def burst(worker: int) -> None:
            nonlocal calls
            for i in range(10):
                try:
                    alice.put(f"app/w{worker}", str(i))
                    assert alice.get(f"app/w{worker}").kvs[0].value == str(i).encode()
                except BaseException as error:  # counted and reported
                    failures.append(error)
                with count_lock:
                    calls += 2

        watch = alice.watch("app/w", prefix=True)  # open across every expiry
        lease = alice.lease(ttl=TTL * 3).grant()  # kept alive across every expiry
        watched: list[int] = []
        logins_before = recorder.logins
        for round_ in range(EXPIRIES):
            stale = alice._connection.tokens.token
            assert stale is not None
            wait_until_refused(auth_server.endpoint, stale)
            start = threading.Barrier(WORKERS)
            threads = [
                threading.Thread(target=lambda w=w, b=start: (b.wait(), burst(w)))
                for w in range(WORKERS)
            ]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(timeout=60)
            assert alice._connection.tokens.token != stale
            while len(watched) < WORKERS * 10 * (round_ + 1):
                response = watch.get(timeout=10)
                assert response is not None, "the watch stopped delivering"
                watched.extend(e.kv.mod_revision for e in response.events)
            lease.check()
        logins = recorder.logins - logins_before
        assert alice.lease_time_to_live(lease.id).TTL > 0
        watch.cancel()
        lease.revoke()
    print(
        f"calls {calls}, expiries {EXPIRIES}, Authenticate calls {logins}, failed "
        f"{len(failures)}, watched puts {len(watched)}, lease lost {lease.lost.is_set()}"
    )
    assert not failures, failures[:3]
    assert len(watched) == len(set(watched)) == WORKERS * 10 * EXPIRIES
    assert logins == EXPIRIES  # one per expiry, not one per thread


@pytest.mark.slow  # long-running: the main suite only (scripts/compat-matrix.sh)
def test_sixteen_tasks_share_one_login_per_expiry(auth_server: EtcdServer) -> None:
    recorder = Recorder()

    async def scenario() -> tuple[int, list[BaseException]]:
        failures: list[BaseException] = []
        async with etcdgen.AsyncClient(
            auth_server.endpoint, username="alice", password=ALICE_PASSWORD, event_hook=recorder
        ) as alice:

            async def burst(worker: int) -> None:
                for i in range(10):
                    try:
                        await alice.put(f"app/t{worker}", str(i))
                        reply = await alice.get(f"app/t{worker}")
                        assert reply.kvs[0].value == str(i).encode()
                    except BaseException as error:  # counted and reported
                        failures.append(error)

            watched: list[int] = []
            async with alice.watch("app/t", prefix=True) as watch, alice.lease(TTL * 3) as lease:
                before = recorder.logins
                for round_ in range(EXPIRIES):
                    stale = alice._connection.tokens.token
                    assert stale is not None
                    await asyncio.to_thread(wait_until_refused, auth_server.endpoint, stale)
                    await asyncio.gather(*(burst(w) for w in range(WORKERS)))
                    assert alice._connection.tokens.token != stale
                    while len(watched) < WORKERS * 10 * (round_ + 1):
                        response = await watch.get(timeout=10)
                        assert response is not None, "the watch stopped delivering"
                        watched.extend(e.kv.mod_revision for e in response.events)
                    lease.check()
                assert (await alice.lease_time_to_live(lease.id)).TTL > 0
            assert len(watched) == len(set(watched)) == WORKERS * 10 * EXPIRIES
            return recorder.logins - before, failures

    logins, failures = asyncio.run(scenario())
    print(f"expiries {EXPIRIES}, Authenticate calls {logins}, failed {len(failures)}")
    assert not failures, failures[:3]
    assert logins == EXPIRIES


def test_member_restart_forgets_tokens_and_a_watch_goes_on(auth_server: EtcdServer) -> None:
    recorder = Recorder()
    with (
        etcdgen.Client(
            auth_server.endpoint, username="alice", password=ALICE_PASSWORD, event_hook=recorder
        ) as alice,
        alice.watch("app/r", prefix=True) as watch,
    ):
        first = alice.put("app/r", "1").header.revision
        logins = recorder.logins
        auth_server.restart()  # the new process knows no simple token
        second = alice.put("app/r", "2").header.revision  # one login, then resent
        third = alice.put("app/r2", "3").header.revision
        assert alice.get("app/r").kvs[0].value == b"2"
        received: list[int] = []
        while len(received) < 3:
            response = watch.get(timeout=15)
            assert response is not None, "the watch did not continue after the restart"
            received.extend(e.kv.mod_revision for e in response.events)
        assert received == [first, second, third]
        # The unary calls and the watch's re-created stream share one refresh.
        assert recorder.logins == logins + 1


# -- JWT ------------------------------------------------------------------------------------------


def make_rsa_keys(folder: Path) -> tuple[Path, Path]:
    private, public = folder / "jwt.key", folder / "jwt.pub"
    subprocess.run(
        ["openssl", "genrsa", "-out", str(private), "2048"], check=True, capture_output=True
    )
    subprocess.run(
        ["openssl", "rsa", "-in", str(private), "-pubout", "-out", str(public)],
        check=True,
        capture_output=True,
    )
    return private, public


def test_jwt_end_to_end(etcd_binary: EtcdBinary, tmp_path: Path) -> None:
    private, public = make_rsa_keys(tmp_path)
    jwt = f"jwt,pub-key={public},priv-key={private},sign-method=RS256,ttl=10m"
    recorder = Recorder()
    with EtcdServer(binary=etcd_binary, auth_token=jwt) as server:
        set_up_auth(server)
        with etcdgen.Client(
            server.endpoint, username="alice", password=ALICE_PASSWORD, event_hook=recorder
        ) as alice:
            alice.put("app/j", "1")
            token = alice._connection.tokens.token
            assert token is not None and token.count(".") == 2  # header.payload.signature
            with pytest.raises(etcdgen.PermissionDeniedError, match="'other/j'"):
                alice.put("other/j", "1")
            # Any auth change makes older JWTs stale ("revision of auth store is old").
            with etcdgen.Client(server.endpoint, username="root", password=ROOT_PASSWORD) as root:
                root.role_add("extra")
            alice.put("app/j", "2")
            assert alice.get("app/j").kvs[0].value == b"2"
            assert alice._connection.tokens.token != token
        assert recorder.logins == 2


def test_async_jwt(etcd_binary: EtcdBinary, tmp_path: Path) -> None:
    private, public = make_rsa_keys(tmp_path)
    jwt = f"jwt,pub-key={public},priv-key={private},sign-method=RS256,ttl=10m"
    with EtcdServer(binary=etcd_binary, auth_token=jwt) as server:
        set_up_auth(server)

        async def scenario() -> None:
            async with etcdgen.AsyncClient(
                server.endpoint, username="alice", password=ALICE_PASSWORD
            ) as alice:
                await alice.put("app/j", "1")
                async with etcdgen.AsyncClient(
                    server.endpoint, username="root", password=ROOT_PASSWORD
                ) as root:
                    await root.role_add("extra")
                await alice.put("app/j", "2")
                assert (await alice.get("app/j")).kvs[0].value == b"2"

        asyncio.run(scenario())


# -- no leaks -------------------------------------------------------------------------------------


class Unshown(set[str]):
    def __repr__(self) -> str:
        return f"<{len(self)} tokens>"


TRIED_PASSWORDS = ("wrong-password-1", ALICE_PASSWORD)
OTHER_PASSWORD = "another-Secret-9"


def test_credentials_never_show(auth_server: EtcdServer, caplog: pytest.LogCaptureFixture) -> None:
    texts: list[str] = []
    tokens = Unshown()  # this frame is in every traceback below: its repr must not tell

    def keep(error: BaseException) -> None:
        texts.append(str(error))
        texts.append(repr(error))
        # What pytest --showlocals, logging and debuggers would print: every frame's locals.
        exception = traceback.TracebackException.from_exception(error, capture_locals=True)
        texts.append("".join(exception.format()))

    with caplog.at_level(logging.DEBUG):
        # Indices, not the passwords: the test's own frame is in every traceback below.
        for which in range(2):
            client = etcdgen.Client(
                auth_server.endpoint, username="alice", password=TRIED_PASSWORDS[which]
            )
            texts.append(repr(client))
            texts.append(repr(client.config) if hasattr(client, "config") else "")
            try:
                client.put("app/x", "1")
                client.put("secret/x", "1")
            except etcdgen.EtcdError as error:
                keep(error)
            if client._connection.tokens.token:
                tokens.add(client._connection.tokens.token)
            client.close()
        with etcdgen.Client(auth_server.endpoint, username="root", password=ROOT_PASSWORD) as root:
            try:
                root.user_add("alice", OTHER_PASSWORD)  # exists already
            except etcdgen.EtcdError as error:
                keep(error)
            if root._connection.tokens.token:
                tokens.add(root._connection.tokens.token)
    texts.extend(record.getMessage() for record in caplog.records)
    texts.extend(str(record.__dict__) for record in caplog.records)
    assert len(texts) > 8 and tokens
    everything = "\n".join(texts)
    for secret in (*TRIED_PASSWORDS, ROOT_PASSWORD, OTHER_PASSWORD, *tokens):
        assert secret not in everything, secret
