"""Name what a rejected call tried to touch, for messages ("Put of key 'app/x'").

etcd's own "permission denied" says neither the operation nor the key; with
several keys in play (a transaction, a prefix read) the user cannot tell which
permission is missing. Only the slow path (an error) calls this.
"""

from __future__ import annotations

from typing import Any

_SHOWN_KEYS = 3


def _text(key: bytes) -> str:
    return repr(key.decode("utf-8", "backslashreplace"))


def prefix_end(prefix: bytes) -> bytes:
    """The range end that covers every key starting with `prefix`."""
    kept = prefix.rstrip(b"\xff")  # a trailing 0xff cannot be incremented: drop it
    if not kept:
        return b"\x00"  # all bytes 0xff (or empty): to the end of the keyspace
    return kept[:-1] + bytes((kept[-1] + 1,))


def key_span(key: bytes, range_end: bytes) -> str:
    """`key 'a'`, `prefix 'a/'`, `keys from 'a'` or `range ['a', 'b')`."""
    if not range_end:
        return f"key {_text(key)}"
    if range_end == b"\x00":
        return f"keys from {_text(key)}" if key != b"\x00" else "every key"
    if key and range_end == prefix_end(key):
        return f"prefix {_text(key)}"
    return f"range [{_text(key)}, {_text(range_end)})"


def _txn_keys(request: Any) -> list[str]:
    spans: list[str] = []

    def add(span: str) -> None:
        if span not in spans:
            spans.append(span)

    for compare in request.compare:
        add(key_span(compare.key, compare.range_end))
    for op in list(request.success) + list(request.failure):
        which = op.WhichOneof("request")
        inner = getattr(op, which) if which else None
        if which == "request_txn":
            for span in _txn_keys(inner):
                add(span)
        elif inner is not None:
            add(key_span(inner.key, getattr(inner, "range_end", b"")))
    return spans


def describe_call(name: str, request: Any) -> str:
    """What the call `name` (an RPC name) with `request` was about."""
    try:
        if name == "Txn":
            spans = _txn_keys(request)
            shown = ", ".join(spans[:_SHOWN_KEYS])
            more = f" and {len(spans) - _SHOWN_KEYS} more" if len(spans) > _SHOWN_KEYS else ""
            return f"Txn on {shown}{more}" if spans else "Txn"
        key = getattr(request, "key", None)
        if isinstance(key, bytes):
            return f"{name} of {key_span(key, getattr(request, 'range_end', b''))}"
        if name.startswith(("Auth", "User", "Role")):
            return f"{name} (auth management needs the root role)"
    except (AttributeError, TypeError, ValueError):  # an unexpected request shape
        pass
    return name
