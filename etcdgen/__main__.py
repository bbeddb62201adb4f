"""`python -m etcdgen ...`: the operator's commands, vendoring and version information.

python -m etcdgen status|members|alarms|check|hashkv|defrag [--endpoints ...] [--json]
python -m etcdgen snapshot save FILE | move-leader ID
python -m etcdgen version
python -m etcdgen vendor DEST [--generated DIR]
python -m etcdgen vendor --check DEST
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ._version import __version__
from .cli import COMMANDS, add_commands, run
from .generated import ETCD_API_VERSION, GENERATOR_VERSION
from .vendoring import VendorError, check, vendor


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m etcdgen", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("version", help="print the etcdgen, etcd API and generator versions")
    vend = sub.add_parser("vendor", help="copy etcdgen into DEST/etcdgen, or --check a copy")
    vend.add_argument("dest", type=Path)
    vend.add_argument("--check", action="store_true", help="verify an existing vendored copy")
    vend.add_argument(
        "--generated", type=Path, default=None, help="use this generated tree instead of ours"
    )
    add_commands(sub)
    args = parser.parse_args(argv)
    if args.command in COMMANDS:
        return run(args)
    if args.command == "version":
        print(f"etcdgen {__version__} (etcd API {ETCD_API_VERSION}, codegen {GENERATOR_VERSION})")
        return 0
    try:
        if args.check:
            result = check(args.dest)
            print(result.text())
            return 0 if result.clean else 1
        target = vendor(args.dest, args.generated)
    except VendorError as error:
        print(f"vendor: {error}", file=sys.stderr)
        return 2
    print(f"vendored etcdgen {__version__} into {target}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
