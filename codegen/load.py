"""Turn a FileDescriptorSet (plus our policy and error tables) into the model."""

from __future__ import annotations

import keyword
import re
from collections.abc import Iterable, Mapping
from dataclasses import replace

from google.protobuf import descriptor_pb2 as d

from . import model
from .descriptors import comments_by_key
from .errors_table import ERRORS, ErrorSpec, error_class_name
from .policy import BASELINE, POLICY, MethodPolicyEntry, policy_for
from .proto_printer import SCALAR_NAMES as _PROTO_SCALAR
from .versions import version_key

_SCALAR_PYTHON = {
    d.FieldDescriptorProto.TYPE_DOUBLE: "float",
    d.FieldDescriptorProto.TYPE_FLOAT: "float",
    d.FieldDescriptorProto.TYPE_INT64: "int",
    d.FieldDescriptorProto.TYPE_UINT64: "int",
    d.FieldDescriptorProto.TYPE_INT32: "int",
    d.FieldDescriptorProto.TYPE_FIXED64: "int",
    d.FieldDescriptorProto.TYPE_FIXED32: "int",
    d.FieldDescriptorProto.TYPE_BOOL: "bool",
    d.FieldDescriptorProto.TYPE_STRING: "str",
    # etcd keys and values are bytes; wrappers also take str (encoded as UTF-8).
    d.FieldDescriptorProto.TYPE_BYTES: "bytes | str",
    d.FieldDescriptorProto.TYPE_UINT32: "int",
    d.FieldDescriptorProto.TYPE_SFIXED32: "int",
    d.FieldDescriptorProto.TYPE_SFIXED64: "int",
    d.FieldDescriptorProto.TYPE_SINT32: "int",
    d.FieldDescriptorProto.TYPE_SINT64: "int",
}

_CAMEL_BOUNDARY = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")


class ModelError(ValueError):
    """The protos use something the generator cannot render faithfully."""


def snake_case(name: str) -> str:
    """`DeleteRange` -> `delete_range`, `HashKV` -> `hash_kv`, `KV` -> `kv`."""
    return _CAMEL_BOUNDARY.sub("_", name).lower()


def module_path(proto_name: str) -> str:
    """`etcdserverpb/rpc.proto` -> `etcdserverpb/rpc_pb2`."""
    if not proto_name.endswith(".proto"):
        raise ModelError(f"not a .proto file name: {proto_name}")
    return proto_name[: -len(".proto")].replace("-", "_") + "_pb2"


def load_api(
    fds: d.FileDescriptorSet,
    wanted: Iterable[str],
    *,
    etcd_version: str,
    generator_version: str,
    policy: Mapping[str, MethodPolicyEntry] = POLICY,
    errors: Iterable[ErrorSpec] = ERRORS,
    versions: Mapping[str, str] | None = None,
) -> model.Api:
    """Build the model of the `wanted` files (the others in `fds` are imports).

    `versions`: the release that introduced each element (protos/versions.txt).
    """
    files = {fdp.name: fdp for fdp in fds.file}
    wanted = list(wanted)
    index = _TypeIndex(files[name] for name in wanted)
    facts: Mapping[str, str] = versions or {}
    modules = tuple(_module(files[name], index, facts) for name in wanted)
    aliases = [m.alias for m in modules]
    if len(set(aliases)) != len(aliases):
        raise ModelError(f"two proto files map to the same module name: {sorted(aliases)}")
    messages = {m.full_name: m for mod in modules for m in _all_messages(mod.messages)}
    services = tuple(
        _service(service, fdp, messages, comments_by_key(fdp), policy, facts)
        for fdp in (files[name] for name in wanted)
        for service in fdp.service
    )
    # Every rule is a column of the error table; this only copies it out.
    error_classes = tuple(
        model.ErrorClass(
            class_name=error_class_name(spec.go_name),
            go_name=spec.go_name,
            message=spec.message,
            code=spec.code,
            aliases=spec.aliases,
            summary=spec.summary,
            category=spec.category,
            extra_bases=(spec.builtin_base,) if spec.builtin_base else (),
            since=spec.since,
            sent_codes=tuple(spec.sent_codes.items()),
        )
        for spec in sorted(errors, key=lambda s: s.go_name)
    )
    return model.Api(etcd_version, generator_version, modules, services, error_classes)


def _all_messages(messages: Iterable[model.Message]) -> Iterable[model.Message]:
    for message in messages:
        yield message
        yield from _all_messages(message.nested)


class _TypeIndex:
    """Where each message and enum type lives: full name -> (module alias, qualname)."""

    def __init__(self, files: Iterable[d.FileDescriptorProto]) -> None:
        self.where: dict[str, tuple[str, str]] = {}
        for fdp in files:
            alias = module_path(fdp.name).rsplit("/", 1)[1]
            self._add(fdp.package, "", alias, fdp.message_type, fdp.enum_type)

    def _add(
        self,
        scope: str,
        outer: str,
        alias: str,
        messages: Iterable[d.DescriptorProto],
        enums: Iterable[d.EnumDescriptorProto],
    ) -> None:
        for enum in enums:
            self.where[f"{scope}.{enum.name}"] = (alias, outer + enum.name)
        for message in messages:
            full = f"{scope}.{message.name}"
            self.where[full] = (alias, outer + message.name)
            self._add(
                full, outer + message.name + ".", alias, message.nested_type, message.enum_type
            )

    def module_of(self, type_name: str) -> str:
        return self.where[type_name.lstrip(".")][0]

    def ref(self, type_name: str) -> str:
        alias, qualname = self.where[type_name.lstrip(".")]
        return f"{alias}.{qualname}"


def _module(
    fdp: d.FileDescriptorProto, index: _TypeIndex, versions: Mapping[str, str]
) -> model.ProtoModule:
    comments = comments_by_key(fdp)
    bare = d.FileDescriptorProto()
    bare.CopyFrom(fdp)
    bare.ClearField("source_code_info")
    path = module_path(fdp.name)
    alias = path.rsplit("/", 1)[1]
    return model.ProtoModule(
        proto_name=fdp.name,
        package=fdp.package,
        module_path=path,
        serialized=bare.SerializeToString(deterministic=True),
        dependencies=tuple(fdp.dependency),
        messages=tuple(
            _message(m, fdp.package, "", alias, index, comments, versions) for m in fdp.message_type
        ),
        enums=tuple(_enum(e, fdp.package, "", comments, versions) for e in fdp.enum_type),
        comment=comments.get(f"file:{fdp.name}", ""),
    )


def _message(
    message: d.DescriptorProto,
    scope: str,
    outer: str,
    alias: str,
    index: _TypeIndex,
    comments: Mapping[str, str],
    versions: Mapping[str, str],
) -> model.Message:
    full = f"{scope}.{message.name}"
    qualname = outer + message.name
    if message.options.map_entry:
        raise ModelError(f"{full}: map fields are not supported")
    real_oneofs = {
        f.oneof_index for f in message.field if f.HasField("oneof_index") and not f.proto3_optional
    }
    fields = []
    for field in message.field:
        if keyword.iskeyword(field.name):
            raise ModelError(f"{full}.{field.name}: field name is a Python keyword")
        oneof = (
            message.oneof_decl[field.oneof_index].name
            if field.HasField("oneof_index") and field.oneof_index in real_oneofs
            else None
        )
        fields.append(
            model.Field(
                name=field.name,
                number=field.number,
                proto_type=_proto_type(field),
                repeated=field.label == d.FieldDescriptorProto.LABEL_REPEATED,
                oneof=oneof,
                python_type=_python_type(field, index),
                type_module=index.module_of(field.type_name) if field.type_name else None,
                comment=comments.get(f"{full}.{field.name}", ""),
                since=versions.get(f"{full}.{field.name}"),
            )
        )
    return model.Message(
        full_name=full,
        qualname=qualname,
        module_alias=alias,
        fields=tuple(fields),
        nested=tuple(
            _message(n, full, qualname + ".", alias, index, comments, versions)
            for n in message.nested_type
        ),
        enums=tuple(_enum(e, full, qualname + ".", comments, versions) for e in message.enum_type),
        comment=comments.get(full, ""),
        since=versions.get(full),
    )


def _enum(
    enum: d.EnumDescriptorProto,
    scope: str,
    outer: str,
    comments: Mapping[str, str],
    versions: Mapping[str, str],
) -> model.Enum:
    full = f"{scope}.{enum.name}"
    return model.Enum(
        full_name=full,
        qualname=outer + enum.name,
        values=tuple(
            model.EnumValue(
                v.name,
                v.number,
                comments.get(f"{full}.{v.name}", ""),
                since=versions.get(f"{full}.{v.name}"),
            )
            for v in enum.value
        ),
        comment=comments.get(full, ""),
        since=versions.get(full),
    )


def _proto_type(field: d.FieldDescriptorProto) -> str:
    if field.type in (d.FieldDescriptorProto.TYPE_MESSAGE, d.FieldDescriptorProto.TYPE_ENUM):
        return field.type_name.lstrip(".")
    if field.type not in _PROTO_SCALAR:
        raise ModelError(f"field {field.name}: unsupported type {field.type}")
    return _PROTO_SCALAR[field.type]


def _python_type(field: d.FieldDescriptorProto, index: _TypeIndex) -> str:
    if field.type == d.FieldDescriptorProto.TYPE_MESSAGE:
        single = index.ref(field.type_name)
    elif field.type == d.FieldDescriptorProto.TYPE_ENUM:
        single = index.ref(field.type_name) + ".ValueType"
    else:
        single = _SCALAR_PYTHON[field.type]
    if field.label == d.FieldDescriptorProto.LABEL_REPEATED:
        return f"Sequence[{single}]"
    return single


def _service(
    service: d.ServiceDescriptorProto,
    fdp: d.FileDescriptorProto,
    messages: Mapping[str, model.Message],
    comments: Mapping[str, str],
    policy: Mapping[str, MethodPolicyEntry],
    versions: Mapping[str, str],
) -> model.Service:
    full = f"{fdp.package}.{service.name}"
    python_name = snake_case(service.name)
    methods = []
    for method in service.method:
        path = f"/{full}/{method.name}"
        python_method = snake_case(method.name)
        if keyword.iskeyword(python_method):
            raise ModelError(f"{path}: method name is a Python keyword")
        methods.append(
            model.Method(
                name=method.name,
                python_name=python_method,
                path=path,
                spec_name=f"{python_name}_{python_method}".upper(),
                request=messages[method.input_type.lstrip(".")],
                response=messages[method.output_type.lstrip(".")],
                client_streaming=method.client_streaming,
                server_streaming=method.server_streaming,
                policy=_with_since(
                    policy_for(path, policy),
                    method_since(method.input_type, method.output_type, versions),
                ),
                comment=comments.get(f"{full}.{method.name}", ""),
            )
        )
    return model.Service(
        name=service.name,
        full_name=full,
        python_name=python_name,
        methods=tuple(methods),
        comment=comments.get(full, ""),
    )


def method_since(request: str, response: str, versions: Mapping[str, str]) -> str | None:
    """The release that introduced an RPC, by its messages: the newer of its request's and
    its response's (a new RPC may reuse an old request, as RangeStream reuses RangeRequest).
    None if the protos say nothing of either."""
    known = [versions[t.lstrip(".")] for t in (request, response) if t.lstrip(".") in versions]
    return max(known, key=version_key) if known else None


def _with_since(entry: MethodPolicyEntry, from_protos: str | None) -> MethodPolicyEntry:
    """The protos' fact wins; the hand-kept `since` fills in, then the baseline."""
    return replace(entry, since=from_protos or entry.since or BASELINE)
