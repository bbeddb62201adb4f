"""What an operator's log shows of a failover, and what it must never show.

A 3-member etcd 3.5 cluster with auth on; a client with credentials reads from
several threads while one follower is frozen (SIGSTOP) and then resumed. The
INFO records of the "etcdgen" loggers must tell the story (the member marked
unresponsive, its calls moved, the member healthy again), and no record at any
level may hold the password or an auth token.
"""

from __future__ import annotations

import logging
import re
import threading

import pytest
from conftest import require_etcd_binary
from polling import wait_for

import etcdgen
from etcdgen.testing import EtcdCluster

pytestmark = pytest.mark.slow

PASSWORD = "failover-Secret-42"
#: etcd's simple tokens: 16 random letters, a dot, a counter.
SIMPLE_TOKEN = re.compile(r"\b[A-Za-z]{16}\.\d+\b")


def test_failover_log_has_the_state_changes_and_no_credentials(
    caplog: pytest.LogCaptureFixture,
) -> None:
    binary = require_etcd_binary("3.5")
    with EtcdCluster(3, binary=binary, name_prefix="logs") as cluster:
        with etcdgen.Client(cluster.endpoints) as admin:
            admin.user_add("root", PASSWORD)
            admin.role_add("root")
            admin.user_grant_role("root", "root")
            admin.auth_enable()
        frozen = cluster.followers()[0]
        bad = frozen.endpoint
        stop = threading.Event()
        reads = [0]
        errors: list[BaseException] = []
        with (
            caplog.at_level(logging.DEBUG, logger="etcdgen"),
            etcdgen.Client(cluster.endpoints, username="root", password=PASSWORD) as client,
        ):
            client.put("logs/k", "v")

            def reader() -> None:
                while not stop.is_set():
                    try:
                        client.get("logs/k")
                        reads[0] += 1
                    except BaseException as error:
                        errors.append(error)

            threads = [threading.Thread(target=reader) for _ in range(4)]
            for thread in threads:
                thread.start()
            try:
                frozen.pause()
                wait_for(
                    lambda: client.endpoint_health()[frozen.endpoint].state == "unresponsive",
                    "the frozen member to be marked",
                    20,
                )
                frozen.resume()
                wait_for(
                    lambda: client.endpoint_health()[frozen.endpoint].healthy,
                    "the member to be healthy again",
                    20,
                )
            finally:
                frozen.resume()
                stop.set()
                for thread in threads:
                    thread.join(timeout=30)

    records = [r for r in caplog.records if r.name.startswith("etcdgen")]
    info = [f"{r.name}: {r.getMessage()}" for r in records if r.levelno >= logging.INFO]
    print("\n" + "\n".join(info))
    assert errors == [] and reads[0] > 0
    assert any(f"endpoint {bad} is now unresponsive" in line for line in info), info
    assert any(f"endpoint {bad} is unresponsive" in line and "move" in line for line in info)
    assert any(f"endpoint {bad} is now healthy" in line for line in info), info
    # Every record, DEBUG included (per-call detail, token fetches), formatted in full.
    formatter = logging.Formatter("%(name)s %(levelname)s %(message)s")
    text = "\n".join(formatter.format(r) for r in records)
    assert "fetched an auth token" in text  # the auth records are there, and clean:
    assert PASSWORD not in text
    assert not SIMPLE_TOKEN.search(text), SIMPLE_TOKEN.search(text)
