"""Run one test scenario through the sync and the asyncio generated clients.

Scenarios are written once, as coroutines, against a `Calls` object: every
generated method is reached as `calls.<service>.<method>(...)`, and the
result passes through `await done(...)`, which awaits only what the asyncio
client returned. Each call is recorded (service, method) so tests can prove
that every RPC was exercised.
"""

from __future__ import annotations

import asyncio
import inspect
import queue
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Any

import etcdgen

MODES = ("sync", "async")

Scenario = Callable[["Calls"], Awaitable[None]]


async def done(result: Any) -> Any:
    """The value of a generated call, whether the client was sync or asyncio."""
    return await result if inspect.isawaitable(result) else result


async def take(stream: Any, count: int) -> list[Any]:
    """The first `count` responses of a sync or async response stream."""
    items: list[Any] = []
    if hasattr(stream, "__anext__"):
        async for item in stream:
            items.append(item)
            if len(items) == count:
                break
    else:
        for item in stream:
            items.append(item)
            if len(items) == count:
                break
    return items


async def drain(stream: Any) -> list[Any]:
    """Every response of a finite stream (e.g. Snapshot)."""
    if hasattr(stream, "__anext__"):
        return [item async for item in stream]
    return list(stream)


class RequestFeed:
    """Requests for a bidirectional stream that stays open until `close()`."""

    _END = object()

    def __init__(self, aio: bool) -> None:
        self.aio = aio
        self._sync: queue.Queue[Any] = queue.Queue()
        self._async: asyncio.Queue[Any] | None = asyncio.Queue() if aio else None

    def send(self, request: Any) -> None:
        if self._async is not None:
            self._async.put_nowait(request)
        else:
            self._sync.put(request)

    def close(self) -> None:
        self.send(self._END)

    def requests(self) -> Any:
        return self._async_requests() if self.aio else self._sync_requests()

    def _sync_requests(self) -> Iterator[Any]:
        while (item := self._sync.get(timeout=30)) is not self._END:
            yield item

    async def _async_requests(self) -> AsyncIterator[Any]:
        assert self._async is not None
        while (item := await asyncio.wait_for(self._async.get(), 30)) is not self._END:
            yield item


class _Service:
    def __init__(self, service: Any, name: str, record: set[tuple[str, str]]) -> None:
        self._service = service
        self._name = name
        self._record = record

    def __getattr__(self, method: str) -> Any:
        target = getattr(self._service, method)

        def call(*args: Any, **kwargs: Any) -> Any:
            self._record.add((self._name, method))
            return target(*args, **kwargs)

        return call


class Calls:
    """`calls.kv.put(...)` etc. over one client, recording what was called."""

    def __init__(self, rpc: Any, aio: bool, record: set[tuple[str, str]]) -> None:
        self.aio = aio
        self._rpc = rpc
        self._record = record

    def __getattr__(self, service: str) -> _Service:
        return _Service(getattr(self._rpc, service), service, self._record)

    def feed(self) -> RequestFeed:
        return RequestFeed(self.aio)


def run(
    endpoint: str, mode: str, scenario: Scenario, record: set[tuple[str, str]] | None = None
) -> None:
    """Run `scenario` with a fresh client of the given mode."""
    called = record if record is not None else set()

    async def main() -> None:
        if mode == "sync":
            with etcdgen.Client(endpoint) as client:
                await scenario(Calls(client.rpc, False, called))
        else:
            async with etcdgen.AsyncClient(endpoint) as aclient:
                await scenario(Calls(aclient.rpc, True, called))

    asyncio.run(main())
