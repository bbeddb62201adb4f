"""etcd source trees for the sync-protos tests.

etcd 3.4.23's source comes from Debian's `golang-etcd-server-dev` package:
downloaded with `apt-get download` (no root needed, none of its dependencies)
and unpacked with `dpkg -x` into `.cache/`, once per machine.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CACHE = ROOT / ".cache" / "golang-etcd-server-dev"
_TREE = Path("usr/share/gocode/src/go.etcd.io/etcd")


class SourceUnavailable(RuntimeError):
    """The etcd 3.4 source could not be had on this machine."""


def etcd34_source() -> Path:
    """Path of the etcd 3.4.23 source tree, downloading it on first use."""
    override = os.environ.get("ETCD34_SRC")
    if override:
        return Path(override)
    tree = CACHE / _TREE
    if (tree / "version" / "version.go").is_file():
        return tree
    if not (shutil.which("apt-get") and shutil.which("dpkg")):
        raise SourceUnavailable("needs apt-get and dpkg (Debian) or ETCD34_SRC=<etcd 3.4 tree>")
    with tempfile.TemporaryDirectory(prefix="etcd34-deb-") as tmp:
        download = subprocess.run(
            ["apt-get", "download", "golang-etcd-server-dev"],
            cwd=tmp,
            capture_output=True,
            text=True,
            check=False,
        )
        debs = list(Path(tmp).glob("golang-etcd-server-dev_*.deb"))
        if download.returncode != 0 or not debs:
            raise SourceUnavailable(
                "apt-get download golang-etcd-server-dev failed (run apt-get update?): "
                + download.stderr.strip()[-300:]
            )
        CACHE.mkdir(parents=True, exist_ok=True)
        subprocess.run(["dpkg", "-x", str(debs[0]), str(CACHE)], check=True)
    return tree
