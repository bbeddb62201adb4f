"""Derive the sync client from the asyncio one: etcdgen/_async -> etcdgen/_sync.

The two clients differ only by `async`/`await` and the names of asyncio
types, so the sync file is generated rather than kept by hand:

    python scripts/unasync.py           # rewrite etcdgen/_sync/client.py
    python scripts/unasync.py --check   # exit 1 if it is not what this renders

Only `client.py` is derived; `connection.py` differs in substance (grpc vs
grpc.aio channels) and is written by hand in both folders.
"""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SOURCE = ROOT / "etcdgen" / "_async" / "client.py"
TARGET = ROOT / "etcdgen" / "_sync" / "client.py"

# Whole words renamed; order does not matter (no name is a prefix of another here).
NAMES = {
    "AsyncClient": "Client",
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
}

HEADER = '''# Generated from etcdgen/_async/client.py by scripts/unasync.py. Do not edit.
"""`Client`: the blocking etcd v3 client (same methods as `AsyncClient`, without await)."""
'''


def render(source: str) -> str:
    module = ast.parse(source)
    first = module.body[0]
    body_lines = source.splitlines(keepends=True)
    if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
        body_lines = body_lines[first.end_lineno or 0 :]
    text = "".join(body_lines)
    for old, new in PHRASES.items():
        text = text.replace(old, new)
    text = re.sub(r"\b(" + "|".join(NAMES) + r")\b", lambda m: NAMES[m.group(1)], text)
    result = subprocess.run(
        [sys.executable, "-m", "ruff", "format", "--stdin-filename", str(TARGET), "-"],
        input=HEADER + text,
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
    )
    return result.stdout


def main(argv: list[str]) -> int:
    rendered = render(SOURCE.read_text())
    if "--check" in argv:
        if not TARGET.is_file() or TARGET.read_text() != rendered:
            print(f"{TARGET.relative_to(ROOT)} is stale: run `python scripts/unasync.py`")
            return 1
        print(f"{TARGET.relative_to(ROOT)} is up to date")
        return 0
    TARGET.write_text(rendered)
    print(f"wrote {TARGET.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
