"""Run a function in a forked child and collect what it says (for the fork tests).

`run_forked(body, deadline)` forks; the child runs `body()`, writes the text it
returns (or the exception's repr) to a pipe and leaves with `os._exit` (0 on
success, 1 otherwise), never returning into pytest. The parent waits with a
bounded poll and kills a child still running at the deadline; a second before
it, the child writes every thread's stack to the pipe (and exits), so a hang
says where it waits.
"""

from __future__ import annotations

import faulthandler
import os
import signal
import time
from collections.abc import Callable

from polling import POLL_INTERVAL

_hang_dump_armed = False  # inherited by grandchildren: see arm_hang_dump


def arm_hang_dump(fd: int, deadline: float) -> None:
    """In a forked child: a second before the parent kills it as hung, write every
    thread's stack to `fd` and exit.

    Once per line of forks: faulthandler's watchdog thread does not survive a fork,
    and arming it again in a grandchild waits for ever for that thread (it first
    cancels the old one). A grandchild is bounded by its parent's kill instead.
    """
    global _hang_dump_armed
    if not _hang_dump_armed:
        _hang_dump_armed = True
        faulthandler.dump_traceback_later(max(deadline - 1, 1), exit=True, file=fd)


def run_forked(body: Callable[[], object], deadline: float) -> tuple[int | None, str]:
    """The child's wait status (None if it hung and was killed) and what it wrote."""
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child
        code = 1
        arm_hang_dump(write_end, deadline)
        try:
            os.write(write_end, str(body()).encode())
            code = 0
        except BaseException as error:
            os.write(write_end, repr(error).encode())
        os._exit(code)
    os.close(write_end)
    try:
        status = _wait(pid, deadline)
        chunks = []
        while chunk := os.read(read_end, 65536):
            chunks.append(chunk)
    finally:
        os.close(read_end)
    return status, b"".join(chunks).decode(errors="replace")


def _wait(pid: int, deadline: float) -> int | None:
    end = time.monotonic() + deadline
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return status
        if time.monotonic() > end:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            return None
        time.sleep(POLL_INTERVAL)
