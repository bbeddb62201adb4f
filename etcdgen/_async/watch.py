"""Watches for `AsyncClient`: one shared Watch stream, read by one task.

The asyncio twin of `etcdgen/_sync/watch.py` (the rules are in
`etcdgen/_core/watch_state.py`). Everything runs on the client's loop, so the mux
needs no lock; each `AsyncWatch` waits on its own `asyncio.Event`.
Callbacks (`AsyncClient.add_watch_callback`) run on one dispatcher task per
client; a callback may be a plain function or a coroutine function.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import random
from collections.abc import AsyncIterator, Callable
from types import TracebackType
from typing import TYPE_CHECKING, Any

from .._core.errors import ClientClosedError, EtcdError, ForkedProcessError
from .._core.watch_state import Outcome, Watcher, WatchMux, WatchOptions
from .._tokens import is_token_failure
from ..generated import methods
from ..generated.etcdserverpb import rpc_pb2

if TYPE_CHECKING:
    from .connection import AsyncConnection

AsyncWatchCallback = Callable[[rpc_pb2.WatchResponse], Any]
AsyncErrorCallback = Callable[[EtcdError], Any]

_LOG = logging.getLogger("etcdgen")
_FATAL = (ClientClosedError, ForkedProcessError)
_BACKOFF_FIRST, _BACKOFF_MAX = 0.05, 2.0


class AsyncWatch:
    """An open watch: `async for` its `WatchResponse`s; `cancel()` or leave `async with`."""

    def __init__(self, hub: AsyncWatchHub, watcher: Watcher) -> None:
        self._hub = hub
        self._watcher = watcher
        self._changed = asyncio.Event()
        self.on_wake: Callable[[AsyncWatch], object] | None = None

    @property
    def next_revision(self) -> int:
        return self._watcher.next_revision

    @property
    def duplicates_dropped(self) -> int:
        return self._watcher.duplicates_dropped

    @property
    def ended(self) -> bool:
        return self._watcher.ended and not self._watcher.buffer

    def __aiter__(self) -> AsyncIterator[rpc_pb2.WatchResponse]:
        return self

    async def __anext__(self) -> rpc_pb2.WatchResponse:
        response = await self.get()
        if response is None:
            raise StopAsyncIteration
        return response

    async def get(self, timeout: float | None = None) -> rpc_pb2.WatchResponse | None:
        """The next response; None once the watch has ended or after `timeout` seconds."""
        watcher = self._watcher
        while not watcher.buffer and not watcher.ended:
            self._changed.clear()
            try:
                await asyncio.wait_for(self._changed.wait(), timeout)
            except asyncio.TimeoutError:
                return None
        return self.get_nowait()

    def get_nowait(self) -> rpc_pb2.WatchResponse | None:
        watcher = self._watcher
        if watcher.buffer:
            response = watcher.buffer.popleft()
            self._hub.send(self._hub.mux.consumed(watcher))
            return response
        if watcher.ended and watcher.error is not None:
            raise watcher.error
        return None

    def cancel(self) -> None:
        self._hub.send(self._hub.mux.cancel(self._watcher))
        self._watcher.buffer.clear()
        self._changed.set()

    def request_progress(self) -> None:
        self._hub.send(self._hub.mux.progress_request())

    def wake(self) -> None:
        self._changed.set()
        if self.on_wake is not None:
            self.on_wake(self)

    async def wait_created(self, timeout: float | None) -> bool:
        """Wait until the server has created the watch (or it ended); False on timeout."""
        watcher = self._watcher
        while not watcher.creations and not watcher.ended:
            self._changed.clear()
            try:
                await asyncio.wait_for(self._changed.wait(), timeout)
            except asyncio.TimeoutError:
                return False
        return True

    async def __aenter__(self) -> AsyncWatch:
        # Entering waits for the creation, so writes made inside the block are seen.
        await self.wait_created(self._hub.connection.config.timeout)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.cancel()


class AsyncWatchHub:
    """The client's Watch stream and its reader task (started by the first watch)."""

    def __init__(self, connection: AsyncConnection, invoker: Any) -> None:
        self.connection = connection
        #: The connection's invoker, or a namespaced one around it.
        self.invoker = invoker
        self.mux = WatchMux()
        self._handles: dict[Watcher, AsyncWatch] = {}
        self._requests: asyncio.Queue[rpc_pb2.WatchRequest | None] | None = None
        self._stream: Any = None
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        self._wakeup = asyncio.Event()
        self._callbacks: dict[AsyncWatch, tuple[AsyncWatchCallback, AsyncErrorCallback | None]] = {}
        self._ready: asyncio.Queue[AsyncWatch | None] | None = None
        self._dispatcher: asyncio.Task[None] | None = None
        self.opens = 0

    @property
    def endpoint(self) -> str:
        """The member serving the stream now ("" while it is being re-opened)."""
        stream = self._stream
        return str(getattr(stream, "endpoint", "")) if stream is not None else ""

    def watch(self, options: WatchOptions, max_buffered: int) -> AsyncWatch:
        if self._stopping:
            raise ClientClosedError("the client is closed; create a new one")
        self.connection.activate()
        watcher = Watcher(options, max_buffered)
        handle = AsyncWatch(self, watcher)
        self._handles[watcher] = handle
        self.connection.events.emit("watch_started", "", watcher.what)
        self.send(self.mux.add(watcher))
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._run())
        return handle

    def add_callback(
        self,
        options: WatchOptions,
        max_buffered: int,
        callback: AsyncWatchCallback,
        on_error: AsyncErrorCallback | None,
    ) -> AsyncWatch:
        handle = self.watch(options, max_buffered)
        if self._ready is None:
            self._ready = asyncio.Queue()
            self._dispatcher = asyncio.get_running_loop().create_task(self._dispatch())
        self._callbacks[handle] = (callback, on_error)
        handle.on_wake = self._ready.put_nowait
        self._ready.put_nowait(handle)
        return handle

    def inherited_by_fork(self, error: ForkedProcessError) -> None:
        """In a forked child: end every watch with `error` (its task stayed on the
        parent's loop). Nothing is sent or woken: a later read sees the watch ended."""
        self._requests = None
        self._stopping = True
        self.mux.fail_all(error)
        self._handles = {}

    def send(self, outcome: Outcome) -> None:
        requests = self._requests
        if requests is not None:
            for request in outcome.requests:
                requests.put_nowait(request)
        for watcher in outcome.resumed:
            self.connection.events.emit(
                "watch_resumed",
                self.endpoint,
                watcher.what,
                revision=watcher.next_revision,
            )
        for watcher in outcome.woken:
            handle = self._handles.get(watcher)
            if handle is not None:
                handle.wake()
                if watcher.ended:
                    del self._handles[watcher]
                    self.connection.events.emit("watch_ended", "", watcher.what)

    # -- the reader task ---------------------------------------------------------------------

    async def _run(self) -> None:
        failures = 0
        while not self._stopping:
            sent_with = self.connection.tokens.metadata
            requests: asyncio.Queue[rpc_pb2.WatchRequest | None] = asyncio.Queue()
            refresh_token = False
            try:
                stream = self.invoker.stream_stream(methods.WATCH_WATCH, _drain(requests), None)
                self._requests, self._stream = requests, stream
                self.opens += 1
                if self.opens > 1:
                    self.connection.events.emit(
                        "stream_reopened", getattr(stream, "endpoint", ""), rpc="Watch"
                    )
                self.send(self.mux.stream_opened())
                async for response in stream:
                    failures = 0
                    outcome = self.mux.on_response(response)
                    self.send(outcome)
                    if outcome.reopen_for_token:
                        refresh_token = True
                        stream.cancel()
                        break
                else:
                    failures += 1  # the server ended the stream: re-open, with backoff
            except _FATAL as error:
                # Closed by the client's own close(): the watches just end.
                self._end_all(None if self._stopping else error)
                return
            except EtcdError as error:
                refresh_token = is_token_failure(error)
                failures += 1
            except asyncio.CancelledError:
                if self._stopping:
                    break
                self.connection.loop_end.cut_short()  # its stream was open (aio_loop_end.py)
                raise
            except Exception:
                # A bug, or an error gRPC should not raise: left alone it would end the
                # reader task and leave every watch waiting for ever. Say it loudly, then re-open
                # the stream as after any failure.
                _LOG.exception("etcdgen: the Watch stream failed unexpectedly; re-opening it")
                failures += 1
            finally:
                self._requests = self._stream = None
                self.mux.stream_lost()
                requests.put_nowait(None)
            if self._stopping:
                break
            if refresh_token:
                try:
                    await self.connection.tokens.refresh(sent_with)
                except EtcdError as error:
                    self._end_all(error)
                    return
            if failures:
                delay = min(_BACKOFF_MAX, _BACKOFF_FIRST * 2 ** (failures - 1))
                await asyncio.sleep(delay * random.uniform(0.8, 1.2))
        self._end_all(None)

    def _end_all(self, error: EtcdError | None) -> None:
        for watcher in self.mux.fail_all(error or ClientClosedError("closed")):
            if error is None:
                watcher.error = None  # closed by the client: iteration just ends
            handle = self._handles.pop(watcher, None)
            if handle is not None:
                handle.wake()
                self.connection.events.emit("watch_ended", "", watcher.what)

    async def _dispatch(self) -> None:
        assert self._ready is not None
        while True:
            handle = await self._ready.get()
            if handle is None:
                return
            entry = self._callbacks.get(handle)
            if entry is None:
                continue
            callback, on_error = entry
            while True:
                try:
                    response = handle.get_nowait()
                except EtcdError as error:
                    self._callbacks.pop(handle, None)
                    if on_error is not None:
                        await _call_safely(on_error, error)
                    break
                if response is None:
                    if handle.ended:
                        self._callbacks.pop(handle, None)
                    break
                await _call_safely(callback, response)

    async def stop(self) -> None:
        self._stopping = True
        stream = self._stream
        if stream is not None:
            stream.cancel()
        task = self._task
        if task is not None and not task.done():
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        self._end_all(None)
        if self._ready is not None:
            self._ready.put_nowait(None)
        if self._dispatcher is not None:
            await asyncio.gather(self._dispatcher, return_exceptions=True)


async def _drain(
    requests: asyncio.Queue[rpc_pb2.WatchRequest | None],
) -> AsyncIterator[rpc_pb2.WatchRequest]:
    while True:
        request = await requests.get()
        if request is None:
            return
        yield request


async def _call_safely(function: Callable[[Any], Any], argument: object) -> None:
    try:
        result = function(argument)
        if inspect.isawaitable(result):
            await result
    except Exception:  # a failing callback must not end the watch or the dispatcher
        _LOG.exception("etcdgen: a watch callback failed")
