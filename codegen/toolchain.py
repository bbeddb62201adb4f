"""The pinned build-time toolchain, checked before generating.

The generated output depends on these tools' exact behaviour (mypy-protobuf's
stub text, ruff's formatting, protoc's parsing), so a different version can
change `generated/` without any proto change. `make generate` refuses to run
with other versions unless told to (`--allow-other-tools`), and says so.
"""

from __future__ import annotations

from importlib import metadata

#: Keep in step with the `codegen` extra in pyproject.toml.
PINNED = {
    "grpcio-tools": "1.85.1",
    "mypy-protobuf": "5.1.0",
    "Jinja2": "3.1.6",
    "ruff": "0.17.6",
}


class ToolchainError(RuntimeError):
    """A build-time tool is missing or not at its pinned version."""


def mismatches() -> list[str]:
    problems = []
    for name, wanted in PINNED.items():
        try:
            found = metadata.version(name)
        except metadata.PackageNotFoundError:
            problems.append(f"{name} is not installed (need {wanted})")
            continue
        if found != wanted:
            problems.append(f"{name} {found} is installed, the pinned version is {wanted}")
    return problems


def check(allow_other: bool) -> list[str]:
    """Raise on a mismatch unless `allow_other`; return the warnings either way."""
    problems = mismatches()
    if problems and not allow_other:
        raise ToolchainError(
            "the generator's pinned tools differ:\n  "
            + "\n  ".join(problems)
            + "\ninstall them with `pip install -e .[codegen]` (or pass --allow-other-tools "
            "to generate anyway; the output may then differ from the committed one)"
        )
    return problems
