"""`make sync-protos` against a real etcd source tree of another release (3.4.23)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from google.protobuf import descriptor_pb2 as d
from sources import SourceUnavailable, etcd34_source

from codegen import protoc
from codegen.descriptors import comments_by_key
from codegen.proto_sync import WANTED_FILES, find_upstream_files, normalised_sources

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def source() -> Path:
    try:
        return etcd34_source()
    except SourceUnavailable as error:
        if os.environ.get("CI"):
            pytest.fail(f"CI must be able to fetch the etcd 3.4 source: {error}")
        pytest.skip(str(error))


@pytest.fixture(scope="module")
def synced(source: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """A copy of protos/ synced from etcd 3.4.23 through the make target, and make's output."""
    work = tmp_path_factory.mktemp("sync34")
    protos = work / "protos"
    shutil.copytree(ROOT / "protos", protos)
    result = subprocess.run(
        [sys.executable, "-m", "codegen", "sync-protos", str(source), "--protos", str(protos)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    return protos, result.stdout


def _wire(fds: d.FileDescriptorSet) -> dict[str, d.FileDescriptorProto]:
    """Descriptors reduced to what goes on the wire (names, numbers, types)."""
    out = {}
    for fdp in fds.file:
        bare = d.FileDescriptorProto()
        bare.CopyFrom(fdp)
        bare.ClearField("source_code_info")
        bare.ClearField("options")
        bare.ClearField("dependency")
        bare.ClearField("name")
        out["/".join(fdp.name.split("/")[-2:])] = bare
    return out


def test_sync_reads_the_release_and_writes_our_layout(synced: tuple[Path, str]) -> None:
    protos, output = synced
    assert (protos / "VERSION").read_text().strip() == "3.4.23"
    assert "imported etcd 3.4.23 protos" in output
    rpc = (protos / "etcdserverpb" / "rpc.proto").read_text()
    assert "gogoproto" not in rpc and "google.api" not in rpc
    assert 'import "mvccpb/kv.proto";' in rpc
    assert "rpc Downgrade" not in rpc and "rpc AuthStatus" not in rpc


def test_synced_protos_are_wire_identical_to_upstream(
    source: Path, synced: tuple[Path, str], tmp_path: Path
) -> None:
    protos, _ = synced
    # Upstream, with only the annotations cut out, compiled from its own files.
    staging = tmp_path / "upstream"
    for short, text in normalised_sources(find_upstream_files(source)):
        (staging / short).parent.mkdir(parents=True, exist_ok=True)
        (staging / short).write_text(text)
    upstream = _wire(protoc.compile_descriptor_set(staging, list(WANTED_FILES)))
    ours = _wire(protoc.compile_descriptor_set(protos, list(WANTED_FILES)))
    assert ours.keys() == upstream.keys()
    for name in ours:
        assert ours[name] == upstream[name], f"{name} differs from upstream on the wire"


def test_our_comments_survive_the_sync(synced: tuple[Path, str]) -> None:
    protos, _ = synced
    ours = protoc.compile_descriptor_set(ROOT / "protos", ["etcdserverpb/rpc.proto"])
    theirs = protoc.compile_descriptor_set(protos, ["etcdserverpb/rpc.proto"])
    mine = {f.name: comments_by_key(f) for f in ours.file}["etcdserverpb/rpc.proto"]
    synced_comments = {f.name: comments_by_key(f) for f in theirs.file}["etcdserverpb/rpc.proto"]
    assert synced_comments["etcdserverpb.KV.Range"] == mine["etcdserverpb.KV.Range"]
    assert "etcdserverpb.Maintenance.Downgrade" not in synced_comments


def test_generate_prints_the_api_change_report(synced: tuple[Path, str], tmp_path: Path) -> None:
    protos, _ = synced
    out = tmp_path / "generated"
    shutil.copytree(ROOT / "generated", out)
    result = subprocess.run(
        [sys.executable, "-m", "codegen", "generate", "--protos", str(protos), "--out", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    report = result.stdout
    assert "API change report: etcd 3.5.1 -> 3.4.23" in report
    assert "- rpc etcdserverpb.Maintenance.Downgrade" in report
    assert "- rpc etcdserverpb.Auth.AuthStatus" in report
    assert "- message etcdserverpb.DowngradeRequest" in report
    assert (out / "API_SURFACE.txt").read_text().startswith("# etcd API surface, etcd 3.4.23")
    assert not (out / "sync" / "kv.py").read_text().count("downgrade")
