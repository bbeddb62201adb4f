"""The per-call `timeout=` convention.

`timeout=DEFAULT` (the default) means "use the client's default", while
`timeout=None` means "no deadline" - a sentinel keeps the two apart.
"""

from __future__ import annotations

from enum import Enum
from typing import Final, Literal, TypeAlias


class _Default(Enum):
    DEFAULT = "DEFAULT"

    def __repr__(self) -> str:
        return "DEFAULT"


DEFAULT: Final = _Default.DEFAULT

#: Seconds, `None` for no deadline, or `DEFAULT` for the client's default.
Timeout: TypeAlias = float | Literal[_Default.DEFAULT] | None


def resolve_timeout(timeout: Timeout, default: float | None) -> float | None:
    """The deadline in seconds to use for one call."""
    if timeout is DEFAULT:
        return default
    if timeout is not None and timeout <= 0:
        raise ValueError(f"timeout must be positive seconds or None, got {timeout!r}")
    return timeout
