"""Watches for the blocking `Client`: one shared Watch stream, read by one thread.

The rules live in `etcdgen/_core/watch_state.py` (`WatchMux`); this driver owns the
gRPC stream and the reader thread, re-opens the stream (on a member the balancer
picks anew, with a fresh token when that was the trouble) and hands responses to
consumers. One lock guards the mux; each `Watch` waits on a condition of that lock,
so a response wakes only its own consumer. Requests to the server go through a
queue per stream: the mux, not the queue, is the truth, so a request lost with a
broken stream is re-derived when the stream re-opens.

Callbacks (`Client.add_watch_callback`) run on one dispatcher thread per client,
never on the reader thread: a slow callback delays only its own watch (whose
buffer then pauses it, see the mux), not the stream.
"""

from __future__ import annotations

import logging
import queue
import random
import threading
from collections.abc import Callable, Iterator
from types import TracebackType
from typing import TYPE_CHECKING, Any, TypeVar

from .._core.errors import ClientClosedError, EtcdError, ForkedProcessError
from .._core.watch_state import Outcome, Watcher, WatchMux, WatchOptions
from .._tokens import is_token_failure
from ..generated import methods
from ..generated.etcdserverpb import rpc_pb2

if TYPE_CHECKING:
    from .connection import Connection

WatchCallback = Callable[[rpc_pb2.WatchResponse], object]
ErrorCallback = Callable[[EtcdError], object]

_LOG = logging.getLogger("etcdgen")
_T = TypeVar("_T")
_FATAL = (ClientClosedError, ForkedProcessError)
_BACKOFF_FIRST, _BACKOFF_MAX = 0.05, 2.0


class Watch:
    """An open watch: iterate for `WatchResponse`s; `cancel()` or leave `with` to stop.

    Iteration ends after `cancel()` (or when the client closes) and raises the
    watch's error if it ended with one (`CompactedError`, `PermissionDeniedError`).
    """

    def __init__(self, hub: WatchHub, watcher: Watcher) -> None:
        self._hub = hub
        self._watcher = watcher
        self._ready = threading.Condition(hub.lock)
        #: Called (under the hub's lock) when a response or the end arrives.
        self.on_wake: Callable[[Watch], object] | None = None

    @property
    def next_revision(self) -> int:
        """The revision the watch delivers next (its resume point)."""
        return self._watcher.next_revision

    @property
    def duplicates_dropped(self) -> int:
        return self._watcher.duplicates_dropped

    def __iter__(self) -> Iterator[rpc_pb2.WatchResponse]:
        return self

    def __next__(self) -> rpc_pb2.WatchResponse:
        response = self.get(timeout=None)
        if response is None:
            raise StopIteration
        return response

    def get(self, timeout: float | None = None) -> rpc_pb2.WatchResponse | None:
        """The next response; None once the watch has ended or after `timeout` seconds."""
        watcher = self._watcher
        with self._ready:
            if not self._ready.wait_for(lambda: watcher.buffer or watcher.ended, timeout):
                return None
            if watcher.buffer:
                response = watcher.buffer.popleft()
                self._hub.send(self._hub.mux.consumed(watcher))
                return response
            if watcher.error is not None:
                raise watcher.error
            return None

    def cancel(self) -> None:
        with self._hub.lock:
            self._hub.send(self._hub.mux.cancel(self._watcher))
            self._watcher.buffer.clear()
            self._ready.notify_all()

    def request_progress(self) -> None:
        """Ask the server for a progress notification (an event-less response)."""
        with self._hub.lock:
            self._hub.send(self._hub.mux.progress_request())

    @property
    def ended(self) -> bool:
        """The watch is over (cancelled, failed or the client closed) and drained."""
        return self._watcher.ended and not self._watcher.buffer

    def wake(self) -> None:  # under hub.lock
        self._ready.notify_all()
        if self.on_wake is not None:
            self.on_wake(self)

    def wait_created(self, timeout: float | None) -> bool:
        """Wait until the server has created the watch (or it ended); False on timeout.

        A watch "from now" sees the writes made after this returns True.
        """
        watcher = self._watcher
        with self._ready:
            return bool(self._ready.wait_for(lambda: watcher.creations or watcher.ended, timeout))

    def __enter__(self) -> Watch:
        # Entering waits for the creation, so writes made inside the block are seen.
        self.wait_created(self._hub.connection.config.timeout)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.cancel()


class WatchHub:
    """The client's Watch stream and its reader thread (started by the first watch)."""

    def __init__(self, connection: Connection, invoker: Any) -> None:
        self.connection = connection
        #: The connection's invoker, or a namespaced one around it.
        self.invoker = invoker
        self.lock = threading.Lock()
        self.mux = WatchMux()
        self._handles: dict[Watcher, Watch] = {}
        self._requests: queue.SimpleQueue[rpc_pb2.WatchRequest | None] | None = None
        self._stream: object | None = None
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._callbacks: _CallbackDispatcher | None = None
        #: How often the stream was (re-)opened (for tests and diagnostics).
        self.opens = 0

    @property
    def endpoint(self) -> str:
        """The member serving the stream now ("" while it is being re-opened)."""
        stream = self._stream
        return str(getattr(stream, "endpoint", "")) if stream is not None else ""

    def inherited_by_fork(self, error: ForkedProcessError) -> None:
        """In a forked child: end every watch with `error` (its reader thread stayed in
        the parent, so it would wait for ever). Runs in the child's only thread: the
        locks a vanished thread may hold are replaced, nothing is sent or woken."""
        self.lock = threading.Lock()
        self._requests = None  # the parent's stream: never written to again here
        self._stop.set()  # new watches on this hub are refused; the connection makes a new hub
        for handle in self._handles.values():
            handle._ready = threading.Condition(self.lock)
        self.mux.fail_all(error)
        self._handles = {}

    def watch(self, options: WatchOptions, max_buffered: int) -> Watch:
        if self._stop.is_set():
            raise ClientClosedError("the client is closed; create a new one")
        watcher = Watcher(options, max_buffered)
        handle = Watch(self, watcher)
        with self.lock:
            self._handles[watcher] = handle
            self.connection.events.emit("watch_started", "", watcher.what)
            self.send(self.mux.add(watcher))
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="etcdgen-watch", daemon=True)
                self._thread.start()
        return handle

    def add_callback(
        self,
        options: WatchOptions,
        max_buffered: int,
        callback: WatchCallback,
        on_error: ErrorCallback | None,
    ) -> Watch:
        handle = self.watch(options, max_buffered)
        with self.lock:
            if self._callbacks is None:
                self._callbacks = _CallbackDispatcher()
        self._callbacks.add(handle, callback, on_error)
        handle.wait_created(self.connection.config.timeout)  # later writes reach the callback
        return handle

    def send(self, outcome: Outcome) -> None:
        """Queue the outcome's requests and wake its watchers (caller holds the lock)."""
        requests = self._requests
        if requests is not None:
            for request in outcome.requests:
                requests.put(request)
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

    # -- the reader thread -------------------------------------------------------------------

    def _run(self) -> None:
        failures = 0
        while not self._stop.is_set():
            sent_with = self.connection.tokens.metadata
            requests: queue.SimpleQueue[rpc_pb2.WatchRequest | None] = queue.SimpleQueue()
            refresh_token = False
            try:
                stream = self.invoker.stream_stream(methods.WATCH_WATCH, _drain(requests), None)
                with self.lock:
                    if self._stop.is_set():  # closed while the stream was being opened
                        stream.cancel()
                        break
                    self._requests, self._stream = requests, stream
                    self.opens += 1
                    if self.opens > 1:
                        self.connection.events.emit(
                            "stream_reopened", getattr(stream, "endpoint", ""), rpc="Watch"
                        )
                    self.send(self.mux.stream_opened())
                for response in stream:
                    failures = 0
                    with self.lock:
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
                self._end_all(None if self._stop.is_set() else error)
                return
            except EtcdError as error:
                refresh_token = is_token_failure(error)
                failures += 1
            except Exception:
                # A bug, or an error gRPC should not raise: left alone it would end the
                # reader thread and leave every watch waiting for ever. Say it loudly, then re-open
                # the stream as after any failure.
                _LOG.exception("etcdgen: the Watch stream failed unexpectedly; re-opening it")
                failures += 1
            finally:
                with self.lock:
                    self._requests = self._stream = None
                    self.mux.stream_lost()
                requests.put(None)  # ends the request iterator gRPC reads
            if self._stop.is_set():
                break
            if refresh_token:
                try:
                    self.connection.tokens.refresh(sent_with)
                except EtcdError as error:
                    self._end_all(error)
                    return
            if failures:
                delay = min(_BACKOFF_MAX, _BACKOFF_FIRST * 2 ** (failures - 1))
                self._stop.wait(delay * random.uniform(0.8, 1.2))
        self._end_all(None)

    def _end_all(self, error: EtcdError | None) -> None:
        with self.lock:
            for watcher in self.mux.fail_all(error or ClientClosedError("closed")):
                if error is None:
                    watcher.error = None  # closed by the client: iteration just ends
                handle = self._handles.pop(watcher, None)
                if handle is not None:
                    handle.wake()
                    self.connection.events.emit("watch_ended", "", watcher.what)

    def stop(self) -> None:
        """End every watch and the reader thread (the client is closing)."""
        with self.lock:
            self._stop.set()
            stream = self._stream
        if stream is not None:
            stream.cancel()  # type: ignore[attr-defined]
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=5)
        self._end_all(None)
        if self._callbacks is not None:
            self._callbacks.stop()


def _drain(
    requests: queue.SimpleQueue[rpc_pb2.WatchRequest | None],
) -> Iterator[rpc_pb2.WatchRequest]:
    while True:
        request = requests.get()
        if request is None:
            return
        yield request


class _CallbackDispatcher:
    """One thread that runs the callbacks of every callback watch of a client.

    A woken watch is queued here; the thread drains it (non-blocking) and calls its
    callback per response, then its `on_error` once if it ended with an error.
    """

    def __init__(self) -> None:
        self._ready: queue.SimpleQueue[Watch | None] = queue.SimpleQueue()
        self._callbacks: dict[Watch, tuple[WatchCallback, ErrorCallback | None]] = {}
        self._thread = threading.Thread(
            target=self._run, name="etcdgen-watch-callbacks", daemon=True
        )
        self._thread.start()

    def add(self, handle: Watch, callback: WatchCallback, on_error: ErrorCallback | None) -> None:
        self._callbacks[handle] = (callback, on_error)
        handle.on_wake = self._ready.put
        self._ready.put(handle)  # it may have been woken before the hook was set

    def _run(self) -> None:
        while True:
            handle = self._ready.get()
            if handle is None:
                return
            entry = self._callbacks.get(handle)
            if entry is not None:
                self._drain(handle, *entry)

    def _drain(
        self, handle: Watch, callback: WatchCallback, on_error: ErrorCallback | None
    ) -> None:
        while True:
            try:
                response = handle.get(timeout=0)
            except EtcdError as error:
                self._callbacks.pop(handle, None)
                if on_error is not None:
                    _call_safely(on_error, error)
                return
            if response is None:
                if handle.ended:
                    self._callbacks.pop(handle, None)
                return
            _call_safely(callback, response)

    def stop(self) -> None:
        self._ready.put(None)
        if self._thread is not threading.current_thread():
            self._thread.join(timeout=5)


def _call_safely(function: Callable[[_T], object], argument: _T) -> None:
    try:
        function(argument)
    except Exception:  # a failing callback must not end the watch or the dispatcher
        _LOG.exception("etcdgen: a watch callback failed")
