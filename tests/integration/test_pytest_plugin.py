"""The pytest plugin, used as a user would: a test file of theirs, run by pytest itself."""

from __future__ import annotations

import os
import sys

import pytest

from etcdgen.testing import EtcdServer

pytest_plugins = ["pytester"]

USER_TESTS = """
import etcdgen

def test_writes(etcd_client):
    etcd_client.put("user/key", "1")
    assert etcd_client.get("user/key").kvs[0].value == b"1"

def test_cleaned_between_tests(etcd_client):
    assert etcd_client.get("user/key").count == 0

def test_server(etcd_server):
    with etcdgen.Client(etcd_server.endpoint) as client:
        assert client.status().version
"""

CLUSTER_TEST = """
import etcdgen

def test_cluster(etcd_cluster):
    assert len(etcd_cluster.endpoints) == 3
    with etcdgen.Client(etcd_cluster.endpoints) as client:
        assert len(client.member_list()) == 3
"""


def installed_as_plugin() -> bool:
    """etcdgen's pytest11 entry point is installed (pip install etcdgen[testing])."""
    from importlib.metadata import entry_points

    return any(e.name == "etcdgen" for e in entry_points(group="pytest11"))


def run(
    pytester: pytest.Pytester, env: pytest.MonkeyPatch, source: str, *args: str
) -> pytest.RunResult:
    pytester.makepyfile(test_user=source)
    # The compat matrix runs from a checkout without installing etcdgen: let the child
    # pytest import it the way this one does.
    env.setenv("PYTHONPATH", os.pathsep.join(p for p in sys.path if p))
    # A subprocess, as `pytest` on the user's machine: the plugin comes from the entry
    # point when etcdgen is installed, else (a bare source checkout) from -p.
    load = [] if installed_as_plugin() else ["-p", "etcdgen.pytest_plugin"]
    return pytester.runpytest_subprocess(*load, "-q", *args)


def test_fixtures_start_etcd_and_clean_keys(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    result = run(pytester, monkeypatch, USER_TESTS)
    result.assert_outcomes(passed=3)


def test_an_existing_etcd_is_used_under_a_prefix_per_test(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, etcd: EtcdServer
) -> None:
    import etcdgen

    with etcdgen.Client(etcd.endpoint) as client:
        client.put("user/key", "not the test's")
        result = run(pytester, monkeypatch, USER_TESTS, f"--etcd-endpoint={etcd.endpoint}")
        result.assert_outcomes(passed=3)
        # The user's own key is untouched, and the tests left nothing behind.
        assert client.get("user/key").kvs[0].value == b"not the test's"
        assert client.get("pytest-", prefix=True).count == 0


def test_cluster_fixture(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    result = run(pytester, monkeypatch, CLUSTER_TEST)
    result.assert_outcomes(passed=1)
