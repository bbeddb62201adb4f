"""Read coalescing (`coalesce_reads=True`): the rules, without I/O.

Gets that wait at the same time are sent as one read-only `Txn` of `Range` ops.
There is no timer: the first get of a quiet client goes out at once as a plain
`Range`; gets that arrive while it (or a batch) is in flight queue, and the queue
goes out as one batch when the call in flight returns. So a lone get costs what it
costs without coalescing, and under load a batch forms by itself from the gets that
arrived during one round trip. At most one call is in flight per group: the
linearizable gets and the serializable ones are two groups (etcd serves a read-only
txn without a ReadIndex round only when all its ranges are serializable).

What a caller sees is what a plain `Range` would have given it:

- each get's options (revision, limit, keys_only, sort, ...) are its own op's;
- each caller gets its own `RangeResponse`, whose header is the txn's header (the
  cluster, member, raft term and current revision, as a plain Range reports them);
- a batch is sent after every get in it was issued, so each still reads a state at
  least as new as the moment it was called. What changes: all gets of a batch read at
  one revision (the same store snapshot), which a caller cannot tell from a Range
  that happened at that moment;
- if the batch fails, every caller still waiting sends its own plain Range (with the
  time it has left), so an error that belongs to one op (a compacted or future
  revision, a key the user may not read, a response too large) reaches only that
  caller, and every other caller gets its own outcome;
- timeouts and cancellation are per caller: a caller whose time runs out stops
  waiting and raises `DeadlineExceededError`; the batch goes on for the others. The
  batch call is given the longest time any of its callers has left, and is sent by
  the caller with that time (the sync driver) or by a task (asyncio).

Bounds: at most `max_ops` ops in one txn (etcd's default `--max-txn-ops` is 128), and
at most `max_keys` keys expected back (a single-key get counts 1, a range with a
limit counts its limit, a count-only range 0), which bounds the response. A range
with no limit (a prefix scan) can return any amount and gains little from batching,
so it is never coalesced: it goes out at once on its own.
"""

from __future__ import annotations

from collections import Counter, deque
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

import grpc

from ..generated.errors import DeadlineExceededError
from ..generated.etcdserverpb import rpc_pb2
from ..generated.methods import KV_TXN
from .spec import Effect, MethodPolicy, MethodSpec, RetryClass
from .validate import integer

#: etcd's default `--max-txn-ops`.
DEFAULT_MAX_OPS = 128
DEFAULT_MAX_KEYS = 1024

#: The batch: a Txn without compares or writes, which is a read, so it may be resent
#: and moved to another member like a Range (the generated Txn spec cannot say so,
#: since a Txn may write).
READ_ONLY_TXN: MethodSpec[rpc_pb2.TxnRequest, rpc_pb2.TxnResponse] = MethodSpec(
    KV_TXN.path,
    rpc_pb2.TxnRequest,
    rpc_pb2.TxnResponse,
    KV_TXN.kind,
    MethodPolicy(RetryClass.SAFE, Effect.READ, since=KV_TXN.policy.since),
)


@dataclass(frozen=True, slots=True)
class CoalesceSettings:
    """`coalesce_reads=CoalesceSettings(...)`: the bounds of one batch.

    Attributes:
        max_ops: most gets in one txn (keep it <= the server's `--max-txn-ops`, 128
            by default; a txn over it fails and its gets are re-sent one by one).
        max_keys: most keys a batch may return (a single-key get counts 1, a
            range with `limit=N` counts N, a count-only range 0).
    """

    max_ops: int = DEFAULT_MAX_OPS
    max_keys: int = DEFAULT_MAX_KEYS

    def __post_init__(self) -> None:
        integer("CoalesceSettings.max_ops", self.max_ops, minimum=1)
        integer("CoalesceSettings.max_keys", self.max_keys, minimum=1)


def coalesce_settings(value: object) -> CoalesceSettings | None:
    """The `coalesce_reads=` argument: False/None (off), True (defaults) or settings."""
    if value is None or value is False:
        return None
    if value is True:
        return CoalesceSettings()
    if isinstance(value, CoalesceSettings):
        return value
    raise TypeError(
        f"coalesce_reads must be True, False or an etcdgen.CoalesceSettings, "
        f"not {type(value).__name__}"
    )


def coalescible(request: rpc_pb2.RangeRequest) -> bool:
    """Whether a get may join a batch (not an unlimited range: see the docstring)."""
    return not request.range_end or request.limit > 0 or request.count_only


def expected_keys(request: rpc_pb2.RangeRequest) -> int:
    if request.count_only:
        return 0
    return request.limit if request.range_end else 1


WaiterT = TypeVar("WaiterT")


@dataclass(eq=False, slots=True)
class Pending(Generic[WaiterT]):
    """One queued get; `waiter` is the driver's way to wake its caller."""

    request: rpc_pb2.RangeRequest
    #: time.monotonic() by which the caller stops waiting; None: never.
    deadline: float | None
    #: The caller's timeout in seconds, for its error message.
    timeout: float | None
    waiter: WaiterT
    #: The caller stopped waiting (timed out, cancelled): leave it out of batches.
    abandoned: bool = False


@dataclass(slots=True)
class Group(Generic[WaiterT]):
    """The gets of one kind (linearizable or serializable) of one client."""

    #: A call of this group is in flight: new gets queue behind it.
    busy: bool = False
    queue: deque[Pending[WaiterT]] = field(default_factory=deque)

    def take(self, settings: CoalesceSettings) -> list[Pending[WaiterT]]:
        """The next batch, oldest first, within the bounds; [] frees the group."""
        batch: list[Pending[WaiterT]] = []
        keys = 0
        queue = self.queue
        while queue and len(batch) < settings.max_ops:
            pending = queue[0]
            if pending.abandoned:
                queue.popleft()
                continue
            wanted = expected_keys(pending.request)
            if batch and keys + wanted > settings.max_keys:
                break
            keys += wanted
            batch.append(queue.popleft())
        if not batch:
            self.busy = False
        return batch


def batch_timeout(batch: list[Pending[WaiterT]], now: float) -> float | None:
    """The longest time any caller of the batch has left (None: one has no deadline)."""
    latest = 0.0
    for pending in batch:
        if pending.deadline is None:
            return None
        latest = max(latest, pending.deadline)
    return max(latest - now, 0.001)


def batch_request(batch: list[Pending[WaiterT]]) -> rpc_pb2.TxnRequest:
    return rpc_pb2.TxnRequest(
        success=[rpc_pb2.RequestOp(request_range=pending.request) for pending in batch]
    )


def split_response(response: rpc_pb2.TxnResponse) -> list[rpc_pb2.RangeResponse]:
    """Each op's RangeResponse, with the txn's header (as a plain Range would carry)."""
    header = response.header
    results = []
    for op in response.responses:
        result = op.response_range
        result.header.CopyFrom(header)
        results.append(result)
    return results


def waited_too_long(pending: Pending[Any]) -> DeadlineExceededError:
    return DeadlineExceededError(
        f"Range did not complete within its {pending.timeout:g} s timeout (it was "
        "waiting in a batch of coalesced reads)",
        grpc.StatusCode.DEADLINE_EXCEEDED,
    )


@dataclass
class ReadBatchStats:
    """What coalescing did (`client.read_batch_stats()`)."""

    #: Batch size -> how many calls of that size were sent (1: a plain Range).
    sizes: Counter[int] = field(default_factory=Counter)
    #: Gets re-sent on their own after their batch failed.
    resent_alone: int = 0

    def copy(self) -> ReadBatchStats:
        return ReadBatchStats(Counter(self.sizes), self.resent_alone)
