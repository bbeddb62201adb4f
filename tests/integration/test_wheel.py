"""The built wheel is self-contained: generated code and stubs inside `etcdgen/`,
nothing else at top level, and it works installed in a fresh virtualenv."""

from __future__ import annotations

import subprocess
import sys
import venv
import zipfile
from pathlib import Path

import pytest

from etcdgen.testing import EtcdServer

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", str(ROOT), "--no-deps", "-q", "-w", str(out)],
        check=True,
        capture_output=True,
    )
    [built] = out.glob("etcdgen-*.whl")
    return built


def test_wheel_holds_generated_code_and_stubs(wheel: Path) -> None:
    names = zipfile.ZipFile(wheel).namelist()
    top = {name.split("/")[0] for name in names}
    assert top == {"etcdgen", f"{wheel.name.split('-')[0]}-{wheel.name.split('-')[1]}.dist-info"}
    for required in (
        "etcdgen/py.typed",
        "etcdgen/generated/etcdserverpb/rpc_pb2.py",
        "etcdgen/generated/etcdserverpb/rpc_pb2.pyi",
        "etcdgen/generated/sync/kv.py",
        "etcdgen/generated/aio/kv.py",
        "etcdgen/generated/errors.py",
        "etcdgen/generated/retry_policy.py",
    ):
        assert required in names
    assert not any(name.startswith(("codegen/", "etcdgen/codegen")) for name in names)


def test_installed_wheel_talks_to_etcd(wheel: Path, tmp_path: Path) -> None:
    env_dir = tmp_path / "venv"
    venv.create(env_dir, with_pip=True)
    python = env_dir / "bin" / "python"
    subprocess.run(
        [str(python), "-m", "pip", "install", "-q", str(wheel)], check=True, capture_output=True
    )
    with EtcdServer() as etcd:
        result = _run_in(python, tmp_path, etcd.endpoint)
    assert result.stdout.split() == ["ok", "3.5.1"]


def _run_in(python: Path, cwd: Path, endpoint: str) -> subprocess.CompletedProcess[str]:
    script = (
        "import etcdgen, sys\n"
        "assert 'site-packages' in etcdgen.__file__, etcdgen.__file__\n"
        f"with etcdgen.Client({endpoint!r}) as c:\n"
        "    c.rpc.kv.put(key='wheel', value='ok')\n"
        "    print(c.rpc.kv.range(key='wheel').kvs[0].value.decode(), etcdgen.ETCD_API_VERSION)\n"
    )
    return subprocess.run(
        [str(python), "-c", script], cwd=cwd, capture_output=True, text=True, check=True
    )
