"""Unit tests of the generator's pieces, on descriptors and text built here."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from google.protobuf import descriptor_pb2 as d

from codegen.load import error_class_name, load_api, module_path, snake_case
from codegen.policy import POLICY, MissingPolicyError
from codegen.proto_sync import strip_annotations
from codegen.render import bytes_chunks, docstring, import_from
from codegen.stubs import relative_module

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    ("name", "snake"),
    [
        ("Range", "range"),
        ("DeleteRange", "delete_range"),
        ("HashKV", "hash_kv"),
        ("KV", "kv"),
        ("LeaseTimeToLive", "lease_time_to_live"),
        ("MemberPromote", "member_promote"),
        ("AuthStatus", "auth_status"),
    ],
)
def test_snake_case(name: str, snake: str) -> None:
    assert snake_case(name) == snake


def test_error_class_names_never_shadow_builtins() -> None:
    assert error_class_name("ErrEmptyKey") == "EmptyKeyError"
    assert error_class_name("ErrTimeout") == "EtcdTimeoutError"  # not builtins.TimeoutError


def test_module_path() -> None:
    assert module_path("etcdserverpb/rpc.proto") == "etcdserverpb/rpc_pb2"
    assert module_path("a-b.proto") == "a_b_pb2"


@pytest.mark.parametrize(
    ("current", "target", "relative"),
    [
        ("etcdserverpb/rpc_pb2", "mvccpb/kv_pb2", "..mvccpb.kv_pb2"),
        ("etcdserverpb/rpc_pb2", "etcdserverpb/other_pb2", "..other_pb2"),
        ("v3lockpb/v3lock_pb2", "etcdserverpb/rpc_pb2", "..etcdserverpb.rpc_pb2"),
        ("top_pb2", "top2_pb2", "..top2_pb2"),  # mypy-protobuf splits it: from . import
    ],
)
def test_relative_module_for_stub_imports(current: str, target: str, relative: str) -> None:
    assert relative_module(current, target) == relative


def test_import_from() -> None:
    assert import_from("sync", "etcdserverpb/rpc_pb2") == "from ..etcdserverpb import rpc_pb2"
    assert import_from("", "mvccpb/kv_pb2") == "from .mvccpb import kv_pb2"
    assert import_from("etcdserverpb", "mvccpb/kv_pb2") == "from ..mvccpb import kv_pb2"


def test_docstring_escaping_round_trips() -> None:
    for text in ["plain", 'a """ b', "back\\slash", 'ends with "', "\\d+ {{ x }}"]:
        source = f'"""{docstring(text)}"""'
        assert eval(source).rstrip() == text


def test_bytes_chunks_round_trip_and_width() -> None:
    data = bytes(range(256)) * 3
    chunks = bytes_chunks(data, width=80)
    assert max(len(c) for c in chunks) <= 80
    assert eval("(" + " ".join(chunks) + ")") == data


def test_strip_annotations_keeps_wire_facts_and_comments() -> None:
    source = """syntax = "proto3";
// option (gogoproto.marshaler_all) = true;  <- a comment, kept
import "gogoproto/gogo.proto";
import "etcd/api/mvccpb/kv.proto";
import "google/api/annotations.proto";
option (gogoproto.marshaler_all) = true;
option go_package = "x";
message A {
  bytes key = 1 [(gogoproto.nullable) = false];
  int64 rev = 2 [deprecated = true, (gogoproto.customname) = "Rev"];
  string s = 3 [(gogoproto.moretags) = "yaml:\\"s\\"", json_name = "sss"];
}
service S {
  rpc M(A) returns (A) {
    option (google.api.http) = { post: "/v3/m" body: "*" additional_bindings { get: "/x" } };
  }
}
"""
    out = strip_annotations(source)
    assert "gogoproto/gogo.proto" not in out and "google/api" not in out
    assert "option (gogoproto" not in out.split("\n", 2)[2]
    assert "// option (gogoproto.marshaler_all) = true;  <- a comment, kept" in out
    assert 'option go_package = "x";' in out
    assert "bytes key = 1 ;" in out
    assert "int64 rev = 2 [deprecated = true];" in out
    assert 'string s = 3 [json_name = "sss"];' in out
    assert "rpc M(A) returns (A) {\n    \n  }" in out


def _service_file(rpc: str) -> d.FileDescriptorSet:
    fdp = d.FileDescriptorProto(name="x/new.proto", package="newpb", syntax="proto3")
    fdp.message_type.add(name="Req")
    fdp.message_type.add(name="Resp")
    service = fdp.service.add(name="Thing")
    service.method.add(name=rpc, input_type=".newpb.Req", output_type=".newpb.Resp")
    return d.FileDescriptorSet(file=[fdp])


def test_an_rpc_without_policy_stops_generation_naming_it() -> None:
    with pytest.raises(MissingPolicyError, match=r"/newpb\.Thing/Frobnicate.*codegen/policy\.py"):
        load_api(
            _service_file("Frobnicate"),
            ["x/new.proto"],
            etcd_version="0",
            generator_version="0",
        )


def test_policy_table_covers_exactly_the_protos_rpcs() -> None:
    surface = (ROOT / "generated" / "API_SURFACE.txt").read_text().splitlines()
    rpcs = {line.split()[1] for line in surface if line.startswith("rpc ")}
    paths = {"/" + ".".join(r.split(".")[:2]) + "/" + r.split(".")[2] for r in rpcs}
    assert paths == set(POLICY)


def test_committed_generated_tree_is_current() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "codegen", "generate", "--check"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
