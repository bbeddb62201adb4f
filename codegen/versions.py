"""The etcd release that introduced each API element: read, kept, carried forward.

Since etcd 3.6 the upstream protos annotate messages, fields, enums and enum values
with the release that introduced them (`versionpb`: `etcd_version_msg`,
`etcd_version_field`, `etcd_version_enum`, `etcd_version_enum_value`, options 50000
to 50003). `make sync-protos` reads them and keeps them in `protos/versions.txt`,
one `<full name> <version>` line per element, sorted, beside the protos they
describe; `protos/` itself stays free of annotations.

Why a separate file rather than the annotations in `protos/`: the generated
message modules embed the protos' descriptors, and the annotations would drag
`versionpb` and `google/protobuf/descriptor.proto` into every client's descriptor
pool for facts only the generator and the version check read.

Syncing a tree without annotations (3.4, 3.5) keeps the facts already known for
the elements it still has: an element's release does not change, so the newest
tree that states it is right for every older one. Facts of elements the new tree
no longer has are dropped.

The options are read from their wire bytes (field number, length-delimited
string), so no descriptor pool with the `versionpb` extensions is needed.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path

from google.protobuf import descriptor_pb2 as d
from google.protobuf.message import Message

FILE_NAME = "versions.txt"

#: versionpb's extension numbers, by the kind of options they extend.
MESSAGE_OPTION = 50000
FIELD_OPTION = 50001
ENUM_OPTION = 50002
ENUM_VALUE_OPTION = 50003

_HEADER = (
    "# The etcd release that introduced each element (versionpb annotations of etcd's\n"
    "# protos, carried forward by `make sync-protos`; do not edit by hand).\n"
)


def _varint(data: bytes, pos: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        byte = data[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, pos
        shift += 7


def string_option(options: Message, number: int) -> str | None:
    """The string value of custom option `number` in `options`, if it is set."""
    data = options.SerializeToString()
    pos = 0
    found = None
    while pos < len(data):
        key, pos = _varint(data, pos)
        field, wire = key >> 3, key & 7
        if wire == 0:
            _, pos = _varint(data, pos)
        elif wire == 1:
            pos += 8
        elif wire == 5:
            pos += 4
        elif wire == 2:
            size, pos = _varint(data, pos)
            if field == number:
                found = data[pos : pos + size].decode()
            pos += size
        else:  # groups: not used by descriptor options we read
            raise ValueError(f"unexpected wire type {wire} in {type(options).__name__}")
    return found


def _annotated(fdp: d.FileDescriptorProto) -> Iterator[tuple[str, str | None]]:
    def message(msg: d.DescriptorProto, name: str) -> Iterator[tuple[str, str | None]]:
        yield name, string_option(msg.options, MESSAGE_OPTION)
        for field in msg.field:
            yield f"{name}.{field.name}", string_option(field.options, FIELD_OPTION)
        for nested in msg.nested_type:
            yield from message(nested, f"{name}.{nested.name}")
        for enum_type in msg.enum_type:
            yield from enum(enum_type, f"{name}.{enum_type.name}")

    def enum(e: d.EnumDescriptorProto, name: str) -> Iterator[tuple[str, str | None]]:
        yield name, string_option(e.options, ENUM_OPTION)
        for value in e.value:
            yield f"{name}.{value.name}", string_option(value.options, ENUM_VALUE_OPTION)

    prefix = f"{fdp.package}." if fdp.package else ""
    for msg in fdp.message_type:
        yield from message(msg, prefix + msg.name)
    for e in fdp.enum_type:
        yield from enum(e, prefix + e.name)


def element_names(fdp: d.FileDescriptorProto) -> set[str]:
    """Every message, field, enum and enum value of the file, by full name."""
    return {name for name, _ in _annotated(fdp)}


def read_annotations(files: Iterable[d.FileDescriptorProto]) -> dict[str, str]:
    """The versionpb annotations of these files, by element full name."""
    return {name: version for fdp in files for name, version in _annotated(fdp) if version}


def merge(
    known: Mapping[str, str], upstream: Mapping[str, str], present: set[str]
) -> dict[str, str]:
    """What the synced protos' versions file holds (see the module docstring)."""
    merged = {name: version for name, version in known.items() if name in present}
    merged.update({name: version for name, version in upstream.items() if name in present})
    return merged


def load(protos_dir: Path) -> dict[str, str]:
    path = protos_dir / FILE_NAME
    if not path.is_file():
        return {}
    facts = {}
    for number, line in enumerate(path.read_text().splitlines(), 1):
        if not line.strip() or line.startswith("#"):
            continue
        parts = line.split()
        if len(parts) != 2 or not _is_version(parts[1]):
            raise ValueError(f"{path}:{number}: expected '<full name> <version>', got {line!r}")
        facts[parts[0]] = parts[1]
    return facts


def render(facts: Mapping[str, str]) -> str:
    return _HEADER + "".join(f"{name} {facts[name]}\n" for name in sorted(facts))


def _is_version(text: str) -> bool:
    parts = text.split(".")
    return len(parts) in (2, 3) and all(part.isdigit() for part in parts)


def version_key(version: str) -> tuple[int, ...]:
    """`"3.10"` > `"3.9"`: compare releases as numbers."""
    return tuple(int(part) for part in version.split("."))
