"""The watch mux's rules, without a server (etcdgen/_core/watch_state.py)."""

from __future__ import annotations

import pytest

import etcdgen
from etcdgen._core.watch_state import (
    PROGRESS_WATCH_ID,
    Watcher,
    WatchMux,
    WatchOptions,
)
from etcdgen.generated.etcdserverpb import rpc_pb2
from etcdgen.generated.mvccpb import kv_pb2


def options(start: int = 0) -> WatchOptions:
    return WatchOptions(b"k/", b"k0", start, False, (), False, False)


def created(watch_id: int, revision: int) -> rpc_pb2.WatchResponse:
    response = rpc_pb2.WatchResponse(watch_id=watch_id, created=True)
    response.header.revision = revision
    return response


def events(watch_id: int, *revisions: int, fragment: bool = False) -> rpc_pb2.WatchResponse:
    response = rpc_pb2.WatchResponse(watch_id=watch_id, fragment=fragment)
    response.header.revision = max(revisions)
    for revision in revisions:
        response.events.add(kv=kv_pb2.KeyValue(key=b"k/x", mod_revision=revision))
    return response


def delivered(watcher: Watcher) -> list[int]:
    revisions = [e.kv.mod_revision for r in watcher.buffer for e in r.events]
    watcher.buffer.clear()
    return revisions


def open_mux(*watchers: Watcher) -> WatchMux:
    mux = WatchMux()
    mux.stream_opened()
    for watcher in watchers:
        mux.add(watcher)
    return mux


def test_creations_go_one_at_a_time_in_order() -> None:
    first, second = Watcher(options()), Watcher(options(5))
    mux = WatchMux()
    assert mux.add(first).requests == []  # the stream is not open yet
    mux.add(second)
    sent = mux.stream_opened().requests
    assert [r.create_request.start_revision for r in sent] == [0]
    sent = mux.on_response(created(0, 10)).requests
    assert [r.create_request.start_revision for r in sent] == [5]
    mux.on_response(created(1, 10))
    assert (first.watch_id, second.watch_id) == (0, 1)


def test_a_watch_from_now_is_pinned_to_its_created_revision() -> None:
    watcher = Watcher(options())
    mux = open_mux(watcher)
    mux.on_response(created(0, 41))
    assert watcher.next_revision == 42
    mux.stream_lost()
    (request,) = mux.stream_opened().requests
    assert request.create_request.start_revision == 42  # a write during the gap is not missed


def test_resume_after_the_last_delivered_event_and_drop_replays() -> None:
    watcher = Watcher(options(1))
    mux = open_mux(watcher)
    mux.on_response(created(0, 1))
    mux.on_response(events(0, 3, 4))
    assert delivered(watcher) == [3, 4] and watcher.next_revision == 5
    mux.stream_lost()
    (request,) = mux.stream_opened().requests
    assert request.create_request.start_revision == 5
    mux.on_response(created(7, 9))
    mux.on_response(events(7, 4, 5, 6))  # a server replaying below the start revision
    assert delivered(watcher) == [5, 6]
    assert watcher.duplicates_dropped == 1


def test_requested_progress_is_never_a_resume_point() -> None:
    watcher = Watcher(options(1))
    mux = open_mux(watcher)
    mux.on_response(created(0, 1))
    progress = rpc_pb2.WatchResponse(watch_id=PROGRESS_WATCH_ID)
    progress.header.revision = 100
    mux.on_response(progress)
    assert watcher.next_revision == 1
    assert len(watcher.buffer) == 1  # delivered as an event-less response
    own = rpc_pb2.WatchResponse(watch_id=0)
    own.header.revision = 100
    mux.on_response(own)  # the watch's own progress notification does advance it
    assert watcher.next_revision == 101


def test_fragments_are_reassembled() -> None:
    watcher = Watcher(WatchOptions(b"k", b"", 1, False, (), False, True))
    mux = open_mux(watcher)
    mux.on_response(created(0, 1))
    mux.on_response(events(0, 2, fragment=True))
    assert not watcher.buffer
    mux.on_response(events(0, 2))
    assert delivered(watcher) == [2, 2]


def test_a_full_buffer_pauses_the_watch_and_draining_recreates_it() -> None:
    slow, other = Watcher(options(1), max_buffered=2), Watcher(options(1))
    mux = open_mux(slow, other)
    mux.on_response(created(0, 1))
    mux.on_response(created(1, 1))
    mux.on_response(events(0, 2))
    mux.on_response(events(0, 3))
    outcome = mux.on_response(events(0, 4))  # no room: cancel the server watch
    assert slow.paused and outcome.requests[0].cancel_request.watch_id == 0
    assert mux.on_response(events(1, 4)).woken == [other]  # the other watcher goes on
    slow.buffer.popleft()
    outcome = mux.consumed(slow)
    assert outcome.requests[0].create_request.start_revision == 4  # lossless
    assert [e.kv.mod_revision for r in slow.buffer for e in r.events] == [3]


def test_compaction_ends_the_watch_with_its_revision() -> None:
    watcher = Watcher(options(3))
    mux = open_mux(watcher)
    refused = rpc_pb2.WatchResponse(watch_id=0, created=True, canceled=True, compact_revision=9)
    mux.on_response(refused)
    assert watcher.ended
    assert isinstance(watcher.error, etcdgen.CompactedError)
    assert watcher.error.compact_revision == 9  # type: ignore[attr-defined]


def test_a_token_refusal_reopens_once_then_a_denial_is_real() -> None:
    watcher = Watcher(options())
    mux = open_mux(watcher)
    denied = rpc_pb2.WatchResponse(
        watch_id=0, created=True, canceled=True, cancel_reason="etcdserver: permission denied"
    )
    assert mux.on_response(denied).reopen_for_token
    assert not watcher.ended
    mux.stream_lost()
    mux.stream_opened()
    mux.on_response(denied)
    assert isinstance(watcher.error, etcdgen.PermissionDeniedError)
    assert "prefix 'k/'" in str(watcher.error)


def test_cancel_while_creating_cancels_the_new_watch() -> None:
    watcher = Watcher(options())
    mux = open_mux(watcher)
    mux.cancel(watcher)
    outcome = mux.on_response(created(3, 1))
    assert outcome.requests[0].cancel_request.watch_id == 3
    assert watcher.ended and watcher.error is None


@pytest.mark.parametrize("reason", ["etcdserver: no leader", ""])
def test_a_server_cancel_without_compaction_watches_again(reason: str) -> None:
    watcher = Watcher(options(1))
    mux = open_mux(watcher)
    mux.on_response(created(0, 1))
    mux.on_response(events(0, 2))
    outcome = mux.on_response(
        rpc_pb2.WatchResponse(watch_id=0, canceled=True, cancel_reason=reason)
    )
    assert outcome.requests[0].create_request.start_revision == 3
