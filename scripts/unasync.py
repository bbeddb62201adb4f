"""Derive the sync client from the asyncio one: etcdgen/_async -> etcdgen/_sync.

The two clients differ only by `async`/`await` and the names of asyncio
types, so the sync file is generated rather than kept by hand:

    python scripts/unasync.py           # rewrite the derived files (MODULES)
    python scripts/unasync.py --check   # exit 1 if one is not what this renders

Only the files in MODULES are derived; `connection.py` differs in substance (grpc vs
grpc.aio channels) and is written by hand in both folders.
"""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
#: Each asyncio source and the one-line docstring of the module derived from it.
MODULES = {
    "client.py": (
        "`Client`: the blocking etcd v3 client (same methods as `AsyncClient`, without await)."
    ),
    "auth_admin.py": "`AuthAdmin`: users, roles and permissions, as methods of `Client`.",
    "concurrency.py": "`Session`, `Mutex`, `Election`: Go's `concurrency` recipes, blocking.",
    "stm.py": "`stm`: software transactional memory over etcd transactions (blocking).",
    "operations.py": "`Operations`: the operator's methods of `Client` (members, snapshots...).",
}
SOURCES = ROOT / "etcdgen" / "_async"
TARGETS = ROOT / "etcdgen" / "_sync"

# Whole words renamed; order does not matter (no name is a prefix of another here).
NAMES = {
    "AsyncClient": "Client",
    "AsyncAuthAdmin": "AuthAdmin",
    "AsyncWatch": "Watch",
    "AsyncLease": "Lease",
    "AsyncSession": "Session",
    "AsyncMutex": "Mutex",
    "AsyncElection": "Election",
    "AsyncLockHold": "LockHold",
    "AsyncSTM": "STM",
    "AsyncOperations": "Operations",
    "AsyncInvoker": "Invoker",
    "AsyncReadCoalescer": "ReadCoalescer",
    "async_stm": "stm",
    "AsyncWatchCallback": "WatchCallback",
    "AsyncErrorCallback": "ErrorCallback",
    "AsyncConnection": "Connection",
    "AsyncIterator": "Iterator",
    "AsyncIterable": "Iterable",
    "AsyncRpcClients": "RpcClients",
    "AsyncResponseStream": "ResponseStream",
    "__aenter__": "__enter__",
    "__aexit__": "__exit__",
    "__aiter__": "__iter__",
    "__anext__": "__next__",
    "StopAsyncIteration": "StopIteration",
}
PHRASES = {
    "(asyncio)": "(blocking)",
    "async with ": "with ",
    "async for ": "for ",
    "async def ": "def ",
    "await ": "",
    "..generated.aio ": "..generated.sync ",
    "..generated.aio import": "..generated.sync import",
    "from .._core.aio_invoker import AsyncInvoker": "from .._core.invoker import Invoker",
    "Callable[[AsyncSTM], Awaitable[object]]": "Callable[[AsyncSTM], object]",
    "from collections.abc import Awaitable, Callable, Iterable": (
        "from collections.abc import Callable, Iterable"
    ),
}

HEADER = '''# Generated from etcdgen/_async/{name} by scripts/unasync.py. Do not edit.
"""{doc}"""
'''


def render(name: str, source: str) -> str:
    module = ast.parse(source)
    first = module.body[0]
    body_lines = source.splitlines(keepends=True)
    if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
        body_lines = body_lines[first.end_lineno or 0 :]
    text = "".join(body_lines)
    for old, new in PHRASES.items():
        text = text.replace(old, new)
    text = re.sub(r"\b(" + "|".join(NAMES) + r")\b", lambda m: NAMES[m.group(1)], text)
    target = str(TARGETS / name)
    text = HEADER.format(name=name, doc=MODULES[name]) + text
    # Renamed imports may sort differently (generated.aio -> generated.sync): re-sort, format.
    for command in (
        ["check", "--select", "I", "--fix", "--exit-zero", "--quiet", "--stdin-filename", target],
        ["format", "--stdin-filename", target],
    ):
        text = subprocess.run(
            [sys.executable, "-m", "ruff", *command, "-"],
            input=text,
            capture_output=True,
            text=True,
            check=True,
            cwd=ROOT,
        ).stdout
    return text


def main(argv: list[str]) -> int:
    stale = 0
    for name in MODULES:
        source, target = SOURCES / name, TARGETS / name
        rendered = render(name, source.read_text())
        shown = target.relative_to(ROOT)
        if "--check" in argv:
            if not target.is_file() or target.read_text() != rendered:
                print(f"{shown} is stale: run `python scripts/unasync.py`")
                stale += 1
            else:
                print(f"{shown} is up to date")
        else:
            target.write_text(rendered)
            print(f"wrote {shown}")
    return 1 if stale else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
