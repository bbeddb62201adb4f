"""The per-call `timeout=` convention.

`timeout=DEFAULT` (the default) means "use the client's default", while
`timeout=None` means "no deadline" - a sentinel keeps the two apart.
"""

from __future__ import annotations

from enum import Enum
from typing import Final, Literal, TypeAlias

from .validate import FOREVER_SECONDS, seconds


class _Default(Enum):
    DEFAULT = "DEFAULT"

    def __repr__(self) -> str:
        return "DEFAULT"


DEFAULT: Final = _Default.DEFAULT

#: Seconds, `None` for no deadline, or `DEFAULT` for the client's default.
Timeout: TypeAlias = float | Literal[_Default.DEFAULT] | None


def resolve_timeout(timeout: Timeout, default: float | None) -> float | None:
    """The deadline in seconds to use for one call (None: no deadline).

    `inf` and anything over ten years mean no deadline (grpc-core overflows on
    huge deadlines); nan, zero, negatives, strings and bools raise, naming `timeout`.
    `default` is returned as is: the client validated it once, at construction.
    """
    if timeout is DEFAULT:
        return default
    if timeout is None:
        return None
    # Runs on every call: a plain float in range needs no further checks.
    if timeout.__class__ is float and 0.0 < timeout <= FOREVER_SECONDS:
        return timeout
    return seconds("timeout", timeout, allow_none=True)
