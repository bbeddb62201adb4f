"""Credentials that never show: in reprs, logs, error messages or traceback locals.

`Secret` wraps the password from the moment the client is built; only
`reveal()` gives the text back, and the one caller that does so is
`SealedRequest.SerializeToString`, called by gRPC itself to put the
bytes on the wire. So no frame of ours or gRPC's ever holds the password as a
plain `str` or a protobuf message whose repr would print it (pytest's
`--showlocals`, `logging`'s `exc_info`, a debugger's variable list).

Tokens are not wrapped (they travel as gRPC metadata, which nothing of ours
logs or formats); they are never put in messages either.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any, Final

from google.protobuf.message import Message

from ..generated.etcdserverpb import rpc_pb2

MASK: Final = "***"


class Secret:
    """A string that prints as ``***``; `reveal()` returns it."""

    __slots__ = ("_text",)

    def __init__(self, text: str) -> None:
        if not isinstance(text, str):
            raise TypeError(f"password must be a string, got {type(text).__name__}")
        self._text = text

    def reveal(self) -> str:
        return self._text

    def __repr__(self) -> str:
        return f"Secret({MASK!r})"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._text == self._text

    def __hash__(self) -> int:
        return hash(self._text)

    def __reduce__(self) -> Any:
        # Pickling would write the password to wherever the pickle goes.
        raise TypeError("etcdgen.Secret cannot be pickled (it holds a password)")


class SealedRequest:
    """A request message that is built only when gRPC serialises it.

    It stands in for a message that holds a password (Authenticate, UserAdd,
    UserChangePassword): the call's method spec (`sealed_spec`) names this class as
    its request type, so gRPC's serializer is `SerializeToString` below, and every
    frame on the way holds only this object, whose repr masks the password.
    """

    __slots__ = ("_build", "_shown")

    def __init__(self, build: Callable[[], Message], shown: str) -> None:
        self._build = build
        self._shown = shown

    def SerializeToString(self) -> bytes:
        return self._build().SerializeToString()

    def ByteSize(self) -> int:
        return self._build().ByteSize()

    def __repr__(self) -> str:
        return self._shown


def sealed_authenticate(name: str, password: Secret) -> SealedRequest:
    return SealedRequest(
        lambda: rpc_pb2.AuthenticateRequest(name=name, password=password.reveal()),
        f"AuthenticateRequest(name={name!r}, password={MASK!r})",
    )


def sealed_spec(spec: Any) -> Any:
    """`spec` taking a `SealedRequest` (the invoker only serialises and sizes requests)."""
    sealed: Any = SealedRequest
    return replace(spec, request_type=sealed)
