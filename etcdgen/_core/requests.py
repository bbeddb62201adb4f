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
    try:
        return message_type(**given)
    except (TypeError, ValueError) as error:
        raise _named_error(message_type, given, error) from None


_KINDS = {
    FieldDescriptor.CPPTYPE_INT32: "an integer (int32)",
    FieldDescriptor.CPPTYPE_INT64: "an integer (int64)",
    FieldDescriptor.CPPTYPE_UINT32: "a non-negative integer (uint32)",
    FieldDescriptor.CPPTYPE_UINT64: "a non-negative integer (uint64)",
    FieldDescriptor.CPPTYPE_BOOL: "True or False",
    FieldDescriptor.CPPTYPE_DOUBLE: "a number",
    FieldDescriptor.CPPTYPE_FLOAT: "a number",
    FieldDescriptor.CPPTYPE_ENUM: "an enum value (int)",
    FieldDescriptor.CPPTYPE_STRING: "str",
    FieldDescriptor.CPPTYPE_MESSAGE: "a message",
}


def _named_error(
    message_type: type[Message], given: Mapping[str, Any], error: Exception
) -> Exception:
    """Protobuf's complaint, re-told with the field's name and what it accepts.

    Runs only after a failure: each field is set alone to find the culprit.
    """
    fields = message_type.DESCRIPTOR.fields_by_name
    for name, value in given.items():
        try:
            message_type(**{name: value})
        except (TypeError, ValueError) as field_error:
            field = fields.get(name)
            kind = _KINDS.get(field.cpp_type, "another type") if field is not None else "?"
            if field is not None and field.type == FieldDescriptor.TYPE_BYTES:
                kind = "bytes or str"
            if field is not None and _repeated(field):
                kind = f"a list of {kind}"
            shown = repr(value) if len(repr(value)) <= 60 else repr(value)[:57] + "..."
            return type(field_error)(
                f"{name} must be {kind}, got {type(value).__name__} {shown} ({field_error})"
            )
    return error


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


def _repeated(field: object) -> bool:
    # protobuf 7 has `is_repeated`; older releases only `label`.
    flag = getattr(field, "is_repeated", None)
    if flag is not None:
        return bool(flag)
    return bool(getattr(field, "label", 0) == 3)  # LABEL_REPEATED
