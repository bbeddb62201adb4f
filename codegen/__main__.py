"""Command line of the generator.

python -m codegen generate [--check] [--protos DIR] [--out DIR]
python -m codegen sync-protos ETCD_SOURCE_TREE [--protos DIR] [--version X.Y.Z]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from . import toolchain
from .generate import generate_files
from .load import ModelError
from .policy import MissingPolicyError
from .proto_sync import SyncError, sync
from .render import RenderError
from .report import CHANGES_FILE, changes_file, compare_surfaces

SURFACE_FILE = "API_SURFACE.txt"

ROOT = Path(__file__).resolve().parent.parent


def _existing(out: Path) -> dict[str, str]:
    if not out.is_dir():
        return {}
    return {
        str(p.relative_to(out)): p.read_text()
        for p in sorted(out.rglob("*"))
        if p.is_file() and "__pycache__" not in p.parts
    }


def cmd_generate(args: argparse.Namespace) -> int:
    for warning in toolchain.check(args.allow_other_tools):
        print(f"warning: {warning}", file=sys.stderr)
    try:
        files = generate_files(args.protos, args.templates)
    except (MissingPolicyError, ModelError, RenderError) as error:
        print(f"generate: {error}\n{args.out} left untouched", file=sys.stderr)
        return 2
    old = _existing(args.out)
    # API_CHANGES.md records the last change of the surface: kept while it stays the same.
    old_surface = old.get(SURFACE_FILE)
    files[CHANGES_FILE] = changes_file(old_surface, files[SURFACE_FILE], old.get(CHANGES_FILE))
    if args.check:
        differ = sorted(p for p in files.keys() | old.keys() if files.get(p) != old.get(p))
        if differ:
            print(f"{args.out} is not what the generator renders now; differing files:")
            for path in differ:
                print(f"  {path}")
            print("run `make generate` and commit the result")
            return 1
        print(f"{args.out} is up to date ({len(files)} files)")
        return 0
    report = compare_surfaces(old_surface, files[SURFACE_FILE])
    for path in old.keys() - files.keys():
        (args.out / path).unlink()
    for path, text in files.items():
        target = args.out / path
        if old.get(path) != text:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text)
    _remove_empty_dirs(args.out)
    print(report.text())
    if old_surface == files[SURFACE_FILE] and old.get(CHANGES_FILE) is not None:
        print(f"{CHANGES_FILE} kept: it records the last change of the surface")
    else:
        print(f"{CHANGES_FILE} written: this report, for the last change of the surface")
    changed = sum(1 for p in files if old.get(p) != files[p]) + len(old.keys() - files.keys())
    print(f"wrote {args.out}: {len(files)} files, {changed} changed")
    return 0


def _remove_empty_dirs(root: Path) -> None:
    for path in sorted(root.rglob("*"), key=lambda p: len(p.parts), reverse=True):
        if path.is_dir() and path.name != "__pycache__" and not any(path.iterdir()):
            path.rmdir()


def cmd_sync(args: argparse.Namespace) -> int:
    try:
        result = sync(args.source, args.protos, args.version)
    except SyncError as error:
        print(f"sync-protos: {error}", file=sys.stderr)
        return 2
    print(f"imported etcd {result.version} protos into {args.protos}: {', '.join(result.written)}")
    if result.uncommented:
        print(f"{len(result.uncommented)} new elements have no comment yet; document them:")
        for key in result.uncommented:
            print(f"  {key}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m codegen", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    gen = sub.add_parser("generate", help="render generated/ from protos/")
    gen.add_argument("--protos", type=Path, default=ROOT / "protos")
    gen.add_argument("--templates", type=Path, default=ROOT / "templates")
    gen.add_argument("--out", type=Path, default=ROOT / "generated")
    gen.add_argument("--check", action="store_true", help="compare only; exit 1 on a difference")
    gen.add_argument("--allow-other-tools", action="store_true")
    gen.set_defaults(run=cmd_generate)
    syn = sub.add_parser("sync-protos", help="import protos from an etcd source tree")
    syn.add_argument("source", type=Path)
    syn.add_argument("--protos", type=Path, default=ROOT / "protos")
    syn.add_argument("--version", default=None, help="etcd version (default: read from source)")
    syn.set_defaults(run=cmd_sync)
    args = parser.parse_args(argv)
    status: int = args.run(args)
    return status


if __name__ == "__main__":
    sys.exit(main())
