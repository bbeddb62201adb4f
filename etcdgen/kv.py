"""Key-value requests, compares and transaction ops: everything but the I/O.

The sync `Client` and the asyncio `AsyncClient` build every request here, so
validation and option handling exist once. The option names follow Go's
clientv3 (`WithPrefix` -> `prefix=True`, `WithRev` -> `revision=`, ...).

    etcdgen.Compare.value("k") == "v"          # compare on a key's value
    etcdgen.Compare.version("k") > 0           # the key exists
    etcdgen.Op.put("k", "w"), etcdgen.Op.get("dir/", prefix=True)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Literal

from .generated.errors import EmptyKeyError
from .generated.etcdserverpb import rpc_pb2

KeyLike = str | bytes
SortOrder = Literal["none", "ascend", "descend"]
SortTarget = Literal["key", "version", "create", "mod", "value"]

_SORT_ORDERS = {
    "none": rpc_pb2.RangeRequest.NONE,
    "ascend": rpc_pb2.RangeRequest.ASCEND,
    "descend": rpc_pb2.RangeRequest.DESCEND,
}
_SORT_TARGETS = {
    "key": rpc_pb2.RangeRequest.KEY,
    "version": rpc_pb2.RangeRequest.VERSION,
    "create": rpc_pb2.RangeRequest.CREATE,
    "mod": rpc_pb2.RangeRequest.MOD,
    "value": rpc_pb2.RangeRequest.VALUE,
}
# "\0" as key or range end means "from the smallest key" / "to the end of the keyspace".
_ALL = b"\0"


def to_bytes(value: KeyLike, what: str = "key") -> bytes:
    """Keys and values are bytes in etcd; str is encoded as UTF-8."""
    if isinstance(value, bytes):
        return value
    if isinstance(value, str):
        return value.encode()
    if isinstance(value, (bytearray, memoryview)):
        return bytes(value)
    raise TypeError(f"{what} must be str or bytes, got {type(value).__name__}")


def prefix_end(prefix: bytes) -> bytes:
    """The range end that covers every key starting with `prefix`."""
    for index in range(len(prefix) - 1, -1, -1):
        if prefix[index] < 0xFF:
            return prefix[:index] + bytes([prefix[index] + 1])
    return _ALL  # all bytes 0xff (or empty): to the end of the keyspace


def _non_empty(key: KeyLike) -> bytes:
    raw = to_bytes(key)
    if not raw:
        raise EmptyKeyError(
            'key is empty: etcd requires a non-empty key (use prefix=True with "" for all keys)'
        )
    return raw


def key_range(
    key: KeyLike,
    *,
    range_end: KeyLike | None = None,
    prefix: bool = False,
    from_key: bool = False,
) -> tuple[bytes, bytes]:
    """(key, range_end) for one key, a prefix, an explicit range or "from key on"."""
    chosen = [name for name, on in (("prefix", prefix), ("from_key", from_key)) if on]
    if range_end is not None:
        chosen.append("range_end")
    if len(chosen) > 1:
        raise ValueError(
            f"use only one of prefix=, from_key= and range_end=; got {', '.join(chosen)}"
        )
    raw = to_bytes(key)
    if prefix:
        return (raw, prefix_end(raw)) if raw else (_ALL, _ALL)
    if from_key:
        return (raw or _ALL), _ALL
    if not raw:
        raise EmptyKeyError(
            'key is empty: etcd requires a non-empty key (use prefix=True with "" for all keys)'
        )
    return raw, (to_bytes(range_end, "range_end") if range_end is not None else b"")


def _choice(value: str, choices: Mapping[str, int], name: str) -> int:
    try:
        return choices[value]
    except KeyError:
        raise ValueError(f"{name} must be one of {', '.join(choices)}; got {value!r}") from None


def _revision(value: int | None, name: str) -> int:
    if value is None:
        return 0
    if value < 0:
        raise ValueError(f"{name} must be >= 0, got {value}")
    return value


def range_request(
    key: KeyLike,
    *,
    range_end: KeyLike | None = None,
    prefix: bool = False,
    from_key: bool = False,
    limit: int = 0,
    revision: int | None = None,
    sort_order: SortOrder = "none",
    sort_target: SortTarget = "key",
    serializable: bool = False,
    keys_only: bool = False,
    count_only: bool = False,
    min_mod_revision: int | None = None,
    max_mod_revision: int | None = None,
    min_create_revision: int | None = None,
    max_create_revision: int | None = None,
) -> rpc_pb2.RangeRequest:
    start, end = key_range(key, range_end=range_end, prefix=prefix, from_key=from_key)
    if limit < 0:
        raise ValueError(f"limit must be >= 0 (0 means no limit), got {limit}")
    if keys_only and count_only:
        raise ValueError("keys_only and count_only exclude each other (count_only returns no keys)")
    # Only the options actually set go to the constructor: fewer keyword arguments
    # is the cheapest way to build the message (this is on every get's path).
    options: dict[str, Any] = {"key": start, "range_end": end}
    for name, value in (
        ("limit", limit),
        ("revision", _revision(revision, "revision")),
        ("serializable", serializable),
        ("keys_only", keys_only),
        ("count_only", count_only),
        ("min_mod_revision", _revision(min_mod_revision, "min_mod_revision")),
        ("max_mod_revision", _revision(max_mod_revision, "max_mod_revision")),
        ("min_create_revision", _revision(min_create_revision, "min_create_revision")),
        ("max_create_revision", _revision(max_create_revision, "max_create_revision")),
    ):
        if value:
            options[name] = value
    if sort_order != "none":
        options["sort_order"] = _choice(sort_order, _SORT_ORDERS, "sort_order")
    if sort_target != "key":
        options["sort_target"] = _choice(sort_target, _SORT_TARGETS, "sort_target")
    return rpc_pb2.RangeRequest(**options)


def put_request(
    key: KeyLike,
    value: KeyLike | None = None,
    *,
    lease: int | None = None,
    prev_kv: bool = False,
    ignore_value: bool = False,
    ignore_lease: bool = False,
) -> rpc_pb2.PutRequest:
    raw = _non_empty(key)
    if ignore_value and value is not None:
        raise ValueError("ignore_value=True keeps the current value: do not pass a value too")
    if not ignore_value and value is None:
        raise ValueError("put needs a value (or ignore_value=True to keep the current one)")
    if ignore_lease and lease is not None:
        raise ValueError("ignore_lease=True keeps the current lease: do not pass lease= too")
    if lease is not None and lease < 0:
        raise ValueError(f"lease must be a lease ID (> 0) or None, got {lease}")
    return rpc_pb2.PutRequest(
        key=raw,
        value=to_bytes(value, "value") if value is not None else b"",
        lease=lease or 0,
        prev_kv=prev_kv,
        ignore_value=ignore_value,
        ignore_lease=ignore_lease,
    )


def delete_request(
    key: KeyLike,
    *,
    range_end: KeyLike | None = None,
    prefix: bool = False,
    from_key: bool = False,
    prev_kv: bool = False,
) -> rpc_pb2.DeleteRangeRequest:
    start, end = key_range(key, range_end=range_end, prefix=prefix, from_key=from_key)
    return rpc_pb2.DeleteRangeRequest(key=start, range_end=end, prev_kv=prev_kv)


def txn_request(
    compare: Sequence[rpc_pb2.Compare] = (),
    success: Sequence[rpc_pb2.RequestOp] = (),
    failure: Sequence[rpc_pb2.RequestOp] = (),
) -> rpc_pb2.TxnRequest:
    for name, items, kind in (
        ("compare", compare, rpc_pb2.Compare),
        ("success", success, rpc_pb2.RequestOp),
        ("failure", failure, rpc_pb2.RequestOp),
    ):
        for item in items:
            if not isinstance(item, kind):
                hint = "etcdgen.Compare.value(...) == ..." if name == "compare" else "etcdgen.Op"
                raise TypeError(f"{name} items must be {kind.__name__} (use {hint}), got {item!r}")
    return rpc_pb2.TxnRequest(compare=list(compare), success=list(success), failure=list(failure))


def compaction_request(revision: int, *, physical: bool = False) -> rpc_pb2.CompactionRequest:
    if revision <= 0:
        raise ValueError(f"compact needs a revision > 0, got {revision}")
    return rpc_pb2.CompactionRequest(revision=revision, physical=physical)


# Which Compare field carries the operand, by target (VALUE uses `value`).
_COMPARE_FIELDS: dict[int, str] = {
    rpc_pb2.Compare.VERSION: "version",
    rpc_pb2.Compare.CREATE: "create_revision",
    rpc_pb2.Compare.MOD: "mod_revision",
    rpc_pb2.Compare.LEASE: "lease",
}


class CompareTarget:
    """One side of a transaction compare; finish it with ==, !=, < or >.

    Made by `Compare.value(key)`, `.version`, `.create_revision`,
    `.mod_revision` or `.lease`; give `range_end=` or `prefix=True` to
    compare every key in a range (all must match).
    """

    __slots__ = ("_key", "_range_end", "_target")
    __hash__ = None  # type: ignore[assignment]  # == builds a compare, not a bool

    def __init__(self, target: int, key: bytes, range_end: bytes) -> None:
        self._target = target
        self._key = key
        self._range_end = range_end

    def _compare(self, result: int, operand: object) -> rpc_pb2.Compare:
        message = rpc_pb2.Compare(
            key=self._key,
            range_end=self._range_end,
            target=self._target,  # type: ignore[arg-type]
            result=result,  # type: ignore[arg-type]
        )
        if self._target == rpc_pb2.Compare.VALUE:
            if not isinstance(operand, (str, bytes)):
                raise TypeError(f"compare a value with str or bytes, got {operand!r}")
            message.value = to_bytes(operand, "value")
        else:
            if not isinstance(operand, int) or isinstance(operand, bool):
                raise TypeError(
                    f"compare a revision, version or lease with an int, got {operand!r}"
                )
            setattr(message, _COMPARE_FIELDS[self._target], operand)
        return message

    def __eq__(self, other: object) -> rpc_pb2.Compare:  # type: ignore[override]
        return self._compare(rpc_pb2.Compare.EQUAL, other)

    def __ne__(self, other: object) -> rpc_pb2.Compare:  # type: ignore[override]
        return self._compare(rpc_pb2.Compare.NOT_EQUAL, other)

    def __lt__(self, other: object) -> rpc_pb2.Compare:
        return self._compare(rpc_pb2.Compare.LESS, other)

    def __gt__(self, other: object) -> rpc_pb2.Compare:
        return self._compare(rpc_pb2.Compare.GREATER, other)


class Compare:
    """Build transaction compares: `Compare.value("k") == "v"`, `Compare.version("k") > 0`."""

    @staticmethod
    def _target(
        target: int, key: KeyLike, range_end: KeyLike | None, prefix: bool
    ) -> CompareTarget:
        start, end = key_range(key, range_end=range_end, prefix=prefix)
        return CompareTarget(target, start, end)

    @staticmethod
    def value(
        key: KeyLike, *, range_end: KeyLike | None = None, prefix: bool = False
    ) -> CompareTarget:
        """Compare the key's value (bytes order)."""
        return Compare._target(rpc_pb2.Compare.VALUE, key, range_end, prefix)

    @staticmethod
    def version(
        key: KeyLike, *, range_end: KeyLike | None = None, prefix: bool = False
    ) -> CompareTarget:
        """Compare the key's version: 0 when it does not exist, +1 per write."""
        return Compare._target(rpc_pb2.Compare.VERSION, key, range_end, prefix)

    @staticmethod
    def create_revision(
        key: KeyLike, *, range_end: KeyLike | None = None, prefix: bool = False
    ) -> CompareTarget:
        """Compare the revision at which the key was created (0 when missing)."""
        return Compare._target(rpc_pb2.Compare.CREATE, key, range_end, prefix)

    @staticmethod
    def mod_revision(
        key: KeyLike, *, range_end: KeyLike | None = None, prefix: bool = False
    ) -> CompareTarget:
        """Compare the revision of the key's last write (0 when missing)."""
        return Compare._target(rpc_pb2.Compare.MOD, key, range_end, prefix)

    @staticmethod
    def lease(
        key: KeyLike, *, range_end: KeyLike | None = None, prefix: bool = False
    ) -> CompareTarget:
        """Compare the ID of the lease the key is attached to (0 for none)."""
        return Compare._target(rpc_pb2.Compare.LEASE, key, range_end, prefix)


class Op:
    """Operations for `txn(success=[...], failure=[...])`, with the client's keywords."""

    @staticmethod
    def get(
        key: KeyLike,
        *,
        range_end: KeyLike | None = None,
        prefix: bool = False,
        from_key: bool = False,
        limit: int = 0,
        revision: int | None = None,
        sort_order: SortOrder = "none",
        sort_target: SortTarget = "key",
        serializable: bool = False,
        keys_only: bool = False,
        count_only: bool = False,
        min_mod_revision: int | None = None,
        max_mod_revision: int | None = None,
        min_create_revision: int | None = None,
        max_create_revision: int | None = None,
    ) -> rpc_pb2.RequestOp:
        request = range_request(
            key,
            range_end=range_end,
            prefix=prefix,
            from_key=from_key,
            limit=limit,
            revision=revision,
            sort_order=sort_order,
            sort_target=sort_target,
            serializable=serializable,
            keys_only=keys_only,
            count_only=count_only,
            min_mod_revision=min_mod_revision,
            max_mod_revision=max_mod_revision,
            min_create_revision=min_create_revision,
            max_create_revision=max_create_revision,
        )
        return rpc_pb2.RequestOp(request_range=request)

    @staticmethod
    def put(
        key: KeyLike,
        value: KeyLike | None = None,
        *,
        lease: int | None = None,
        prev_kv: bool = False,
        ignore_value: bool = False,
        ignore_lease: bool = False,
    ) -> rpc_pb2.RequestOp:
        request = put_request(
            key,
            value,
            lease=lease,
            prev_kv=prev_kv,
            ignore_value=ignore_value,
            ignore_lease=ignore_lease,
        )
        return rpc_pb2.RequestOp(request_put=request)

    @staticmethod
    def delete(
        key: KeyLike,
        *,
        range_end: KeyLike | None = None,
        prefix: bool = False,
        from_key: bool = False,
        prev_kv: bool = False,
    ) -> rpc_pb2.RequestOp:
        request = delete_request(
            key, range_end=range_end, prefix=prefix, from_key=from_key, prev_kv=prev_kv
        )
        return rpc_pb2.RequestOp(request_delete_range=request)

    @staticmethod
    def txn(
        compare: Sequence[rpc_pb2.Compare] = (),
        success: Sequence[rpc_pb2.RequestOp] = (),
        failure: Sequence[rpc_pb2.RequestOp] = (),
    ) -> rpc_pb2.RequestOp:
        """A nested transaction (etcd >= 3.3)."""
        return rpc_pb2.RequestOp(request_txn=txn_request(compare, success, failure))
