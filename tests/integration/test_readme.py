"""The README's tour runs as written, against a real etcd."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from etcdgen.testing import EtcdServer

README = Path(__file__).resolve().parents[2] / "README.md"


def test_readme_tour_runs(etcd: EtcdServer, capsys: Any) -> None:
    text = README.read_text()
    match = re.search(r"## A short tour\n\n```python\n(.*?)```", text, re.S)
    assert match is not None, "README lost its tour"
    code = match.group(1).replace('"127.0.0.1:2379"', repr(etcd.endpoint))
    namespace: dict[str, Any] = {}
    exec(compile(code, "README.md", "exec"), namespace)  # runs main() too, as written
    printed = capsys.readouterr().out
    assert "b'1'" in printed and "key is empty" in printed and "b'v'" in printed
