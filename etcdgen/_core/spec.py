"""Typed descriptions of RPCs, shared by the sync and asyncio invokers."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from enum import Enum
from typing import Generic, Protocol, TypeVar

from google.protobuf.message import Message

RequestT = TypeVar("RequestT", bound=Message)
ResponseT = TypeVar("ResponseT", bound=Message)
ItemT_co = TypeVar("ItemT_co", covariant=True)


class ResponseStream(Protocol[ItemT_co]):
    """The responses of a streaming RPC; `cancel()` ends the call early."""

    def __iter__(self) -> Iterator[ItemT_co]: ...
    def __next__(self) -> ItemT_co: ...
    def cancel(self) -> None: ...


class AsyncResponseStream(Protocol[ItemT_co]):
    """The responses of a streaming RPC (asyncio); `cancel()` ends the call early."""

    def __aiter__(self) -> AsyncIterator[ItemT_co]: ...
    async def __anext__(self) -> ItemT_co: ...
    def cancel(self) -> None: ...


class CallKind(Enum):
    """gRPC streaming shape of an RPC."""

    UNARY_UNARY = "unary_unary"
    UNARY_STREAM = "unary_stream"
    STREAM_UNARY = "stream_unary"
    STREAM_STREAM = "stream_stream"


class RetryClass(Enum):
    """When a failed call may be sent again (the policy table assigns one per RPC)."""

    #: Repeating the call cannot change the outcome: retry on transient errors.
    SAFE = "safe"
    #: The call changes state: retry only when it certainly never reached a server.
    IF_NOT_SENT = "if_not_sent"
    #: Never retried by the invoker; the caller owns recovery (long-lived streams).
    NEVER = "never"


class Effect(Enum):
    """Whether an RPC reads or changes cluster state."""

    READ = "read"
    MUTATION = "mutation"


@dataclass(frozen=True, slots=True)
class MethodPolicy:
    """What the protos do not say about an RPC; kept in codegen's policy table."""

    retry: RetryClass
    effect: Effect
    #: First etcd release (major.minor) that serves the RPC.
    since: str


@dataclass(frozen=True, slots=True)
class MethodSpec(Generic[RequestT, ResponseT]):
    """Everything an invoker needs to call one RPC."""

    path: str
    request_type: type[RequestT]
    response_type: type[ResponseT]
    kind: CallKind
    policy: MethodPolicy

    @property
    def service(self) -> str:
        """Full service name, e.g. `etcdserverpb.KV`."""
        return self.path.split("/")[1]

    @property
    def name(self) -> str:
        """RPC name, e.g. `Range`."""
        return self.path.rsplit("/", 1)[1]
