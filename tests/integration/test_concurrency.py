"""Session, Mutex and Election on a real etcd, against each other and against etcdctl."""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable, Iterator

import pytest
from polling import async_holds_for, holds_for, wait_for

import etcdgen
from etcdgen.concurrency import (
    AsyncElection,
    AsyncMutex,
    AsyncSession,
    Election,
    LockedError,
    Mutex,
    Session,
    SessionExpiredError,
)
from etcdgen.testing import EtcdServer, _clean_env

PROCESSES = 8
ROUNDS = 50


def child_env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}


CHILD_STALL_DUMP_S = 90
"""A child still running after this long prints every thread's stack and exits (within the
parent's bound, so a rare hang says where it waits instead of just timing out)."""

COUNTER_CHILD = textwrap.dedent(
    """
    import faulthandler, json, sys, time
    faulthandler.dump_traceback_later(float(sys.argv[3]), exit=True)
    import etcdgen
    from etcdgen.concurrency import Session, Mutex
    endpoint, rounds = sys.argv[1], int(sys.argv[2])
    intervals = []
    with etcdgen.Client(endpoint) as client, Session(client, ttl=30) as session:
        mutex = Mutex(session, "locks/counter")
        for _ in range(rounds):
            with mutex:
                start = time.monotonic()
                found = client.get("counter")
                value = int(found.kvs[0].value) if found.kvs else 0
                client.put("counter", str(value + 1))  # a non-atomic read-modify-write
                intervals.append((start, time.monotonic()))
    print(json.dumps(intervals))
    """
)


@pytest.mark.slow  # long-running: the main suite only (scripts/compat-matrix.sh)
def test_eight_processes_share_one_mutex(etcd: EtcdServer) -> None:
    if not etcd.version.startswith("3.5"):
        pytest.skip("client-side recipe; covered with 3.5")
    children = [
        subprocess.Popen(
            [
                sys.executable,
                "-c",
                COUNTER_CHILD,
                etcd.endpoint,
                str(ROUNDS),
                str(CHILD_STALL_DUMP_S),
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=child_env(),
        )
        for _ in range(PROCESSES)
    ]
    outputs = [child.communicate(timeout=CHILD_STALL_DUMP_S + 30) for child in children]
    failed = [
        f"child {n} exited {child.returncode}:\n{err}"
        for n, (child, (_, err)) in enumerate(zip(children, outputs, strict=True))
        if child.returncode != 0
    ]
    assert not failed, "\n".join(failed)
    intervals: list[tuple[float, float]] = []
    for out, _ in outputs:
        intervals.extend(tuple(pair) for pair in json.loads(out))
    with etcdgen.Client(etcd.endpoint) as client:
        counter = int(client.get("counter").kvs[0].value)
    intervals.sort()
    overlaps = sum(1 for a, b in itertools.pairwise(intervals) if b[0] < a[1])
    # A waiter whose watch never reported its predecessor's delete logs it (the
    # periodic re-read found it): not a failure, but worth seeing in the run's output.
    missed = sum(err.count("did not report it") for _, err in outputs)
    print(
        f"{len(intervals)} acquisitions, counter {counter}, overlapping holders {overlaps}, "
        f"deletes found by re-reading instead of the watch {missed}"
    )
    assert counter == PROCESSES * ROUNDS
    assert overlaps == 0


def test_try_lock_relock_and_fencing(etcd: EtcdServer) -> None:
    with (
        etcdgen.Client(etcd.endpoint) as client,
        Session(client, ttl=10) as one,
        Session(client, ttl=10) as two,
    ):
        first, second = Mutex(one, "locks/a"), Mutex(two, "locks/a")
        first.lock()
        assert first.key == f"locks/a/{one.lease_id:x}".encode()
        with pytest.raises(LockedError):
            second.try_lock()
        assert client.get("locks/a/", prefix=True).count == 1  # the loser's key is gone
        Mutex(one, "locks/a").lock()  # the same session: held already, as in Go
        fence = first.is_owner()
        guarded = client.txn(compare=[fence], success=[etcdgen.Op.put("f", "1")])
        assert guarded.succeeded
        first.unlock()
        # A write fenced by a released lock is refused.
        assert not client.txn(compare=[fence], success=[etcdgen.Op.put("f", "2")]).succeeded
        second.try_lock()
        second.unlock()


def test_election_leader_proclaim_resign_and_observe(etcd: EtcdServer) -> None:
    with (
        etcdgen.Client(etcd.endpoint) as client,
        Session(client, ttl=10) as one,
        Session(client, ttl=10) as two,
    ):
        first, second = Election(one, "elect/svc"), Election(two, "elect/svc")
        with pytest.raises(etcdgen.concurrency.NoLeaderElectedError):
            first.leader()
        first.campaign("node-1")
        assert first.leader().value == b"node-1"
        seen: list[bytes] = []

        def observe() -> None:
            for kv in Election(one, "elect/svc").observe():
                seen.append(kv.value)
                if len(seen) == 3:
                    return

        watcher = threading.Thread(target=observe)
        watcher.start()
        wait_for(lambda: seen, "the first observation")
        first.proclaim("node-1b")
        campaigner = threading.Thread(target=second.campaign, args=("node-2",))
        campaigner.start()
        wait_for(lambda: client.get("elect/svc/", prefix=True).count == 2, "the 2nd candidate")
        assert first.leader().value == b"node-1b"
        first.resign()
        campaigner.join(10)
        watcher.join(10)
        assert seen == [b"node-1", b"node-1b", b"node-2"]
        assert second.leader().value == b"node-2"
        with pytest.raises(etcdgen.concurrency.ElectionNotLeaderError):
            first.proclaim("stale")


# -- interop with etcdctl --------------------------------------------------------------------------


@pytest.fixture
def etcdctl(etcd: EtcdServer) -> Iterator[Callable[..., subprocess.Popen[str]]]:
    started: list[subprocess.Popen[str]] = []
    ctl = etcd.binary.etcdctl
    if ctl is None:
        pytest.skip("no etcdctl next to this etcd")

    def run(*args: str) -> subprocess.Popen[str]:
        process = subprocess.Popen(
            [str(ctl), f"--endpoints={etcd.client_url}", *args],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=_clean_env("ETCDCTL_", extra={"ETCDCTL_API": "3"}),
        )
        started.append(process)
        return process

    yield run
    for process in started:
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(5)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def test_etcdctl_lock_and_python_mutex_exclude_each_other(
    etcd: EtcdServer, etcdctl: Callable[..., subprocess.Popen[str]]
) -> None:
    holder = etcdctl("lock", "locks/shared")
    assert holder.stdout is not None
    held_key = holder.stdout.readline().strip()  # etcdctl prints its key once it holds it
    assert held_key.startswith("locks/shared/")
    with etcdgen.Client(etcd.endpoint) as client, Session(client, ttl=10) as session:
        mutex = Mutex(session, "locks/shared")
        with pytest.raises(LockedError, match=held_key):
            mutex.try_lock()
        acquired = threading.Event()
        waiter = threading.Thread(target=lambda: (mutex.lock(), acquired.set()))
        waiter.start()
        assert not acquired.wait(1.0)  # blocked while etcdctl holds it
        holder.send_signal(signal.SIGINT)  # etcdctl releases on interrupt
        assert acquired.wait(10)
        waiter.join()
        # Now Python holds it: etcdctl's lock waits.
        second = etcdctl("lock", "locks/shared")
        assert second.stdout is not None
        # A window in which etcdctl must not get it (the property tested).
        holds_for(0.5, lambda: _still_running(second), interval=0.05)
        mutex.unlock()
        line = second.stdout.readline().strip()
        assert line.startswith("locks/shared/")


def test_etcdctl_elect_and_python_election_agree(
    etcd: EtcdServer, etcdctl: Callable[..., subprocess.Popen[str]]
) -> None:
    leader = etcdctl("elect", "elect/shared", "from-etcdctl")
    assert leader.stdout is not None
    leader.stdout.readline()  # its key, printed once elected
    assert leader.stdout.readline().strip() == "from-etcdctl"
    with etcdgen.Client(etcd.endpoint) as client, Session(client, ttl=10) as session:
        election = Election(session, "elect/shared")
        assert election.leader().value == b"from-etcdctl"
        listener = etcdctl("elect", "--listen", "elect/shared")
        assert listener.stdout is not None
        campaign = threading.Thread(target=election.campaign, args=("from-python",))
        campaign.start()
        leader.send_signal(signal.SIGINT)  # etcdctl resigns
        campaign.join(10)
        assert election.leader().value == b"from-python"
        heard = []
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and "from-python" not in heard:
            heard.append(listener.stdout.readline().strip())
        assert "from-python" in heard, heard  # etcdctl sees the Python leader
        election.resign()


# -- a lost session ------------------------------------------------------------------------------

HOLDER_CHILD = textwrap.dedent(
    """
    import sys, etcdgen
    from etcdgen.concurrency import Session, Mutex, SessionExpiredError
    with etcdgen.Client(sys.argv[1]) as client:
        session = Session(client, ttl=2).open()
        mutex = Mutex(session, "locks/paused")
        mutex.lock()
        print("holding", flush=True)
        session.lost.wait(60)
        try:
            session.check()
        except SessionExpiredError as error:
            print("lost:", error, flush=True)
    """
)


def test_a_paused_holder_learns_it_lost_the_lock(etcd: EtcdServer) -> None:
    child = subprocess.Popen(
        [sys.executable, "-c", HOLDER_CHILD, etcd.endpoint],
        stdout=subprocess.PIPE,
        text=True,
        env=child_env(),
    )
    try:
        assert child.stdout is not None
        assert child.stdout.readline().strip() == "holding"
        with etcdgen.Client(etcd.endpoint) as client, Session(client, ttl=10) as session:
            child.send_signal(signal.SIGSTOP)
            mutex = Mutex(session, "locks/paused")
            mutex.lock()  # the paused holder's lease expires, so this waiter gets the lock
            child.send_signal(signal.SIGCONT)
            out, _ = child.communicate(timeout=30)
            mutex.unlock()
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    assert "lost:" in out, out


def test_waiting_with_an_expired_session_raises(etcd: EtcdServer) -> None:
    with etcdgen.Client(etcd.endpoint) as client:
        with Session(client, ttl=10) as holder_session:
            Mutex(holder_session, "locks/expire").lock()
            doomed = Session(client, ttl=10).open()
            waiter = Mutex(doomed, "locks/expire")
            errors: list[BaseException] = []

            def wait() -> None:
                try:
                    waiter.lock()
                except BaseException as error:  # recorded for the assertion below
                    errors.append(error)

            thread = threading.Thread(target=wait)
            thread.start()
            wait_for(lambda: client.get("locks/expire/", prefix=True).count == 2, "the waiter")
            client.lease_revoke(doomed.lease_id)  # the waiter's session ends while it waits
        thread.join(10)
        assert errors and isinstance(errors[0], SessionExpiredError)


def test_async_recipes(etcd: EtcdServer) -> None:
    async def scenario() -> None:
        async with etcdgen.AsyncClient(etcd.endpoint) as client:
            async with AsyncSession(client, ttl=10) as one, AsyncSession(client, ttl=10) as two:
                first, second = AsyncMutex(one, "alocks/x"), AsyncMutex(two, "alocks/x")
                await first.lock()
                with pytest.raises(LockedError):
                    await second.try_lock()
                waiting = asyncio.get_running_loop().create_task(second.lock())
                await async_holds_for(0.2, lambda: _not_done(waiting), interval=0.02)
                await first.unlock()
                await asyncio.wait_for(waiting, 10)
                await second.unlock()
                election = AsyncElection(one, "aelect/x")
                await election.campaign("a")
                assert (await election.leader()).value == b"a"
                await election.resign()
            async with client.lock("alocks/y", ttl=5) as mutex:
                assert mutex.key.startswith(b"alocks/y/")

    asyncio.run(scenario())


def _still_running(process: subprocess.Popen[str]) -> None:
    assert process.poll() is None, "etcdctl got a lock that Python holds"


def _not_done(task: asyncio.Future[object]) -> None:
    assert not task.done(), "a second holder got the lock"
