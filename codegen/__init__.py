"""etcdgen's build-time generator: etcd `.proto` files -> `generated/`.

Run it with `make generate` (or `python -m codegen generate`). It needs the
build-time tools pinned in pyproject.toml's `codegen` extra; the runtime
package never imports it.
"""

#: Bump when the generated output changes for reasons other than the protos.
GENERATOR_VERSION = "1.0"
