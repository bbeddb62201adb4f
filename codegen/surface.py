"""API_SURFACE.txt: every element of the API, one line each, keyed by name.

The file is committed beside the generated code; on an etcd bump its diff is
the first thing to review, and `make generate` prints (and writes to
API_CHANGES.md) a classified report of it (`codegen/report.py`).

Two halves:

- the protos: every service, RPC, message, field (number and type), enum and
  value, with the etcd release that introduced it (`since=`), in declaration
  order;
- etcdgen's Python surface, which no proto tool shows: one `wrapper` line per
  generated method (`client.rpc.<service>.<method>`, the signature
  `templates/service.py.j2` renders; the asyncio client's is the same, awaited),
  and one `error` line per exception class of the generated `errors.py`, with
  its bases as rendered.

Formats (`report.parse_surface` reads them back):

    service etcdserverpb.KV
    rpc etcdserverpb.KV.Range (etcdserverpb.RangeRequest) returns (etcdserverpb.RangeResponse) \
retry=SAFE effect=READ since=3.0
    message etcdserverpb.RangeRequest since=3.0
    field etcdserverpb.RangeRequest.key = 1 bytes since=3.0
    enum etcdserverpb.RangeRequest.SortOrder since=3.0
    value etcdserverpb.RangeRequest.SortOrder.NONE = 0 since=3.0
    wrapper rpc.kv.range (request: rpc_pb2.RangeRequest, *, key: bytes | str, ..., \
timeout: Timeout) -> rpc_pb2.RangeResponse rpc=etcdserverpb.KV.Range
    error errors.EtcdTimeoutError (EtcdError, TimeoutError)
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Mapping

from . import model

#: The generated module whose classes are the `error` lines.
ERRORS_MODULE = "errors.py"


def _since(since: str | None) -> str:
    return f" since={since}" if since else ""


def _message_lines(message: model.Message) -> Iterable[str]:
    yield f"message {message.full_name}{_since(message.since)}"
    for field in message.fields:
        label = "repeated " if field.repeated else ""
        oneof = f" oneof={field.oneof}" if field.oneof else ""
        name = f"{message.full_name}.{field.name}"
        yield f"field {name} = {field.number} {label}{field.proto_type}{oneof}{_since(field.since)}"
    for enum in message.enums:
        yield from _enum_lines(enum)
    for nested in message.nested:
        yield from _message_lines(nested)


def _enum_lines(enum: model.Enum) -> Iterable[str]:
    yield f"enum {enum.full_name}{_since(enum.since)}"
    for value in enum.values:
        yield f"value {enum.full_name}.{value.name} = {value.number}{_since(value.since)}"


def wrapper_line(service: model.Service, method: model.Method) -> str:
    """The sync wrapper's signature as `templates/service.py.j2` renders it, defaults left
    out: every keyword defaults to None (unset), `timeout` to DEFAULT."""
    request = method.request.python_ref
    response = method.response.python_ref
    if method.client_streaming:
        params = [f"requests: Iterable[{request}]", "*"]
    else:
        params = [f"request: {request}", "*"]
        params += [f"{f.name}: {f.python_type}" for f in method.request.fields]
    params.append("timeout: Timeout")
    returns = f"ResponseStream[{response}]" if method.server_streaming else response
    return (
        f"wrapper rpc.{service.python_name}.{method.python_name} ({', '.join(params)}) "
        f"-> {returns} rpc={service.full_name}.{method.name}"
    )


def error_lines(errors_module: str) -> list[str]:
    """One line per class the rendered errors module defines, with its bases as written.

    Read from the rendered text rather than `model.ErrorClass`, so the lines follow
    whatever bases the template gives (extra builtins, category classes) without
    this module knowing how they are chosen.
    """
    lines = []
    for node in ast.parse(errors_module).body:
        if isinstance(node, ast.ClassDef):
            bases = ", ".join(ast.unparse(base) for base in node.bases)
            lines.append(f"error errors.{node.name} ({bases})")
    return lines


def surface_lines(api: model.Api, rendered: Mapping[str, str]) -> list[str]:
    """The lines of API_SURFACE.txt; `rendered` holds the other generated files."""
    lines = []
    for service in api.services:
        lines.append(f"service {service.full_name}")
        for m in service.methods:
            request = ("stream " if m.client_streaming else "") + m.request.full_name
            response = ("stream " if m.server_streaming else "") + m.response.full_name
            policy = m.policy
            lines.append(
                f"rpc {service.full_name}.{m.name} ({request}) returns ({response}) "
                f"retry={policy.retry} effect={policy.effect} since={policy.since}"
            )
    for module in api.modules:
        for message in module.messages:
            lines.extend(_message_lines(message))
        for enum in module.enums:
            lines.extend(_enum_lines(enum))
    for service in api.services:
        lines.extend(wrapper_line(service, m) for m in service.methods)
    lines.extend(error_lines(rendered[ERRORS_MODULE]))
    return lines


def render_surface(api: model.Api, rendered: Mapping[str, str]) -> str:
    head = [
        f"# etcd API surface, etcd {api.etcd_version} (generated by etcdgen codegen "
        f"{api.generator_version}; do not edit)",
        "# kind name [= number type] - one element per line, in declaration order",
        "# wrapper: client.rpc.<service>.<method>(...) (asyncio: the same, awaited); keywords "
        "default to None (unset), timeout to DEFAULT",
        "# error: a class of etcdgen.errors and its bases",
    ]
    return "\n".join(head + surface_lines(api, rendered)) + "\n"
