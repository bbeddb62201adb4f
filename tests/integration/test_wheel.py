"""The built wheel is self-contained: generated code and stubs inside `etcdgen/`,
nothing else at top level, and it works installed in a fresh virtualenv."""

from __future__ import annotations

import json
import os
import re
import shutil
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


def _fresh_venv(where: Path, *requirements: str) -> Path:
    venv.create(where, with_pip=True)
    python = where / "bin" / "python"
    subprocess.run(
        [str(python), "-m", "pip", "install", "-q", *requirements], check=True, capture_output=True
    )
    return python


@pytest.fixture(scope="module")
def bare_venv(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh venv with only the wheel (and its dependencies) and mypy."""
    return _fresh_venv(tmp_path_factory.mktemp("bare") / "venv", str(wheel), "mypy")


def test_installed_wheel_talks_to_etcd(bare_venv: Path, tmp_path: Path) -> None:
    with EtcdServer() as etcd:
        result = _run_in(bare_venv, tmp_path, etcd.endpoint)
    assert result.stdout.split() == ["ok", "3.5.1"]


USER_SCRIPT = """\
from etcdgen import Client


def newest_value(client: Client) -> str:
    reveal_type(client.get("k").kvs[0].value)
    value: str = client.get("k").kvs[0].value
    return value
"""


def test_user_script_is_typed_with_only_etcdgen_and_mypy(bare_venv: Path, tmp_path: Path) -> None:
    # No types-protobuf installed by hand: the wheel's dependencies bring what mypy needs.
    (tmp_path / "user.py").write_text(USER_SCRIPT)
    result = subprocess.run(
        [str(bare_venv), "-m", "mypy", "--strict", "--no-incremental", "user.py"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )
    print(result.stdout)
    assert re.search(r'Revealed type is "(builtins\.)?bytes"', result.stdout)
    assert (
        'Incompatible types in assignment (expression has type "bytes", variable has type "str")'
        in result.stdout
    )
    assert result.returncode == 1 and "Found 1 error" in result.stdout


@pytest.mark.slow
def test_user_project_uses_the_fixtures_metrics_and_tracing(
    wheel: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """tests/user_project in a fresh venv: the plugin's fixtures with no conftest, and
    the Prometheus scrape and spans of its failover test."""
    python = _fresh_venv(
        tmp_path_factory.mktemp("user") / "venv",
        f"{wheel}[testing,prometheus,opentelemetry]",
        "opentelemetry-sdk",
    )
    project = tmp_path_factory.mktemp("project") / "config-service"
    shutil.copytree(ROOT / "tests" / "user_project", project)
    assert not list(project.rglob("conftest.py"))
    report = tmp_path_factory.mktemp("report")
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env["USER_PROJECT_REPORT"] = str(report)
    result = subprocess.run(
        [str(python), "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests"],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "3 passed" in result.stdout
    scrape = (report / "scrape.txt").read_text().splitlines()
    shown = [
        line
        for line in scrape
        if line.startswith(("grpc_client_handling_seconds_count", "etcdgen_retries_total"))
        or line.startswith(("etcdgen_failovers_total", "etcdgen_endpoint_changes_total"))
    ]
    spans = json.loads((report / "spans.json").read_text())
    print("\n".join(["", *shown, f"spans: {spans}"]))
    retries = [line for line in shown if line.startswith("etcdgen_retries_total{")]
    assert retries and any(float(line.rsplit(" ", 1)[1]) > 0 for line in retries)
    assert spans["retried"] and all("retry" in s["events"] for s in spans["retried"])


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
