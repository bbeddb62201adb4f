"""Shared pytest fixtures.

etcd servers come from :mod:`etcdgen.testing`.  Every test that uses ``etcd_version`` (or a
fixture built on it, such as ``etcd``) runs once per supported etcd release line.  A missing
binary skips those tests locally, but fails them in CI (``CI`` set), where both releases
must be installed.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from etcdgen.testing import EtcdBinary, EtcdNotFoundError, EtcdServer, find_etcd_binary

# A user's project, run by tests/integration/test_wheel.py in its own venv.
collect_ignore = ["user_project"]

# --- etcd binaries ----------------------------------------------------------------------------

ETCD_VERSIONS = ("3.5", "3.4")


def in_ci() -> bool:
    """Whether we run in CI, where a missing etcd binary is an error rather than a skip."""
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


def require_etcd_binary(version: str) -> EtcdBinary:
    """The etcd binary for ``version``; skips the test (fails it in CI) if not installed."""
    try:
        return find_etcd_binary(version)
    except EtcdNotFoundError as exc:
        reason = str(exc)
    if in_ci():
        pytest.fail(f"CI must provide etcd {version}: {reason}", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="session", params=ETCD_VERSIONS, ids=[f"etcd{v}" for v in ETCD_VERSIONS])
def etcd_version(request: pytest.FixtureRequest) -> str:
    """The etcd release line under test: "3.5" or "3.4"."""
    version: str = request.param
    return version


@pytest.fixture(scope="session")
def etcd_binary(etcd_version: str) -> EtcdBinary:
    """The installed etcd binary for ``etcd_version``."""
    return require_etcd_binary(etcd_version)


# --- etcd servers -----------------------------------------------------------------------------


@pytest.fixture(scope="session")
def etcd(etcd_binary: EtcdBinary) -> Iterator[EtcdServer]:
    """One single-member etcd server per version, shared by the whole session.

    Tests must leave it running and healthy; use a private ``EtcdServer`` to stop, pause
    or restart one.
    """
    with EtcdServer(binary=etcd_binary, name=f"session-{etcd_binary.version}") as server:
        yield server
