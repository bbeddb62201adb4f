"""The part of grpc.aio's channel that etcdgen uses, built on a sync gRPC channel.

Why it exists: grpc.aio keeps one completion queue and one poller thread per
process.  In a child forked while the parent had aio channels open, that state is
inherited without its thread, and grpc.aio can never start again there (see
`fork.py`): new aio channels time out or crash.  Sync gRPC channels do work in
such a child (gRPC's fork support resets them).  So in such a child
(`fork.aio_usable()` is false) every `AsyncClient`, an inherited one included,
gets `ThreadedAioChannel`s instead of grpc.aio ones, and goes on working.

How: a unary call is a sync gRPC future whose completion is handed to the event
loop with `call_soon_threadsafe`; a stream has one reader thread that hands each
response over, at most `STREAM_WINDOW` ahead of the consumer (so a slow consumer
slows the stream, as HTTP/2 flow control does with grpc.aio).  The requests of a
bidirectional stream go through a thread-safe queue that gRPC's own sender
thread drains.  Cancelling the awaiting task cancels the call; closing the
channel cancels its calls, which their awaiters see as `asyncio.CancelledError`,
as with grpc.aio.  It costs a thread hop per message, which is why it is used
only where grpc.aio cannot run.

`close_aio_channel_now` is the other half: the parent closes its aio stream
channels just before a fork without waiting on the loop (see
`AsyncConnection._before_fork`).
"""

from __future__ import annotations

import asyncio
import contextlib
import queue
import threading
from collections.abc import AsyncIterable, Callable, Iterable, Iterator, Sequence
from typing import Any

import grpc

__all__ = ["STREAM_WINDOW", "ThreadedAioChannel", "close_aio_channel_now"]

STREAM_WINDOW = 64
"""Responses a stream's reader thread may hold before the consumer takes them."""

_END = object()  # the end of a request queue, or of a response stream


def _hand_over(
    loop: asyncio.AbstractEventLoop, callback: Callable[..., object], *args: Any
) -> None:
    """Run `callback` on `loop` from any thread; nothing to do once the loop is closed."""
    with contextlib.suppress(RuntimeError):  # closed: nobody is waiting any more
        loop.call_soon_threadsafe(callback, *args)


def _settle(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_result(None)


class ThreadedAioChannel:
    """A stand-in for `grpc.aio.Channel` over `grpc.Channel` (see the module docstring)."""

    def __init__(self, channel: grpc.Channel) -> None:
        self._channel = channel
        self.closed = False

    def unary_unary(
        self,
        method: str,
        request_serializer: Callable[[Any], bytes],
        response_deserializer: Callable[[bytes], Any],
    ) -> _UnaryUnary:
        return _UnaryUnary(
            self, self._channel.unary_unary(method, request_serializer, response_deserializer)
        )

    def unary_stream(
        self,
        method: str,
        request_serializer: Callable[[Any], bytes],
        response_deserializer: Callable[[bytes], Any],
    ) -> _Streaming:
        sync = self._channel.unary_stream(method, request_serializer, response_deserializer)
        return _Streaming(self, sync, requests_are_one=True)

    def stream_stream(
        self,
        method: str,
        request_serializer: Callable[[Any], bytes],
        response_deserializer: Callable[[bytes], Any],
    ) -> _Streaming:
        sync = self._channel.stream_stream(method, request_serializer, response_deserializer)
        return _Streaming(self, sync, requests_are_one=False)

    async def close(self, grace: float | None = None) -> None:
        """Close the sync channel (which cancels its calls) off the event loop."""
        self.closed = True
        await asyncio.get_running_loop().run_in_executor(None, self._channel.close)

    def _check_open(self) -> None:
        if self.closed:
            # The same words as grpc's, which `invoker.closed_channel` recognises.
            raise ValueError("Cannot invoke RPC on closed channel!")


def _cancelled_by_close(channel: ThreadedAioChannel, error: grpc.RpcError) -> bool:
    return channel.closed and error.code() is grpc.StatusCode.CANCELLED


class _UnaryUnary:
    def __init__(self, channel: ThreadedAioChannel, multicallable: Any) -> None:
        self._channel = channel
        self._multicallable = multicallable

    def __call__(
        self,
        request: Any,
        *,
        timeout: float | None = None,
        metadata: Sequence[tuple[str, str]] | None = None,
    ) -> _UnaryCall:
        self._channel._check_open()
        return _UnaryCall(
            self._channel, self._multicallable.future(request, timeout=timeout, metadata=metadata)
        )


class _UnaryCall:
    """An awaitable unary call (what awaiting a grpc.aio `UnaryUnaryCall` gives)."""

    def __init__(self, channel: ThreadedAioChannel, future: Any) -> None:
        self._channel = channel
        self._future = future

    def cancel(self) -> bool:
        return bool(self._future.cancel())

    def __await__(self) -> Any:
        return self._result().__await__()

    async def _result(self) -> Any:
        loop = asyncio.get_running_loop()
        waiter: asyncio.Future[None] = loop.create_future()
        self._future.add_done_callback(lambda _: _hand_over(loop, _settle, waiter))
        try:
            await waiter
        except asyncio.CancelledError:
            self._future.cancel()
            raise
        if self._future.cancelled():
            raise asyncio.CancelledError
        try:
            return self._future.result()
        except grpc.RpcError as error:
            if _cancelled_by_close(self._channel, error):
                raise asyncio.CancelledError from None
            raise


class _Streaming:
    def __init__(
        self, channel: ThreadedAioChannel, multicallable: Any, *, requests_are_one: bool
    ) -> None:
        self._channel = channel
        self._multicallable = multicallable
        self._requests_are_one = requests_are_one

    def __call__(
        self,
        requests: Any = None,
        *,
        timeout: float | None = None,
        metadata: Sequence[tuple[str, str]] | None = None,
    ) -> _StreamCall:
        self._channel._check_open()
        return _StreamCall(
            self._channel,
            self._multicallable,
            requests,
            self._requests_are_one,
            timeout,
            metadata,
        )


class _RequestQueue:
    """The blocking request iterator gRPC's sender thread drains."""

    def __init__(self) -> None:
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()

    def put(self, request: Any) -> None:
        self._queue.put(request)

    def end(self) -> None:
        self._queue.put(_END)

    def __iter__(self) -> Iterator[Any]:
        while True:
            request = self._queue.get()
            if request is _END:
                return
            yield request


class _StreamCall:
    """A started streaming call: async iteration, `write`, `done_writing`, `cancel`."""

    def __init__(
        self,
        channel: ThreadedAioChannel,
        multicallable: Any,
        requests: Any,
        request_is_one: bool,
        timeout: float | None,
        metadata: Sequence[tuple[str, str]] | None,
    ) -> None:
        self._channel = channel
        self._loop = asyncio.get_running_loop()
        self._responses: asyncio.Queue[Any] = asyncio.Queue()
        self._credits = threading.Semaphore(STREAM_WINDOW)
        self._cancelled = False
        self._error: grpc.RpcError | None = None
        self._pump: asyncio.Task[None] | None = None
        self._requests: _RequestQueue | None = None
        source: Any
        if request_is_one:
            source = requests
        elif requests is None or isinstance(requests, AsyncIterable):
            self._requests = _RequestQueue()
            source = iter(self._requests)
            if requests is not None:
                self._pump = self._loop.create_task(self._feed(requests))
        else:
            source = iter(requests if isinstance(requests, Iterable) else ())
        self._call = multicallable(source, timeout=timeout, metadata=metadata)
        threading.Thread(target=self._read, name="etcdgen-aio-stream", daemon=True).start()

    async def _feed(self, requests: AsyncIterable[Any]) -> None:
        assert self._requests is not None
        try:
            async for request in requests:
                self._requests.put(request)
        finally:
            self._requests.end()

    def _read(self) -> None:
        """The reader thread: hand each response to the loop, then the end."""
        end: object = _END
        try:
            for response in self._call:
                self._credits.acquire()
                if self._cancelled:
                    break
                _hand_over(self._loop, self._responses.put_nowait, response)
        except grpc.RpcError as error:
            end = error
        _hand_over(self._loop, self._responses.put_nowait, end)

    def __aiter__(self) -> _StreamCall:
        return self

    async def __anext__(self) -> Any:
        if self._error is not None:
            raise self._error
        item = await self._responses.get()
        if item is _END:
            self._responses.put_nowait(_END)  # later reads end too
            if self._cancelled:
                raise asyncio.CancelledError
            raise StopAsyncIteration
        if isinstance(item, grpc.RpcError):
            if self._cancelled or _cancelled_by_close(self._channel, item):
                raise asyncio.CancelledError
            self._error = item
            raise item
        self._credits.release()
        return item

    async def write(self, request: Any) -> None:
        if self._requests is None or self._pump is not None:
            raise ValueError("this stream takes its requests from an iterator, not write()")
        self._requests.put(request)

    async def done_writing(self) -> None:
        if self._requests is not None and self._pump is None:
            self._requests.end()

    def cancel(self) -> bool:
        if self._cancelled:
            return False
        self._cancelled = True
        self._credits.release()  # a reader waiting for room wakes up and sees it
        if self._requests is not None:
            self._requests.end()
        if self._pump is not None:
            self._pump.cancel()
        return bool(self._call.cancel())


def close_aio_channel_now(channel: Any) -> bool:
    """Close a `grpc.aio.Channel` without an event loop; False if that was not possible.

    For the moment before a fork, when the loop may be running (a fork from a
    coroutine) and cannot be waited on. Closing without a grace period awaits
    nothing in grpc.aio (it marks the channel closing, cancels its calls and
    destroys the core channel), so the coroutine runs to its end on the first step.
    A grpc.aio that would wait is stopped there instead of being half-driven.
    """
    closer = channel.close()
    try:
        closer.send(None)
    except StopIteration:
        return True
    except Exception:  # e.g. an old grpc.aio that needs a running loop to close
        return False
    closer.close()
    return False
