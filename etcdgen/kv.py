"""Key-value requests, compares and transaction ops: everything but the I/O.

The sync `Client` and the asyncio `AsyncClient` build every request here, so
validation and option handling exist once. The option names follow Go's
clientv3 (`WithPrefix` -> `prefix=True`, `WithRev` -> `revision=`, ...).

    etcdgen.Compare.value("k") == "v"          # compare on a key's value
    etcdgen.Compare.version("k") > 0           # the key exists
    etcdgen.Op.put("k", "w"), etcdgen.Op.get("dir/", prefix=True)
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Literal, Protocol, TypeVar

from google.protobuf.message import Message

from ._core.describe import prefix_end
from ._core.validate import INT64_MAX, INT64_MIN, choice, flag, integer, optional_integer, shown
from ._core.watch_state import FILTERS, WatchOptions
from .generated.errors import EmptyKeyError
from .generated.etcdserverpb import rpc_pb2

# What user code writes against. The request builders below (`range_request`, ...)
# are the clients' own: importable, but not a promise.
__all__ = [
    "Compare",
    "CompareTarget",
    "HasLeaseId",
    "KeyLike",
    "LeaseLike",
    "Op",
    "SortOrder",
    "SortTarget",
]


class HasLeaseId(Protocol):
    """A managed lease (`Lease`, `AsyncLease`): anything with an integer `id`."""

    @property
    def id(self) -> int: ...


LeaseLike = int | HasLeaseId

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
_Message = TypeVar("_Message", bound=Message)
# "\0" as key or range end means "from the smallest key" / "to the end of the keyspace".
_ALL = b"\0"


def to_bytes(value: KeyLike, what: str = "key") -> bytes:
    """Keys and values are bytes in etcd; str is encoded as UTF-8."""
    if isinstance(value, bytes):
        return value
    if isinstance(value, str):
        try:
            return value.encode()
        except UnicodeEncodeError as error:
            raise ValueError(f"{what} must be str (encodable as UTF-8) or bytes: {error}") from None
    if isinstance(value, (bytearray, memoryview)):
        return bytes(value)
    raise TypeError(f"{what} must be str or bytes, got {shown(value)}")


_EMPTY_KEY = 'key is empty: etcd requires a non-empty key (use prefix=True with "" for all keys)'


def _non_empty(key: KeyLike) -> bytes:
    raw = to_bytes(key)
    if not raw:
        raise EmptyKeyError(_EMPTY_KEY)
    return raw


def key_range(
    key: KeyLike,
    *,
    range_end: KeyLike | None = None,
    prefix: bool = False,
    from_key: bool = False,
) -> tuple[bytes, bytes]:
    """(key, range_end) for one key, a prefix, an explicit range or "from key on"."""
    raw = to_bytes(key)
    # The common cases first (every get and delete passes here), without the checks below.
    if from_key is False:
        if range_end is None:
            if prefix is False:
                if not raw:
                    raise EmptyKeyError(_EMPTY_KEY)
                return raw, b""
            if prefix is True:
                return (raw, prefix_end(raw)) if raw else (_ALL, _ALL)
        elif prefix is False:
            if not raw:
                raise EmptyKeyError(_EMPTY_KEY)
            return raw, to_bytes(range_end, "range_end")
    flag("prefix", prefix)
    flag("from_key", from_key)
    chosen = [name for name, on in (("prefix", prefix), ("from_key", from_key)) if on]
    if range_end is not None:
        chosen.append("range_end")
    if len(chosen) > 1:
        raise ValueError(
            f"use only one of prefix=, from_key= and range_end=; got {', '.join(chosen)}"
        )
    if prefix:
        return (raw, prefix_end(raw)) if raw else (_ALL, _ALL)
    return (raw or _ALL), _ALL


def check_page_size(page_size: object) -> int:
    """`page_size` of iter_prefix / iter_range: an int from 1 (it is the range limit)."""
    return integer("page_size", page_size, minimum=1)


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
    # This is on every get's path: each option is checked only when it differs from
    # its default, and only the options set go to the constructor (fewer keyword
    # arguments is the cheapest way to build the message).
    options: dict[str, Any] = {}
    if limit.__class__ is not int or limit:
        fine = limit.__class__ is int and 0 < limit <= INT64_MAX
        options["limit"] = limit if fine else integer("limit", limit)
    if revision is not None:
        fine = revision.__class__ is int and 0 <= revision <= INT64_MAX
        options["revision"] = revision if fine else optional_integer("revision", revision)
    if serializable is not False:
        options["serializable"] = flag("serializable", serializable)
    if keys_only is not False:
        options["keys_only"] = flag("keys_only", keys_only)
    if count_only is not False:
        options["count_only"] = flag("count_only", count_only)
        if keys_only is True and count_only:
            raise ValueError(
                "keys_only and count_only exclude each other (count_only returns no keys)"
            )
    if min_mod_revision is not None:
        options["min_mod_revision"] = optional_integer("min_mod_revision", min_mod_revision)
    if max_mod_revision is not None:
        options["max_mod_revision"] = optional_integer("max_mod_revision", max_mod_revision)
    if min_create_revision is not None:
        options["min_create_revision"] = optional_integer(
            "min_create_revision", min_create_revision
        )
    if max_create_revision is not None:
        options["max_create_revision"] = optional_integer(
            "max_create_revision", max_create_revision
        )
    if sort_order != "none":
        options["sort_order"] = choice("sort_order", sort_order, _SORT_ORDERS)
    if sort_target != "key":
        options["sort_target"] = choice("sort_target", sort_target, _SORT_TARGETS)
    if options:
        options["key"] = start
        if end:
            options["range_end"] = end
        return rpc_pb2.RangeRequest(**options)
    if end:
        return rpc_pb2.RangeRequest(key=start, range_end=end)
    return rpc_pb2.RangeRequest(key=start)


def put_request(
    key: KeyLike,
    value: KeyLike | None = None,
    *,
    lease: LeaseLike | None = None,
    prev_kv: bool = False,
    ignore_value: bool = False,
    ignore_lease: bool = False,
) -> rpc_pb2.PutRequest:
    raw = _non_empty(key)
    if lease is None and prev_kv is False and ignore_value is False and ignore_lease is False:
        # A plain put (on every put's path): nothing else to check or pass.
        if value is None:
            raise ValueError("put needs a value (or ignore_value=True to keep the current one)")
        return rpc_pb2.PutRequest(key=raw, value=to_bytes(value, "value"))
    if prev_kv.__class__ is not bool:
        flag("prev_kv", prev_kv)
    if ignore_value.__class__ is not bool:
        flag("ignore_value", ignore_value)
    if ignore_lease.__class__ is not bool:
        flag("ignore_lease", ignore_lease)
    if lease is not None and lease.__class__ is not int and hasattr(lease, "id"):
        lease = lease.id  # a managed Lease (client.lease(...))
    checked_lease = (
        lease
        if lease.__class__ is int and 0 <= lease <= INT64_MAX
        else optional_integer("lease", lease)
    )
    options: dict[str, Any] = {"key": raw}
    if ignore_value:
        if value is not None:
            raise ValueError("ignore_value=True keeps the current value: do not pass a value too")
        options["ignore_value"] = True
    elif value is None:
        raise ValueError("put needs a value (or ignore_value=True to keep the current one)")
    else:
        options["value"] = to_bytes(value, "value")
    if ignore_lease:
        if checked_lease is not None:
            raise ValueError("ignore_lease=True keeps the current lease: do not pass lease= too")
        options["ignore_lease"] = True
    if checked_lease:
        options["lease"] = checked_lease
    if prev_kv:
        options["prev_kv"] = True
    return rpc_pb2.PutRequest(**options)


def delete_request(
    key: KeyLike,
    *,
    range_end: KeyLike | None = None,
    prefix: bool = False,
    from_key: bool = False,
    prev_kv: bool = False,
) -> rpc_pb2.DeleteRangeRequest:
    start, end = key_range(key, range_end=range_end, prefix=prefix, from_key=from_key)
    if prev_kv is False:
        return rpc_pb2.DeleteRangeRequest(key=start, range_end=end)
    return rpc_pb2.DeleteRangeRequest(key=start, range_end=end, prev_kv=flag("prev_kv", prev_kv))


_COMPARE_HINT = "build them with etcdgen.Compare, e.g. Compare.value(key) == value"
_OP_HINT = "build them with etcdgen.Op.get, .put, .delete or .txn"


def _items(name: str, items: object, kind: type[_Message], hint: str) -> list[_Message]:
    """The compares or ops of a transaction as a list, each checked (by position)."""
    if isinstance(items, (str, bytes, rpc_pb2.Compare, rpc_pb2.RequestOp, CompareTarget)) or (
        not isinstance(items, Iterable)
    ):
        raise TypeError(
            f"{name} must be a list of {kind.__name__} ({hint}), got {shown(items)}"
            + (" - wrap a single one in [...]" if isinstance(items, Message) else "")
        )
    listed = list(items)
    for position, item in enumerate(listed):
        if not isinstance(item, kind):
            if isinstance(item, CompareTarget):
                wrong = "an unfinished compare: finish it with ==, !=, < or > and a value"
            else:
                wrong = shown(item)
            raise TypeError(f"{name}[{position}] must be a {kind.__name__} ({hint}), got {wrong}")
    return listed


def txn_request(
    compare: Iterable[rpc_pb2.Compare] = (),
    success: Iterable[rpc_pb2.RequestOp] = (),
    failure: Iterable[rpc_pb2.RequestOp] = (),
) -> rpc_pb2.TxnRequest:
    """A transaction; the number of ops is left to the server (etcd's --max-txn-ops, 128
    by default, may be raised), which rejects too many with a clear error."""
    return rpc_pb2.TxnRequest(
        compare=_items("compare", compare, rpc_pb2.Compare, _COMPARE_HINT),
        success=_items("success", success, rpc_pb2.RequestOp, _OP_HINT),
        failure=_items("failure", failure, rpc_pb2.RequestOp, _OP_HINT),
    )


def compaction_request(revision: int, *, physical: bool = False) -> rpc_pb2.CompactionRequest:
    return rpc_pb2.CompactionRequest(
        revision=integer("revision", revision, minimum=1), physical=flag("physical", physical)
    )


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
                raise TypeError(
                    f"the operand of Compare.value(...) must be str or bytes, got {shown(operand)}"
                )
            message.value = to_bytes(operand, "value")
        else:
            field = _COMPARE_FIELDS[self._target]
            number = integer(f"the operand of Compare.{field}(...)", operand, minimum=INT64_MIN)
            setattr(message, field, number)
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
        """A Range op: the keywords of `client.get` (one key, or a range by `prefix`,
        `range_end` or `from_key`; `revision`, `limit`, sorting, `keys_only`, ...).

        In the txn's response its result is `responses[i].response_range`.
        """
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
        lease: LeaseLike | None = None,
        prev_kv: bool = False,
        ignore_value: bool = False,
        ignore_lease: bool = False,
    ) -> rpc_pb2.RequestOp:
        """A Put op: the keywords of `client.put` (`lease`, `prev_kv`, `ignore_value`,
        `ignore_lease`). Its result is `responses[i].response_put`.
        """
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
        """A DeleteRange op: the keywords of `client.delete` (one key, or a range by
        `prefix`, `range_end` or `from_key`; `prev_kv`). Its result is
        `responses[i].response_delete_range`.
        """
        request = delete_request(
            key, range_end=range_end, prefix=prefix, from_key=from_key, prev_kv=prev_kv
        )
        return rpc_pb2.RequestOp(request_delete_range=request)

    @staticmethod
    def txn(
        compare: Iterable[rpc_pb2.Compare] = (),
        success: Iterable[rpc_pb2.RequestOp] = (),
        failure: Iterable[rpc_pb2.RequestOp] = (),
    ) -> rpc_pb2.RequestOp:
        """A nested transaction (etcd >= 3.3)."""
        return rpc_pb2.RequestOp(request_txn=txn_request(compare, success, failure))


def watch_options(
    key: KeyLike,
    *,
    range_end: KeyLike | None,
    prefix: bool,
    from_key: bool,
    start_revision: int | None,
    prev_kv: bool,
    filters: Iterable[str],
    progress_notify: bool,
    fragment: bool,
) -> WatchOptions:
    """Check a watch's options (`Client.watch` documents them)."""
    start, end = key_range(key, range_end=range_end, prefix=prefix, from_key=from_key)
    first = optional_integer("start_revision", start_revision, minimum=1)
    if isinstance(filters, str):
        raise TypeError('filters must be a list of names, e.g. ["noput"], not a string')
    chosen = tuple(choice("filters", name, FILTERS) for name in filters)
    return WatchOptions(
        key=start,
        range_end=end,
        start_revision=first or 0,
        prev_kv=flag("prev_kv", prev_kv),
        filters=chosen,
        progress_notify=flag("progress_notify", progress_notify),
        fragment=flag("fragment", fragment),
    )


def max_buffered_arg(value: object) -> int:
    return integer("max_buffered", value, minimum=1, maximum=10_000_000)


def lease_ttl_arg(value: object) -> int:
    """A lease TTL in whole seconds (etcd's unit), at least 1."""
    return integer("ttl", value, minimum=1, maximum=9_000_000_000)


def lease_id_arg(value: object, *, allow_none: bool = False) -> int:
    """A lease ID: a positive int, or a managed lease (its `id`)."""
    if value is None and allow_none:
        return 0
    if value is not None and value.__class__ is not int and hasattr(value, "id"):
        value = value.id
    return integer("id", value, minimum=1)
