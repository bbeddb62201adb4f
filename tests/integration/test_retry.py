"""The retry policy against a real etcd that goes away and comes back."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator

import pytest

import etcdgen
from etcdgen.testing import EtcdBinary, EtcdServer


@pytest.fixture
def restartable(etcd_binary: EtcdBinary) -> Iterator[EtcdServer]:
    with EtcdServer(binary=etcd_binary, name="retry") as server:
        yield server


def start_later(server: EtcdServer, delay: float) -> threading.Thread:
    thread = threading.Thread(target=lambda: (time.sleep(delay), server.start()))
    thread.start()
    return thread


def test_read_waits_out_a_restart(restartable: EtcdServer) -> None:
    with etcdgen.Client(restartable.endpoint, timeout=15.0) as client:
        client.rpc.kv.put(key="k", value="before")
        restartable.kill()
        thread = start_later(restartable, 1.0)
        try:
            reply = client.rpc.kv.range(key="k")
        finally:
            thread.join()
        assert reply.kvs[0].value == b"before"


def test_unsent_write_is_retried_and_applied_exactly_once(restartable: EtcdServer) -> None:
    with etcdgen.Client(restartable.endpoint, timeout=15.0) as client:
        client.rpc.kv.put(key="once", value="0")
    restartable.kill()
    thread = start_later(restartable, 1.0)
    # A client that has never connected: gRPC fails the first attempts before any
    # byte is written ("failed to connect"), so the put may be sent again.
    try:
        with etcdgen.Client(restartable.endpoint, timeout=15.0) as client:
            put = client.rpc.kv.put(key="once", value="1", prev_kv=True)
            now = client.rpc.kv.range(key="once").kvs[0]
    finally:
        thread.join()
    assert put.prev_kv.value == b"0"
    # version counts writes since creation: created at 1, one retried put -> 2.
    assert now.value == b"1" and now.version == 2


def test_unreachable_endpoint_fails_after_retries_within_the_deadline(
    restartable: EtcdServer,
) -> None:
    restartable.kill()
    with etcdgen.Client(restartable.endpoint, timeout=1.5) as client:
        started = time.monotonic()
        with pytest.raises(etcdgen.UnavailableError) as raised:
            client.rpc.kv.range(key="k")
        elapsed = time.monotonic() - started
    assert raised.value.attempts > 1
    assert elapsed < 3.0
    assert "attempts" in str(raised.value)


def test_async_read_waits_out_a_restart(restartable: EtcdServer) -> None:
    async def scenario() -> bytes:
        async with etcdgen.AsyncClient(restartable.endpoint, timeout=15.0) as client:
            await client.rpc.kv.put(key="ak", value="v")
            restartable.kill()
            thread = start_later(restartable, 1.0)
            try:
                reply = await client.rpc.kv.range(key="ak")
            finally:
                thread.join()
            return bytes(reply.kvs[0].value)

    assert asyncio.run(scenario()) == b"v"


def test_write_to_a_hung_member_is_not_retried(restartable: EtcdServer) -> None:
    with etcdgen.Client(restartable.endpoint, timeout=10.0) as client:
        client.rpc.kv.put(key="hung", value="0")
        restartable.pause()
        try:
            with pytest.raises(etcdgen.EtcdError) as raised:
                client.rpc.kv.put(key="hung", value="1", timeout=1.0)
        finally:
            restartable.resume()
        error = raised.value
        if isinstance(error, etcdgen.DeadlineExceededError):
            # The request was on the wire when the deadline passed: sending it again
            # could apply it twice, so the client gave up after one attempt.
            assert error.attempts == 1
        else:
            # Older grpcio opens a new connection to the stopped member first; then no
            # byte was sent, and retrying until the deadline is allowed.
            assert isinstance(error, etcdgen.UnavailableError)
            assert "SETTINGS frame" in error.details or "failed to connect" in error.details
        assert client.rpc.kv.range(key="hung").kvs[0].value in (b"0", b"1")
