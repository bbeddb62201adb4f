"""Copy this etcdgen into another project's tree, and verify such copies.

`python -m etcdgen vendor DEST` writes `DEST/etcdgen/`: the runtime, the
generated code with its `.pyi` stubs, `py.typed`, and `VENDORED` - a JSON
record of the etcdgen version, the etcd API version and the SHA-256 of every
file. `python -m etcdgen vendor --check DEST` recomputes the hashes and names
every file edited, added or removed by hand.

A vendored copy works under any package name (`mylib._vendor.etcdgen`)
because every import inside etcdgen is relative, and it shares nothing with
other copies at run time because its protobuf descriptors live in its own
pool (`generated/_pool.py`).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from ._version import __version__

RECORD = "VENDORED"
_SUFFIXES = (".py", ".pyi")
_KEEP_NAMES = ("py.typed",)
_API_VERSION = re.compile(r'^ETCD_API_VERSION = "([^"]+)"', re.MULTILINE)
_GENERATOR_VERSION = re.compile(r'^GENERATOR_VERSION = "([^"]+)"', re.MULTILINE)


class VendorError(RuntimeError):
    """The destination or the source cannot be used for vendoring."""


@dataclass(frozen=True)
class CheckResult:
    modified: tuple[str, ...]
    added: tuple[str, ...]
    missing: tuple[str, ...]

    @property
    def clean(self) -> bool:
        return not (self.modified or self.added or self.missing)

    def text(self) -> str:
        if self.clean:
            return "vendored copy is intact"
        lines: list[str] = []
        for label, paths in (
            ("edited by hand", self.modified),
            ("added", self.added),
            ("missing", self.missing),
        ):
            lines.extend(f"{label}: {path}" for path in paths)
        return "\n".join(lines)


def _walk(root: Path) -> list[Path]:
    """Every file below `root`, sorted; follows the `generated` symlink of a checkout."""
    found: list[Path] = []
    for folder, _, names in os.walk(root, followlinks=True):
        found.extend(Path(folder) / name for name in names)
    return sorted(found)


def _package_files(package: Path, generated: Path | None) -> Iterator[tuple[str, Path]]:
    """(path inside the copy, source file) for every file a copy carries."""
    for source in _walk(package):
        relative = source.relative_to(package)
        if generated is not None and relative.parts[0] == "generated":
            continue
        if _wanted(relative):
            yield relative.as_posix(), source
    if generated is not None:
        for source in _walk(generated):
            relative = source.relative_to(generated)
            if _wanted(relative):
                yield f"generated/{relative.as_posix()}", source


def _wanted(relative: Path) -> bool:
    if "__pycache__" in relative.parts or relative.name == RECORD:
        return False
    return relative.suffix in _SUFFIXES or relative.name in _KEEP_NAMES


def _digest(path: Path) -> str:
    return "sha256:" + hashlib.sha256(path.read_bytes()).hexdigest()


def vendor(dest: Path, generated: Path | None = None) -> Path:
    """Write a copy of etcdgen to `dest/etcdgen`; return that directory.

    `generated` replaces the generated tree (e.g. one rendered from another
    etcd release's protos); by default the copy carries this package's own.
    """
    package = Path(__file__).resolve().parent
    target = dest / "etcdgen"
    if target.exists():
        if not (target / RECORD).is_file():
            raise VendorError(f"{target} exists and is not a vendored etcdgen; remove it first")
        shutil.rmtree(target)
    files: dict[str, str] = {}
    for relative, source in _package_files(package, generated):
        destination = target / relative
        destination.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, destination)
        files[relative] = _digest(destination)
    init = (target / "generated" / "__init__.py").read_text()
    record = {
        "etcdgen_version": __version__,
        "etcd_api_version": _search(_API_VERSION, init, "ETCD_API_VERSION"),
        "generator_version": _search(_GENERATOR_VERSION, init, "GENERATOR_VERSION"),
        "files": dict(sorted(files.items())),
    }
    (target / RECORD).write_text(json.dumps(record, indent=2, sort_keys=True) + "\n")
    return target


def _search(pattern: re.Pattern[str], text: str, name: str) -> str:
    match = pattern.search(text)
    if match is None:
        raise VendorError(f"generated/__init__.py has no {name}; regenerate it")
    return match.group(1)


def check(dest: Path) -> CheckResult:
    """Compare `dest/etcdgen` (or `dest` itself) with its VENDORED record."""
    target = dest if (dest / RECORD).is_file() else dest / "etcdgen"
    record_path = target / RECORD
    if not record_path.is_file():
        raise VendorError(f"no {RECORD} record under {dest}: not a vendored etcdgen")
    recorded: dict[str, str] = json.loads(record_path.read_text())["files"]
    present = {
        p.relative_to(target).as_posix(): p for p in _walk(target) if _wanted(p.relative_to(target))
    }
    modified = tuple(
        sorted(
            p for p, digest in recorded.items() if p in present and _digest(present[p]) != digest
        )
    )
    added = tuple(sorted(set(present) - set(recorded)))
    missing = tuple(sorted(set(recorded) - set(present)))
    return CheckResult(modified, added, missing)
