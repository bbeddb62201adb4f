"""Check etcdgen against the protobuf and grpcio installed in this interpreter.

A standalone script (not collected by pytest), used to find which protobuf and
grpcio releases the runtime really supports:

    PYTHONPATH=/path/to/etcdgen python tests/compat/check_runtime.py [ENDPOINT]

Without ENDPOINT it checks the generated messages only; with one
(e.g. `127.0.0.1:2379`) it also makes real sync and asyncio calls to that etcd.
Every check prints an `OK` line; the first failure raises and exits non-zero.
Run it once more with `PROTOCOL_BUFFERS_PYTHON_IMPLEMENTATION=python` to cover
protobuf's pure-Python backend, and with `-W error::DeprecationWarning` to see
whether etcdgen relies on deprecated APIs.
"""

from __future__ import annotations

import asyncio
import copy
import importlib
import pickle
import sys
from types import ModuleType
from typing import Any

import grpc
from google.protobuf import __version__ as protobuf_version
from google.protobuf import descriptor_pb2, descriptor_pool, json_format, text_format
from google.protobuf.descriptor import Descriptor, FieldDescriptor
from google.protobuf.internal import api_implementation
from google.protobuf.message import Message

import etcdgen
from etcdgen._core.protobuf import load_file, message_class, new_pool
from etcdgen.generated import _pool
from etcdgen.generated.etcdserverpb import rpc_pb2
from etcdgen.generated.mvccpb import kv_pb2

PB2_MODULES = (
    "etcdgen.generated.mvccpb.kv_pb2",
    "etcdgen.generated.authpb.auth_pb2",
    "etcdgen.generated.etcdserverpb.rpc_pb2",
    "etcdgen.generated.v3lockpb.v3lock_pb2",
    "etcdgen.generated.v3electionpb.v3election_pb2",
)
#: How deep `fill` follows message fields (RequestOp -> TxnRequest -> RequestOp ... recurses).
MAX_DEPTH = 3


def ok(text: str) -> None:
    print(f"OK {text}", flush=True)


# --- sample messages --------------------------------------------------------------------------


#: A field descriptor of either backend (the stubs type upb's apart from the Python one).
Field = Any


def is_repeated(field: Field) -> bool:
    # Newer protobuf has `is_repeated` and (7.x) no `label`; older ones only `label`.
    flag = getattr(field, "is_repeated", None)
    if isinstance(flag, bool):
        return flag
    return bool(field.label == FieldDescriptor.LABEL_REPEATED)


def scalar_sample(field: Field) -> Any:
    """A non-default value for a scalar field, exactly representable in JSON and text."""
    if field.cpp_type == FieldDescriptor.CPPTYPE_ENUM:
        return field.enum_type.values[-1].number
    if field.cpp_type == FieldDescriptor.CPPTYPE_BOOL:
        return True
    if field.cpp_type in (FieldDescriptor.CPPTYPE_DOUBLE, FieldDescriptor.CPPTYPE_FLOAT):
        return 1.5
    if field.cpp_type == FieldDescriptor.CPPTYPE_STRING:
        return b"\x00\xffbytes" if field.type == FieldDescriptor.TYPE_BYTES else "text \u2713"
    return 7  # every integer type


def fill(message: Message, depth: int = 0) -> Message:
    """Set every field of `message` (the first member of each oneof), following sub-messages."""
    filled_oneofs: set[str] = set()
    for field in message.DESCRIPTOR.fields:
        oneof = field.containing_oneof
        if oneof is not None:
            if oneof.name in filled_oneofs:
                continue
            filled_oneofs.add(oneof.name)
        current = getattr(message, field.name)
        if field.message_type is not None:
            if depth >= MAX_DEPTH:
                continue
            child = current.add() if is_repeated(field) else current
            child.SetInParent()
            fill(child, depth + 1)
        elif is_repeated(field):
            current.append(scalar_sample(field))
        else:
            setattr(message, field.name, scalar_sample(field))
    return message


def message_classes(module: ModuleType) -> list[type[Message]]:
    descriptors: list[Descriptor] = list(module.DESCRIPTOR.message_types_by_name.values())
    return [getattr(module, descriptor.name) for descriptor in descriptors]


# --- checks -----------------------------------------------------------------------------------


def check_round_trips(message: Message) -> None:
    """Every way a message leaves and comes back must give an equal message of the same class."""
    cls = type(message)
    name = cls.__qualname__
    parsed = cls.FromString(message.SerializeToString())
    assert type(parsed) is cls and parsed == message, f"{name}: bytes round trip"
    text = repr(message)
    assert isinstance(text, str), f"{name}: repr"
    set_fields = message.ListFields()
    if set_fields:
        assert parsed != cls(), f"{name}: == ignores field values"
        first = set_fields[0][0].name
        assert first in text, f"{name}: repr lacks field {first}: {text!r}"
    duplicate = copy.deepcopy(message)
    assert type(duplicate) is cls and duplicate == message, f"{name}: deepcopy"
    for protocol in (pickle.DEFAULT_PROTOCOL, pickle.HIGHEST_PROTOCOL):
        restored = pickle.loads(pickle.dumps(message, protocol=protocol))
        assert type(restored) is cls and restored == message, f"{name}: pickle {protocol}"
    from_json = json_format.Parse(json_format.MessageToJson(message), cls())
    assert from_json == message, f"{name}: JSON round trip"
    from_text = text_format.Parse(text_format.MessageToString(message), cls())
    assert from_text == message, f"{name}: text format round trip"


def check_generated_modules() -> None:
    nested_seen = 0
    for module_name in PB2_MODULES:
        module = importlib.import_module(module_name)
        classes = message_classes(module)
        assert classes, f"{module_name}: no message types"
        for cls in classes:
            assert cls.__module__ == module_name, f"{cls.__qualname__}: __module__"
            check_round_trips(cls())
            check_round_trips(fill(cls()))
            for nested in cls.DESCRIPTOR.nested_types:
                nested_cls = getattr(cls, nested.name)
                assert nested_cls.__qualname__ == f"{cls.__qualname__}.{nested.name}"
                check_round_trips(fill(nested_cls()))
                nested_seen += 1
        short = module_name.rsplit(".", 2)[-2:]
        ok(
            f"{'.'.join(short)}: {len(classes)} message types: bytes, ==, repr, deepcopy, "
            "pickle, JSON and text format round trips"
        )
    if nested_seen:
        ok(f"{nested_seen} nested message types round-trip (pickle included)")
    else:
        ok("no nested message types in the generated modules (checked DESCRIPTOR.nested_types)")


def check_nested_pickle_helper() -> None:
    """The helper's nested-class path, on a small proto of our own (etcd's have no nested
    messages): nested classes must pickle by module + qualname, not via the default pool."""
    proto = descriptor_pb2.FileDescriptorProto(
        name="etcdgen_compat/nested.proto", package="etcdgen_compat", syntax="proto3"
    )
    outer = proto.message_type.add(name="Outer")
    outer.nested_type.add(name="Inner").field.add(
        name="name",
        number=1,
        json_name="name",
        type=descriptor_pb2.FieldDescriptorProto.TYPE_STRING,
        label=descriptor_pb2.FieldDescriptorProto.LABEL_OPTIONAL,
    )
    outer.field.add(
        name="inner",
        number=1,
        json_name="inner",
        type=descriptor_pb2.FieldDescriptorProto.TYPE_MESSAGE,
        label=descriptor_pb2.FieldDescriptorProto.LABEL_OPTIONAL,
        type_name=".etcdgen_compat.Outer.Inner",
    )
    file = load_file(new_pool(), proto.SerializeToString(), proto.name)
    outer_cls = message_class(file, "Outer", __name__)
    # pickle finds classes as <module>.<qualname>: publish Outer in this module.
    setattr(sys.modules[__name__], "Outer", outer_cls)  # noqa: B010
    check_round_trips(outer_cls.Inner(name="x"))
    check_round_trips(outer_cls(inner=outer_cls.Inner(name="y")))
    ok("helper: nested message class (synthetic Outer.Inner) round-trips, pickle included")


def check_enums_and_oneofs() -> None:
    assert rpc_pb2.RangeRequest.DESCEND == 2
    assert rpc_pb2.RangeRequest.SortOrder.Name(rpc_pb2.RangeRequest.DESCEND) == "DESCEND"
    assert rpc_pb2.RangeRequest.SortTarget.Value("MOD") == rpc_pb2.RangeRequest.MOD == 3
    assert kv_pb2.Event.DELETE == 1
    ok("nested enum constants: RangeRequest.DESCEND, SortOrder.Name, SortTarget.Value")

    assert rpc_pb2.NOSPACE == 1
    assert rpc_pb2.AlarmType.Name(rpc_pb2.NOSPACE) == "NOSPACE"
    assert rpc_pb2.AlarmType.Value("CORRUPT") == rpc_pb2.CORRUPT == 2
    assert list(rpc_pb2.AlarmType.keys()) == ["NONE", "NOSPACE", "CORRUPT"]
    ok("top-level enum: AlarmType.Name(1) == 'NOSPACE', module constant NOSPACE == 1")

    op = rpc_pb2.RequestOp(request_put=rpc_pb2.PutRequest(key=b"k", value=b"v"))
    assert op.WhichOneof("request") == "request_put"
    assert op.HasField("request_put") and not op.HasField("request_range")
    op.request_range.key = b"k"
    assert op.WhichOneof("request") == "request_range" and not op.HasField("request_put")
    ok("oneof: RequestOp.WhichOneof('request') follows the last member set")


def check_private_pool() -> None:
    default = descriptor_pool.Default()
    for full_name in ("etcdserverpb.RangeRequest", "mvccpb.KeyValue"):
        try:
            default.FindMessageTypeByName(full_name)
        except KeyError:
            continue
        raise AssertionError(f"the default descriptor pool knows {full_name}")
    assert rpc_pb2.RangeRequest.DESCRIPTOR.file.pool is _pool.POOL
    assert _pool.POOL is not default
    ok("descriptors live in etcdgen's own pool, not descriptor_pool.Default()")


def check_sync_calls(endpoint: str) -> None:
    with etcdgen.Client(endpoint) as client:
        client.rpc.kv.put(key="k", value="v")
        response = client.rpc.kv.range(key="k")
        assert response.kvs[0].value == b"v", response
        assert response.header.revision > 0
        ok(f"sync Client({endpoint!r}): put, then range returns b'v'")
        try:
            client.rpc.kv.put(key="", value="x")
        except etcdgen.EmptyKeyError as error:
            ok(f"sync put with an empty key raises EmptyKeyError: {error}")
        else:
            raise AssertionError("put(key='') did not raise EmptyKeyError")


async def check_async_calls(endpoint: str) -> None:
    async with etcdgen.AsyncClient(endpoint) as client:
        await client.rpc.kv.put(key="k-async", value="v-async")
        response = await client.rpc.kv.range(key="k-async")
        assert response.kvs[0].value == b"v-async", response
    ok(f"asyncio AsyncClient({endpoint!r}): put, then range returns b'v-async'")


def main(argv: list[str]) -> int:
    print(
        f"python {sys.version.split()[0]}, protobuf {protobuf_version} "
        f"({api_implementation.Type()} backend), grpcio {grpc.__version__}, "
        f"etcdgen {etcdgen.__version__}",
        flush=True,
    )
    ok("import etcdgen")
    check_generated_modules()
    check_nested_pickle_helper()
    check_enums_and_oneofs()
    check_private_pool()
    if len(argv) > 1:
        check_sync_calls(argv[1])
        asyncio.run(check_async_calls(argv[1]))
    else:
        print("(no endpoint given: skipped the calls to etcd)", flush=True)
    print("ALL OK", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
