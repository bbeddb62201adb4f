"""Run protoc in-process (from the pinned grpcio-tools) and return descriptors.

protoc is only used as a parser here: it turns `.proto` text into a
`FileDescriptorSet` with source info (comments and their locations). Every
output file of etcdgen is rendered from that set by our own code, so the
output does not depend on which protobuf runtime protoc's Python backend
targets.
"""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from pathlib import Path

from google.protobuf import descriptor_pb2


class ProtocError(RuntimeError):
    """protoc rejected the input; the message carries its diagnostics."""


def compile_descriptor_set(
    import_root: Path, files: Sequence[str], *, source_info: bool = True
) -> descriptor_pb2.FileDescriptorSet:
    """Parse `files` (paths relative to `import_root`) with all their imports."""
    from grpc_tools import protoc  # build-time only dependency

    with tempfile.TemporaryDirectory(prefix="etcdgen-protoc-") as tmp:
        out = Path(tmp) / "descriptors.binpb"
        args = [
            "protoc",
            f"--proto_path={import_root}",
            # google/protobuf/*.proto (versionpb, in etcd 3.6+ sources, imports descriptor.proto)
            f"--proto_path={_well_known_types()}",
            f"--descriptor_set_out={out}",
            "--include_imports",
        ]
        if source_info:
            args.append("--include_source_info")
        # protoc prints its diagnostics on stderr; the exit code tells failure.
        status = protoc.main([*args, *files])
        if status != 0:
            raise ProtocError(
                f"protoc failed (exit {status}) on {', '.join(files)} under {import_root}; "
                "its messages are printed above"
            )
        return descriptor_pb2.FileDescriptorSet.FromString(out.read_bytes())


def _well_known_types() -> Path:
    import grpc_tools

    return Path(grpc_tools.__file__).parent / "_proto"
