"""`make sync-protos`: import etcd's upstream `.proto` files into `protos/`.

Upstream files carry gogoproto, HTTP-gateway (google.api) and OpenAPI
(grpc-gateway v2's openapiv2, 3.6+) annotations, Go import paths that differ
between etcd releases, and etcd's own comments. The layouts read:

- 3.4: `etcdserver/etcdserverpb/rpc.proto`, `mvcc/mvccpb/kv.proto`, `auth/authpb/`,
  `etcdserver/api/v3lock/v3lockpb/`, `etcdserver/api/v3election/v3electionpb/`;
- 3.5: `api/etcdserverpb/`, `api/mvccpb/`, `api/authpb/`, `server/etcdserver/api/...`;
- 3.6, 3.7: as 3.5, plus `api/versionpb/version.proto`, whose annotations say which
  release introduced each message, field, enum and value.

We keep only the wire facts and those version facts:

1. each wanted file is found in the source tree by its last two path parts
   (`mvccpb/kv.proto`), which is also its name in `protos/`, so the layout
   is the same whatever etcd release it came from;
2. annotations are cut out of the text with a small tokenizer (comments and
   strings are respected; multi-line `option (...) = { ... };` blocks too),
   except versionpb's, and imports are renamed to the short names;
3. protoc parses the result and `proto_printer` prints it again from the
   descriptor, so only wire facts (names, numbers, types, order) are taken;
   the versionpb annotations go to `protos/versions.txt` (`codegen/versions.py`);
4. comments come from the current `protos/` files, matched by element name,
   so our own documentation survives an upgrade. Elements that are new have
   no comment yet and are listed for the reviewer.
"""

from __future__ import annotations

import re
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from google.protobuf import descriptor_pb2 as d

from . import protoc, versions
from .descriptors import comments_by_key, walk
from .proto_printer import print_proto

# Our file names, in dependency order. The services we wrap live in these.
WANTED_FILES = (
    "mvccpb/kv.proto",
    "authpb/auth.proto",
    "etcdserverpb/rpc.proto",
    "v3lockpb/v3lock.proto",
    "v3electionpb/v3election.proto",
)

# Where each wanted file lives in the etcd releases we know (for error messages).
_KNOWN_PLACES = {
    "mvccpb/kv.proto": "mvcc/mvccpb/ (3.4), api/mvccpb/ (3.5+)",
    "authpb/auth.proto": "auth/authpb/ (3.4), api/authpb/ (3.5+)",
    "etcdserverpb/rpc.proto": "etcdserver/etcdserverpb/ (3.4), api/etcdserverpb/ (3.5+)",
    "v3lockpb/v3lock.proto": (
        "etcdserver/api/v3lock/v3lockpb/ (3.4), server/etcdserver/api/v3lock/v3lockpb/ (3.5+)"
    ),
    "v3electionpb/v3election.proto": (
        "etcdserver/api/v3election/v3electionpb/ (3.4), "
        "server/etcdserver/api/v3election/v3electionpb/ (3.5+)"
    ),
}
# The annotations' own definitions (3.6+); read, never written to protos/.
VERSION_FILE = "versionpb/version.proto"

# Imports that only carry annotations; they are dropped with the annotations.
_ANNOTATION_IMPORTS = ("gogoproto/", "google/api/", "protoc-gen-openapiv2/")
_ANNOTATION_OPTIONS = ("gogoproto.", "google.api.", "grpc.gateway.")

_TOKEN = re.compile(
    r"""(?P<comment>//[^\n]*|/\*.*?\*/)
      | (?P<string>"(?:\\.|[^"\\])*"|'(?:\\.|[^'\\])*')
      | (?P<word>[A-Za-z_][A-Za-z0-9_.]*)
      | (?P<space>\s+)
      | (?P<other>.)""",
    re.VERBOSE | re.DOTALL,
)
_VERSION = re.compile(r'^\s*Version\s*=\s*"(\d+\.\d+\.\d+[^"]*)"', re.MULTILINE)


class SyncError(RuntimeError):
    """The source tree does not look like an etcd checkout we can read."""


@dataclass(frozen=True)
class _Token:
    kind: str
    text: str
    start: int
    end: int


def _tokens(text: str) -> list[_Token]:
    result = []
    for match in _TOKEN.finditer(text):
        kind = match.lastgroup or "other"
        if kind not in ("space", "comment"):
            result.append(_Token(kind, match.group(), match.start(), match.end()))
    return result


def strip_annotations(text: str) -> str:
    """Remove gogoproto / google.api imports and options from proto source."""
    tokens = _tokens(text)
    cuts: list[tuple[int, int]] = []
    i = 0
    while i < len(tokens):
        tok = tokens[i]
        if (tok.text == "import" and _imports_annotations(tokens, i + 1)) or (
            tok.text == "option" and _is_annotation(tokens, i + 1)
        ):
            end = _statement_end(tokens, i)
            cuts.append((tok.start, tokens[end].end))
            i = end + 1
            continue
        if tok.text == "[":
            i = _strip_field_options(tokens, i, cuts)
            continue
        i += 1
    for start, end in sorted(cuts, reverse=True):
        text = text[:start] + text[end:]
    return text


def _imports_annotations(tokens: list[_Token], i: int) -> bool:
    return (
        i < len(tokens)
        and tokens[i].kind == "string"
        and tokens[i].text.strip("\"'").startswith(_ANNOTATION_IMPORTS)
    )


def _is_annotation(tokens: list[_Token], i: int) -> bool:
    return (
        i + 1 < len(tokens)
        and tokens[i].text == "("
        and tokens[i + 1].text.startswith(_ANNOTATION_OPTIONS)
    )


def _statement_end(tokens: list[_Token], i: int) -> int:
    """Index of the `;` that ends the statement starting at `i` (braces nest)."""
    depth = 0
    for j in range(i, len(tokens)):
        text = tokens[j].text
        if text == "{":
            depth += 1
        elif text == "}":
            depth -= 1
        elif text == ";" and depth == 0:
            return j
    raise SyncError(f"unterminated statement at offset {tokens[i].start}")


def _strip_field_options(tokens: list[_Token], i: int, cuts: list[tuple[int, int]]) -> int:
    """Cut annotation entries out of a `[a = 1, (gogoproto.x) = y]` list."""
    entries: list[tuple[int, int]] = []  # token index ranges of each entry
    start = i + 1
    depth = 0
    j = start
    while j < len(tokens):
        text = tokens[j].text
        if text in "{[(" and tokens[j].kind == "other":
            depth += 1
        elif text in "}])" and tokens[j].kind == "other":
            if depth == 0 and text == "]":
                break
            depth -= 1
        elif text == "," and depth == 0:
            entries.append((start, j - 1))
            start = j + 1
        j += 1
    else:
        raise SyncError(f"unterminated option list at offset {tokens[i].start}")
    entries.append((start, j - 1))
    close = j
    annotated = [_is_annotation(tokens, a) for a, _ in entries]
    if all(annotated):
        cuts.append((tokens[i].start, tokens[close].end))
    else:
        for (a, b), drop in zip(entries, annotated, strict=True):
            if drop:
                # Cut the entry with the comma that follows it, or the one before.
                nxt = b + 1
                if tokens[nxt].text == ",":
                    cuts.append((tokens[a].start, tokens[nxt + 1].start))
                else:
                    cuts.append((tokens[a - 1].start, tokens[b].end))
    return close + 1


def find_upstream_files(source: Path) -> dict[str, Path]:
    """Locate each wanted file (and versionpb's, if any) in an etcd source tree
    (vendored copies ignored)."""
    if not source.is_dir():
        raise SyncError(f"{source} is not a directory: pass ETCD_SRC=<an etcd source tree>")
    wanted = (*WANTED_FILES, VERSION_FILE)
    found: dict[str, list[Path]] = {name: [] for name in wanted}
    for path in sorted(source.rglob("*.proto")):
        rel = path.relative_to(source)
        if "vendor" in rel.parts or "third_party" in rel.parts:
            continue
        short = "/".join(rel.parts[-2:])
        if short in found:
            found[short].append(path)
    missing = [name for name in WANTED_FILES if not found[name]]
    if missing:
        where = "; ".join(f"{name} (etcd keeps it in {_KNOWN_PLACES[name]})" for name in missing)
        raise SyncError(
            f"not found under {source} (outside vendor/ and third_party/): {where}. "
            "Is it an etcd source tree, or one of a layout etcdgen does not know?"
        )
    ambiguous = {name: paths for name, paths in found.items() if len(paths) > 1}
    if ambiguous:
        raise SyncError(f"several candidates in {source}: {ambiguous}")
    return {name: paths[0] for name, paths in found.items() if paths}


def read_etcd_version(source: Path) -> str:
    """The release a source tree is, from its Go `version` package."""
    for candidate in ("api/version/version.go", "version/version.go"):
        path = source / candidate
        if path.is_file():
            match = _VERSION.search(path.read_text())
            if match:
                return match.group(1)
    raise SyncError(f"cannot find the etcd version under {source} (api/version/version.go)")


def _short_import(name: str) -> str:
    if name.startswith("google/protobuf/"):  # protobuf's own, found where protoc has them
        return name
    return "/".join(name.split("/")[-2:])


def normalised_sources(files: dict[str, Path]) -> Iterator[tuple[str, str]]:
    """Upstream texts with annotations cut and imports renamed to our short names."""
    import_line = re.compile(r'(import\s+")([^"]+)(")')
    for short, path in files.items():
        text = strip_annotations(path.read_text())
        text = import_line.sub(lambda m: m.group(1) + _short_import(m.group(2)) + m.group(3), text)
        yield short, text


@dataclass(frozen=True)
class SyncResult:
    version: str
    written: tuple[str, ...]
    uncommented: tuple[str, ...]


def sync(source: Path, protos_dir: Path, version: str | None = None) -> SyncResult:
    """Rewrite `protos_dir` (and its versions file) from the etcd tree at `source`."""
    files = find_upstream_files(source)
    version = version or read_etcd_version(source)
    our_comments = _current_comments(protos_dir)
    with tempfile.TemporaryDirectory(prefix="etcdgen-sync-") as tmp:
        staging = Path(tmp)
        for short, text in normalised_sources(files):
            (staging / short).parent.mkdir(parents=True, exist_ok=True)
            (staging / short).write_text(text)
        fds = protoc.compile_descriptor_set(staging, list(WANTED_FILES))
    written = []
    uncommented = []
    by_name = {fdp.name: fdp for fdp in fds.file}
    wanted = [by_name[short] for short in WANTED_FILES]
    present = set().union(*(versions.element_names(fdp) for fdp in wanted))
    facts = versions.merge(versions.load(protos_dir), versions.read_annotations(wanted), present)
    for fdp in wanted:
        for element in walk(fdp):
            if element.key not in our_comments and element.kind.value in (
                "service",
                "rpc",
                "message",
            ):
                uncommented.append(element.key)
        target = protos_dir / fdp.name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(print_proto(_without_version_import(fdp), our_comments))
        written.append(fdp.name)
    (protos_dir / "VERSION").write_text(version + "\n")
    (protos_dir / versions.FILE_NAME).write_text(versions.render(facts))
    return SyncResult(version, tuple(written), tuple(uncommented))


def _without_version_import(fdp: d.FileDescriptorProto) -> d.FileDescriptorProto:
    """The file without its versionpb import (its annotations live in versions.txt)."""
    if VERSION_FILE not in fdp.dependency:
        return fdp
    copy = d.FileDescriptorProto()
    copy.CopyFrom(fdp)
    kept = [dep for dep in copy.dependency if dep != VERSION_FILE]
    del copy.dependency[:]
    copy.dependency.extend(kept)
    return copy


def _current_comments(protos_dir: Path) -> dict[str, str]:
    present = [name for name in WANTED_FILES if (protos_dir / name).is_file()]
    if not present:
        return {}
    fds = protoc.compile_descriptor_set(protos_dir, present)
    comments: dict[str, str] = {}
    for fdp in fds.file:
        comments.update(comments_by_key(fdp))
    return comments
