"""`make dist` is reproducible and the release carries its identity."""

from __future__ import annotations

import re
import shutil
import subprocess
import zipfile
from pathlib import Path

import pytest

import etcdgen

ROOT = Path(__file__).resolve().parents[2]


def build(into: Path) -> dict[str, str]:
    subprocess.run(["make", "-s", "dist"], cwd=ROOT, check=True, capture_output=True)
    shutil.copytree(ROOT / "dist", into)
    sums = (into / "SHA256SUMS").read_text().split("\n")
    return {name: digest for digest, name in (line.split() for line in sums if line)}


@pytest.fixture(scope="module")
def two_builds(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, str], Path]:
    if shutil.which("git") is None or not (ROOT / ".git").exists():
        pytest.skip("make dist takes SOURCE_DATE_EPOCH from git")
    base = tmp_path_factory.mktemp("dist")
    first = build(base / "one")
    second = build(base / "two")
    assert first == second, "two builds of one commit differ"
    return first, base / "one"


def test_make_dist_twice_gives_identical_hashes(two_builds: tuple[dict[str, str], Path]) -> None:
    sums, _ = two_builds
    assert sorted(sums) == [
        f"etcdgen-{etcdgen.__version__}-py3-none-any.whl",
        f"etcdgen-{etcdgen.__version__}.tar.gz",
    ]


def test_wheel_metadata_names_versions(two_builds: tuple[dict[str, str], Path]) -> None:
    _, folder = two_builds
    [wheel] = folder.glob("*.whl")
    with zipfile.ZipFile(wheel) as archive:
        metadata = archive.read(f"etcdgen-{etcdgen.__version__}.dist-info/METADATA").decode()
        assert f"Version: {etcdgen.__version__}" in metadata
        assert f"etcd-api-{etcdgen.ETCD_API_VERSION}" in metadata
        init = archive.read("etcdgen/generated/__init__.py").decode()
        assert f'ETCD_API_VERSION = "{etcdgen.ETCD_API_VERSION}"' in init


def test_declared_api_version_matches_the_protos() -> None:
    pyproject = (ROOT / "pyproject.toml").read_text()
    declared = re.search(r'"etcd-api-([0-9.]+)"', pyproject)
    assert declared is not None
    assert declared.group(1) == (ROOT / "protos" / "VERSION").read_text().strip()
    assert declared.group(1) == etcdgen.ETCD_API_VERSION
