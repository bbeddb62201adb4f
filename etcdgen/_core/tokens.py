"""The auth token of a client: fetched once, shared by every call and stream.

`TokenSource` (threads) and `AsyncTokenSource` (asyncio) hold the current
token and the metadata tuple that carries it. `refresh(stale)` is single
flight: when many callers see the same token rejected at once, the first one
calls Authenticate and the others wait for its result instead of each
authenticating (a refresh is skipped when the token already changed since the
caller's attempt).
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable

Metadata = tuple[tuple[str, str], ...]


class TokenSource:
    """The token for blocking calls; `fetch` is None when the client has no credentials."""

    def __init__(self, fetch: Callable[[], str] | None) -> None:
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

    def refresh(self, stale: str | None) -> Metadata | None:
        """Replace `stale` (the token a rejected call carried) with a fresh one."""
        if self._fetch is None:
            return None
        with self._lock:
            if self.token is None or self.token == stale:
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

    def _set(self, token: str) -> None:
        self.fetches += 1
        self.token = token
        self.metadata = (("token", token),)


class AsyncTokenSource:
    """The token for asyncio calls (the same rules as `TokenSource`)."""

    def __init__(self, fetch: Callable[[], Awaitable[str]] | None) -> None:
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

    async def refresh(self, stale: str | None) -> Metadata | None:
        if self._fetch is None:
            return None
        if self._lock is None:
            # Created in the loop that uses it (the client binds to one loop).
            self._lock = asyncio.Lock()
        async with self._lock:
            if self.token is None or self.token == stale:
                self._set(await self._fetch())
            return self.metadata

    def forget(self) -> None:
        self.token = self.metadata = None
        self._lock = None

    def _set(self, token: str) -> None:
        self.fetches += 1
        self.token = token
        self.metadata = (("token", token),)
