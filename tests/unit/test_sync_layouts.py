"""`make sync-protos` on source trees in etcd 3.6 and 3.7 layouts, built here from our own
protos (nothing of etcd's is copied): files moved to the 3.6/3.7 paths, Go import paths,
gogoproto (3.6), google.api and openapiv2 annotations (a multi-line option block
included), our own definition of versionpb's options with annotations on a message, a
field, an enum value, and for 3.7 a new server-streaming RPC with its message."""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path

import pytest
from google.protobuf import descriptor_pb2 as d

from codegen import protoc, versions
from codegen.proto_sync import (
    WANTED_FILES,
    SyncError,
    find_upstream_files,
    normalised_sources,
    sync,
)

ROOT = Path(__file__).resolve().parents[2]

PLACES = {
    "mvccpb/kv.proto": "api/mvccpb/kv.proto",
    "authpb/auth.proto": "api/authpb/auth.proto",
    "etcdserverpb/rpc.proto": "api/etcdserverpb/rpc.proto",
    "v3lockpb/v3lock.proto": "server/etcdserver/api/v3lock/v3lockpb/v3lock.proto",
    "v3electionpb/v3election.proto": (
        "server/etcdserver/api/v3election/v3electionpb/v3election.proto"
    ),
}
GO_PATHS = {
    "mvccpb/kv.proto": "etcd/api/mvccpb/kv.proto",
    "authpb/auth.proto": "etcd/api/authpb/auth.proto",
    "etcdserverpb/rpc.proto": "etcd/api/etcdserverpb/rpc.proto",
}

# Our own wording of versionpb's four options (names and numbers are the facts).
VERSIONPB = """syntax = "proto3";
package versionpb;
{gogo_import}import "google/protobuf/descriptor.proto";

extend google.protobuf.MessageOptions {{ optional string etcd_version_msg = 50000; }}
extend google.protobuf.FieldOptions {{ optional string etcd_version_field = 50001; }}
extend google.protobuf.EnumOptions {{ optional string etcd_version_enum = 50002; }}
extend google.protobuf.EnumValueOptions {{ optional string etcd_version_enum_value = 50003; }}
"""

SWAGGER_BLOCK = """
option (grpc.gateway.protoc_gen_openapiv2.options.openapiv2_swagger) = {
  security_definitions: {
    security: {
      key: "ApiKey";
      value: { type: TYPE_API_KEY; in: IN_HEADER; name: "Authorization"; }
    }
  }
  security: { security_requirement: { key: "ApiKey"; value: {}; } }
};
"""


def _upstream_text(short: str, release: str) -> str:
    """One of our protos, dressed as upstream's file of that release."""
    text = (ROOT / "protos" / short).read_text()
    for ours, go_path in GO_PATHS.items():
        text = text.replace(f'import "{ours}";', f'import "{go_path}";')
    gogo = release == "3.6"
    extra_imports = 'import "gogoproto/gogo.proto";\n' if gogo else ""
    if short == "etcdserverpb/rpc.proto":
        extra_imports += (
            'import "etcd/api/versionpb/version.proto";\n'
            "// for grpc-gateway\n"
            'import "google/api/annotations.proto";\n'
            'import "protoc-gen-openapiv2/options/annotations.proto";\n'
        )
    options = 'option go_package = "go.etcd.io/etcd/api/v3/x";\n'
    if gogo:
        options += "option (gogoproto.marshaler_all) = true;\n"
    if short == "etcdserverpb/rpc.proto":
        options += SWAGGER_BLOCK
        text = _annotate_rpc(text, release)
    package_line = next(line for line in text.splitlines() if line.startswith("package "))
    return text.replace(package_line, f"{package_line}\n\n{extra_imports}{options}", 1)


def _annotate_rpc(text: str, release: str) -> str:
    text = text.replace(
        "  rpc Range(RangeRequest) returns (RangeResponse) {}",
        "  rpc Range(RangeRequest) returns (RangeResponse) {\n"
        '      option (google.api.http) = {\n        post: "/v3/kv/range"\n'
        '        body: "*"\n    };\n  }',
    )
    text = text.replace(
        "message RangeRequest {\n",
        'message RangeRequest {\n  option (versionpb.etcd_version_msg) = "3.0";\n',
    )
    text = text.replace(
        "  bool linearizable = 1;",
        '  bool linearizable = 1 [(versionpb.etcd_version_field)="3.5"];',
    )
    text = text.replace(
        "    NOT_EQUAL = 3;", '    NOT_EQUAL = 3 [(versionpb.etcd_version_enum_value)="3.1"];'
    )
    if release == "3.7":
        text = text.replace(
            "  rpc Put(PutRequest) returns (PutResponse) {}",
            "  rpc RangeStream(RangeRequest) returns (stream RangeStreamResponse) {\n  }\n"
            "  rpc Put(PutRequest) returns (PutResponse) {}",
        )
        text += (
            "\nmessage RangeStreamResponse {\n"
            '  option (versionpb.etcd_version_msg) = "3.7";\n'
            "  RangeResponse range_response = 1;\n}\n"
        )
    return text


def build_tree(root: Path, release: str) -> Path:
    for short, place in PLACES.items():
        target = root / place
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(_upstream_text(short, release))
    gogo = 'import "gogoproto/gogo.proto";\n' if release == "3.6" else ""
    (root / "api/versionpb").mkdir(parents=True)
    (root / "api/versionpb/version.proto").write_text(VERSIONPB.format(gogo_import=gogo))
    (root / "api/version").mkdir(parents=True)
    (root / "api/version/version.go").write_text(
        f'package version\n\nconst (\n\tVersion = "{release}.99"\n)\n'
    )
    # A vendored copy must not be taken for the real file.
    vendored = root / "vendor/other/etcdserverpb/rpc.proto"
    vendored.parent.mkdir(parents=True)
    vendored.write_text("this is not read")
    return root


@pytest.fixture
def protos(tmp_path: Path) -> Path:
    copy = tmp_path / "protos"
    shutil.copytree(ROOT / "protos", copy)
    return copy


@pytest.mark.parametrize("release", ["3.6", "3.7"])
def test_sync_reads_the_layout_and_strips_every_annotation(
    release: str, protos: Path, tmp_path: Path
) -> None:
    tree = build_tree(tmp_path / f"etcd-{release}", release)
    result = sync(tree, protos)
    assert result.version == f"{release}.99"
    assert (protos / "VERSION").read_text() == f"{release}.99\n"
    for short in WANTED_FILES:
        text = (protos / short).read_text()
        for leftover in ("gogoproto", "google.api", "openapiv2", "versionpb", "go_package"):
            assert leftover not in text, f"{short} still mentions {leftover}"
    unchanged = [s for s in WANTED_FILES if s != "etcdserverpb/rpc.proto"]
    for short in unchanged:  # the others were only dressed and undressed
        assert (protos / short).read_text() == (ROOT / "protos" / short).read_text()
    rpc = (protos / "etcdserverpb/rpc.proto").read_text()
    if release == "3.6":
        assert rpc == (ROOT / "protos/etcdserverpb/rpc.proto").read_text()
    else:
        assert "rpc RangeStream(RangeRequest) returns (stream RangeStreamResponse) {}" in rpc
        assert "etcdserverpb.RangeStreamResponse" in result.uncommented
    # Wire-identical: the synced files compile to the upstream fixture's wire facts.
    ours = protoc.compile_descriptor_set(protos, list(WANTED_FILES), source_info=False)
    staging = tmp_path / "upstream"
    for short, text in normalised_sources(find_upstream_files(tree)):
        (staging / short).parent.mkdir(parents=True, exist_ok=True)
        (staging / short).write_text(text)
    upstream = protoc.compile_descriptor_set(staging, list(WANTED_FILES), source_info=False)
    assert wire_facts(ours) == wire_facts(upstream)


def wire_facts(fds: d.FileDescriptorSet) -> dict[str, object]:
    """What travels on the wire (and in method paths), per file."""

    def messages(items: Iterable[d.DescriptorProto], scope: str) -> Iterator[object]:
        for m in items:
            name = f"{scope}.{m.name}"
            yield name, [(f.name, f.number, f.type, f.label, f.type_name) for f in m.field]
            yield from messages(m.nested_type, name)
            for e in m.enum_type:
                yield f"{name}.{e.name}", [(v.name, v.number) for v in e.value]

    facts: dict[str, object] = {}
    for fdp in fds.file:
        if fdp.name not in WANTED_FILES:
            continue
        facts[fdp.name] = (
            fdp.package,
            list(messages(fdp.message_type, fdp.package)),
            [(e.name, [(v.name, v.number) for v in e.value]) for e in fdp.enum_type],
            [
                (
                    s.name,
                    [(m.name, m.input_type, m.output_type, m.server_streaming) for m in s.method],
                )
                for s in fdp.service
            ],
        )
    return facts


def test_version_annotations_are_kept_and_carried_forward(protos: Path, tmp_path: Path) -> None:
    (protos / versions.FILE_NAME).unlink(missing_ok=True)
    sync(build_tree(tmp_path / "etcd-3.7", "3.7"), protos)
    facts = versions.load(protos)
    assert facts["etcdserverpb.RangeRequest"] == "3.0"
    assert facts["etcdserverpb.MemberListRequest.linearizable"] == "3.5"
    assert facts["etcdserverpb.Compare.CompareResult.NOT_EQUAL"] == "3.1"
    assert facts["etcdserverpb.RangeStreamResponse"] == "3.7"
    # Back to a tree without annotations (our 3.5 protos in the 3.5 layout): the facts of
    # elements it still has stay, those of elements it lacks go.
    tree35 = tmp_path / "etcd-3.5"
    for short, place in PLACES.items():
        (tree35 / place).parent.mkdir(parents=True, exist_ok=True)
        (tree35 / place).write_text((ROOT / "protos" / short).read_text())
    sync(tree35, protos, version="3.5.1")
    carried = versions.load(protos)
    assert carried["etcdserverpb.MemberListRequest.linearizable"] == "3.5"
    assert carried["etcdserverpb.RangeRequest"] == "3.0"
    assert "etcdserverpb.RangeStreamResponse" not in carried
    for short in WANTED_FILES:
        assert (protos / short).read_text() == (ROOT / "protos" / short).read_text()


def test_a_new_rpc_without_policy_stops_generation(protos: Path, tmp_path: Path) -> None:
    sync(build_tree(tmp_path / "etcd-3.7", "3.7"), protos)
    out = tmp_path / "generated"
    shutil.copytree(ROOT / "generated", out)
    before = {p: p.read_bytes() for p in out.rglob("*") if p.is_file()}
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "codegen",
            "generate",
            "--protos",
            str(protos),
            "--out",
            str(out),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert result.returncode != 0
    assert "no retry policy for RPC /etcdserverpb.KV/RangeStream" in result.stderr
    assert {p: p.read_bytes() for p in out.rglob("*") if p.is_file()} == before


def test_an_unknown_layout_says_which_file_is_missing_and_where(tmp_path: Path) -> None:
    tree = build_tree(tmp_path / "etcd", "3.6")
    (tree / PLACES["v3lockpb/v3lock.proto"]).unlink()
    with pytest.raises(SyncError) as raised:
        find_upstream_files(tree)
    message = str(raised.value)
    assert "v3lockpb/v3lock.proto" in message and "server/etcdserver/api/v3lock" in message
    assert str(tree) in message
