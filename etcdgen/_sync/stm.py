# Generated from etcdgen/_async/stm.py by scripts/unasync.py. Do not edit.
"""`stm`: software transactional memory over etcd transactions (blocking)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Literal

from .._core.errors import STMConflictError
from .._core.timeout import DEFAULT, Timeout
from .._core.validate import choice, integer
from ..generated.etcdserverpb import rpc_pb2
from ..kv import Compare, KeyLike, LeaseLike, Op, to_bytes
from .client import Client

Isolation = Literal["serializable_snapshot", "serializable", "repeatable_reads", "read_committed"]
_LEVELS: dict[str, str] = {name: name for name in Isolation.__args__}  # type: ignore[attr-defined]
_SNAPSHOT_LEVELS = ("serializable_snapshot", "serializable")


class STM:
    """The transaction handed to `apply`: reads, buffered writes, one commit."""

    def __init__(self, client: Client, isolation: str, timeout: Timeout) -> None:
        self._client = client
        self._isolation = isolation
        self._timeout = timeout
        self._reads: dict[bytes, rpc_pb2.RangeResponse] = {}
        self._writes: dict[bytes, tuple[bytes | None, rpc_pb2.RequestOp]] = {}
        self._prefetched: dict[bytes, rpc_pb2.RangeResponse] = {}
        #: The revision all reads use (snapshot levels), fixed by the first read.
        self._revision: int | None = None
        #: How many times `apply` ran (1 without conflicts).
        self.attempts = 0

    def get(self, key: KeyLike) -> bytes | None:
        """The key's value as this transaction sees it; None if it does not exist."""
        raw = to_bytes(key)
        if raw in self._writes:
            return self._writes[raw][0]
        found = self._read(raw)
        return found.kvs[0].value if found.kvs else None

    def rev(self, key: KeyLike) -> int:
        """The key's mod revision as read (0 if it does not exist)."""
        found = self._read(to_bytes(key))
        return found.kvs[0].mod_revision if found.kvs else 0

    def put(self, key: KeyLike, value: KeyLike, *, lease: LeaseLike | None = None) -> None:
        raw, data = to_bytes(key), to_bytes(value, "value")
        self._writes[raw] = (data, Op.put(raw, data, lease=lease))

    def delete(self, key: KeyLike) -> None:
        raw = to_bytes(key)
        self._writes[raw] = (None, Op.delete(raw))

    def _read(self, key: bytes) -> rpc_pb2.RangeResponse:
        found = self._reads.get(key)
        if found is not None:
            return found
        found = self._prefetched.pop(key, None)
        if found is None:
            snapshot = self._isolation in _SNAPSHOT_LEVELS
            found = self._client.get(
                key,
                revision=self._revision if snapshot else None,
                # The first snapshot read is linearizable; the rest read at its revision.
                serializable=not snapshot or self._revision is not None,
                timeout=self._timeout,
            )
        if self._revision is None and self._isolation in _SNAPSHOT_LEVELS:
            self._revision = found.header.revision
        self._reads[key] = found
        return found

    def _reset(self) -> None:
        self._reads = {}
        self._writes = {}
        self._revision = None

    def _guards(self) -> list[rpc_pb2.Compare]:
        if self._isolation == "read_committed":
            return []
        guards = [
            Compare.mod_revision(key) == (found.kvs[0].mod_revision if found.kvs else 0)
            for key, found in self._reads.items()
        ]
        if self._isolation == "serializable_snapshot" and self._revision is not None:
            guards += [Compare.mod_revision(key) < self._revision + 1 for key in self._writes]
        return guards

    def _commit(self) -> rpc_pb2.TxnResponse | None:
        keys = list(self._reads)
        prefetch = self._isolation in _SNAPSHOT_LEVELS
        reply = self._client.txn(
            compare=self._guards(),
            success=[op for _, op in self._writes.values()],
            failure=[Op.get(key) for key in keys] if prefetch else [],
            timeout=self._timeout,
        )
        if reply.succeeded:
            return reply
        if prefetch:
            for key, response in zip(keys, reply.responses, strict=True):
                found = rpc_pb2.RangeResponse()
                found.CopyFrom(response.response_range)
                found.header.CopyFrom(reply.header)
                self._prefetched[key] = found
        return None


def stm(
    client: Client,
    apply: Callable[[STM], object],
    *,
    isolation: Isolation = "serializable_snapshot",
    prefetch: Iterable[KeyLike] = (),
    max_attempts: int | None = None,
    timeout: Timeout = DEFAULT,
) -> rpc_pb2.TxnResponse:
    """Run `apply(txn)` until its writes commit without a conflict; returns the commit.

    An exception from `apply` aborts (nothing is written) and propagates.
    `max_attempts` bounds the retries (None: as Go, until it commits); past it,
    `STMConflictError` is raised.
    """
    level = choice("isolation", isolation, _LEVELS)
    limit = None if max_attempts is None else integer("max_attempts", max_attempts, minimum=1)
    txn = STM(client, level, timeout)
    keys = [to_bytes(key) for key in prefetch]
    while True:
        txn._reset()
        txn.attempts += 1
        for key in keys:
            txn._read(key)
        apply(txn)
        committed = txn._commit()
        if committed is not None:
            return committed
        if limit is not None and txn.attempts >= limit:
            raise STMConflictError(
                f"the transaction conflicted {txn.attempts} times (max_attempts={limit})"
            )
