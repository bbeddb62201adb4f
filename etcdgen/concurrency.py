"""Go's `client/v3/concurrency` recipes: sessions, locks and elections.

    from etcdgen.concurrency import Session, Mutex, Election
    with Session(client, ttl=60) as session, Mutex(session, "locks/job"):
        ...

The asyncio forms carry an `Async` prefix in this same module (`AsyncSession`,
`AsyncMutex`, `AsyncElection`), as `AsyncClient` does beside `Client`. Key
layouts and waiting are Go's, so these interoperate with Go services and with
`etcdctl lock` / `etcdctl elect` (see `etcdgen/_async/concurrency.py`).
"""

from __future__ import annotations

from ._async.concurrency import AsyncElection, AsyncLockHold, AsyncMutex, AsyncSession
from ._async.stm import AsyncSTM, async_stm
from ._core.errors import (
    ElectionNotLeaderError,
    LockedError,
    NoLeaderElectedError,
    SessionExpiredError,
    STMConflictError,
)
from ._sync.concurrency import Election, LockHold, Mutex, Session
from ._sync.stm import STM, Isolation, stm

__all__ = [
    "STM",
    "AsyncElection",
    "AsyncLockHold",
    "AsyncMutex",
    "AsyncSTM",
    "AsyncSession",
    "Election",
    "ElectionNotLeaderError",
    "Isolation",
    "LockHold",
    "LockedError",
    "Mutex",
    "NoLeaderElectedError",
    "STMConflictError",
    "Session",
    "SessionExpiredError",
    "async_stm",
    "stm",
]
