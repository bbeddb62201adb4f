"""What the runtime's version check needs, rendered as `generated/server_versions.py`.

From the model (whose elements carry the release that introduced them, see
`codegen/versions.py`): the RPCs newer than the baseline, and for each request
message the fields to look at: those newer than the baseline, those whose enum has
newer values, and those leading to messages that have such fields (requests nest:
a Txn holds ops that hold Txns, so the set is found by a fixpoint).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from . import model
from .versions import version_key


@dataclass(frozen=True)
class FieldNeed:
    """A request field the version check looks at."""

    name: str
    #: The release that introduced the field, if newer than the baseline; "" otherwise.
    since: str
    #: How to tell it is set: "has" (HasField), "len" (repeated) or "value" (not default).
    presence: str
    #: Its message type, when that type (or one below it) has fields to check.
    message: str
    #: Its enum's values newer than the baseline: (number, name, release).
    new_values: tuple[tuple[int, str, str], ...]


@dataclass(frozen=True)
class Requirements:
    baseline: str
    #: RPC path -> release, for RPCs newer than the baseline.
    rpcs: tuple[tuple[str, str], ...]
    #: Message full name -> the fields to check in it (only messages that have any).
    messages: tuple[tuple[str, tuple[FieldNeed, ...]], ...]
    #: Request message full name of each RPC that has something to check.
    requests: tuple[tuple[str, str], ...]

    @property
    def newest(self) -> str:
        """The newest release any listed element needs (the baseline if none)."""
        releases = [since for _, since in self.rpcs] + [
            since
            for _, fields in self.messages
            for f in fields
            for since in (f.since, *(v for _, _, v in f.new_values))
            if since
        ]
        return max(releases, key=version_key) if releases else self.baseline


def requirements(api: model.Api, baseline: str) -> Requirements:
    """Which request elements are newer than `baseline`, as the runtime check needs them."""
    floor = version_key(baseline)

    def newer(since: str | None) -> str:
        return since if since and version_key(since) > floor else ""

    messages = {m.full_name: m for mod in api.modules for m in _all(mod.messages)}
    enums = {e.full_name: e for mod in api.modules for e in _all_enums(mod)}
    new_values = {
        name: tuple((v.number, v.name, newer(v.since)) for v in enum.values if newer(v.since))
        for name, enum in enums.items()
    }
    # Messages with something to check, found by a fixpoint (requests nest: Txn in Txn).
    needy: set[str] = set()
    changed = True
    while changed:
        changed = False
        for name, message in messages.items():
            if name in needy:
                continue
            if any(
                newer(f.since) or f.proto_type in needy or new_values.get(f.proto_type)
                for f in message.fields
            ):
                needy.add(name)
                changed = True
    table = []
    for name in sorted(needy):
        fields = []
        for f in messages[name].fields:
            nested = f.proto_type if f.proto_type in needy else ""
            values = new_values.get(f.proto_type, ())
            if not (newer(f.since) or nested or values):
                continue
            if f.repeated:
                presence = "len"
            elif f.proto_type in messages or f.oneof:
                presence = "has"
            else:
                presence = "value"
            fields.append(FieldNeed(f.name, newer(f.since), presence, nested, values))
        table.append((name, tuple(fields)))
    methods = sorted(api.methods, key=lambda m: m.path)
    rpcs = tuple((m.path, newer(m.policy.since)) for m in methods if newer(m.policy.since))
    requests = tuple((m.path, m.request.full_name) for m in methods if m.request.full_name in needy)
    return Requirements(baseline, rpcs, tuple(table), requests)


def _all(items: Iterable[model.Message]) -> Iterator[model.Message]:
    for message in items:
        yield message
        yield from _all(message.nested)


def _all_enums(module: model.ProtoModule) -> Iterator[model.Enum]:
    yield from module.enums
    for message in _all(module.messages):
        yield from message.enums
