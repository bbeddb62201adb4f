"""Print a FileDescriptorProto back as `.proto` text, with our own comments.

`make sync-protos` uses this to write `protos/`: the structure (names, numbers,
types, order) comes from the upstream descriptor, while every comment comes
from a map of element key -> text that we keep in our own files. Upstream's
options (gogoproto, HTTP gateway, go_package) are not printed: the files
describe the wire API only.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Protocol

from google.protobuf import descriptor_pb2 as d

from .descriptors import span_starts

SCALAR_NAMES = {
    d.FieldDescriptorProto.TYPE_DOUBLE: "double",
    d.FieldDescriptorProto.TYPE_FLOAT: "float",
    d.FieldDescriptorProto.TYPE_INT64: "int64",
    d.FieldDescriptorProto.TYPE_UINT64: "uint64",
    d.FieldDescriptorProto.TYPE_INT32: "int32",
    d.FieldDescriptorProto.TYPE_FIXED64: "fixed64",
    d.FieldDescriptorProto.TYPE_FIXED32: "fixed32",
    d.FieldDescriptorProto.TYPE_BOOL: "bool",
    d.FieldDescriptorProto.TYPE_STRING: "string",
    d.FieldDescriptorProto.TYPE_BYTES: "bytes",
    d.FieldDescriptorProto.TYPE_UINT32: "uint32",
    d.FieldDescriptorProto.TYPE_SFIXED32: "sfixed32",
    d.FieldDescriptorProto.TYPE_SFIXED64: "sfixed64",
    d.FieldDescriptorProto.TYPE_SINT32: "sint32",
    d.FieldDescriptorProto.TYPE_SINT64: "sint64",
}

_INDENT = "  "


class _Range(Protocol):
    @property
    def start(self) -> int: ...
    @property
    def end(self) -> int: ...


class UnsupportedProtoError(ValueError):
    """The descriptor uses a construct this printer does not know."""


def print_proto(
    fdp: d.FileDescriptorProto,
    comments: Mapping[str, str],
    import_names: Mapping[str, str] | None = None,
) -> str:
    """Render `fdp` as proto3 text.

    `import_names` maps the dependency names in `fdp` to the names to print
    (used when files are renamed on import). Elements keep the order of the
    source the descriptor came from when it has source info.
    """
    if fdp.syntax != "proto3":
        raise UnsupportedProtoError(
            f"{fdp.name}: only proto3 files are supported, got {fdp.syntax!r}"
        )
    printer = _Printer(fdp, comments)
    return printer.render(import_names or {})


class _Printer:
    def __init__(self, fdp: d.FileDescriptorProto, comments: Mapping[str, str]) -> None:
        self.fdp = fdp
        self.comments = comments
        self.starts = span_starts(fdp)
        self.lines: list[str] = []

    def render(self, import_names: Mapping[str, str]) -> str:
        fdp = self.fdp
        self.lines.append('syntax = "proto3";')
        self.lines.append("")
        self._comment(f"file:{fdp.name}", "")
        self.lines.append(f"package {fdp.package};")
        if fdp.dependency:
            self.lines.append("")
            for dep in fdp.dependency:
                self.lines.append(f'import "{import_names.get(dep, dep)}";')
        blocks: list[tuple[int, int, Callable[[], None]]] = []
        for i, message in enumerate(fdp.message_type):
            blocks.append(self._block((4, i), message, fdp.package, ""))
        for i, enum in enumerate(fdp.enum_type):
            blocks.append(self._enum_block((5, i), enum, fdp.package, ""))
        for i, service in enumerate(fdp.service):
            blocks.append(self._service_block((6, i), service))
        for _, _, emit in sorted(blocks, key=lambda b: (b[0], b[1])):
            self.lines.append("")
            emit()
        return "\n".join(self.lines) + "\n"

    # Each block is (source line, declaration index, emitter) so that a file
    # without source info still prints in a stable order.
    def _order(self, path: tuple[int, ...]) -> tuple[int, int]:
        return self.starts.get(path, 1 << 30), path[-1]

    def _block(
        self, path: tuple[int, ...], message: d.DescriptorProto, scope: str, indent: str
    ) -> tuple[int, int, Callable[[], None]]:
        line, index = self._order(path)
        return line, index, lambda: self._message(path, message, f"{scope}.{message.name}", indent)

    def _enum_block(
        self, path: tuple[int, ...], enum: d.EnumDescriptorProto, scope: str, indent: str
    ) -> tuple[int, int, Callable[[], None]]:
        line, index = self._order(path)
        return line, index, lambda: self._enum(path, enum, f"{scope}.{enum.name}", indent)

    def _service_block(
        self, path: tuple[int, ...], service: d.ServiceDescriptorProto
    ) -> tuple[int, int, Callable[[], None]]:
        line, index = self._order(path)
        return line, index, lambda: self._service(service, f"{self.fdp.package}.{service.name}")

    def _comment(self, key: str, indent: str) -> None:
        text = self.comments.get(key)
        if text:
            for line in text.split("\n"):
                self.lines.append(f"{indent}// {line}".rstrip())

    def _message(
        self, path: tuple[int, ...], message: d.DescriptorProto, key: str, indent: str
    ) -> None:
        if message.options.map_entry or message.extension or message.extension_range:
            raise UnsupportedProtoError(f"{key}: maps and extensions are not supported")
        self._comment(key, indent)
        self.lines.append(f"{indent}message {message.name} {{")
        inner = indent + _INDENT
        members: list[tuple[int, int, Callable[[], None]]] = []
        real_oneofs = {
            f.oneof_index
            for f in message.field
            if f.HasField("oneof_index") and not f.proto3_optional
        }
        printed_oneofs: set[int] = set()
        for j, field in enumerate(message.field):
            field_path = (*path, 2, j)
            if field.HasField("oneof_index") and field.oneof_index in real_oneofs:
                if field.oneof_index in printed_oneofs:
                    continue
                printed_oneofs.add(field.oneof_index)
                line, index = self._order(field_path)
                members.append(
                    (line, index, self._oneof_emitter(path, message, field.oneof_index, key, inner))
                )
                continue
            line, index = self._order(field_path)
            members.append((line, index, self._field_emitter(field, f"{key}.{field.name}", inner)))
        for j, nested in enumerate(message.nested_type):
            members.append(self._block((*path, 3, j), nested, key, inner))
        for j, enum in enumerate(message.enum_type):
            members.append(self._enum_block((*path, 4, j), enum, key, inner))
        for _, _, emit in sorted(members, key=lambda m: (m[0], m[1])):
            emit()
        self._reserved(message.reserved_range, message.reserved_name, inner, exclusive_end=True)
        self.lines.append(f"{indent}}}")

    def _field_emitter(
        self, field: d.FieldDescriptorProto, key: str, indent: str
    ) -> Callable[[], None]:
        def emit() -> None:
            self._comment(key, indent)
            label = ""
            if field.label == d.FieldDescriptorProto.LABEL_REPEATED:
                label = "repeated "
            elif field.proto3_optional:
                label = "optional "
            options = " [deprecated = true]" if field.options.deprecated else ""
            self.lines.append(
                f"{indent}{label}{self._type(field)} {field.name} = {field.number}{options};"
            )

        return emit

    def _oneof_emitter(
        self,
        path: tuple[int, ...],
        message: d.DescriptorProto,
        oneof_index: int,
        key: str,
        indent: str,
    ) -> Callable[[], None]:
        def emit() -> None:
            oneof = message.oneof_decl[oneof_index]
            self._comment(f"{key}.{oneof.name}", indent)
            self.lines.append(f"{indent}oneof {oneof.name} {{")
            for field in message.field:
                if field.HasField("oneof_index") and field.oneof_index == oneof_index:
                    self._field_emitter(field, f"{key}.{field.name}", indent + _INDENT)()
            self.lines.append(f"{indent}}}")

        return emit

    def _type(self, field: d.FieldDescriptorProto) -> str:
        if field.type in (d.FieldDescriptorProto.TYPE_MESSAGE, d.FieldDescriptorProto.TYPE_ENUM):
            return self._short(field.type_name)
        if field.type not in SCALAR_NAMES:
            raise UnsupportedProtoError(f"field {field.name}: type {field.type} is not supported")
        return SCALAR_NAMES[field.type]

    def _enum(
        self, path: tuple[int, ...], enum: d.EnumDescriptorProto, key: str, indent: str
    ) -> None:
        self._comment(key, indent)
        self.lines.append(f"{indent}enum {enum.name} {{")
        inner = indent + _INDENT
        if enum.options.allow_alias:
            self.lines.append(f"{inner}option allow_alias = true;")
        for value in enum.value:
            self._comment(f"{key}.{value.name}", inner)
            self.lines.append(f"{inner}{value.name} = {value.number};")
        self._reserved(enum.reserved_range, enum.reserved_name, inner, exclusive_end=False)
        self.lines.append(f"{indent}}}")

    def _reserved(
        self, ranges: Iterable[_Range], names: Iterable[str], indent: str, *, exclusive_end: bool
    ) -> None:
        # Message reserved ranges are end-exclusive in descriptors, enum ones inclusive.
        parts = []
        for r in ranges:
            end = r.end - 1 if exclusive_end else r.end
            parts.append(str(r.start) if end == r.start else f"{r.start} to {end}")
        if parts:
            self.lines.append(f"{indent}reserved {', '.join(parts)};")
        quoted = [f'"{n}"' for n in names]
        if quoted:
            self.lines.append(f"{indent}reserved {', '.join(quoted)};")

    def _service(self, service: d.ServiceDescriptorProto, key: str) -> None:
        self._comment(key, "")
        self.lines.append(f"service {service.name} {{")
        for method in service.method:
            self._comment(f"{key}.{method.name}", _INDENT)
            request = ("stream " if method.client_streaming else "") + self._short(
                method.input_type
            )
            response = ("stream " if method.server_streaming else "") + self._short(
                method.output_type
            )
            self.lines.append(f"{_INDENT}rpc {method.name}({request}) returns ({response}) {{}}")
        self.lines.append("}")

    def _short(self, type_name: str) -> str:
        name = type_name.lstrip(".")
        own = self.fdp.package + "."
        return name[len(own) :] if name.startswith(own) else name
