"""Refuse, before sending, what the member's etcd release does not know.

A client generated from a newer API than the server's fails badly on its own: an RPC
the server lacks comes back as an opaque UNIMPLEMENTED, and a field it does not know
is silently ignored (`member_list(linearizable=True)` on 3.4 returns a possibly stale
list). So each call is checked against the release of the member it is about to go
to, and `UnsupportedByServerError` names the element, the release that introduced
it and the member's release.

Where the facts come from: `generated/server_versions.py`, rendered from the
versionpb annotations of etcd's protos, lists only request elements newer than the
oldest supported release (3.4). A member's release comes from the connection
layer's health probe (`Status`); when a call needs it before the first probe
answered, the invoker asks that member for its `Status` first (only then).

Cost: nothing for members at least as new as every listed element (one tuple
comparison per call, `EndpointState.release < NEWEST`); for older members two dict
lookups per call, and a look at the listed fields of the few requests that have
some. Unset fields cost nothing: only set ones are reported. Streams (Watch, lease
keep-alive) are not checked: their requests are the runtime's own.
"""

from __future__ import annotations

from typing import Any

from google.protobuf.message import Message

from ..generated import server_versions as table
from .errors import UnsupportedByServerError


def release_key(version: str) -> tuple[int, ...]:
    """`"3.4.23"` -> `(3, 4)`: the release, as comparable numbers (`()` if unknown)."""
    parts = version.split(".")[:2]
    try:
        return tuple(int(part) for part in parts) if version else ()
    except ValueError:
        return ()


#: Members at least this new need no check.
NEWEST = release_key(table.NEWEST)


def newer_elements(path: str, request: Any) -> list[tuple[str, str]]:
    """(element, release) of what this call uses that is newer than the baseline."""
    used: list[tuple[str, str]] = []
    since = table.RPCS.get(path)
    if since:
        used.append((f"the {path.rsplit('/', 1)[1]} RPC", since))
    message = table.REQUESTS.get(path)
    # A sealed request (a password inside, built only by gRPC's serializer: secret.py)
    # is not looked into: it sets only the fields its builder knows, never newer ones.
    if message and isinstance(request, Message):
        _scan(request, message, used)
    return used


def _scan(message: Any, name: str, used: list[tuple[str, str]]) -> None:
    short = name.rsplit(".", 1)[1] if "." in name else name
    for need in table.FIELDS[name]:
        value = getattr(message, need.name)
        if need.presence == "has":
            present = message.HasField(need.name)
        elif need.presence == "len":
            present = len(value) > 0
        else:
            present = bool(value)
        if not present:
            continue
        if need.since:
            used.append((f"{short}.{need.name}", need.since))
        items = value if need.presence == "len" else (value,)
        if need.new_values:
            for number in items:
                if number in need.new_values:
                    value_name, value_since = need.new_values[number]
                    used.append((f"{short}.{need.name}={value_name}", value_since))
        if need.message:
            for item in items:
                _scan(item, need.message, used)


def refuse_if_newer(used: list[tuple[str, str]], endpoint: str, server_version: str) -> None:
    """Raise `UnsupportedByServerError` for the first element the server is too old for."""
    server = release_key(server_version)
    for element, since in used:
        if release_key(since) > server:
            raise UnsupportedByServerError(
                f"{element} needs etcd >= {since}, but {endpoint} runs etcd {server_version}: "
                "leave it out, or use a member of a newer release",
                element=element,
                required=since,
                server_version=server_version,
                endpoint=endpoint,
            )
