"""Typing regressions: a user sample passes `mypy --strict`; misuse fails as expected."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = ROOT / "tests" / "typing"
_ERROR = re.compile(r"^[^:]+:(\d+): error: (.*)  \[([a-z-]+)\]$")


def mypy(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--no-incremental", str(path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )


def test_user_sample_passes_mypy_strict() -> None:
    result = mypy(SAMPLES / "good_usage.py")
    assert result.returncode == 0, result.stdout


def test_misuse_fails_with_the_expected_errors() -> None:
    result = mypy(SAMPLES / "bad_usage.py")
    assert result.returncode == 1
    found = []
    for line in result.stdout.splitlines():
        match = _ERROR.match(line)
        if match:
            found.append((int(match.group(1)), match.group(3), match.group(2)))
    expected = []
    for line in (SAMPLES / "bad_usage.expected").read_text().splitlines():
        if line and not line.startswith("#"):
            number, code, fragment = re.match(r"(\d+) \[([a-z-]+)\] (.*)", line).groups()  # type: ignore[union-attr]
            expected.append((int(number), code, fragment))
    assert [(n, c) for n, c, _ in found] == [(n, c) for n, c, _ in expected], result.stdout
    for (_, _, message), (_, _, fragment) in zip(found, expected, strict=True):
        assert fragment in message
