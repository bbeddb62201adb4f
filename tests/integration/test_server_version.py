"""Version-aware calls: what etcd 3.4.23 lacks is refused before sending
(`UnsupportedByServerError`); the same calls reach etcd 3.5.1."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from conftest import require_etcd_binary

import etcdgen
from etcdgen.testing import EtcdServer


@pytest.fixture(scope="module")
def etcd34() -> Iterator[EtcdServer]:
    with EtcdServer(binary=require_etcd_binary("3.4"), name="old") as server:
        yield server


@pytest.fixture(scope="module")
def etcd35() -> Iterator[EtcdServer]:
    with EtcdServer(binary=require_etcd_binary("3.5"), name="new") as server:
        yield server


#: (the element newer than 3.4, a call that uses it)
NEWER: list[tuple[str, str, Callable[[etcdgen.Client], Any]]] = [
    ("AuthStatus", "the AuthStatus RPC", lambda c: c.rpc.auth.auth_status()),
    (
        "Downgrade",
        "the Downgrade RPC",
        lambda c: c.rpc.maintenance.downgrade(action=0, version="3.4.0"),
    ),
    (
        "linearizable",
        "MemberListRequest.linearizable",
        lambda c: c.member_list(linearizable=True),
    ),
    (
        "hashedPassword",
        "AuthUserAddRequest.hashedPassword",
        lambda c: c.rpc.auth.user_add(name="hashed-user", hashedPassword="not-a-real-hash"),
    ),
]


@pytest.mark.parametrize(("case", "element", "call"), NEWER, ids=[n[0] for n in NEWER])
def test_an_element_newer_than_the_server_is_refused_before_sending(
    etcd34: EtcdServer, case: str, element: str, call: Callable[[etcdgen.Client], Any]
) -> None:
    events: list[etcdgen.Event] = []
    # A fresh client each time: the first call may come before any health probe answered.
    with etcdgen.Client(etcd34.endpoint, event_hook=events.append) as client:
        with pytest.raises(etcdgen.UnsupportedByServerError) as raised:
            call(client)
        error = raised.value
    assert error.element == element and error.required == "3.5"
    assert error.server_version.startswith("3.4.") and error.endpoint == etcd34.endpoint
    assert f"{element} needs etcd >= 3.5, but {etcd34.endpoint} runs etcd 3.4." in str(error)
    sent = {e.rpc.rsplit("/", 1)[1] for e in events if e.kind == "attempt" and e.rpc}
    assert sent <= {"Status"}, sent  # the call itself never left the client
    assert isinstance(error, etcdgen.EtcdError)


@pytest.mark.parametrize(("case", "element", "call"), NEWER, ids=[n[0] for n in NEWER])
def test_the_same_calls_reach_etcd_35(
    etcd35: EtcdServer, case: str, element: str, call: Callable[[etcdgen.Client], Any]
) -> None:
    with etcdgen.Client(etcd35.endpoint) as client:
        try:
            call(client)
        except etcdgen.UnsupportedByServerError:  # pragma: no cover - the failure shown
            raise
        except etcdgen.EtcdError as error:
            # The server answered (a downgrade to 3.4 is refused by 3.5 itself): not ours.
            assert error.code is not None and case == "Downgrade", error


def test_unset_newer_fields_and_old_calls_work_on_34(etcd34: EtcdServer) -> None:
    with etcdgen.Client(etcd34.endpoint) as client:
        assert len(client.member_list()) == 1  # linearizable left unset
        client.put("version-check/k", "v")
        assert client.get("version-check/k").kvs[0].value == b"v"
        assert client.auth_status().enabled is False  # 3.4: derived without AuthStatus
        # A sealed request (the password only inside gRPC's serializer) passes the check.
        client.user_add("version-check-user", "a-password")
        client.user_delete("version-check-user")


def test_async_client_refuses_too(etcd34: EtcdServer) -> None:
    async def scenario() -> etcdgen.UnsupportedByServerError:
        async with etcdgen.AsyncClient(etcd34.endpoint) as client:
            with pytest.raises(etcdgen.UnsupportedByServerError) as raised:
                await client.member_list(linearizable=True)
            assert len(await client.member_list()) == 1
            return raised.value

    error = asyncio.run(scenario())
    assert error.element == "MemberListRequest.linearizable"
