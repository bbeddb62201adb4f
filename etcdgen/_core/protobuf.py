"""Build message classes in a private descriptor pool.

Generated `*_pb2` modules call these helpers instead of protoc's gencode so
that (1) descriptors live in a pool owned by this copy of etcdgen, never in
protobuf's process-wide default pool, and (2) the code does not pin the
protobuf runtime it was generated for: only public, long-stable protobuf
APIs are used (`DescriptorPool`, the message metaclass, `EnumTypeWrapper`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from google.protobuf import descriptor_pool, message, reflection
from google.protobuf.descriptor import Descriptor, FileDescriptor
from google.protobuf.internal.enum_type_wrapper import EnumTypeWrapper


def new_pool() -> descriptor_pool.DescriptorPool:
    """A fresh pool, separate from `descriptor_pool.Default()`."""
    return descriptor_pool.DescriptorPool()


def load_file(
    pool: descriptor_pool.DescriptorPool,
    serialized: bytes,
    name: str,
    dependencies: Sequence[FileDescriptor] = (),
) -> FileDescriptor:
    """Add one serialized FileDescriptorProto to `pool` and return its descriptor.

    `dependencies` are the already loaded files it imports; passing them makes
    the import order explicit in the generated module.
    """
    for dependency in dependencies:
        if dependency.pool is not pool:
            raise ValueError(f"{name}: dependency {dependency.name} belongs to another pool")
    pool.AddSerializedFile(serialized)
    return pool.FindFileByName(name)


def message_class(file: FileDescriptor, name: str, module: str) -> Any:
    """Create the class for top-level message `name` (nested classes included)."""
    return _build(file.message_types_by_name[name], module, "")


def enum_wrapper(file: FileDescriptor, name: str) -> EnumTypeWrapper:
    """The `Name()`/`Value()` wrapper for a top-level enum."""
    return EnumTypeWrapper(file.enum_types_by_name[name])


def _build(descriptor: Descriptor, module: str, outer: str) -> Any:
    qualname = f"{outer}{descriptor.name}"
    namespace: dict[str, Any] = {
        nested.name: _build(nested, module, qualname + ".") for nested in descriptor.nested_types
    }
    namespace["DESCRIPTOR"] = descriptor
    namespace["__module__"] = module
    namespace["__qualname__"] = qualname
    if outer:
        # protobuf pickles nested messages through the default symbol database,
        # where ours are not; pickle by class (module + qualname) instead.
        namespace["__reduce__"] = _reduce_by_class
    return reflection.GeneratedProtocolMessageType(descriptor.name, (message.Message,), namespace)


def _reduce_by_class(self: message.Message) -> tuple[Any, ...]:
    return type(self), (), self.__getstate__()  # type: ignore[attr-defined]
