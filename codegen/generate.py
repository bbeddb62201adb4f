"""The whole pipeline in one call: protos -> descriptors -> model -> files."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

from . import GENERATOR_VERSION, protoc, versions
from .errors_table import ERRORS, ErrorSpec
from .load import load_api
from .policy import POLICY, MethodPolicyEntry
from .proto_sync import WANTED_FILES
from .render import header, render_api
from .stubs import render_stubs


def generate_files(
    protos: Path,
    templates: Path,
    files: Sequence[str] = WANTED_FILES,
    policy: Mapping[str, MethodPolicyEntry] = POLICY,
    errors: Iterable[ErrorSpec] = ERRORS,
) -> dict[str, str]:
    """Every file of generated/, as {relative path: text}.

    The defaults are etcd's API; tests pass a fixture proto set and tables.
    """
    version = (protos / "VERSION").read_text().strip()
    fds = protoc.compile_descriptor_set(protos, list(files))
    api = load_api(
        fds,
        files,
        etcd_version=version,
        generator_version=GENERATOR_VERSION,
        policy=policy,
        errors=errors,
        versions=versions.load(protos),
    )
    # The stubs carry our header too; mypy-protobuf adds its own below it.
    stubs = render_stubs(fds, files, header(api))
    return render_api(api, templates, stubs)
