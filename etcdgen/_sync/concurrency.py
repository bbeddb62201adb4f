# Generated from etcdgen/_async/concurrency.py by scripts/unasync.py. Do not edit.
"""`Session`, `Mutex`, `Election`: Go's `concurrency` recipes, blocking."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from types import TracebackType
from typing import TYPE_CHECKING

from .._core.errors import (
    ElectionNotLeaderError,
    LeaseExpiredError,
    LockedError,
    NoLeaderElectedError,
    SessionExpiredError,
)
from .._core.timeout import DEFAULT, Timeout
from ..generated.etcdserverpb import rpc_pb2
from ..generated.mvccpb import kv_pb2
from ..kv import Compare, KeyLike, Op, to_bytes
from .lease import Lease

if TYPE_CHECKING:
    from .client import Client

_LOG = logging.getLogger("etcdgen")

RECHECK_INTERVAL = 5.0
"""Seconds between a lock or election waiter's re-reads of the key it waits on."""


class Session:
    """A lease kept alive for the recipes: `with Session(client, ttl=60) as s:`.

    `lease_id`; `lost` (an event set when the lease is lost, e.g. the process was
    paused past the TTL); closing revokes the lease, releasing every lock and
    leadership taken with this session.
    """

    def __init__(self, client: Client, ttl: int = 60, *, lease_id: int | None = None) -> None:
        self.client = client
        self._lease: Lease = client.lease(ttl, id=lease_id)

    @property
    def lease_id(self) -> int:
        return self._lease.id

    @property
    def lease(self) -> Lease:
        return self._lease

    @property
    def lost(self) -> object:
        """Set when the session's lease is lost (`threading.Event` / `asyncio.Event`)."""
        return self._lease.lost

    def check(self) -> None:
        """Raise `SessionExpiredError` if the session's lease was lost."""
        try:
            self._lease.check()
        except LeaseExpiredError as error:
            raise SessionExpiredError(
                f"the session's {error}; locks and leadership taken with it are lost"
            ) from error

    def open(self) -> Session:
        self._lease.grant()
        return self

    def close(self) -> None:
        self._lease.revoke()

    def __enter__(self) -> Session:
        return self.open()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def _hex_key(prefix: bytes, lease_id: int) -> bytes:
    return prefix + format(lease_id, "x").encode()


def _wait_deletes(
    client: Client, prefix: bytes, max_create_revision: int, timeout: Timeout
) -> None:
    """Wait until no key under `prefix` has a create revision <= `max_create_revision`."""
    while True:
        reply = client.get(
            prefix,
            prefix=True,
            sort_order="descend",
            sort_target="create",
            limit=1,
            max_create_revision=max_create_revision,
            timeout=timeout,
        )
        if not reply.kvs:
            return
        _wait_delete(client, reply.kvs[0].key, reply.header.revision)


def _wait_delete(client: Client, key: bytes, revision: int) -> None:
    """Wait for the delete of `key`, which existed at `revision`."""
    with client.watch(key, start_revision=revision + 1, filters=("noput",)) as watch:
        while True:
            response = watch.get(timeout=RECHECK_INTERVAL)
            if response is not None:
                if any(e.type == kv_pb2.Event.DELETE for e in response.events):
                    return
                continue
            if watch.ended:
                return  # cancelled or the client closed: the caller's next call says which
            found = client.get(key)
            # Gone, or deleted and made again (a later create revision): the wait is over.
            if not found.kvs or found.kvs[0].create_revision > revision:
                _LOG.warning(
                    "etcdgen: %r was deleted but its watch did not report it within %g s; "
                    "found by re-reading it",
                    key,
                    RECHECK_INTERVAL,
                )
                return


class Mutex:
    """A lock shared with Go's `concurrency.Mutex` and `etcdctl lock`.

    `with Mutex(session, "locks/job"):`, or `lock()` / `try_lock()` /
    `unlock()`. While held: `key`, `revision` (create revision, for fencing) and
    `is_owner()` (a txn compare).
    """

    def __init__(self, session: Session, prefix: KeyLike) -> None:
        self.session = session
        self.prefix = to_bytes(prefix, "prefix") + b"/"
        self._key: bytes | None = None
        self._revision = 0

    @property
    def key(self) -> bytes:
        if self._key is None:
            raise RuntimeError("the mutex is not held")
        return self._key

    @property
    def revision(self) -> int:
        """The create revision of the held key (fence writes with it)."""
        return self._revision

    def is_owner(self) -> rpc_pb2.Compare:
        """The txn compare "this mutex is still held by us"."""
        return Compare.create_revision(self.key) == self._revision

    def _try_acquire(self, timeout: Timeout) -> rpc_pb2.RangeResponse:
        session = self.session
        session.check()
        key = _hex_key(self.prefix, session.lease_id)
        owner = Op.get(self.prefix, prefix=True, sort_order="ascend", sort_target="create", limit=1)
        reply = session.client.txn(
            compare=[Compare.create_revision(key) == 0],
            success=[Op.put(key, b"", lease=session.lease_id), owner],
            failure=[Op.get(key), owner],
            timeout=timeout,
        )
        self._key = key
        if reply.succeeded:
            self._revision = reply.header.revision
        else:
            self._revision = reply.responses[0].response_range.kvs[0].create_revision
        return reply.responses[1].response_range

    def _holds(self, owners: rpc_pb2.RangeResponse) -> bool:
        return not owners.kvs or owners.kvs[0].create_revision == self._revision

    def try_lock(self, *, timeout: Timeout = DEFAULT) -> None:
        """Take the lock now, or raise `LockedError` if another session holds it."""
        owners = self._try_acquire(timeout)
        if self._holds(owners):
            return
        self.session.client.delete(self.key, timeout=timeout)
        self._key, self._revision = None, 0
        raise LockedError(
            f"{self.prefix.decode(errors='replace').rstrip('/')} is held by "
            f"{owners.kvs[0].key.decode(errors='replace')}"
        )

    def lock(self, *, timeout: Timeout = DEFAULT) -> None:
        """Take the lock, waiting behind the sessions that asked before this one."""
        owners = self._try_acquire(timeout)
        if self._holds(owners):
            return
        try:
            _wait_deletes(self.session.client, self.prefix, self._revision - 1, timeout)
            reply = self.session.client.get(self.key, timeout=timeout)
        except BaseException:
            self._give_up()
            raise
        if not reply.kvs:  # our key went while we waited: the session expired
            self._key, self._revision = None, 0
            self.session.check()
            raise SessionExpiredError(
                "the lock's key was deleted while waiting (its session's lease expired)"
            )

    def _give_up(self) -> None:
        key, self._key, self._revision = self._key, None, 0
        if key is not None:
            # The caller's own error matters more; the lease cleans up if this fails.
            with contextlib.suppress(Exception):
                self.session.client.delete(key)

    def unlock(self, *, timeout: Timeout = DEFAULT) -> None:
        if self._key is None:
            return
        key, self._key, self._revision = self._key, None, 0
        self.session.client.delete(key, timeout=timeout)

    def __enter__(self) -> Mutex:
        self.lock()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.unlock()


class LockHold:
    """`with client.lock(name, ttl=60):` a session of its own and a mutex on it."""

    def __init__(self, client: Client, name: KeyLike, ttl: int, timeout: Timeout) -> None:
        self._session = Session(client, ttl)
        self._mutex = Mutex(self._session, name)
        self._timeout = timeout

    @property
    def mutex(self) -> Mutex:
        return self._mutex

    def __enter__(self) -> Mutex:
        self._session.open()
        try:
            self._mutex.lock(timeout=self._timeout)
        except BaseException:
            self._session.close()
            raise
        return self._mutex

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._session.close()  # revoking the lease deletes the lock key


class Election:
    """A leader election shared with Go's `concurrency.Election` and `etcdctl elect`."""

    def __init__(self, session: Session, prefix: KeyLike) -> None:
        self.session = session
        self.prefix = to_bytes(prefix, "prefix") + b"/"
        self._key: bytes | None = None
        self._revision = 0

    @property
    def key(self) -> bytes:
        if self._key is None:
            raise RuntimeError("not campaigning")
        return self._key

    @property
    def revision(self) -> int:
        return self._revision

    def campaign(self, value: KeyLike, *, timeout: Timeout = DEFAULT) -> None:
        """Become the leader with `value`, waiting behind the candidates before this one."""
        session = self.session
        session.check()
        key = _hex_key(self.prefix, session.lease_id)
        proposal = to_bytes(value, "value")
        reply = session.client.txn(
            compare=[Compare.create_revision(key) == 0],
            success=[Op.put(key, proposal, lease=session.lease_id)],
            failure=[Op.get(key)],
            timeout=timeout,
        )
        self._key = key
        if reply.succeeded:
            self._revision = reply.header.revision
        else:
            existing = reply.responses[0].response_range.kvs[0]
            self._revision = existing.create_revision
            if existing.value != proposal:
                self.proclaim(proposal, timeout=timeout)
        try:
            _wait_deletes(session.client, self.prefix, self._revision - 1, timeout)
        except BaseException:
            self.resign()
            raise
        mine = session.client.get(key, timeout=timeout)
        if not mine.kvs:
            self._key, self._revision = None, 0
            session.check()
            raise SessionExpiredError("the campaign's key was deleted while waiting")

    def proclaim(self, value: KeyLike, *, timeout: Timeout = DEFAULT) -> None:
        """Change the leader's value without an election (only the leader may)."""
        if self._key is None:
            raise ElectionNotLeaderError("proclaim() needs a won campaign() first")
        reply = self.session.client.txn(
            compare=[Compare.create_revision(self._key) == self._revision],
            success=[Op.put(self._key, value, lease=self.session.lease_id)],
            timeout=timeout,
        )
        if not reply.succeeded:
            self._key, self._revision = None, 0
            raise ElectionNotLeaderError("this session is no longer the leader")

    def resign(self, *, timeout: Timeout = DEFAULT) -> None:
        """Give up leadership (or the candidacy); the next candidate becomes leader."""
        if self._key is None:
            return
        key, revision = self._key, self._revision
        self._key, self._revision = None, 0
        self.session.client.txn(
            compare=[Compare.create_revision(key) == revision],
            success=[Op.delete(key)],
            timeout=timeout,
        )

    def leader(self, *, timeout: Timeout = DEFAULT) -> kv_pb2.KeyValue:
        """The current leader's key-value (`NoLeaderElectedError` if there is none)."""
        reply = self.session.client.get(
            self.prefix,
            prefix=True,
            sort_order="ascend",
            sort_target="create",
            limit=1,
            timeout=timeout,
        )
        if not reply.kvs:
            raise NoLeaderElectedError(f"no leader under {self.prefix.decode(errors='replace')}")
        return reply.kvs[0]

    def observe(self) -> Iterator[kv_pb2.KeyValue]:
        """The leader's key-value now and at every change (new leader or new value)."""
        client = self.session.client
        while True:
            reply = client.get(
                self.prefix, prefix=True, sort_order="ascend", sort_target="create", limit=1
            )
            revision = reply.header.revision
            if not reply.kvs:
                # No leader: wait for the first candidate to appear.
                with client.watch(
                    self.prefix, prefix=True, start_revision=revision + 1, filters=("nodelete",)
                ) as watch:
                    for response in watch:
                        if response.events:
                            break
                continue
            current = reply.kvs[0]
            yield current
            with client.watch(current.key, start_revision=revision + 1) as watch:
                for response in watch:
                    ended = False
                    for event in response.events:
                        if event.type == kv_pb2.Event.DELETE:
                            ended = True
                            break
                        if event.kv.value != current.value:
                            current = event.kv
                            yield current
                    if ended:
                        break
