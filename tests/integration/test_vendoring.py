"""Vendored copies of etcdgen live side by side, each with its own API, pool and types.

`python -m etcdgen vendor DEST` copies etcdgen into another project's tree. This module
builds two such copies in a temporary directory:

- copy A, `liba._vendor.etcdgen`: this checkout as it is (etcd API 3.5.1);
- copy B, `libb._vendor.etcdgen`: the same runtime with code generated from etcd 3.4.23's
  protos (`codegen sync-protos` + `codegen generate`, then `vendor --generated`).

and proves, against one real etcd 3.5.1 server:

1. copies A and B, the checkout's own `etcdgen` and the peer client `aetcd` (which puts
   etcd's protos into protobuf's default pool) import into one process and all talk to
   etcd; each copy keeps its own API version, messages, descriptor pool and error
   classes, and its messages pickle;
2. copy A alone is self-contained: with only the temporary directory on PYTHONPATH (and
   `etcdgen` made unimportable), it works and pulls in no `etcdgen`, codegen or build tool;
3. `vendor --check` accepts an intact copy and names a file edited by hand;
4. `mypy --strict` type-checks a user of copy A against the copy's own stubs, and rejects
   misuse of copies A and B (so the types are real, not Any).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sources import SourceUnavailable, etcd34_source

from etcdgen.testing import EtcdNotFoundError, EtcdServer

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = ROOT / "tests" / "typing" / "vendored"
PROTO_FILES = (
    "authpb/auth.proto",
    "etcdserverpb/rpc.proto",
    "mvccpb/kv.proto",
    "v3electionpb/v3election.proto",
    "v3lockpb/v3lock.proto",
)


def _in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


def _run(
    args: list[str], cwd: Path, pythonpath: str | None = None, check: bool = True
) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    env.pop("PYTHONPATH", None)
    env.pop("MYPYPATH", None)
    if pythonpath is not None:
        env["PYTHONPATH"] = pythonpath
    result = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, check=False)
    if check and result.returncode != 0:
        pytest.fail(
            f"{' '.join(args)} exited {result.returncode}\n"
            f"--- stdout ---\n{result.stdout}\n--- stderr ---\n{result.stderr}",
            pytrace=False,
        )
    return result


def _python(script: str, *args: str, cwd: Path, pythonpath: str) -> dict[str, Any]:
    """Run `script` in a fresh interpreter; it prints one JSON object as its last line."""
    result = _run([sys.executable, "-c", textwrap.dedent(script), *args], cwd, pythonpath)
    report: dict[str, Any] = json.loads(result.stdout.strip().splitlines()[-1])
    return report


# --- fixtures --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Vendored:
    root: Path  # holds liba/ and libb/; the PYTHONPATH of the subprocesses
    liba: Path  # <root>/liba/_vendor (copy A: etcd API 3.5.1)
    libb: Path  # <root>/libb/_vendor (copy B: etcd API 3.4.23)


@pytest.fixture(scope="module")
def etcd34_src() -> Path:
    try:
        return etcd34_source()
    except SourceUnavailable as error:
        if _in_ci():
            pytest.fail(f"CI must be able to fetch the etcd 3.4 source: {error}")
        pytest.skip(str(error))


@pytest.fixture(scope="module")
def server() -> Iterator[EtcdServer]:
    """One etcd 3.5.1 for the whole module (not the `etcd` fixture: no 3.4 re-run)."""
    try:
        etcd = EtcdServer(version="3.5", name="vendoring")
    except EtcdNotFoundError as error:
        if _in_ci():
            pytest.fail(f"CI must provide etcd 3.5: {error}", pytrace=False)
        pytest.skip(str(error))
    with etcd:
        yield etcd


@pytest.fixture(scope="module")
def vendored(etcd34_src: Path, tmp_path_factory: pytest.TempPathFactory) -> Vendored:
    root = tmp_path_factory.mktemp("vendoring")
    work = tmp_path_factory.mktemp("gen34")
    for package in ("liba", "libb"):
        (root / package / "_vendor").mkdir(parents=True)
        (root / package / "__init__.py").touch()
        (root / package / "_vendor" / "__init__.py").touch()
    etcdgen = [sys.executable, "-m", "etcdgen", "vendor"]
    codegen = [sys.executable, "-m", "codegen"]
    # Copy A: this checkout.
    _run([*etcdgen, str(root / "liba" / "_vendor")], ROOT)
    # A generated tree of etcd 3.4.23's API, then copy B with it.
    protos, gen34 = work / "protos", work / "gen34"
    shutil.copytree(ROOT / "protos", protos)
    shutil.copytree(ROOT / "generated", gen34)
    _run([*codegen, "sync-protos", str(etcd34_src), "--protos", str(protos)], ROOT)
    _run([*codegen, "generate", "--protos", str(protos), "--out", str(gen34)], ROOT)
    _run([*etcdgen, str(root / "libb" / "_vendor"), "--generated", str(gen34)], ROOT)
    return Vendored(root, root / "liba" / "_vendor", root / "libb" / "_vendor")


# --- the copies and their records ------------------------------------------------------------


def test_each_copy_records_its_api_and_checks_clean(vendored: Vendored) -> None:
    for dest, api in ((vendored.liba, "3.5.1"), (vendored.libb, "3.4.23")):
        record = json.loads((dest / "etcdgen" / "VENDORED").read_text())
        assert record["etcd_api_version"] == api
        assert "generated/etcdserverpb/rpc_pb2.pyi" in record["files"]
        assert "py.typed" in record["files"]
        check = _run([sys.executable, "-m", "etcdgen", "vendor", "--check", str(dest)], ROOT)
        assert check.stdout.strip() == "vendored copy is intact"


def test_check_names_a_file_edited_by_hand(vendored: Vendored, tmp_path: Path) -> None:
    # Edit a copy of copy A, so the other tests keep an intact one.
    dest = tmp_path / "_vendor"
    shutil.copytree(vendored.liba, dest)
    check = [sys.executable, "-m", "etcdgen", "vendor", "--check", str(dest)]
    assert _run(check, ROOT).returncode == 0
    with (dest / "etcdgen" / "client.py").open("a") as client:
        client.write("# a local patch\n")
    result = _run(check, ROOT, check=False)
    assert result.returncode == 1, result.stdout + result.stderr
    assert result.stdout.strip() == "edited by hand: client.py"


# --- at run time -----------------------------------------------------------------------------

SIDE_BY_SIDE = """
    import asyncio, json, pickle, sys

    from google.protobuf import descriptor_pool

    import aetcd
    import etcdgen
    import liba._vendor.etcdgen as copy_a
    import libb._vendor.etcdgen as copy_b
    from etcdgen.generated.etcdserverpb import rpc_pb2 as rpc_main
    from liba._vendor.etcdgen.generated.etcdserverpb import rpc_pb2 as rpc_a
    from libb._vendor.etcdgen.generated.etcdserverpb import rpc_pb2 as rpc_b

    endpoint, proto_files = sys.argv[1], sys.argv[2:]
    host, port = endpoint.rsplit(":", 1)
    copies = {"main": (etcdgen, rpc_main), "a": (copy_a, rpc_a), "b": (copy_b, rpc_b)}
    report = {k: {} for k in ("file", "api", "value", "reply_is_own_class", "has", "members")}
    empty_key_errors = {}

    for name, (package, rpc) in copies.items():
        report["file"][name] = package.__file__
        report["api"][name] = package.ETCD_API_VERSION
        with package.Client(endpoint, timeout=5.0) as client:
            client.rpc.kv.put(key=f"vendoring/{name}", value=f"from {name}")
            reply = client.rpc.kv.range(key=f"vendoring/{name}")
            report["value"][name] = reply.kvs[0].value.decode()
            report["reply_is_own_class"][name] = type(reply) is rpc.RangeResponse
            try:
                client.rpc.kv.put(key=b"", value=b"no key")
            except package.EmptyKeyError as error:
                empty_key_errors[name] = error
            report["has"][name] = {
                "DowngradeRequest": hasattr(rpc, "DowngradeRequest"),
                "auth_status": hasattr(client.rpc.auth, "auth_status"),
                "downgrade": hasattr(client.rpc.maintenance, "downgrade"),
                "MemberListRequest.linearizable": "linearizable"
                in rpc.MemberListRequest.DESCRIPTOR.fields_by_name,
            }
            # 3.4's MemberListRequest (no `linearizable`) still works against etcd 3.5.
            report["members"][name] = len(client.rpc.cluster.member_list().members)

    async def with_asyncio_copy_b():
        async with copy_b.AsyncClient([endpoint]) as client:
            await client.rpc.kv.put(key="vendoring/b-async", value="from b (asyncio)")
            reply = await client.rpc.kv.range(key="vendoring/b-async")
            return reply.kvs[0].value.decode()

    async def with_aetcd():
        async with aetcd.Client(host, int(port)) as client:
            await client.put(b"vendoring/aetcd", b"from aetcd")
            return (await client.get(b"vendoring/aetcd")).value.decode()

    report["value"]["b-async"] = asyncio.run(with_asyncio_copy_b())
    report["value"]["aetcd"] = asyncio.run(with_aetcd())
    with copy_a.Client(endpoint) as client:  # everyone's keys, read by one copy
        listing = client.rpc.kv.range(key="vendoring/", range_end="vendoring0")
        report["all_keys"] = sorted(kv.key.decode() for kv in listing.kvs)

    classes = [rpc.RangeRequest for _, rpc in copies.values()]
    pools = [cls.DESCRIPTOR.file.pool for cls in classes]
    default = descriptor_pool.Default()
    unknown = []
    for proto in proto_files:
        try:
            default.FindFileByName(proto)
        except KeyError:
            unknown.append(proto)
    report["distinct_classes"] = len({id(c) for c in classes})
    report["distinct_pools"] = len({id(p) for p in pools})
    report["default_pool_used"] = any(p is default for p in pools)
    report["unknown_to_default_pool"] = unknown
    # aetcd's own etcdserverpb.RangeRequest (from "rpc.proto") is what the default pool holds.
    report["default_range_request_file"] = default.FindMessageTypeByName(
        "etcdserverpb.RangeRequest"
    ).file.name

    error_b = empty_key_errors["b"]
    report["errors"] = {
        "caught": sorted(empty_key_errors),
        "b_is_b": isinstance(error_b, copy_b.EmptyKeyError)
        and isinstance(error_b, copy_b.EtcdError),
        "b_is_a": isinstance(error_b, (copy_a.EmptyKeyError, copy_a.EtcdError)),
        "b_is_main": isinstance(error_b, (etcdgen.EmptyKeyError, etcdgen.EtcdError)),
        "classes": len({id(p.EmptyKeyError) for p, _ in copies.values()}),
    }

    request = rpc_b.RangeRequest(key=b"vendoring/", range_end=b"vendoring0", limit=3)
    with copy_b.Client(endpoint) as client:
        response = client.rpc.kv.range(key="vendoring/b")
    round_trips = [pickle.loads(pickle.dumps(m)) for m in (request, response)]
    report["pickle"] = [
        type(back) is type(sent) and back == sent
        for back, sent in zip(round_trips, (request, response))
    ]
    report["pickled_kvs"] = [kv.value.decode() for kv in round_trips[1].kvs]
    # Wire-compatible although the classes differ: A reads what B writes.
    report["a_parses_b"] = rpc_a.RangeRequest.FromString(request.SerializeToString()).limit
    print(json.dumps(report))
"""


def test_copies_and_aetcd_share_one_process(vendored: Vendored, server: EtcdServer) -> None:
    report = _python(
        SIDE_BY_SIDE,
        server.endpoint,
        *PROTO_FILES,
        cwd=vendored.root,
        pythonpath=os.pathsep.join([str(vendored.root), str(ROOT)]),
    )
    assert report["file"] == {
        "main": str(ROOT / "etcdgen" / "__init__.py"),
        "a": str(vendored.liba / "etcdgen" / "__init__.py"),
        "b": str(vendored.libb / "etcdgen" / "__init__.py"),
    }
    assert report["api"] == {"main": "3.5.1", "a": "3.5.1", "b": "3.4.23"}
    assert report["value"] == {
        "main": "from main",
        "a": "from a",
        "b": "from b",
        "b-async": "from b (asyncio)",
        "aetcd": "from aetcd",
    }
    assert report["reply_is_own_class"] == {"main": True, "a": True, "b": True}
    assert report["all_keys"] == [
        "vendoring/a",
        "vendoring/aetcd",
        "vendoring/b",
        "vendoring/b-async",
        "vendoring/main",
    ]
    api35 = {
        "DowngradeRequest": True,
        "auth_status": True,
        "downgrade": True,
        "MemberListRequest.linearizable": True,
    }
    api34 = {
        "DowngradeRequest": False,
        "auth_status": False,
        "downgrade": False,
        "MemberListRequest.linearizable": False,
    }
    assert report["has"] == {"main": api35, "a": api35, "b": api34}
    assert report["members"] == {"main": 1, "a": 1, "b": 1}
    assert report["distinct_classes"] == 3
    assert report["distinct_pools"] == 3
    assert not report["default_pool_used"]
    assert report["unknown_to_default_pool"] == list(PROTO_FILES)
    assert report["default_range_request_file"] == "rpc.proto"  # aetcd's, untouched
    assert report["errors"] == {
        "caught": ["a", "b", "main"],
        "b_is_b": True,
        "b_is_a": False,
        "b_is_main": False,
        "classes": 3,
    }
    assert report["pickle"] == [True, True]
    assert report["pickled_kvs"] == ["from b"]
    assert report["a_parses_b"] == 3


SELF_CONTAINED = """
    import importlib.abc, json, sys

    FORBIDDEN = ("etcdgen", "codegen", "jinja2", "grpc_tools", "mypy_protobuf")

    class Forbid(importlib.abc.MetaPathFinder):
        # The checkout is installed editable, so `etcdgen` would import from anywhere:
        # refuse it (and the build tools) so that any such import fails loudly.
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in FORBIDDEN:
                raise ImportError(f"a vendored copy imported {name}")
            return None

    sys.meta_path.insert(0, Forbid())

    from liba._vendor.etcdgen import AsyncClient, Client, EmptyKeyError

    endpoint = sys.argv[1]
    with Client(endpoint) as client:
        client.rpc.kv.put(key="vendoring/alone", value="self-contained")
        value = client.rpc.kv.range(key="vendoring/alone").kvs[0].value.decode()
        try:
            client.rpc.kv.put(key=b"", value=b"")
        except EmptyKeyError:
            value += ", EmptyKeyError"

    modules = sorted(sys.modules)
    print(json.dumps({
        "value": value,
        "client_module": Client.__module__,
        "async_client_module": AsyncClient.__module__,
        "etcdgen_modules": [m for m in modules if m.split(".")[0] == "etcdgen"],
        "forbidden": [m for m in modules if m.split(".")[0] in FORBIDDEN],
        "vendored": sum(m.startswith("liba._vendor.etcdgen.") for m in modules),
        "sys_path": sys.path,
    }))
"""


def test_vendored_copy_is_self_contained(vendored: Vendored, server: EtcdServer) -> None:
    report = _python(
        SELF_CONTAINED, server.endpoint, cwd=vendored.root, pythonpath=str(vendored.root)
    )
    assert str(ROOT) not in report["sys_path"]
    assert report["value"] == "self-contained, EmptyKeyError"
    assert report["client_module"] == "liba._vendor.etcdgen._sync.client"
    assert report["async_client_module"] == "liba._vendor.etcdgen._async.client"
    assert report["etcdgen_modules"] == []
    assert report["forbidden"] == []
    assert report["vendored"] > 20  # runtime + generated modules, all under liba._vendor


# --- for type checkers -----------------------------------------------------------------------

_MYPY_ERROR = re.compile(
    r"^(?P<file>[^:]+):(?P<line>\d+): error: (?P<message>.*)  \[(?P<code>[a-z-]+)\]$"
)
_MARKER = re.compile(r"# E: \[(?P<code>[a-z-]+)\] (?P<fragment>.*)$")


def _mypy(vendored: Vendored, sample: str) -> subprocess.CompletedProcess[str]:
    """`mypy --strict` on a sample copied next to the vendored copies (not next to ROOT)."""
    shutil.copyfile(SAMPLES / sample, vendored.root / sample)
    command = [sys.executable, "-m", "mypy", "--strict", "--cache-dir", ".mypy_cache", sample]
    env = dict(os.environ, MYPYPATH=str(vendored.root))
    env.pop("PYTHONPATH", None)
    return subprocess.run(
        command, cwd=vendored.root, env=env, capture_output=True, text=True, check=False
    )


def test_user_of_vendored_copy_passes_mypy_strict(vendored: Vendored) -> None:
    result = _mypy(vendored, "user_of_vendored.py")
    assert result.returncode == 0, result.stdout + result.stderr


def test_misuse_of_vendored_copies_fails_mypy(vendored: Vendored) -> None:
    sample = "misuse_of_vendored.py"
    result = _mypy(vendored, sample)
    assert result.returncode == 1, result.stdout + result.stderr
    found = {}
    for line in result.stdout.splitlines():
        match = _MYPY_ERROR.match(line)
        if match:
            assert match["file"] == sample, line  # nothing wrong inside the vendored copies
            found[int(match["line"])] = (match["code"], match["message"])
    expected = {}
    for number, line in enumerate((SAMPLES / sample).read_text().splitlines(), start=1):
        marker = _MARKER.search(line)
        if marker:
            expected[number] = (marker["code"], marker["fragment"])
    assert len(expected) == 6
    assert sorted(found) == sorted(expected), result.stdout
    for number, (code, fragment) in expected.items():
        assert found[number][0] == code, result.stdout
        assert fragment in found[number][1], result.stdout
