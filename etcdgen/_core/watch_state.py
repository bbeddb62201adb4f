"""The watchers of one Watch stream, as plain state (no I/O): what to send, what to deliver.

The sync and async drivers (`etcdgen/_sync/watch.py`, `etcdgen/_async/watch.py`)
own the gRPC stream and feed every response to `WatchMux.on_response`; the mux
answers with the requests to send and the watchers to wake. Rules kept here
(see ../shared/ETCD_FACTS.md, "Watch"):

- **One creation in flight.** etcd does not say which create a `created` reply
  answers, so creations go one at a time, in order.
- **Resume point.** Each watcher keeps `next_revision`: the last delivered
  event's mod_revision + 1. A watch started "from now" is pinned to its
  `created` reply's header revision + 1, and its own progress notifications
  advance it; a requested-progress reply (watch id -1) never does (it can race
  ahead of undelivered events on 3.5.1 / 3.4.23). Events below `next_revision`
  (a server replaying after a member switch) are dropped and counted.
- **Re-open.** When the stream breaks, every live watcher is re-created, in its
  original order, from its own `next_revision`: no gap, no duplicate.
- **Bounded buffers.** A watcher whose consumer lags holds at most
  `max_buffered` responses: at the limit its server-side watch is cancelled
  (further responses for it are dropped, its `next_revision` does not move),
  and once the consumer has drained half the buffer it is re-created from
  `next_revision`. Lossless, thanks to etcd's history, and the other watchers of
  the stream never wait for it.
- **Compaction** ends the watcher with `WatchCompactedError` (a
  `CompactedError` with `compact_revision`); never a silent skip.
- **Tokens.** A create refused for its token ("invalid auth token" on 3.4;
  3.5.1 says "permission denied", which is also what a real denial says) asks
  the driver to refresh the token and re-open the stream; a second refusal in
  a row on a fresh token is a real `PermissionDeniedError`.
"""

from __future__ import annotations

import itertools
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field

from ..generated.errors import (
    CompactedError,
    PermissionDeniedError,
    WatchCanceledError,
    WatchError,
)
from ..generated.etcdserverpb import rpc_pb2
from .describe import key_span
from .errors import EtcdError

DEFAULT_MAX_BUFFERED = 1024
"""Responses one watcher may hold undelivered before its server watch is paused."""

PROGRESS_WATCH_ID = -1
"""The watch id of replies to `RequestProgress` (they concern the whole stream)."""

FILTERS = {
    "noput": rpc_pb2.WatchCreateRequest.NOPUT,
    "nodelete": rpc_pb2.WatchCreateRequest.NODELETE,
}

_TOKEN_REASONS = ("invalid auth token", "permission denied", "user name is empty")


class WatchCompactedError(CompactedError, WatchError):
    """The watch's next revision was compacted away; `compact_revision` is the oldest left.

    Re-read the current state (e.g. `get(prefix=True)`) and watch again from its
    revision + 1.
    """

    def __init__(self, details: str, compact_revision: int) -> None:
        super().__init__(details)
        self.compact_revision = compact_revision


@dataclass(frozen=True)
class WatchOptions:
    key: bytes
    range_end: bytes
    #: 0: from now (pinned to the created reply's revision).
    start_revision: int
    prev_kv: bool
    filters: tuple[int, ...]
    progress_notify: bool
    fragment: bool


_order = itertools.count()


@dataclass(eq=False)
class Watcher:
    """One watch as the mux sees it; the driver's handle wraps it."""

    options: WatchOptions
    max_buffered: int = DEFAULT_MAX_BUFFERED
    #: First revision still to deliver (0 until a "from now" watch is created).
    next_revision: int = 0
    watch_id: int | None = None
    buffer: deque[rpc_pb2.WatchResponse] = field(default_factory=deque)
    #: Server watch cancelled because the buffer was full; re-created once drained.
    paused: bool = False
    ended: bool = False
    error: EtcdError | None = None
    #: Events of a fragmented response received so far.
    fragments: list[object] = field(default_factory=list)
    #: Creations refused for the token in a row (see the module docstring).
    denials: int = 0
    cancel_requested: bool = False
    #: Events dropped because they were below next_revision (replayed by a server).
    duplicates_dropped: int = 0
    #: How often its server watch was (re-)created.
    creations: int = 0
    order: int = field(default_factory=lambda: next(_order))

    def __post_init__(self) -> None:
        self.next_revision = self.options.start_revision

    @property
    def what(self) -> str:
        return key_span(self.options.key, self.options.range_end)


@dataclass
class Outcome:
    """What the driver must do after a mux call."""

    requests: list[rpc_pb2.WatchRequest] = field(default_factory=list)
    woken: list[Watcher] = field(default_factory=list)
    #: Refresh the token, then re-open the stream (a create was refused for it).
    reopen_for_token: bool = False
    #: Watchers re-created after a break or a pause (for the "watch_resumed" event).
    resumed: list[Watcher] = field(default_factory=list)


class WatchMux:
    """The watchers of one stream; every method returns the requests to send."""

    def __init__(self) -> None:
        self.by_id: dict[int, Watcher] = {}
        self.waiting: deque[Watcher] = deque()
        self.creating: Watcher | None = None
        self.live: set[Watcher] = set()
        #: The stream is open (requests can be sent); False between break and re-open.
        self.open = False

    # -- from consumers ----------------------------------------------------------------------

    def add(self, watcher: Watcher) -> Outcome:
        self.live.add(watcher)
        self.waiting.append(watcher)
        return self._next_create(Outcome())

    def cancel(self, watcher: Watcher) -> Outcome:
        out = Outcome()
        if watcher.ended:
            return out
        watcher.cancel_requested = True
        self._end(watcher, None, out)
        return self._next_create(out)

    def consumed(self, watcher: Watcher) -> Outcome:
        """The consumer took a response: re-create a paused watcher once half drained."""
        out = Outcome()
        if watcher.paused and len(watcher.buffer) <= watcher.max_buffered // 2:
            watcher.paused = False
            if not watcher.ended:
                self.waiting.append(watcher)
                self._next_create(out)
        return out

    def progress_request(self) -> Outcome:
        out = Outcome()
        if self.open:
            out.requests.append(
                rpc_pb2.WatchRequest(progress_request=rpc_pb2.WatchProgressRequest())
            )
        return out

    # -- from the driver ---------------------------------------------------------------------

    def stream_opened(self) -> Outcome:
        self.open = True
        return self._next_create(Outcome())

    def stream_lost(self) -> None:
        """The stream broke: every live, unpaused watcher will be re-created in order."""
        self.open = False
        self.by_id.clear()
        self.creating = None
        pending = [w for w in self.live if not w.paused and not w.ended]
        pending.sort(key=lambda w: w.order)
        for watcher in pending:
            watcher.watch_id = None
        self.waiting = deque(pending)

    def fail_all(self, error: EtcdError) -> list[Watcher]:
        out = Outcome()
        for watcher in sorted(self.live, key=lambda w: w.order):
            self._end(watcher, error, out)
        return out.woken

    def on_response(self, response: rpc_pb2.WatchResponse) -> Outcome:
        out = Outcome()
        if response.created:
            self._on_created(response, out)
        elif response.watch_id == PROGRESS_WATCH_ID and not response.events:
            self._broadcast_progress(response, out)
        else:
            watcher = self.by_id.get(response.watch_id)
            if watcher is not None:  # else: a watch we cancelled (or paused) meanwhile
                if response.canceled:
                    self._on_canceled(watcher, response, out)
                else:
                    self._on_events(watcher, response, out)
        return self._next_create(out)

    # -- pieces ------------------------------------------------------------------------------

    def _next_create(self, out: Outcome) -> Outcome:
        if not self.open or self.creating is not None:
            return out
        while self.waiting:
            watcher = self.waiting.popleft()
            if watcher.ended or watcher.paused or watcher.watch_id is not None:
                continue
            self.creating = watcher
            out.requests.append(self._create_request(watcher))
            break
        return out

    def _create_request(self, watcher: Watcher) -> rpc_pb2.WatchRequest:
        options = watcher.options
        create = rpc_pb2.WatchCreateRequest(
            key=options.key,
            range_end=options.range_end,
            start_revision=watcher.next_revision,
            progress_notify=options.progress_notify,
            filters=options.filters,  # type: ignore[arg-type]  # plain ints, the enum values
            prev_kv=options.prev_kv,
            fragment=options.fragment,
        )
        return rpc_pb2.WatchRequest(create_request=create)

    def _on_created(self, response: rpc_pb2.WatchResponse, out: Outcome) -> None:
        watcher, self.creating = self.creating, None
        if watcher is None:
            return  # not ours (cannot happen with one create in flight)
        if response.canceled:
            self._on_create_refused(watcher, response, out)
            return
        watcher.denials = 0
        watcher.creations += 1
        if watcher.ended:  # cancelled while its create was in flight
            out.requests.append(_cancel_request(response.watch_id))
            return
        watcher.watch_id = response.watch_id
        self.by_id[response.watch_id] = watcher
        if watcher.next_revision == 0:
            watcher.next_revision = response.header.revision + 1
        out.woken.append(watcher)  # whoever waits for the creation (entering `with`)
        if watcher.creations > 1:
            out.resumed.append(watcher)

    def _on_create_refused(
        self, watcher: Watcher, response: rpc_pb2.WatchResponse, out: Outcome
    ) -> None:
        reason = response.cancel_reason
        if response.compact_revision:
            self._end(watcher, self._compacted(watcher, response.compact_revision), out)
        elif any(part in reason for part in _TOKEN_REASONS) and watcher.denials == 0:
            watcher.denials += 1
            self.waiting.appendleft(watcher)
            out.reopen_for_token = True
        elif "permission denied" in reason:
            self._end(
                watcher,
                PermissionDeniedError(
                    f"{reason}: Watch of {watcher.what} is not allowed for this user (grant "
                    "a role read permission on it with role_grant_permission)"
                ),
                out,
            )
        else:
            self._end(watcher, WatchCanceledError(f"watch of {watcher.what}: {reason}"), out)

    def _on_canceled(self, watcher: Watcher, response: rpc_pb2.WatchResponse, out: Outcome) -> None:
        del self.by_id[response.watch_id]
        watcher.watch_id = None
        if watcher.ended:
            return
        if response.compact_revision:
            self._end(watcher, self._compacted(watcher, response.compact_revision), out)
        else:
            # Cancelled by the server for another reason (e.g. "no leader"): watch again.
            self.waiting.append(watcher)

    def _on_events(self, watcher: Watcher, response: rpc_pb2.WatchResponse, out: Outcome) -> None:
        if watcher.paused or watcher.ended:
            return
        if response.fragment:
            watcher.fragments.extend(response.events)
            return
        events: Sequence[object] = response.events
        merged = bool(watcher.fragments)
        if merged:
            events = [*watcher.fragments, *events]
            watcher.fragments.clear()
        if not events:  # this watch's own progress notification
            if response.header.revision >= watcher.next_revision:
                watcher.next_revision = response.header.revision + 1
            if len(watcher.buffer) < watcher.max_buffered:
                watcher.buffer.append(response)
                out.woken.append(watcher)
            return
        first = watcher.next_revision
        kept = events
        # Events come in revision order: if the first is new, all are (the common case,
        # with no per-event work); else drop the replayed ones.
        if events[0].kv.mod_revision < first:  # type: ignore[attr-defined]
            kept = [e for e in events if e.kv.mod_revision >= first]  # type: ignore[attr-defined]
            watcher.duplicates_dropped += len(events) - len(kept)
            if not kept:
                return
        if len(watcher.buffer) >= watcher.max_buffered:
            # Full: stop the server watch; everything from next_revision comes again later.
            watcher.paused = True
            watcher.fragments.clear()
            if watcher.watch_id is not None:
                out.requests.append(_cancel_request(watcher.watch_id))
                del self.by_id[watcher.watch_id]
                watcher.watch_id = None
            return
        if merged or kept is not events:
            delivered = rpc_pb2.WatchResponse()
            delivered.header.CopyFrom(response.header)
            delivered.watch_id = response.watch_id
            delivered.events.extend(kept)  # type: ignore[arg-type]
            response = delivered
        watcher.buffer.append(response)
        watcher.next_revision = kept[-1].kv.mod_revision + 1  # type: ignore[attr-defined]
        out.woken.append(watcher)

    def _broadcast_progress(self, response: rpc_pb2.WatchResponse, out: Outcome) -> None:
        # Delivered to every watcher as an event-less response; never a resume point.
        for watcher in self.by_id.values():
            if len(watcher.buffer) < watcher.max_buffered and not watcher.paused:
                watcher.buffer.append(response)
                out.woken.append(watcher)

    def _end(self, watcher: Watcher, error: EtcdError | None, out: Outcome) -> None:
        if watcher.watch_id is not None:
            self.by_id.pop(watcher.watch_id, None)
            if self.open:
                out.requests.append(_cancel_request(watcher.watch_id))
            watcher.watch_id = None
        watcher.ended = True
        watcher.error = error
        self.live.discard(watcher)
        out.woken.append(watcher)

    @staticmethod
    def _compacted(watcher: Watcher, compact_revision: int) -> WatchCompactedError:
        return WatchCompactedError(
            f"watch of {watcher.what} needs revision {watcher.next_revision}, compacted "
            f"away (oldest revision left: {compact_revision}); read the current state and "
            "watch again from its revision + 1",
            compact_revision,
        )


def _cancel_request(watch_id: int) -> rpc_pb2.WatchRequest:
    return rpc_pb2.WatchRequest(cancel_request=rpc_pb2.WatchCancelRequest(watch_id=watch_id))
