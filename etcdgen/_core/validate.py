"""Argument checks with messages that name the argument and the accepted values.

Every public option and keyword goes through one of these, so a bad value
fails at the call that passed it, with `TypeError` for the wrong kind of value
and `ValueError` for a value out of range - never deep inside protobuf or gRPC
("'<=' not supported between 'str' and 'int'", "Value out of range").

The checks are plain `isinstance` tests: callers on a hot path (every get and
put) skip them entirely for default values and call them only for what was set.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import TypeVar

#: Seconds above this are "no deadline": grpc-core overflows on huge deadlines
#: (1e10 s failed every call at once), and ten years is forever for an RPC.
FOREVER_SECONDS = 10 * 365 * 24 * 3600.0

INT64_MAX = 2**63 - 1
INT64_MIN = -(2**63)

_T = TypeVar("_T")
_SHOWN_CHARS = 60


def shown(value: object) -> str:
    """`type repr` for an error message, the repr cut short (a stray 1 MiB value stays readable)."""
    text = " ".join(repr(value).split())  # one line (protobuf messages print several)
    if len(text) > _SHOWN_CHARS:
        text = text[: _SHOWN_CHARS - 3] + "..."
    return f"{type(value).__name__} {text}"


def seconds(name: str, value: object, *, allow_none: bool = False) -> float | None:
    """A positive number of seconds; `inf` (or anything over ten years) means None.

    `None` is accepted only with `allow_none` ("no deadline").
    """
    if value is None:
        if allow_none:
            return None
        raise TypeError(f"{name} must be a positive number of seconds, got None")
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        accepted = "a positive number of seconds" + (" or None" if allow_none else "")
        raise TypeError(f"{name} must be {accepted}, got {shown(value)}")
    number = float(value)
    if math.isnan(number) or number <= 0:
        accepted = "a positive number of seconds" + (
            " (or None for no limit)" if allow_none else ""
        )
        raise ValueError(f"{name} must be {accepted}, got {value!r}")
    if number > FOREVER_SECONDS:
        if allow_none:
            return None
        return FOREVER_SECONDS
    return number


def integer(name: str, value: object, *, minimum: int = 0, maximum: int = INT64_MAX) -> int:
    """An `int` (not bool, not float) within [minimum, maximum]."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(
            f"{name} must be an integer between {minimum:,} and {maximum:,}, got {shown(value)}"
        )
    if not minimum <= value <= maximum:
        raise ValueError(f"{name} must be between {minimum:,} and {maximum:,}, got {value:,}")
    return value


def optional_integer(
    name: str, value: object, *, minimum: int = 0, maximum: int = INT64_MAX
) -> int | None:
    """`None`, or an `int` within [minimum, maximum] (the messages say None is accepted)."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(
            f"{name} must be an integer between {minimum:,} and {maximum:,} or None, "
            f"got {shown(value)}"
        )
    return integer(name, value, minimum=minimum, maximum=maximum)


def flag(name: str, value: object) -> bool:
    """A real `bool`: `prefix="no"` is a mistake, not True."""
    if not isinstance(value, bool):
        raise TypeError(f"{name} must be True or False, got {shown(value)}")
    return value


def choice(name: str, value: object, choices: Mapping[str, _T]) -> _T:
    """The entry of `choices` named by the string `value`."""
    if not isinstance(value, str):
        raise TypeError(f"{name} must be one of {_listed(choices)}; got {shown(value)}")
    try:
        return choices[value]
    except KeyError:
        raise ValueError(f"{name} must be one of {_listed(choices)}; got {value!r}") from None


def _listed(choices: Mapping[str, object]) -> str:
    return ", ".join(repr(option) for option in choices)
