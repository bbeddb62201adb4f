"""The API change report: what changed between two API_SURFACE.txt texts, classified.

`make generate` compares the surface it renders with the committed one, prints
the report and writes it as Markdown to `generated/API_CHANGES.md`. Classes,
following `buf breaking` for the protos:

- wire-breaking: a field removed, renumbered or retyped (or moved across
  oneofs), an enum value removed or renumbered, an RPC removed or given other
  request or response types, a message, enum or service removed;
- JSON-breaking: a field or enum value renamed with its number kept (the
  binary wire is unchanged, the JSON names are not);
- additive: a new service, RPC, message, field, enum or value;

and for etcdgen's Python surface, which no proto tool shows:

- Python surface, breaking: a wrapper method removed or renamed, a keyword
  argument removed, renamed or retyped, a request or return type changed, a
  `_pb2` class or attribute removed, renamed or retyped (fields of messages
  whose fields are no wrapper's keywords; the keywords are named instead), an
  error class removed or no longer a subclass of something it was;
- Python surface, additive: a new wrapper method, keyword argument or error
  class, or a new base of an error class;
- annotations: `since=` (the release that introduced an element) and an RPC's
  retry class or effect. Neither touches the wire or a signature, though a
  retry class changes what the client does on a failure.

Entries come in surface order (the new file's for what it has, the old one's
for what it lost), so the report is deterministic.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Hashable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import TypeVar

#: Generated file that records the last change of the surface.
CHANGES_FILE = "API_CHANGES.md"

WIRE = "Wire-breaking"
JSON = "JSON-breaking"
ADDITIVE = "Additive"
PY_BREAKING = "Python surface: breaking"
PY_ADDITIVE = "Python surface: additive"
ANNOTATIONS = "Annotations"
SECTIONS = (WIRE, JSON, ADDITIVE, PY_BREAKING, PY_ADDITIVE, ANNOTATIONS)

_SINCE = r"(?: since=(?P<since>\S+))?"
_PATTERNS = {
    "service": re.compile(r"service (?P<name>\S+)$"),
    "rpc": re.compile(
        r"rpc (?P<name>\S+) \((?P<request>(?:stream )?\S+)\) returns "
        r"\((?P<response>(?:stream )?\S+)\)(?: retry=(?P<retry>\S+))?(?: effect=(?P<effect>\S+))?"
        + _SINCE
        + "$"
    ),
    "message": re.compile(r"message (?P<name>\S+)" + _SINCE + "$"),
    "field": re.compile(
        r"field (?P<name>\S+) = (?P<number>\d+) (?P<type>(?:repeated )?\S+)"
        r"(?: oneof=(?P<oneof>\S+))?" + _SINCE + "$"
    ),
    "enum": re.compile(r"enum (?P<name>\S+)" + _SINCE + "$"),
    "value": re.compile(r"value (?P<name>\S+) = (?P<number>-?\d+)" + _SINCE + "$"),
    "wrapper": re.compile(
        r"wrapper (?P<name>\S+) \((?P<params>.*)\) -> (?P<returns>.+?)(?: rpc=(?P<rpc>\S+))?$"
    ),
    "error": re.compile(r"error (?P<name>\S+) \((?P<bases>.*)\)$"),
}


@dataclass(frozen=True)
class Member:
    """A field of a message or a value of an enum."""

    parent: str
    name: str
    number: int
    type: str = ""
    oneof: str | None = None
    since: str | None = None

    @property
    def full_name(self) -> str:
        return f"{self.parent}.{self.name}"


@dataclass(frozen=True)
class Rpc:
    name: str
    request: str
    response: str
    retry: str | None
    effect: str | None
    since: str | None

    @property
    def keyword_request(self) -> str | None:
        """The message whose fields are its wrapper's keywords (None for client streams)."""
        return None if self.request.startswith("stream ") else self.request


@dataclass(frozen=True)
class Wrapper:
    name: str
    #: The positional parameter: `request: rpc_pb2.RangeRequest`.
    first: str
    #: Keyword name -> annotation, in signature order (`timeout` included).
    keywords: dict[str, str]
    returns: str
    rpc: str | None


@dataclass
class Surface:
    """An API_SURFACE.txt text, parsed."""

    version: str = "unknown"
    services: list[str] = field(default_factory=list)
    rpcs: dict[str, Rpc] = field(default_factory=dict)
    #: Message or enum full name -> since.
    messages: dict[str, str | None] = field(default_factory=dict)
    enums: dict[str, str | None] = field(default_factory=dict)
    #: Message full name -> its fields; enum full name -> its values.
    fields: dict[str, list[Member]] = field(default_factory=dict)
    values: dict[str, list[Member]] = field(default_factory=dict)
    wrappers: dict[str, Wrapper] = field(default_factory=dict)
    #: Error class -> its bases as written.
    errors: dict[str, tuple[str, ...]] = field(default_factory=dict)
    #: Lines of a kind this module does not know, by their first two words.
    other: dict[str, str] = field(default_factory=dict)

    def keyword_messages(self) -> dict[str, list[str]]:
        """Message -> the wrappers whose keywords are its fields."""
        out: dict[str, list[str]] = {}
        for wrapper in self.wrappers.values():
            rpc = self.rpcs.get(wrapper.rpc or "")
            if rpc is not None and rpc.keyword_request:
                out.setdefault(rpc.keyword_request, []).append(wrapper.name)
        return out


def split_params(params: str) -> list[str]:
    """`a: X[b, c], *, d: E` -> ["a: X[b, c]", "*", "d: E"] (commas inside brackets kept)."""
    out, depth, current = [], 0, ""
    for char in params:
        depth += char in "[("
        depth -= char in "])"
        if char == "," and depth == 0:
            out.append(current.strip())
            current = ""
        else:
            current += char
    if current.strip():
        out.append(current.strip())
    return out


def _wrapper(name: str, params: str, returns: str, rpc: str | None) -> Wrapper:
    parts = split_params(params)
    star = parts.index("*") if "*" in parts else len(parts)
    keywords = {}
    for part in parts[star + 1 :]:
        key, _, annotation = part.partition(":")
        keywords[key.strip()] = annotation.strip()
    return Wrapper(name, ", ".join(parts[:star]), keywords, returns, rpc)


def parse_surface(text: str) -> Surface:
    surface = Surface()
    for line in text.splitlines():
        if line.startswith("# etcd API surface, etcd "):
            surface.version = line.split("etcd ", 2)[2].split(" ", 1)[0]
        if not line.strip() or line.startswith("#"):
            continue
        kind = line.split(" ", 1)[0]
        pattern = _PATTERNS.get(kind)
        match = pattern.match(line) if pattern else None
        if match is None:
            surface.other[" ".join(line.split(" ", 2)[:2])] = line
            continue
        g = match.groupdict()
        name = g["name"]
        if kind == "service":
            surface.services.append(name)
        elif kind == "rpc":
            surface.rpcs[name] = Rpc(
                name, g["request"], g["response"], g["retry"], g["effect"], g["since"]
            )
        elif kind in ("message", "enum"):
            (surface.messages if kind == "message" else surface.enums)[name] = g["since"]
            (surface.fields if kind == "message" else surface.values).setdefault(name, [])
        elif kind in ("field", "value"):
            parent, _, short = name.rpartition(".")
            number = int(g["number"])
            member = Member(parent, short, number, g.get("type") or "", g.get("oneof"), g["since"])
            (surface.fields if kind == "field" else surface.values).setdefault(parent, []).append(
                member
            )
        elif kind == "wrapper":
            surface.wrappers[name] = _wrapper(name, g["params"], g["returns"], g["rpc"])
        elif kind == "error":
            bases = tuple(b for b in split_params(g["bases"]) if b)
            surface.errors[name] = bases
    return surface


@dataclass(frozen=True)
class Change:
    section: str
    #: `+` added, `-` removed, `~` changed (the mark of the text form).
    mark: str
    #: Markdown: names in backticks (the text form drops them).
    text: str

    @property
    def plain(self) -> str:
        return f"{self.mark} {self.text.replace('`', '')}"


@dataclass(frozen=True)
class ChangeReport:
    old_version: str
    new_version: str
    changes: tuple[Change, ...]
    #: False when there was no earlier surface to compare with.
    compared: bool = True

    @property
    def empty(self) -> bool:
        return not self.changes

    def section(self, name: str) -> list[Change]:
        return [c for c in self.changes if c.section == name]

    @property
    def breaking(self) -> bool:
        return any(c.section in (WIRE, JSON, PY_BREAKING) for c in self.changes)

    def _counts(self) -> str:
        return ", ".join(f"{name} {len(self.section(name))}" for name in SECTIONS)

    def text(self) -> str:
        if not self.compared:
            return (
                f"API change report: etcd {self.new_version}: no earlier API_SURFACE.txt "
                "to compare with"
            )
        title = f"API change report: etcd {self.old_version} -> {self.new_version}"
        if self.empty:
            return f"{title}: no change in the protos, the wrappers or the error classes"
        out = [f"{title} ({self._counts()})"]
        for name in SECTIONS:
            items = self.section(name)
            if items:
                out.append(f"  {name} ({len(items)}):")
                out.extend(f"    {c.plain}" for c in items)
        return "\n".join(out)

    def markdown(self) -> str:
        if not self.compared:
            return (
                f"# API changes: etcd {self.new_version}\n\n"
                "No earlier API_SURFACE.txt to compare with: no change recorded yet.\n"
            )
        out = [
            f"# API changes: etcd {self.old_version} -> {self.new_version}",
            "",
            "The last change of `API_SURFACE.txt`, classified. Written by `make generate` when "
            "the surface changes, kept as is while it does not; do not edit. Sections: see "
            "`docs/generator.md` (API change report).",
        ]
        for name in SECTIONS:
            items = self.section(name)
            out += ["", f"## {name} ({len(items)})", ""]
            out += [f"- {c.text}" for c in items] if items else ["None."]
        return "\n".join(out) + "\n"


K = TypeVar("K", bound=Hashable)


def _union(old: Iterable[K], new: Iterable[K]) -> list[K]:
    """Keys of both, the new order first, then what only the old had, in its order."""
    new = list(new)
    seen = set(new)
    return new + [k for k in old if k not in seen]


def _pair(
    old: Sequence[Member], new: Sequence[Member]
) -> tuple[list[tuple[Member, Member]], list[Member], list[Member]]:
    """Match members by name and number, then name (renumbered), then number (renamed).

    Returns the pairs in the new order, the old members left (removed) and the new
    ones left (added).
    """
    old_left, new_left = list(old), list(new)
    pairs: list[tuple[Member, Member]] = []
    keys: tuple[Callable[[Member], Hashable], ...] = (
        lambda m: (m.name, m.number),
        lambda m: m.name,
        lambda m: m.number,
    )
    for key in keys:
        by_key = {key(m): m for m in new_left}
        for o in list(old_left):
            n = by_key.get(key(o))
            if n is not None and n in new_left:
                pairs.append((o, n))
                old_left.remove(o)
                new_left.remove(n)
    order = {m.name: i for i, m in enumerate(new)}
    pairs.sort(key=lambda p: order[p[1].name])
    return pairs, old_left, new_left


def _plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


class _Comparison:
    def __init__(self, old: Surface, new: Surface) -> None:
        self.old, self.new = old, new
        self.changes: list[Change] = []
        self.pb2: list[Change] = []
        self.old_keywords = old.keyword_messages()
        self.new_keywords = new.keyword_messages()
        #: Request message -> {old field name: new field name} for renamed fields.
        self.renames: dict[str, dict[str, str]] = {}

    def add(self, section: str, mark: str, text: str) -> None:
        self.changes.append(Change(section, mark, text))

    def add_pb2(self, mark: str, text: str) -> None:
        """A breaking change of a `_pb2` class, listed after the wrappers' changes."""
        self.pb2.append(Change(PY_BREAKING, mark, text))

    def since(self, what: str, old: str | None, new: str | None) -> None:
        if old != new:
            self.add(ANNOTATIONS, "~", f"{what} since {old or '-'} -> {new or '-'}")

    def run(self) -> list[Change]:
        self.services()
        self.rpcs()
        self.messages()
        self.enums()
        self.wrappers()
        self.changes += self.pb2
        self.errors()
        self.other()
        return self.changes

    def services(self) -> None:
        old, new = self.old.services, self.new.services
        for name in _union(old, new):
            if name not in new:
                self.add(WIRE, "-", f"service `{name}` removed")
            elif name not in old:
                self.add(ADDITIVE, "+", f"service `{name}` added")

    def rpcs(self) -> None:
        old, new = self.old.rpcs, self.new.rpcs
        for name in _union(old, new):
            o, n = old.get(name), new.get(name)
            if n is None:
                self.add(WIRE, "-", f"rpc `{name}` removed")
            elif o is None:
                self.add(ADDITIVE, "+", f"rpc `{name}` added: ({n.request}) returns ({n.response})")
            else:
                for part, a, b in (
                    ("request", o.request, n.request),
                    ("response", o.response, n.response),
                ):
                    if a != b:
                        self.add(WIRE, "~", f"rpc `{name}`: {part} `{a}` -> `{b}`")
                for part, a2, b2 in (("retry", o.retry, n.retry), ("effect", o.effect, n.effect)):
                    if a2 != b2:
                        self.add(ANNOTATIONS, "~", f"rpc `{name}`: {part} {a2} -> {b2}")
                self.since(f"rpc `{name}`", o.since, n.since)

    def messages(self) -> None:
        old, new = self.old.messages, self.new.messages
        for name in _union(old, new):
            if name not in new:
                count = _plural(len(self.old.fields.get(name, [])), "field")
                self.add(WIRE, "-", f"message `{name}` removed ({count})")
                self.add_pb2("-", f"message class `{name}` removed")
            elif name not in old:
                count = _plural(len(self.new.fields.get(name, [])), "field")
                self.add(ADDITIVE, "+", f"message `{name}` added ({count})")
            else:
                self.since(f"message `{name}`", old[name], new[name])
                self.fields(name, self.old.fields.get(name, []), self.new.fields.get(name, []))

    def fields(self, message: str, old: list[Member], new: list[Member]) -> None:
        # Fields that are keywords of a wrapper are reported on the wrapper instead.
        keywords = message in self.old_keywords or message in self.new_keywords
        pairs, removed, added = _pair(old, new)
        for o, n in pairs:
            if o.name != n.name:
                self.add(
                    JSON,
                    "~",
                    f"field `{o.full_name}` renamed to `{n.name}` "
                    f"(number {n.number} kept: the binary wire is unchanged)",
                )
                self.renames.setdefault(message, {})[o.name] = n.name
                if not keywords:
                    self.add_pb2("~", f"attribute `{o.full_name}` renamed to `{n.name}`")
            if o.number != n.number:
                self.add(WIRE, "~", f"field `{n.full_name}` renumbered {o.number} -> {n.number}")
            if o.type != n.type:
                self.add(WIRE, "~", f"field `{n.full_name}` type `{o.type}` -> `{n.type}`")
                if not keywords:
                    self.add_pb2(
                        "~",
                        f"attribute `{n.full_name}` type `{o.type}` -> `{n.type}`",
                    )
            if o.oneof != n.oneof:
                self.add(
                    WIRE,
                    "~",
                    f"field `{n.full_name}` oneof {o.oneof or '(none)'} -> {n.oneof or '(none)'}",
                )
            self.since(f"field `{n.full_name}`", o.since, n.since)
        for o in removed:
            self.add(WIRE, "-", f"field `{o.full_name}` = {o.number} removed")
            if not keywords:
                self.add_pb2("-", f"attribute `{o.full_name}` removed")
        for n in added:
            self.add(ADDITIVE, "+", f"field `{n.full_name}` = {n.number} `{n.type}` added")

    def enums(self) -> None:
        old, new = self.old.enums, self.new.enums
        for name in _union(old, new):
            if name not in new:
                count = _plural(len(self.old.values.get(name, [])), "value")
                self.add(WIRE, "-", f"enum `{name}` removed ({count})")
                self.add_pb2("-", f"enum class `{name}` removed")
            elif name not in old:
                count = _plural(len(self.new.values.get(name, [])), "value")
                self.add(ADDITIVE, "+", f"enum `{name}` added ({count})")
            else:
                self.since(f"enum `{name}`", old[name], new[name])
                self.values(self.old.values.get(name, []), self.new.values.get(name, []))

    def values(self, old: list[Member], new: list[Member]) -> None:
        pairs, removed, added = _pair(old, new)
        for o, n in pairs:
            if o.name != n.name:
                self.add(
                    JSON,
                    "~",
                    f"enum value `{o.full_name}` renamed to `{n.name}` (number {n.number} kept)",
                )
                self.add_pb2("~", f"enum value `{o.full_name}` renamed to `{n.name}`")
            if o.number != n.number:
                self.add(
                    WIRE, "~", f"enum value `{n.full_name}` renumbered {o.number} -> {n.number}"
                )
            self.since(f"enum value `{n.full_name}`", o.since, n.since)
        for o in removed:
            self.add(WIRE, "-", f"enum value `{o.full_name}` = {o.number} removed")
            self.add_pb2("-", f"enum value `{o.full_name}` removed")
        for n in added:
            self.add(ADDITIVE, "+", f"enum value `{n.full_name}` = {n.number} added")

    def _request_of(self, surface: Surface, wrapper: Wrapper) -> str | None:
        rpc = surface.rpcs.get(wrapper.rpc or "")
        return rpc.keyword_request if rpc else None

    def wrappers(self) -> None:
        old, new = self.old.wrappers, self.new.wrappers
        gone = [name for name in old if name not in new]
        fresh = [name for name in new if name not in old]
        # A wrapper that left and one that came in the same service with the same
        # signature: the method was renamed (its RPC was, on the wire).
        renamed: dict[str, str] = {}
        for name in gone:
            left = old[name]
            for candidate in fresh:
                came = new[candidate]
                same_service = candidate.rpartition(".")[0] == name.rpartition(".")[0]
                same_shape = (left.first, left.keywords, left.returns) == (
                    came.first,
                    came.keywords,
                    came.returns,
                )
                if same_service and same_shape and candidate not in renamed.values():
                    renamed[name] = candidate
                    break
        for name in _union(old, new):
            o, n = old.get(name), new.get(name)
            if n is None and o is not None:
                if name in renamed:
                    self.add(
                        PY_BREAKING,
                        "~",
                        f"method `client.{name}()` renamed to `client.{renamed[name]}()`",
                    )
                else:
                    self.add(PY_BREAKING, "-", f"method `client.{name}()` removed")
            elif o is None and n is not None:
                if n.name not in renamed.values():
                    signature = ", ".join(
                        [n.first, "*", *(f"{k}: {t}" for k, t in n.keywords.items())]
                    )
                    self.add(
                        PY_ADDITIVE,
                        "+",
                        f"method `client.{name}({signature}) -> {n.returns}` added",
                    )
            elif o is not None and n is not None:
                self.wrapper(o, n)

    def wrapper(self, o: Wrapper, n: Wrapper) -> None:
        name = f"`client.{n.name}()`"
        if o.first != n.first:
            self.add(PY_BREAKING, "~", f"{name}: positional `{o.first}` -> `{n.first}`")
        if o.returns != n.returns:
            self.add(PY_BREAKING, "~", f"{name}: returns `{o.returns}` -> `{n.returns}`")
        request = self._request_of(self.old, o)
        renames = (
            self.renames.get(request, {})
            if request is not None and request == self._request_of(self.new, n)
            else {}
        )
        matched = set()
        for key, annotation in o.keywords.items():
            target = renames.get(key, key)
            if target not in n.keywords:
                field = f" (field `{request}.{key}`)" if request else ""
                self.add(PY_BREAKING, "-", f"{name}: keyword `{key}` removed{field}")
                continue
            matched.add(target)
            retyped = n.keywords[target] != annotation
            if target != key:
                extra = f", now `{n.keywords[target]}`" if retyped else ""
                self.add(PY_BREAKING, "~", f"{name}: keyword `{key}` renamed to `{target}`{extra}")
            elif retyped:
                self.add(
                    PY_BREAKING,
                    "~",
                    f"{name}: keyword `{key}` type `{annotation}` -> `{n.keywords[target]}`",
                )
        for key, annotation in n.keywords.items():
            if key not in matched:
                self.add(PY_ADDITIVE, "+", f"{name}: keyword `{key}: {annotation}` added")

    def errors(self) -> None:
        old, new = self.old.errors, self.new.errors
        for name in _union(old, new):
            qualified = f"`etcdgen.{name}`"
            if name not in new:
                self.add(PY_BREAKING, "-", f"error class {qualified} removed")
            elif name not in old:
                bases = ", ".join(new[name])
                self.add(PY_ADDITIVE, "+", f"error class {qualified}({bases}) added")
            else:
                lost = _ancestors(old, name) - _ancestors(new, name)
                gained = _ancestors(new, name) - _ancestors(old, name)
                for base in sorted(lost):
                    self.add(PY_BREAKING, "~", f"error class {qualified} is no longer a `{base}`")
                for base in sorted(gained):
                    self.add(PY_ADDITIVE, "+", f"error class {qualified} is now also a `{base}`")

    def other(self) -> None:
        old, new = self.old.other, self.new.other
        for key in _union(old, new):
            if old.get(key) != new.get(key):
                self.add(ANNOTATIONS, "~", f"unclassified: `{old.get(key)}` -> `{new.get(key)}`")


def _ancestors(errors: dict[str, tuple[str, ...]], name: str) -> set[str]:
    """Every base of an error class, through the bases the surface also defines."""
    found: set[str] = set()
    todo = list(errors.get(name, ()))
    while todo:
        base = todo.pop()
        if base not in found:
            found.add(base)
            todo.extend(errors.get(f"errors.{base}", ()))
    return found


def compare_surfaces(old_text: str | None, new_text: str) -> ChangeReport:
    """What differs between two API_SURFACE.txt texts, classified; `old_text` None (or
    empty): there is nothing to compare with."""
    new = parse_surface(new_text)
    if not old_text:
        return ChangeReport("none", new.version, (), compared=False)
    old = parse_surface(old_text)
    return ChangeReport(old.version, new.version, tuple(_Comparison(old, new).run()))


def changes_file(old_surface: str | None, new_surface: str, committed: str | None) -> str:
    """The text of API_CHANGES.md: the committed one while the surface stays the same (it
    records the last bump, so a plain regeneration keeps it), else the new comparison."""
    if committed is not None and old_surface == new_surface:
        return committed
    return compare_surfaces(old_surface, new_surface).markdown()
