"""The API model the templates render: frozen, fully computed, no descriptors.

Everything a template prints (Python names, type annotations, docstrings,
import aliases) is decided here or in `load.py`, so templates only lay out
text and the decisions can be unit-tested.
"""

from __future__ import annotations

from dataclasses import dataclass

from .policy import MethodPolicyEntry


@dataclass(frozen=True)
class Field:
    name: str
    number: int
    #: proto type as written in .proto (`bytes`, `int64`, `mvccpb.KeyValue`, ...)
    proto_type: str
    repeated: bool
    #: Name of the real oneof the field is in, if any.
    oneof: str | None
    #: Annotation of the keyword argument in generated wrappers.
    python_type: str
    #: Module alias the annotation refers to (`kv_pb2`), for message and enum fields.
    type_module: str | None
    comment: str
    #: The etcd release that introduced it (protos/versions.txt), None if unknown.
    since: str | None = None


@dataclass(frozen=True)
class EnumValue:
    name: str
    number: int
    comment: str
    since: str | None = None


@dataclass(frozen=True)
class Enum:
    full_name: str
    #: Name inside its module, dotted for nested enums (`RangeRequest.SortOrder`).
    qualname: str
    values: tuple[EnumValue, ...]
    comment: str
    since: str | None = None


@dataclass(frozen=True)
class Message:
    full_name: str
    qualname: str
    #: The generated module that defines it, as an import alias (`rpc_pb2`).
    module_alias: str
    fields: tuple[Field, ...]
    nested: tuple[Message, ...]
    enums: tuple[Enum, ...]
    comment: str
    since: str | None = None

    @property
    def python_ref(self) -> str:
        """How generated client code names the class: `rpc_pb2.RangeRequest`."""
        return f"{self.module_alias}.{self.qualname}"


@dataclass(frozen=True)
class Method:
    name: str
    #: Python method name: `Range` -> `range`, `HashKV` -> `hash_kv`.
    python_name: str
    #: gRPC path: `/etcdserverpb.KV/Range`.
    path: str
    #: Constant holding its MethodSpec in `methods.py`: `KV_RANGE`.
    spec_name: str
    request: Message
    response: Message
    client_streaming: bool
    server_streaming: bool
    policy: MethodPolicyEntry
    comment: str

    @property
    def kind(self) -> str:
        """CallKind member name."""
        left = "STREAM" if self.client_streaming else "UNARY"
        right = "STREAM" if self.server_streaming else "UNARY"
        return f"{left}_{right}"


@dataclass(frozen=True)
class Service:
    name: str
    full_name: str
    #: Module and attribute name: `kv`, `maintenance`.
    python_name: str
    methods: tuple[Method, ...]
    comment: str

    @property
    def class_name(self) -> str:
        return f"{self.name}Client"

    @property
    def module_aliases(self) -> tuple[str, ...]:
        """The `_pb2` modules its wrapper signatures refer to, sorted."""
        used: set[str] = set()
        for method in self.methods:
            used.update((method.request.module_alias, method.response.module_alias))
            used.update(f.type_module for f in method.request.fields if f.type_module)
        return tuple(sorted(used))


@dataclass(frozen=True)
class ProtoModule:
    """One .proto file and the `_pb2` module generated for it."""

    proto_name: str
    package: str
    #: Path of the module under generated/, without suffix: `etcdserverpb/rpc_pb2`.
    module_path: str
    #: FileDescriptorProto without source info, serialized deterministically.
    serialized: bytes
    dependencies: tuple[str, ...]
    messages: tuple[Message, ...]
    enums: tuple[Enum, ...]
    comment: str

    @property
    def alias(self) -> str:
        return self.module_path.rsplit("/", 1)[1]

    @property
    def dotted(self) -> str:
        return self.module_path.replace("/", ".")


@dataclass(frozen=True)
class ErrorClass:
    """One etcd server error, copied out of `codegen/errors_table.py` (rules are its columns)."""

    class_name: str
    go_name: str
    message: str
    #: The status the class carries (`status`): a `grpc.StatusCode` member name.
    code: str
    aliases: tuple[str, ...]
    summary: str
    #: Its category base class (`AuthError`, ...), itself an EtcdError.
    category: str
    #: Base classes after the category (e.g. the builtin TimeoutError).
    extra_bases: tuple[str, ...]
    #: The earliest reference etcd version that declares it (`3.4`).
    since: str
    #: (reference version, status its server sends the error with), oldest first.
    sent_codes: tuple[tuple[str, str], ...]

    @property
    def bases(self) -> tuple[str, ...]:
        return (self.category, *self.extra_bases)

    @property
    def status_note(self) -> str:
        """For the class docstring: "Sent as `X` by etcd 3.4 and 3.5, as `Y` by 3.6." """
        by_code: dict[str, list[str]] = {}
        for version, code in self.sent_codes:
            by_code.setdefault(code, []).append(version)
        parts = [
            f"as `{code}` by {'etcd ' if i == 0 else ''}{_and(versions)}"
            for i, (code, versions) in enumerate(by_code.items())
        ]
        if self.code in by_code:
            return f"Sent {', '.join(parts)}."
        return f"Declared with `{self.code}` (its `status`) but sent {', '.join(parts)}."


def _and(items: list[str]) -> str:
    """`a`, `a and b`, `a, b and c`."""
    return items[0] if len(items) == 1 else f"{', '.join(items[:-1])} and {items[-1]}"


@dataclass(frozen=True)
class Api:
    etcd_version: str
    generator_version: str
    modules: tuple[ProtoModule, ...]
    services: tuple[Service, ...]
    errors: tuple[ErrorClass, ...]

    @property
    def methods(self) -> tuple[Method, ...]:
        return tuple(m for s in self.services for m in s.methods)
