# etcdgen developer commands. `make demo` and `make test` work on a fresh machine:
# they create .venv and install what they need first.

PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: compat demo test lint typecheck generate check-generated sync-protos debian-etcd dist clean

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

# Runs a short tour against an embedded etcd that it starts and stops itself.
demo: $(STAMP)
	$(PY) -m etcdgen.demo

# etcd 3.4 (Debian's etcd-server) for the compatibility half of the tests.
debian-etcd:
	@sh scripts/install-debian-etcd.sh

test: $(STAMP) debian-etcd
	$(PY) -m pytest $(PYTEST_ARGS)

lint: $(STAMP)
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(PY) -m mypy etcdgen codegen

generate: $(STAMP)
	$(PY) -m codegen generate
	$(PY) scripts/unasync.py

check-generated: $(STAMP)
	$(PY) -m codegen generate --check
	$(PY) scripts/unasync.py --check

# make sync-protos ETCD_SRC=/path/to/etcd/source [ETCD_VERSION=3.x.y]
sync-protos: $(STAMP)
	@test -n "$(ETCD_SRC)" || (echo "usage: make sync-protos ETCD_SRC=<etcd source tree>"; exit 2)
	$(PY) -m codegen sync-protos "$(ETCD_SRC)" $(if $(ETCD_VERSION),--version $(ETCD_VERSION))

# Reproducible release: two runs on one commit give byte-identical files (see dist/SHA256SUMS).
dist: $(STAMP)
	rm -rf dist build *.egg-info
	SOURCE_DATE_EPOCH=$$(git log -1 --format=%ct) $(PY) -m build --outdir dist .
	SOURCE_DATE_EPOCH=$$(git log -1 --format=%ct) $(PY) scripts/normalize_sdist.py dist/*.tar.gz
	cd dist && sha256sum * > SHA256SUMS && cat SHA256SUMS

clean:
	rm -rf build dist *.egg-info .pytest_cache .mypy_cache .ruff_cache

# The runtime tests at the lowest and highest declared protobuf/grpcio, and pure-Python protobuf.
compat: debian-etcd
	bash scripts/compat-matrix.sh
