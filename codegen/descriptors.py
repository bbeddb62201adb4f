"""Walk a FileDescriptorProto and name every element by a stable key.

Source info in a descriptor refers to elements by numeric paths such as
`[4, 3, 2, 1]` (message 3, field 1). The generator, the proto printer and the
API surface all want names instead: `etcdserverpb.RangeRequest.key`. This
module is the one place that knows the field numbers of descriptor.proto.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from enum import Enum

from google.protobuf import descriptor_pb2 as d


class Kind(Enum):
    MESSAGE = "message"
    FIELD = "field"
    ONEOF = "oneof"
    ENUM = "enum"
    ENUM_VALUE = "value"
    SERVICE = "service"
    METHOD = "rpc"


# Field numbers from google/protobuf/descriptor.proto.
_FILE_PACKAGE = 2
_FILE_MESSAGE = 4
_FILE_ENUM = 5
_FILE_SERVICE = 6
_MESSAGE_FIELD = 2
_MESSAGE_NESTED = 3
_MESSAGE_ENUM = 4
_MESSAGE_ONEOF = 8
_ENUM_VALUE = 2
_SERVICE_METHOD = 2

FILE_COMMENT_PATH: tuple[int, ...] = (_FILE_PACKAGE,)


@dataclass(frozen=True)
class Element:
    path: tuple[int, ...]
    key: str
    kind: Kind


def walk(fdp: d.FileDescriptorProto) -> Iterator[Element]:
    """Yield every named element of the file, parents before children."""
    prefix = fdp.package
    for i, message in enumerate(fdp.message_type):
        yield from _walk_message(message, (_FILE_MESSAGE, i), _join(prefix, message.name))
    for i, enum in enumerate(fdp.enum_type):
        yield from _walk_enum(enum, (_FILE_ENUM, i), _join(prefix, enum.name))
    for i, service in enumerate(fdp.service):
        key = _join(prefix, service.name)
        yield Element((_FILE_SERVICE, i), key, Kind.SERVICE)
        for j, method in enumerate(service.method):
            yield Element(
                (_FILE_SERVICE, i, _SERVICE_METHOD, j), f"{key}.{method.name}", Kind.METHOD
            )


def _walk_message(message: d.DescriptorProto, path: tuple[int, ...], key: str) -> Iterator[Element]:
    yield Element(path, key, Kind.MESSAGE)
    for j, field in enumerate(message.field):
        yield Element((*path, _MESSAGE_FIELD, j), f"{key}.{field.name}", Kind.FIELD)
    for j, oneof in enumerate(message.oneof_decl):
        yield Element((*path, _MESSAGE_ONEOF, j), f"{key}.{oneof.name}", Kind.ONEOF)
    for j, nested in enumerate(message.nested_type):
        yield from _walk_message(nested, (*path, _MESSAGE_NESTED, j), f"{key}.{nested.name}")
    for j, enum in enumerate(message.enum_type):
        yield from _walk_enum(enum, (*path, _MESSAGE_ENUM, j), f"{key}.{enum.name}")


def _walk_enum(enum: d.EnumDescriptorProto, path: tuple[int, ...], key: str) -> Iterator[Element]:
    yield Element(path, key, Kind.ENUM)
    for j, value in enumerate(enum.value):
        yield Element((*path, _ENUM_VALUE, j), f"{key}.{value.name}", Kind.ENUM_VALUE)


def _join(prefix: str, name: str) -> str:
    return f"{prefix}.{name}" if prefix else name


def comments_by_key(fdp: d.FileDescriptorProto) -> dict[str, str]:
    """Map element keys (and `file:<name>`) to their comment text.

    Leading comments win, then trailing ones, then detached ones; the text is
    dedented by one space per line, the way protoc reports `// text`.
    """
    locations = {tuple(loc.path): loc for loc in fdp.source_code_info.location}
    result: dict[str, str] = {}
    file_location = locations.get(FILE_COMMENT_PATH)
    if file_location is not None:
        text = _comment_text(file_location)
        if text:
            result[f"file:{fdp.name}"] = text
    for element in walk(fdp):
        location = locations.get(element.path)
        if location is not None:
            text = _comment_text(location)
            if text:
                result[element.key] = text
    return result


def span_starts(fdp: d.FileDescriptorProto) -> dict[tuple[int, ...], int]:
    """Start line of every located element, for ordering by source position."""
    return {tuple(loc.path): loc.span[0] for loc in fdp.source_code_info.location if loc.span}


def _comment_text(location: d.SourceCodeInfo.Location) -> str:
    for raw in (location.leading_comments, location.trailing_comments):
        if raw.strip():
            return _dedent(raw)
    detached = [c for c in location.leading_detached_comments if c.strip()]
    return _dedent(detached[-1]) if detached else ""


def _dedent(raw: str) -> str:
    lines = [line[1:] if line.startswith(" ") else line for line in raw.rstrip().split("\n")]
    while lines and not lines[0].strip():
        lines.pop(0)
    return "\n".join(line.rstrip() for line in lines)
