"""The auth token of a client: fetched once, shared by every call and stream.

`TokenSource` (threads) and `AsyncTokenSource` (asyncio) hold the current
token and the metadata tuple that carries it. `refresh(stale)` is single
flight: when many callers see the same token rejected at once, the first one
calls Authenticate and the others wait for its result instead of each
authenticating. `stale` is the metadata object the rejected call carried: a
refresh is skipped when it is no longer the current one (another caller
refreshed meanwhile). Callers hold only that object, whose repr is masked, never
the token itself.

`fetch` returns None when the server has auth disabled although the client has
credentials: calls then go without a token (metadata `()`), and a later
"user name is empty" rejection (auth enabled meanwhile) fetches one.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable

Metadata = tuple[tuple[str, str], ...]


class TokenMetadata(tuple):  # type: ignore[type-arg]
    """The metadata that carries a token; its repr hides the token.

    Calls hold it in their frames (and gRPC's), whose locals tracebacks can show.
    """

    __slots__ = ()

    def __repr__(self) -> str:
        return repr(tuple((key, "***" if key == "token" else value) for key, value in self))

    def __add__(self, other: object) -> TokenMetadata:
        return TokenMetadata(tuple(self) + tuple(other))  # type: ignore[arg-type]

    def __radd__(self, other: object) -> TokenMetadata:
        return TokenMetadata(tuple(other) + tuple(self))  # type: ignore[arg-type]


class TokenSource:
    """The token for blocking calls; `fetch` is None when the client has no credentials."""

    def __init__(self, fetch: Callable[[], str | None] | None) -> None:
        self._fetch = fetch
        self._lock = threading.Lock()
        self.token: str | None = None
        #: Metadata sent with each call (None when there is no token to send).
        self.metadata: Metadata | None = None
        #: How many times Authenticate was called (for tests and metrics).
        self.fetches = 0

    @property
    def enabled(self) -> bool:
        return self._fetch is not None

    def ensure(self) -> Metadata | None:
        """The metadata to send, fetching the first token if needed."""
        if self.metadata is not None or self._fetch is None:
            return self.metadata
        return self.refresh(None)

    def refresh(self, stale: Metadata | None) -> Metadata | None:
        """Replace `stale` (the metadata a rejected call carried) with a fresh token."""
        if self._fetch is None:
            return None
        with self._lock:
            if self.metadata is None or self.metadata is stale:
                self._set(self._fetch())
            return self.metadata

    def forget(self) -> None:
        with self._lock:
            self.token = self.metadata = None

    def after_fork(self) -> None:
        """In a forked child: a new lock (the parent's may be held by a vanished thread).

        The token stays: it is the server's, valid in any process.
        """
        self._lock = threading.Lock()

    def _set(self, token: str | None) -> None:
        self.fetches += 1
        self.token = token
        self.metadata = () if token is None else TokenMetadata((("token", token),))


class AsyncTokenSource:
    """The token for asyncio calls (the same rules as `TokenSource`)."""

    def __init__(self, fetch: Callable[[], Awaitable[str | None]] | None) -> None:
        self._fetch = fetch
        self._lock: asyncio.Lock | None = None
        self.token: str | None = None
        self.metadata: Metadata | None = None
        self.fetches = 0

    @property
    def enabled(self) -> bool:
        return self._fetch is not None

    async def ensure(self) -> Metadata | None:
        if self.metadata is not None or self._fetch is None:
            return self.metadata
        return await self.refresh(None)

    async def refresh(self, stale: Metadata | None) -> Metadata | None:
        if self._fetch is None:
            return None
        if self._lock is None:
            # Created in the loop that uses it (the client binds to one loop).
            self._lock = asyncio.Lock()
        async with self._lock:
            if self.metadata is None or self.metadata is stale:
                self._set(await self._fetch())
            return self.metadata

    def forget(self) -> None:
        self.token = self.metadata = None
        self._lock = None

    def _set(self, token: str | None) -> None:
        self.fetches += 1
        self.token = token
        self.metadata = () if token is None else TokenMetadata((("token", token),))
