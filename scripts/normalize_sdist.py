"""Rewrite an sdist so that two builds of one commit are byte-identical.

setuptools' wheels honour SOURCE_DATE_EPOCH, its sdists do not: tar member
times, owners and the gzip header carry the build moment. This rewrites the
archive with members in sorted order, times set to SOURCE_DATE_EPOCH, owners
cleared, and modes reduced to 0644/0755.

    python scripts/normalize_sdist.py dist/etcdgen-X.tar.gz
"""

from __future__ import annotations

import gzip
import io
import os
import sys
import tarfile
from pathlib import Path


def normalize(path: Path, epoch: int) -> None:
    with tarfile.open(path, "r:gz") as source:
        members = sorted(source.getmembers(), key=lambda m: m.name)
        payload = {m.name: source.extractfile(m).read() for m in members if m.isfile()}  # type: ignore[union-attr]
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as target:
        for member in members:
            member.mtime = epoch
            member.uid = member.gid = 0
            member.uname = member.gname = ""
            member.mode = 0o755 if member.isdir() or member.mode & 0o111 else 0o644
            member.pax_headers = {}
            data = payload.get(member.name)
            target.addfile(member, io.BytesIO(data) if data is not None else None)
    with (
        path.open("wb") as raw,
        gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=epoch, compresslevel=9) as out,
    ):
        out.write(buffer.getvalue())


def main(argv: list[str]) -> int:
    epoch = int(os.environ.get("SOURCE_DATE_EPOCH", "0"))
    for name in argv[1:]:
        normalize(Path(name), epoch)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
