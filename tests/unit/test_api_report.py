"""The API change report (`codegen/report.py`): fixture bumps of the golden protos, each
change in its class; the Python-surface lines against the rendered code; API_CHANGES.md
kept or rewritten; an RPC without a policy leaves the output untouched."""

from __future__ import annotations

import ast
import functools
import shutil
import subprocess
import sys
from collections.abc import Callable, Mapping
from pathlib import Path

import pytest
from test_golden import ERRORS, FILES, GOLDEN, POLICY

from codegen.generate import generate_files
from codegen.policy import MethodPolicyEntry, MissingPolicyError
from codegen.report import (
    ADDITIVE,
    ANNOTATIONS,
    JSON,
    PY_ADDITIVE,
    PY_BREAKING,
    SECTIONS,
    WIRE,
    ChangeReport,
    changes_file,
    compare_surfaces,
    parse_surface,
)

ROOT = Path(__file__).resolve().parents[2]
SHOUT = "/goldenpb.Echo/Shout"


def _render(
    tmp: Path, edit: Callable[[str], str], policy: Mapping[str, MethodPolicyEntry]
) -> dict[str, str]:
    protos = tmp / "protos"
    shutil.copytree(GOLDEN / "protos", protos)
    proto = protos / "goldenpb" / "echo.proto"
    text = proto.read_text()
    edited = edit(text)
    assert edited != text, "the fixture edit did not apply"
    proto.write_text(edited)
    return generate_files(protos, ROOT / "templates", FILES, policy, ERRORS)


@functools.cache
def _base() -> dict[str, str]:
    return generate_files(GOLDEN / "protos", ROOT / "templates", FILES, POLICY, ERRORS)


def _bump(
    tmp: Path,
    edit: Callable[[str], str],
    policy: Mapping[str, MethodPolicyEntry] = POLICY,
) -> ChangeReport:
    return compare_surfaces(
        _base()["API_SURFACE.txt"], _render(tmp, edit, policy)["API_SURFACE.txt"]
    )


def _sections(report: ChangeReport) -> dict[str, list[str]]:
    """The report's entries in text form, by section (empty sections left out)."""
    return {s: [c.plain for c in report.section(s)] for s in SECTIONS if report.section(s)}


def _sub(old: str, new: str) -> Callable[[str], str]:
    return lambda text: text.replace(old, new, 1)


def test_removed_field_is_wire_breaking_and_removes_the_keyword(tmp_path: Path) -> None:
    report = _bump(tmp_path, _sub("  Mood mood = 5;\n", ""))
    assert _sections(report) == {
        WIRE: ["- field goldenpb.SayRequest.mood = 5 removed"],
        PY_BREAKING: [
            "- client.rpc.echo.say(): keyword mood removed (field goldenpb.SayRequest.mood)",
            "- client.rpc.echo.listen(): keyword mood removed (field goldenpb.SayRequest.mood)",
        ],
    }
    assert report.breaking


def test_renumbered_field_is_wire_breaking_only(tmp_path: Path) -> None:
    report = _bump(tmp_path, _sub("Volume volume = 3;", "Volume volume = 8;"))
    # Same name: the keyword and the attribute stay; only the wire moves.
    assert _sections(report) == {WIRE: ["~ field goldenpb.SayRequest.volume renumbered 3 -> 8"]}


def test_renamed_field_is_json_breaking_and_renames_the_keyword(tmp_path: Path) -> None:
    edit = _sub(
        "// The words, as bytes.\n  bytes text = 1;", "// The words, as bytes.\n  bytes words = 1;"
    )
    both = lambda text: edit(text).replace("Detail details = 2;", "Detail parts = 2;")  # noqa: E731
    report = _bump(tmp_path, both)
    assert _sections(report) == {
        JSON: [
            "~ field goldenpb.SayRequest.text renamed to words "
            "(number 1 kept: the binary wire is unchanged)",
            "~ field goldenpb.SayResponse.details renamed to parts "
            "(number 2 kept: the binary wire is unchanged)",
        ],
        PY_BREAKING: [
            "~ client.rpc.echo.say(): keyword text renamed to words",
            "~ client.rpc.echo.listen(): keyword text renamed to words",
            # A response's fields are no keywords: its attribute is named instead.
            "~ attribute goldenpb.SayResponse.details renamed to parts",
        ],
    }


def test_new_rpc_with_policy_is_additive_and_adds_a_method(tmp_path: Path) -> None:
    add = _sub(
        "  // Listen to a stream",
        "  // Shout it.\n  rpc Shout(SayRequest) returns (SayResponse) {}\n  // Listen to a stream",
    )
    policy = {**POLICY, SHOUT: MethodPolicyEntry("IF_NOT_SENT", "MUTATION", since="3.6")}
    report = _bump(tmp_path, add, policy)
    sections = _sections(report)
    assert sections.keys() == {ADDITIVE, PY_ADDITIVE}
    assert sections[ADDITIVE] == [
        "+ rpc goldenpb.Echo.Shout added: (goldenpb.SayRequest) returns (goldenpb.SayResponse)"
    ]
    (method,) = sections[PY_ADDITIVE]
    assert method.startswith("+ method client.rpc.echo.shout(request: echo_pb2.SayRequest, *, ")
    assert "text: bytes | str, more: Sequence[bytes | str]," in method
    assert method.endswith(", timeout: Timeout) -> echo_pb2.SayResponse added")
    assert not report.breaking


def test_retyped_field_and_rpc_response_change_the_python_types(tmp_path: Path) -> None:
    retype = _sub("int64 number = 7;", "string number = 7;")
    reply = _sub(
        "rpc Say(SayRequest) returns (SayResponse)",
        "rpc Say(SayRequest) returns (SayRequest.Detail)",
    )
    report = _bump(tmp_path, lambda text: reply(retype(text)))
    assert _sections(report) == {
        WIRE: [
            "~ rpc goldenpb.Echo.Say: response goldenpb.SayResponse -> goldenpb.SayRequest.Detail",
            "~ field goldenpb.SayRequest.number type int64 -> string",
        ],
        PY_BREAKING: [
            "~ client.rpc.echo.say(): returns echo_pb2.SayResponse -> echo_pb2.SayRequest.Detail",
            "~ client.rpc.echo.say(): keyword number type int -> str",
            "~ client.rpc.echo.listen(): keyword number type int -> str",
        ],
    }


def test_new_rpc_without_policy_stops_generation_naming_it(tmp_path: Path) -> None:
    add = _sub(
        "  // Listen to a stream", "  rpc Shout(SayRequest) returns (SayResponse) {}\n  // Listen"
    )
    with pytest.raises(MissingPolicyError, match=r"no retry policy for RPC /goldenpb\.Echo/Shout"):
        _render(tmp_path, add, POLICY)


def _tree(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()
    }


def _generate(*args: str | Path) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "codegen", "generate", *map(str, args)]
    return subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=False)


def test_cli_new_rpc_without_policy_leaves_the_output_untouched(tmp_path: Path) -> None:
    protos, out = tmp_path / "protos", tmp_path / "generated"
    shutil.copytree(ROOT / "protos", protos)
    shutil.copytree(ROOT / "generated", out, symlinks=True)
    rpc = protos / "etcdserverpb" / "rpc.proto"
    text = rpc.read_text()
    anchor = "  rpc Range(RangeRequest) returns (RangeResponse)"
    assert anchor in text
    rpc.write_text(
        text.replace(
            anchor, "  rpc Frobnicate(RangeRequest) returns (RangeResponse) {}\n" + anchor, 1
        )
    )
    before = _tree(out)
    result = _generate("--protos", protos, "--out", out)
    assert result.returncode == 2
    assert "no retry policy for RPC /etcdserverpb.KV/Frobnicate" in result.stderr
    assert "left untouched" in result.stderr
    assert _tree(out) == before


def test_cli_broken_template_leaves_the_output_untouched(tmp_path: Path) -> None:
    templates, out = tmp_path / "templates", tmp_path / "generated"
    shutil.copytree(ROOT / "templates", templates)
    shutil.copytree(ROOT / "generated", out, symlinks=True)
    service = templates / "service.py.j2"
    service.write_text(service.read_text() + "\n    def broken(:\n")
    before = _tree(out)
    result = _generate("--templates", templates, "--out", out)
    assert result.returncode == 2, result.stdout + result.stderr
    assert "left untouched" in result.stderr
    assert _tree(out) == before


def test_cli_rewrites_api_changes_when_the_surface_changes_and_keeps_it_after(
    tmp_path: Path,
) -> None:
    out = tmp_path / "generated"
    shutil.copytree(ROOT / "generated", out, symlinks=True)
    surface = out / "API_SURFACE.txt"
    # As if the committed surface predated the kv.range wrapper and had another since=.
    lines = [
        line
        for line in surface.read_text().splitlines()
        if not line.startswith("wrapper rpc.kv.range ")
    ]
    lines = [
        line.replace(
            "message etcdserverpb.RangeRequest since=3.0",
            "message etcdserverpb.RangeRequest since=3.1",
        )
        for line in lines
    ]
    surface.write_text("\n".join(lines) + "\n")
    first = _generate("--out", out)
    assert first.returncode == 0, first.stderr
    assert (
        "  Python surface: additive (1):\n    + method client.rpc.kv.range(request: "
        in first.stdout
    )
    assert "    ~ message etcdserverpb.RangeRequest since 3.1 -> 3.0" in first.stdout
    assert "API_CHANGES.md written" in first.stdout
    changes = (out / "API_CHANGES.md").read_text()
    assert changes.startswith("# API changes: etcd 3.5.1 -> 3.5.1\n")
    assert "## Python surface: additive (1)\n\n- method `client.rpc.kv.range(request: " in changes
    assert (
        "## Annotations (1)\n\n- message `etcdserverpb.RangeRequest` since 3.1 -> 3.0\n" in changes
    )
    # The surface is now current: --check passes, and a regeneration keeps the record.
    check = _generate("--out", out, "--check")
    assert check.returncode == 0, check.stdout
    assert (out / "API_CHANGES.md").read_text() == changes


# --- the surface lines against the code they describe -------------------------------------


def _signatures(files: Mapping[str, str]) -> dict[str, tuple[str, dict[str, str], str]]:
    """Each sync wrapper as the rendered code declares it, `| None` defaults left out."""

    def annotation(node: ast.expr | None) -> str:
        assert node is not None
        return ast.unparse(node).removesuffix(" | None")

    out = {}
    for path, text in files.items():
        if not path.startswith("sync/") or path == "sync/__init__.py" or not path.endswith(".py"):
            continue
        service = path.removeprefix("sync/").removesuffix(".py")
        for cls in ast.parse(text).body:
            if not isinstance(cls, ast.ClassDef):
                continue
            for fn in cls.body:
                if isinstance(fn, ast.FunctionDef) and not fn.name.startswith("_"):
                    first = fn.args.args[1]
                    kwargs = {a.arg: annotation(a.annotation) for a in fn.args.kwonlyargs}
                    out[f"rpc.{service}.{fn.name}"] = (
                        f"{first.arg}: {annotation(first.annotation)}",
                        kwargs,
                        annotation(fn.returns),
                    )
    return out


def _surface_signatures(text: str) -> dict[str, tuple[str, dict[str, str], str]]:
    wrappers = parse_surface(text).wrappers
    return {name: (w.first, w.keywords, w.returns) for name, w in wrappers.items()}


def test_wrapper_lines_match_the_rendered_golden_code() -> None:
    files = _base()
    assert _surface_signatures(files["API_SURFACE.txt"]) == _signatures(files)


def test_wrapper_lines_match_the_committed_generated_code() -> None:
    generated = ROOT / "generated"
    files = {str(p.relative_to(generated)): p.read_text() for p in generated.glob("sync/*.py")}
    surface = (generated / "API_SURFACE.txt").read_text()
    assert _surface_signatures(surface) == _signatures(files)
    rpcs = parse_surface(surface).rpcs
    assert {w.rpc for w in parse_surface(surface).wrappers.values()} == set(rpcs)


def test_error_lines_are_the_classes_of_the_rendered_errors_module() -> None:
    errors = parse_surface(_base()["API_SURFACE.txt"]).errors
    assert "TimeoutError" in errors["errors.DeadlineExceededError"]
    assert errors.keys() == {
        f"errors.{node.name}"
        for node in ast.parse(_base()["errors.py"]).body
        if isinstance(node, ast.ClassDef)
    }


# --- classification on surface texts --------------------------------------------------------

HEAD = "# etcd API surface, etcd {} (generated by etcdgen codegen 1.0; do not edit)\n"
SURFACE = """service p.S
rpc p.S.Get (p.GetRequest) returns (p.GetResponse) retry=SAFE effect=READ since=3.4
message p.GetRequest since=3.4
field p.GetRequest.key = 1 bytes since=3.4
message p.GetResponse since=3.4
field p.GetResponse.value = 1 bytes since=3.4
enum p.Kind since=3.4
value p.Kind.A = 0 since=3.4
value p.Kind.B = 1 since=3.4
wrapper rpc.s.get (request: x_pb2.GetRequest, *, key: bytes | str, timeout: Timeout) \
-> x_pb2.GetResponse rpc=p.S.Get
error errors.FooError (EtcdError)
error errors.SlowError (EtcdError, TimeoutError)
"""


def _compare(
    old: str, new: str, old_version: str = "1.0", new_version: str = "1.1"
) -> ChangeReport:
    return compare_surfaces(HEAD.format(old_version) + old, HEAD.format(new_version) + new)


def test_a_change_of_since_or_policy_only_is_an_annotation() -> None:
    new = SURFACE.replace(
        "field p.GetRequest.key = 1 bytes since=3.4", "field p.GetRequest.key = 1 bytes since=3.5"
    )
    new = new.replace("retry=SAFE effect=READ", "retry=NEVER effect=READ")
    report = _compare(SURFACE, new)
    assert _sections(report) == {
        ANNOTATIONS: [
            "~ rpc p.S.Get: retry SAFE -> NEVER",
            "~ field p.GetRequest.key since 3.4 -> 3.5",
        ]
    }
    assert not report.breaking


def test_enum_values_renamed_renumbered_removed_added() -> None:
    new = SURFACE.replace("value p.Kind.A = 0", "value p.Kind.ZERO = 0").replace(
        "value p.Kind.B = 1 since=3.4", "value p.Kind.C = 2 since=3.6"
    )
    assert _sections(_compare(SURFACE, new)) == {
        WIRE: ["- enum value p.Kind.B = 1 removed"],
        JSON: ["~ enum value p.Kind.A renamed to ZERO (number 0 kept)"],
        ADDITIVE: ["+ enum value p.Kind.C = 2 added"],
        PY_BREAKING: ["~ enum value p.Kind.A renamed to ZERO", "- enum value p.Kind.B removed"],
    }


def test_rpc_removed_and_renamed_method() -> None:
    renamed = (
        SURFACE.replace("rpc p.S.Get ", "rpc p.S.Fetch ")
        .replace("wrapper rpc.s.get ", "wrapper rpc.s.fetch ")
        .replace("rpc=p.S.Get", "rpc=p.S.Fetch")
    )
    assert _sections(_compare(SURFACE, renamed)) == {
        WIRE: ["- rpc p.S.Get removed"],
        ADDITIVE: ["+ rpc p.S.Fetch added: (p.GetRequest) returns (p.GetResponse)"],
        PY_BREAKING: ["~ method client.rpc.s.get() renamed to client.rpc.s.fetch()"],
    }
    gone = "\n".join(line for line in SURFACE.splitlines() if "p.S.Get" not in line) + "\n"
    assert _sections(_compare(SURFACE, gone)) == {
        WIRE: ["- rpc p.S.Get removed"],
        PY_BREAKING: ["- method client.rpc.s.get() removed"],
    }


def test_error_classes_new_removed_and_their_bases() -> None:
    # A category class between FooError and EtcdError: nothing an `except` relies on goes.
    new = SURFACE.replace(
        "error errors.FooError (EtcdError)",
        "error errors.KeyValueError (EtcdError)\nerror errors.FooError (KeyValueError)",
    ).replace(
        "error errors.SlowError (EtcdError, TimeoutError)", "error errors.SlowError (EtcdError)"
    )
    new += "error errors.NewError (KeyValueError)\n"
    assert _sections(_compare(SURFACE, new)) == {
        PY_BREAKING: ["~ error class etcdgen.errors.SlowError is no longer a TimeoutError"],
        PY_ADDITIVE: [
            "+ error class etcdgen.errors.KeyValueError(EtcdError) added",
            "+ error class etcdgen.errors.FooError is now also a KeyValueError",
            "+ error class etcdgen.errors.NewError(KeyValueError) added",
        ],
    }
    gone = SURFACE.replace("error errors.FooError (EtcdError)\n", "")
    assert _sections(_compare(SURFACE, gone)) == {
        PY_BREAKING: ["- error class etcdgen.errors.FooError removed"]
    }


def test_report_text_and_markdown_are_deterministic_and_complete() -> None:
    new = SURFACE.replace(
        "field p.GetResponse.value = 1 bytes", "field p.GetResponse.value = 1 string"
    )
    report = _compare(SURFACE, new)
    assert report == _compare(SURFACE, new)
    assert report.text().splitlines() == [
        "API change report: etcd 1.0 -> 1.1 (Wire-breaking 1, JSON-breaking 0, Additive 0, "
        "Python surface: breaking 1, Python surface: additive 0, Annotations 0)",
        "  Wire-breaking (1):",
        "    ~ field p.GetResponse.value type bytes -> string",
        "  Python surface: breaking (1):",
        "    ~ attribute p.GetResponse.value type bytes -> string",
    ]
    markdown = report.markdown()
    assert markdown.startswith("# API changes: etcd 1.0 -> 1.1\n")
    assert [line for line in markdown.splitlines() if line.startswith("## ")] == [
        "## Wire-breaking (1)",
        "## JSON-breaking (0)",
        "## Additive (0)",
        "## Python surface: breaking (1)",
        "## Python surface: additive (0)",
        "## Annotations (0)",
    ]
    assert "- attribute `p.GetResponse.value` type `bytes` -> `string`\n" in markdown
    unchanged = _compare(SURFACE, SURFACE, "1.1", "1.1")
    assert unchanged.empty
    assert unchanged.text().endswith(": no change in the protos, the wrappers or the error classes")


def test_api_changes_file_is_kept_while_the_surface_is_unchanged() -> None:
    old, new = HEAD.format("1.0") + SURFACE, HEAD.format("1.1") + SURFACE
    assert changes_file(new, new, "# recorded bump\n") == "# recorded bump\n"
    assert changes_file(old, new, "# recorded bump\n") == compare_surfaces(old, new).markdown()
    assert changes_file(new, new, None) == compare_surfaces(new, new).markdown()
    assert "No earlier API_SURFACE.txt" in changes_file(None, new, None)
