"""os.fork() with etcdgen: preforking servers and multiprocessing's "fork" start method.

What must hold (public API only; `etcdgen._core.fork` is used for failure messages and by
the unit tests of the fork hooks at the end):

* a client used before the fork either keeps working in the child or raises an
  `etcdgen.EtcdError` telling to create a new client after the fork;
* a new client made in the child always works, and closing either client never hangs;
* the parent's client keeps working;
* nothing aborts: a child killed by a signal (SIGABRT, SIGSEGV) or still running at its
  deadline fails the test, every one of 20 forks in a row;
* all of it also while another thread of the parent is inside a call at the fork, for
  multiprocessing's "fork" processes, and for children that exit normally (gunicorn).

Children are plain `os.fork()` children that end with `os._exit(code)` (as multiprocessing
does); each failure mode has its own exit code, and the child's error text comes back through
a pipe. Every wait is bounded: a child still running at its deadline is killed.
"""

from __future__ import annotations

import contextlib
import functools
import multiprocessing
import os
import select
import signal
import subprocess
import sys
import time
import traceback
import uuid
from collections.abc import Callable, Iterator

import pytest
from forking import arm_hang_dump

import etcdgen
from etcdgen.testing import EtcdServer

pytestmark = [
    pytest.mark.skipif(not hasattr(os, "fork"), reason="os.fork() is POSIX only"),
    # A fork can deadlock inside gRPC's own pre-fork handler (seen with grpcio 1.49.1, about
    # 1 in 1000 forks): the main thread then sits in C, where SIGALRM cannot interrupt it, so
    # time out from a watchdog thread instead of letting the whole run hang.
    pytest.mark.timeout(180, method="thread"),
]

FORKS = 20
CHILD_DEADLINE = 15.0
"""Seconds one child may take (a healthy one takes well under one)."""
MAX_FAILURES = 3
"""A test stops forking after this many failed children (hung ones cost a deadline each)."""


@pytest.fixture
def server(etcd: EtcdServer) -> EtcdServer:
    """The shared etcd server; one release line is enough (forking is client-side)."""
    if not etcd.version.startswith("3.5"):
        pytest.skip("fork safety does not depend on the etcd version; covered with 3.5")
    return etcd


# --- running code in a forked child ----------------------------------------------------------


class ChildFailed(Exception):
    """Raised in the child with the exit code that names what went wrong."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code


def run_in_child(body: Callable[[], None], deadline: float = CHILD_DEADLINE) -> str | None:
    """Fork, run `body` in the child, and return None if it succeeded, else why not.

    The child ends with `os._exit`: 0 after `body` returned, `ChildFailed.code` for an
    expected failure, 70 for any other exception. A child that is killed by a signal, or
    that is still running after `deadline` seconds (then killed here), is a failure too.
    """
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: never return into pytest
        code = 70
        try:
            os.close(read_end)
            arm_hang_dump(write_end, deadline)  # a hung child says where it waits
            try:
                body()
                code = 0
            except ChildFailed as exc:
                code = exc.code
                os.write(write_end, str(exc).encode(errors="replace")[:4000])
            except BaseException:
                os.write(write_end, traceback.format_exc().encode(errors="replace")[-4000:])
        finally:
            os._exit(code)
    os.close(write_end)
    try:
        status, output = _wait_child(pid, read_end, deadline)
    except BaseException:  # e.g. pytest-timeout: never leave the child behind
        _kill(pid)
        raise
    finally:
        os.close(read_end)
    text = output.decode(errors="replace").strip()
    if status is None:
        return f"child {pid} still running after {deadline:.0f} s (killed): {text}"
    if os.WIFSIGNALED(status):
        name = signal.Signals(os.WTERMSIG(status)).name
        return f"child {pid} was killed by {name} (an abort or crash): {text}"
    code = os.WEXITSTATUS(status)
    return None if code == 0 else f"child {pid} exited with {code}: {text}"


def _wait_child(pid: int, read_end: int, deadline: float) -> tuple[int | None, bytes]:
    """The child's wait status (None if it hung and was killed) and what it wrote."""
    end = time.monotonic() + deadline
    output = b""
    open_pipe = True
    while True:
        finished, status = os.waitpid(pid, os.WNOHANG)
        if finished:
            break
        remaining = end - time.monotonic()
        if remaining <= 0:
            _kill(pid)
            return None, output
        if open_pipe:
            ready, _, _ = select.select([read_end], [], [], min(remaining, 0.05))
            if ready:
                chunk = os.read(read_end, 65536)
                open_pipe = bool(chunk)
                output += chunk
        else:
            time.sleep(min(remaining, 0.02))
    while open_pipe and select.select([read_end], [], [], 0)[0]:
        chunk = os.read(read_end, 65536)
        open_pipe = bool(chunk)
        output += chunk
    return status, output


def _kill(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError, ChildProcessError):
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)


def fork_many(
    body: Callable[[int], None],
    forks: int = FORKS,
    between: Callable[[int], object] | None = None,
) -> list[str]:
    """Run `body(i)` in `forks` children one after another; the failures, at most a few.

    `between(i)` runs in the parent after each child (the parent goes on between forks).
    """
    failures: list[str] = []
    for i in range(forks):
        failure = run_in_child(functools.partial(body, i))
        if failure is not None:
            failures.append(f"fork {i}: {failure}")
            if len(failures) >= MAX_FAILURES:
                failures.append(f"(stopped after {len(failures)} failures)")
                break
        if between is not None:
            between(i)
    return failures


# --- what a child does ------------------------------------------------------------------------

INHERITED_FAILED = 11
"""The inherited client raised something other than the documented 'create a new client'."""
NEW_CLIENT_FAILED = 12
CLOSE_FAILED = 13


def tells_to_make_a_new_client(error: etcdgen.EtcdError) -> bool:
    text = str(error).lower()
    return "fork" in text and "new" in text and "client" in text


def use_inherited(client: etcdgen.Client, key: str) -> None:
    """A put and a get on a client from the parent: they work, or say what to do instead."""
    try:
        client.put(key, "from-the-child")
        reply = client.get(key)
    except etcdgen.EtcdError as exc:
        if tells_to_make_a_new_client(exc):
            return
        raise ChildFailed(
            INHERITED_FAILED,
            f"inherited client raised {type(exc).__name__} without telling to create a new "
            f"client after fork: {exc}",
        ) from exc
    except Exception as exc:
        raise ChildFailed(
            INHERITED_FAILED, f"inherited client raised {type(exc).__name__}: {exc}"
        ) from exc
    values = [kv.value for kv in reply.kvs]
    if values != [b"from-the-child"]:
        raise ChildFailed(INHERITED_FAILED, f"inherited client read {values!r}")


def use_new_client(endpoint: str, key: str) -> None:
    """A new client in the child: put, get, close; all of it must work."""
    try:
        with etcdgen.Client(endpoint) as client:
            client.put(key, "new-in-child")
            values = [kv.value for kv in client.get(key).kvs]
    except Exception as exc:
        raise ChildFailed(
            NEW_CLIENT_FAILED, f"new client in the child: {type(exc).__name__}: {exc}"
        ) from exc
    if values != [b"new-in-child"]:
        raise ChildFailed(NEW_CLIENT_FAILED, f"new client in the child read {values!r}")


def close_inherited(client: etcdgen.Client) -> None:
    try:
        client.close()
    except Exception as exc:
        raise ChildFailed(
            CLOSE_FAILED, f"close() of the inherited client: {type(exc).__name__}: {exc}"
        ) from exc


@pytest.fixture
def parent_client(server: EtcdServer) -> Iterator[etcdgen.Client]:
    with etcdgen.Client(server.endpoint) as client:
        client.put(f"fork/{uuid.uuid4().hex}/warm-up", "v")  # channels and threads are up
        yield client


def fork_support() -> str:
    """For failure messages: whether gRPC's fork handlers are on in this test process."""
    from etcdgen._core import fork

    state = "on" if fork.grpc_fork_support_enabled() else "OFF (grpc imported before etcdgen?)"
    return f"gRPC fork support {state}"


def assert_parent_still_works(client: etcdgen.Client, prefix: str) -> None:
    client.put(f"{prefix}/parent-after", "still-here")
    assert [kv.value for kv in client.get(f"{prefix}/parent-after").kvs] == [b"still-here"]


# --- the fork tests ---------------------------------------------------------------------------


def test_used_client_survives_fork_and_new_clients_work(
    server: EtcdServer, parent_client: etcdgen.Client
) -> None:
    prefix = f"fork/{uuid.uuid4().hex}"

    def child(i: int) -> None:
        use_inherited(parent_client, f"{prefix}/{i}/inherited")
        use_new_client(server.endpoint, f"{prefix}/{i}/new")
        close_inherited(parent_client)

    failures = fork_many(child, between=lambda i: parent_client.get(f"{prefix}/{i}/new"))
    assert not failures, "\n".join([fork_support(), *failures])
    assert_parent_still_works(parent_client, prefix)


def test_inherited_watch_ends_in_the_child_and_new_watches_work(
    server: EtcdServer, parent_client: etcdgen.Client
) -> None:
    """A watch of the parent cannot follow (its reader thread stayed there): reading it
    in the child raises ForkedProcessError at once instead of waiting for ever."""
    prefix = f"fork/{uuid.uuid4().hex}"
    with parent_client.watch(f"{prefix}/watched") as inherited:

        def child(i: int) -> None:
            try:
                inherited.get(timeout=5)
            except etcdgen.ForkedProcessError as exc:
                if "open a new watch in the child" not in str(exc):
                    raise ChildFailed(3, f"unclear message: {exc}") from None
            else:
                raise ChildFailed(4, "the inherited watch did not end in the child")
            put = parent_client.put(f"{prefix}/{i}/child", "x")
            with parent_client.watch(
                f"{prefix}/{i}/child", start_revision=put.header.revision
            ) as w:
                response = w.get(timeout=5)
                if response is None or response.events[0].kv.value != b"x":
                    raise ChildFailed(5, f"a new watch in the child saw {response}")

        def parent_watch_goes_on(i: int) -> None:
            parent_client.put(f"{prefix}/watched", str(i))
            response = inherited.get(timeout=5)
            assert response is not None and response.events[0].kv.value == str(i).encode()

        failures = fork_many(child, between=parent_watch_goes_on)
    assert not failures, "\n".join([fork_support(), *failures])


def test_new_client_in_child_while_inherited_one_is_left_alone(
    server: EtcdServer, parent_client: etcdgen.Client
) -> None:
    """The gunicorn pattern: a module-level client from the master is never used again."""
    prefix = f"fork/{uuid.uuid4().hex}"
    failures = fork_many(lambda i: use_new_client(server.endpoint, f"{prefix}/{i}"))
    assert not failures, "\n".join([fork_support(), *failures])
    assert_parent_still_works(parent_client, prefix)


def test_close_of_inherited_client_in_child_does_not_hang(
    server: EtcdServer, parent_client: etcdgen.Client
) -> None:
    """Closing first (as a `with` block that spans the fork does), then a new client."""
    prefix = f"fork/{uuid.uuid4().hex}"

    def child(i: int) -> None:
        close_inherited(parent_client)
        # Closed is closed (ClientClosedError): an error, never a hang or a crash.
        with contextlib.suppress(etcdgen.EtcdError):
            parent_client.get(f"{prefix}/{i}")
        use_new_client(server.endpoint, f"{prefix}/{i}")

    failures = fork_many(child)
    assert not failures, "\n".join([fork_support(), *failures])
    assert_parent_still_works(parent_client, prefix)


CALLING_SCRIPT = """
import os, signal, sys, threading, time
import etcdgen

endpoint, forks = sys.argv[1], int(sys.argv[2])
coalesce = sys.argv[3:] == ["coalesce"]  # then several callers, so gets queue in batches
client = etcdgen.Client(endpoint, coalesce_reads=coalesce)
client.put("fork/busy", "x")
stop = threading.Event()
errors = []

def keep_calling():
    deadline = time.monotonic() + 120  # bounded even if the parent is interrupted
    while not stop.is_set() and time.monotonic() < deadline:
        try:
            client.get("fork/busy")
        except Exception as exc:
            errors.append(repr(exc))

callers = [threading.Thread(target=keep_calling, daemon=True) for _ in range(4 if coalesce else 1)]
for caller in callers:
    caller.start()
time.sleep(0.1)
statuses = []
for i in range(forks):
    pid = os.fork()
    if pid == 0:
        code = 0
        try:
            client.get("fork/busy", timeout=5)  # the inherited client
            with etcdgen.Client(endpoint) as new:
                new.put(f"fork/busy/{i}", "child")
        except BaseException:
            code = 3
        os._exit(code)
    deadline = time.monotonic() + 15
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            statuses.append(
                f"signal-{os.WTERMSIG(status)}" if os.WIFSIGNALED(status)
                else f"exit-{os.WEXITSTATUS(status)}"
            )
            break
        if time.monotonic() > deadline:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            statuses.append("hung")
            break
        time.sleep(0.01)
stop.set()
for caller in callers:
    caller.join(10)
client.close()
print(" ".join(statuses))
print("errors", len(errors))
"""


@pytest.mark.parametrize("reads", ["plain", "coalesce"])
def test_fork_while_another_thread_is_calling(server: EtcdServer, reads: str) -> None:
    """A web app's worker thread keeps calling while another thread forks.

    gRPC's fork support pauses gRPC's own threads, not the application's: without help a
    child hung in gRPC's fork handler in 10 of 10 tries (20 of 20 with raw grpcio); the
    client's calls hold a fork back (fork.enter_call). Run in a fresh interpreter that
    uses only the sync client: in a process that used grpc.aio before (this test run's
    asyncio tests), gRPC's aio threads stay, and children can still hang (README).
    """
    environ = {k: v for k, v in os.environ.items() if k != "GRPC_ENABLE_FORK_SUPPORT"}
    result = subprocess.run(
        [sys.executable, "-c", CALLING_SCRIPT, server.endpoint, str(FORKS), reads],
        env=environ,
        capture_output=True,
        text=True,
        timeout=60 + 16 * FORKS,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    statuses, errors = result.stdout.splitlines()[-2:]
    assert statuses.split() == ["exit-0"] * FORKS, result.stderr[-3000:]
    assert errors == "errors 0"


def _mp_worker(endpoint: str, key: str) -> None:
    with etcdgen.Client(endpoint) as client:
        client.put(key, "from-a-process")


def test_multiprocessing_fork_start_method(
    server: EtcdServer, parent_client: etcdgen.Client
) -> None:
    prefix = f"fork/{uuid.uuid4().hex}"
    context = multiprocessing.get_context("fork")
    processes = [
        context.Process(target=_mp_worker, args=(server.endpoint, f"{prefix}/{i}"))
        for i in range(4)
    ]
    for process in processes:
        process.start()
    try:
        for process in processes:
            process.join(CHILD_DEADLINE)
    finally:
        hung = [p.pid for p in processes if p.is_alive()]
        for process in processes:
            if process.is_alive():
                process.kill()
                process.join(5)
    assert not hung, f"processes still running after {CHILD_DEADLINE} s: {hung}"
    assert [p.exitcode for p in processes] == [0] * len(processes)
    reply = parent_client.get(f"{prefix}/", prefix=True)
    assert sorted(kv.key for kv in reply.kvs) == sorted(f"{prefix}/{i}".encode() for i in range(4))


ASYNC_CLOSED_SCRIPT = """
import asyncio, os, signal, sys, time
import etcdgen

endpoint, forks = sys.argv[1], int(sys.argv[2])

async def use(key):
    async with etcdgen.AsyncClient(endpoint) as client:
        await client.put(key, "v")
        return [kv.value for kv in (await client.get(key)).kvs]

assert asyncio.run(use("fork/async-closed/parent")) == [b"v"]
statuses = []
for i in range(forks):
    pid = os.fork()
    if pid == 0:
        try:
            ok = asyncio.run(asyncio.wait_for(use(f"fork/async-closed/{i}"), 20)) == [b"v"]
        except BaseException:
            ok = False
        os._exit(0 if ok else 3)
    deadline = time.monotonic() + 30
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            statuses.append(
                f"signal-{os.WTERMSIG(status)}" if os.WIFSIGNALED(status)
                else f"exit-{os.WEXITSTATUS(status)}"
            )
            break
        if time.monotonic() > deadline:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            statuses.append("hung")
            break
        time.sleep(0.01)
print(" ".join(statuses))
"""


def test_async_client_closed_before_fork_leaves_the_child_a_clean_start(
    server: EtcdServer,
) -> None:
    """grpc.aio state is process-wide: a child starts clean once the parent's is released.

    An AsyncClient that is closed before the fork must not keep grpc.aio alive (its
    channels are released on close), so that an AsyncClient made in the child works.
    Run in a fresh interpreter: the premise is about the whole process, which other
    tests in this one would share.
    """
    forks = 5
    result = subprocess.run(
        [sys.executable, "-c", ASYNC_CLOSED_SCRIPT, server.endpoint, str(forks)],
        capture_output=True,
        text=True,
        timeout=60 + 35 * forks,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.split() == ["exit-0"] * forks, (fork_support(), result.stderr[-3000:])


NORMAL_EXIT_SCRIPT = """
import os, signal, sys, time
import etcdgen

endpoint, forks = sys.argv[1], int(sys.argv[2])
client = etcdgen.Client(endpoint)
client.put("fork/normal-exit", "parent")
statuses = []
for i in range(forks):
    pid = os.fork()
    if pid == 0:
        try:
            client.get("fork/normal-exit")
        except etcdgen.EtcdError:
            pass
        with etcdgen.Client(endpoint) as new:
            new.put(f"fork/normal-exit/{i}", "child")
        sys.exit(0)  # a normal interpreter exit (finalizers run), as gunicorn's workers do
    deadline = time.monotonic() + 30
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            statuses.append(
                f"signal {os.WTERMSIG(status)}" if os.WIFSIGNALED(status)
                else f"exit {os.WEXITSTATUS(status)}"
            )
            break
        if time.monotonic() > deadline:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            statuses.append("hung")
            break
        time.sleep(0.01)
client.put("fork/normal-exit", "parent-after")
client.close()
print(" ".join(s.replace(" ", "-") for s in statuses))
"""


def test_children_that_exit_normally(server: EtcdServer) -> None:
    """A fresh interpreter (etcdgen imported first, as an application does) whose children
    end with sys.exit: interpreter finalization in the child must not hang or crash."""
    forks = 5
    environ = {k: v for k, v in os.environ.items() if k != "GRPC_ENABLE_FORK_SUPPORT"}
    result = subprocess.run(
        [sys.executable, "-c", NORMAL_EXIT_SCRIPT, server.endpoint, str(forks)],
        env=environ,
        capture_output=True,
        text=True,
        timeout=60 + 35 * forks,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.split() == ["exit-0"] * forks, result.stderr[-3000:]


# --- etcdgen turns gRPC's fork support on before grpc is imported ----------------------------


def _fresh_interpreter(code: str, **env: str) -> str:
    environ = {k: v for k, v in os.environ.items() if k != "GRPC_ENABLE_FORK_SUPPORT"}
    environ.update(env)
    result = subprocess.run(
        [sys.executable, "-c", code],
        env=environ,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return result.stdout.strip()


PROBE = (
    "import os, etcdgen; from etcdgen._core import fork; "
    "print(os.environ.get('GRPC_ENABLE_FORK_SUPPORT'), fork.grpc_fork_support_enabled())"
)


def test_importing_etcdgen_enables_grpc_fork_support() -> None:
    assert _fresh_interpreter(PROBE) == "1 True"


def test_an_explicit_choice_of_the_user_wins() -> None:
    assert _fresh_interpreter(PROBE, GRPC_ENABLE_FORK_SUPPORT="0") == "0 False"


# --- the fork hook itself (etcdgen._core.fork, with dummy owners) ----------------------------


class Owner:
    def __init__(self) -> None:
        self.calls = 0

    def _after_fork_in_child(self) -> None:
        self.calls += 1


class BrokenOwner:
    def _after_fork_in_child(self) -> None:
        raise RuntimeError("boom")


def test_track_calls_the_hook_in_the_child_only() -> None:
    from etcdgen._core import fork

    owner = Owner()
    fork.track(owner)
    fork.track(owner)  # twice is once
    generation = fork.fork_generation()
    parent_pid = os.getpid()

    def child() -> None:
        if owner.calls != 1:
            raise ChildFailed(21, f"hook ran {owner.calls} times in the child")
        if fork.fork_generation() != generation + 1:
            raise ChildFailed(22, f"generation {fork.fork_generation()} after {generation}")
        if fork.current_pid() != os.getpid() or os.getpid() == parent_pid:
            raise ChildFailed(23, f"current_pid() {fork.current_pid()} in {os.getpid()}")

    failure = run_in_child(child)
    assert failure is None, failure
    assert owner.calls == 0
    assert fork.fork_generation() == generation
    assert fork.current_pid() == parent_pid


def test_one_failing_hook_does_not_stop_the_others() -> None:
    from etcdgen._core import fork

    broken, owner = BrokenOwner(), Owner()
    fork.track(broken)
    fork.track(owner)

    def child() -> None:
        if owner.calls != 1:
            raise ChildFailed(21, f"hook ran {owner.calls} times in the child")

    failure = run_in_child(child)
    assert failure is None, failure


def test_owners_are_held_weakly() -> None:
    import gc
    import weakref

    from etcdgen._core import fork

    owner = Owner()
    fork.track(owner)
    ref = weakref.ref(owner)
    gc.collect()
    count = fork.tracked_count()
    del owner
    assert ref() is None
    assert fork.tracked_count() <= count - 1


def test_track_needs_the_hook_method() -> None:
    from etcdgen._core import fork

    with pytest.raises(TypeError, match="_after_fork_in_child"):
        fork.track(object())


def test_prepare_environment_keeps_an_explicit_choice(monkeypatch: pytest.MonkeyPatch) -> None:
    from etcdgen._core import fork

    monkeypatch.delenv("GRPC_ENABLE_FORK_SUPPORT", raising=False)
    fork.prepare_environment()
    assert os.environ["GRPC_ENABLE_FORK_SUPPORT"] == "1"
    monkeypatch.setenv("GRPC_ENABLE_FORK_SUPPORT", "0")
    fork.prepare_environment()
    assert os.environ["GRPC_ENABLE_FORK_SUPPORT"] == "0"


def test_abandoned_objects_stay_alive() -> None:
    import gc
    import weakref

    from etcdgen._core import fork

    owner = Owner()
    ref = weakref.ref(owner)
    fork.abandon(owner)
    del owner
    gc.collect()
    assert ref() is not None


def test_guard_holds_a_fork_back_until_the_call_ends() -> None:
    import threading

    from etcdgen._core import fork

    inside, stop = threading.Event(), threading.Event()

    def call() -> None:
        with fork.guard():
            inside.set()
            stop.wait(0.5)

    thread = threading.Thread(target=call)
    thread.start()
    inside.wait(5)
    started = time.monotonic()
    failure = run_in_child(lambda: None)
    assert failure is None, failure
    waited = time.monotonic() - started
    thread.join(5)
    assert 0.3 < waited < fork.DRAIN_TIMEOUT, waited


def test_guard_gives_up_after_the_drain_timeout(monkeypatch: pytest.MonkeyPatch) -> None:
    import threading

    from etcdgen._core import fork

    monkeypatch.setattr(fork, "DRAIN_TIMEOUT", 0.2)
    inside, stop = threading.Event(), threading.Event()

    def stuck_call() -> None:
        with fork.guard():
            inside.set()
            stop.wait(10)

    def child() -> None:
        with fork.guard():  # a fresh gate: the stuck thread does not exist here
            pass

    thread = threading.Thread(target=stuck_call)
    thread.start()
    inside.wait(5)
    try:
        started = time.monotonic()
        failure = run_in_child(child, deadline=10)
        assert failure is None, failure
        waited = time.monotonic() - started
    finally:
        stop.set()
        thread.join(5)
    assert 0.15 < waited < 5, waited
    with fork.guard():  # the parent's gate is open again
        pass


def test_a_thread_that_forks_inside_its_guard_does_not_wait_for_itself() -> None:
    from etcdgen._core import fork

    def child() -> None:
        with fork.guard(), fork.guard():
            pass

    with fork.guard():
        started = time.monotonic()
        failure = run_in_child(child)
        assert failure is None, failure
        assert time.monotonic() - started < fork.DRAIN_TIMEOUT
    with fork.guard():
        pass


def test_aio_usable_is_per_process_and_inherited() -> None:
    from etcdgen._core import fork

    assert fork.aio_usable()

    def grandchild() -> None:
        if fork.aio_usable():
            raise ChildFailed(31, "a grandchild forgot that grpc.aio was inherited")

    def child() -> None:
        fork.mark_aio_unusable()
        if fork.aio_usable():
            raise ChildFailed(32, "mark_aio_unusable() had no effect")
        failure = run_in_child(grandchild)
        if failure is not None:
            raise ChildFailed(33, failure)

    failure = run_in_child(child)
    assert failure is None, failure
    assert fork.aio_usable()
