"""Build request messages from the keyword arguments of generated methods.

Generated methods accept either a ready message (`request=`) or its fields as
keyword arguments; `None` means "leave the field unset". Keys and values are
`bytes` fields in etcd; `str` is accepted and encoded as UTF-8.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.message import Message

M = TypeVar("M", bound=Message)


def build_request(message_type: type[M], request: M | None, fields: Mapping[str, Any]) -> M:
    """Return `request`, or a new `message_type` made of the non-None `fields`."""
    given = {name: value for name, value in fields.items() if value is not None}
    if request is not None:
        if given:
            raise ValueError(
                f"pass either a {message_type.__name__} or its fields as keywords, not both "
                f"(got request= and {', '.join(sorted(given))})"
            )
        if not isinstance(request, message_type):
            raise TypeError(
                f"request must be {message_type.__name__}, got {type(request).__name__}"
            )
        return request
    for name in _bytes_fields(message_type).intersection(given):
        given[name] = _as_bytes(name, given[name])
    return message_type(**given)


_BYTES_FIELDS: dict[type[Message], frozenset[str]] = {}


def _bytes_fields(message_type: type[Message]) -> frozenset[str]:
    """Names of the `bytes` fields of a message type (computed once per type)."""
    names = _BYTES_FIELDS.get(message_type)
    if names is None:
        names = frozenset(
            field.name
            for field in message_type.DESCRIPTOR.fields
            if field.type == FieldDescriptor.TYPE_BYTES
        )
        _BYTES_FIELDS[message_type] = names
    return names


def _as_bytes(name: str, value: object) -> object:
    if isinstance(value, str):
        return value.encode()
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value)
    if isinstance(value, (list, tuple)):
        return [_as_bytes(name, item) for item in value]
    raise TypeError(f"{name} must be bytes or str, got {type(value).__name__}")
