"""Which etcd errors mean "your auth token is no longer good"."""

from __future__ import annotations

import grpc

from ._core.errors import EtcdError
from .generated.errors import (
    AuthOldRevisionError,
    InvalidAuthTokenError,
    UserEmptyError,
    error_from_rpc,
)


def is_token_error(error: grpc.RpcError) -> bool:
    """True for an expired or unknown token, or one older than an auth change.

    "user name is empty" counts too: it answers a call sent without a token, which a
    client with credentials only does while it believes the server has auth off.

    etcd rejects such calls before applying them, so they may be resent with a
    fresh token whatever their retry class.
    """
    return isinstance(
        error_from_rpc(error), (InvalidAuthTokenError, AuthOldRevisionError, UserEmptyError)
    )


def is_token_failure(error: EtcdError) -> bool:
    """`is_token_error` for an error already mapped (a stream's)."""
    return isinstance(error, (InvalidAuthTokenError, AuthOldRevisionError, UserEmptyError))
