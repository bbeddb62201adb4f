"""Process helpers for etcd children, and the registry that stops them at interpreter exit.

A clean environment for etcd/etcdctl, waiting until a process is stopped, log tails, and
the ``atexit`` hook that stops (SIGTERM, then SIGKILL) every server left running, so an
aborted test session leaves no etcd processes or temporary directories behind.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import platform
import signal
import subprocess
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .server import EtcdServer


STOP_TIMEOUT = 10.0
"""Seconds to wait after SIGTERM before escalating to SIGKILL."""
LOG_TAIL_LINES = 40
_TERMINATING_SIGNALS = frozenset({signal.SIGKILL, signal.SIGTERM, signal.SIGINT, signal.SIGQUIT})


def _clean_env(*drop_prefixes: str, extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """A copy of ``os.environ`` without variables that etcd/etcdctl would read as flags."""
    keep = {"ETCD_UNSUPPORTED_ARCH"}
    env = {
        k: v
        for k, v in os.environ.items()
        if k in keep or not any(k.startswith(p) for p in drop_prefixes)
    }
    if extra:
        env.update(extra)
    return env


def _go_arch() -> str:
    machine = platform.machine().lower()
    return {"x86_64": "amd64", "aarch64": "arm64", "i686": "386", "i386": "386"}.get(
        machine, machine
    )


def _wait_stopped(proc: subprocess.Popen[bytes], timeout: float) -> None:
    """Poll until the child ``proc`` is reported stopped (or gone), for at most ``timeout``.

    kill(SIGSTOP) returns before the kernel has stopped every thread of the process: a
    request sent right after it can still be answered.  ``WNOWAIT`` leaves the state for
    later waits, and ``WSTOPPED`` alone never reports (so never reaps) an exit, which stays
    Popen's to collect.
    """
    waitid = getattr(os, "waitid", None)
    if waitid is None:  # no waitid (e.g. Windows, where this module does not run anyway)
        return
    flags = os.WSTOPPED | os.WNOWAIT | os.WNOHANG
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if waitid(os.P_PID, proc.pid, flags) is not None:
                return
        except ChildProcessError:  # already reaped
            return
        if proc.poll() is not None:
            return
        time.sleep(0.001)


def _tail(path: Path, lines: int = LOG_TAIL_LINES, offset: int = 0) -> str:
    try:
        with path.open("rb") as f:
            f.seek(offset)
            data = f.read()
    except OSError:
        return ""
    return "\n".join(data.decode("utf-8", "replace").splitlines()[-lines:])


_live_lock = threading.Lock()
_live: dict[int, tuple[int, EtcdServer]] = {}
"""Servers holding a process or temporary files: id(server) -> (owner pid, server)."""


def _register(server: EtcdServer) -> None:
    with _live_lock:
        _live[id(server)] = (os.getpid(), server)


def _unregister(server: EtcdServer) -> None:
    with _live_lock:
        _live.pop(id(server), None)


@atexit.register
def _stop_all_servers() -> None:
    """Stop whatever is still running when the interpreter exits."""
    with _live_lock:
        # A forked child inherits the registry but must not stop its parent's servers.
        servers = [s for owner, s in _live.values() if owner == os.getpid()]
    for server in servers:
        with contextlib.suppress(Exception):
            server.stop()
