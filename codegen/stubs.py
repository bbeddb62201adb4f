"""`.pyi` stubs for the `_pb2` modules, from mypy-protobuf.

mypy-protobuf names imported modules after the proto file path (`import
mvccpb.kv_pb2`), i.e. absolute top-level imports. Our modules live inside the
`etcdgen` package (and inside vendored copies of it), so stubs must import
their siblings relatively. mypy-protobuf has no option for that; we override
the one method that decides the import path, on the pinned mypy-protobuf
version the toolchain check enforces.
"""

from __future__ import annotations

from collections.abc import Iterable

from google.protobuf import descriptor_pb2
from mypy_protobuf import main as mypy_protobuf


def relative_module(current: str, target: str) -> str:
    """Dotted relative path from module `current` to module `target`.

    Both are slash paths under the generated root: `etcdserverpb/rpc_pb2` to
    `mvccpb/kv_pb2` gives `..mvccpb.kv_pb2`; to `etcdserverpb/x_pb2`, `..x_pb2`
    (the form mypy-protobuf splits into `from . import x_pb2`).
    """
    here = current.split("/")[:-1]
    there = target.split("/")
    common = 0
    while common < min(len(here), len(there) - 1) and here[common] == there[common]:
        common += 1
    ups = len(here) - common
    down = there[common:]
    if len(down) == 1:
        return "." * (ups + 1) + "." + down[0]
    return "." * (ups + 1) + ".".join(down)


class _RelativeImportWriter(mypy_protobuf.PkgWriter):  # type: ignore[misc]  # untyped base
    local_modules: frozenset[str] = frozenset()
    current_module: str = ""

    def _import(self, path: str, name: str) -> str:
        if path in self.local_modules:
            path = relative_module(self.current_module, path)
        handle: str = super()._import(path, name)
        return handle


def render_stubs(
    fds: descriptor_pb2.FileDescriptorSet, wanted: Iterable[str], header: str
) -> dict[str, str]:
    """Map of `<module path>.pyi` -> stub text for each wanted proto file."""
    wanted = list(wanted)
    request = _plugin_request(fds, wanted)
    descriptors = mypy_protobuf.Descriptors(request)
    local = frozenset(name[: -len(".proto")] + "_pb2" for name in wanted)
    stubs = {}
    for name in wanted:
        fd = descriptors.files[name]
        writer = _RelativeImportWriter(
            fd,
            descriptors,
            readable_stubs=False,
            relax_strict_optional_primitives=False,
            use_default_deprecation_warnings=False,
            generate_concrete_servicer_stubs=False,
            grpc=False,
        )
        writer.local_modules = local
        writer.current_module = name[: -len(".proto")] + "_pb2"
        writer.write_module_attributes()
        writer.write_enums(fd.enum_type, "", [5], fd.options.deprecated)
        writer.write_messages(
            fd.message_type, "", [4], fd.options.deprecated, fd.options.features.field_presence
        )
        writer.write_extensions(fd.extension, [7])
        stubs[writer.current_module + ".pyi"] = header + writer.write()
    return stubs


def _plugin_request(fds: descriptor_pb2.FileDescriptorSet, wanted: list[str]) -> object:
    from google.protobuf.compiler import plugin_pb2

    request = plugin_pb2.CodeGeneratorRequest()
    request.proto_file.extend(fds.file)
    request.file_to_generate.extend(wanted)
    return request
