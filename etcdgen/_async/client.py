"""`AsyncClient`: the asyncio etcd v3 client.

This file is the source of `etcdgen/_sync/client.py` (the sync `Client`),
which `scripts/unasync.py` derives from it by dropping `async`/`await` and
renaming the asyncio types; CI fails if the two drift. Request building and
validation live in `etcdgen/kv.py`, shared by both.
"""

from __future__ import annotations

import warnings
import weakref
from collections.abc import AsyncIterator, Callable, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any, cast

from .._core.aio_invoker import AsyncInvoker
from .._core.balancer import EndpointHealth
from .._core.channels import DEFAULT_MAX_SEND_BYTES
from .._core.coalesce import CoalesceSettings, ReadBatchStats
from .._core.config import make_config
from .._core.errors import LeaseExpiredError
from .._core.events import EventHook
from .._core.namespace import Namespace, NamespacedInvoker
from .._core.retry import DEFAULT_RETRY, RetrySettings
from .._core.timeout import DEFAULT, Timeout
from .._core.validate import flag
from .._core.watch_state import DEFAULT_MAX_BUFFERED
from ..generated import methods
from ..generated.aio import AsyncRpcClients
from ..generated.errors import LeaseNotFoundError
from ..generated.etcdserverpb import rpc_pb2
from ..generated.mvccpb import kv_pb2
from ..kv import (
    KeyLike,
    LeaseLike,
    SortOrder,
    SortTarget,
    check_page_size,
    compaction_request,
    delete_request,
    key_range,
    lease_id_arg,
    lease_ttl_arg,
    max_buffered_arg,
    put_request,
    range_request,
    to_bytes,
    txn_request,
    watch_options,
)
from .auth_admin import AsyncAuthAdmin
from .coalesce import AsyncReadCoalescer
from .concurrency import AsyncLockHold
from .connection import AsyncConnection
from .lease import AsyncLease
from .operations import AsyncOperations
from .watch import AsyncErrorCallback, AsyncWatch, AsyncWatchCallback


class AsyncClient(AsyncAuthAdmin, AsyncOperations):
    """An etcd v3 client (asyncio). Use `async with AsyncClient(...) as client:`.

    Args:
        endpoints: one endpoint or a list of them (members of one cluster):
            `host:port`, `http://host:port`, `https://host:port` (TLS),
            `[ipv6]:port` or `unix://path`; host names are resolved per
            endpoint, again on every reconnect.
        timeout: default deadline in seconds of each call (retries included);
            None (or inf) for no deadline. Every method also takes `timeout=`.
        connect_timeout: how long calls wait for a first answer from any member
            before raising `ConnectionFailedError` naming every endpoint's error.
        keepalive_time: seconds between HTTP/2 pings while calls are active
            (>= 5: etcd rejects more frequent pings).
        keepalive_timeout: seconds without a ping reply before the connection
            is considered dead.
        max_send_bytes: largest request sent; larger ones fail locally with
            `RequestTooLargeError` (default 2 MiB, as Go's clientv3).
        max_recv_bytes: largest response accepted; None for no limit.
        ca: CA certificate(s) to verify the server (path or PEM bytes).
        cert, key: client certificate and key for mutual TLS.
        server_name: expected name in the server certificate, when it differs
            from the endpoint's host.
        username, password: credentials for etcd's auth.
        retry: attempt limits and backoff for retried calls.
        health_check_interval: seconds between health probes of each endpoint
            (a `Status` call); unhealthy members are skipped until one succeeds,
            and reads in flight on a member that stops answering are resent.
        health_check_timeout: seconds a probe may take before its member counts
            as unresponsive (frozen or cut off).
        auto_sync_interval: refresh the endpoint list from `MemberList` this often
            (seconds; None, the default, never does: call `sync_endpoints()`).
        reject_old_cluster: never send calls to members older than etcd 3.4.
        require_leader: streams end (instead of going silent) when their member
            loses its leader (gRPC metadata `hasleader=true`, Go's WithRequireLeader).
        event_hook: called with an `etcdgen.Event` for attempts, retries, health
            changes, evictions and endpoint list changes (must be quick; errors
            from it are swallowed).
        coalesce_reads: send gets that wait at the same time as one read-only txn
            (True, or `etcdgen.CoalesceSettings` for its bounds; off by default).
            A lone get is still a plain Range; under load, all gets of a batch read
            at one revision. See "Coalescing reads" in the README.
    """

    #: Set on `with_namespace` views only.
    _namespace: Namespace | None = None
    #: Set when `coalesce_reads` is on.
    _reads: AsyncReadCoalescer | None = None
    #: Warns if the client is dropped unclosed (a no-op on views).
    _finalizer: Any

    def __init__(
        self,
        endpoints: str | Sequence[str] = "127.0.0.1:2379",
        *,
        timeout: float | None = 5.0,
        connect_timeout: float = 5.0,
        keepalive_time: float = 30.0,
        keepalive_timeout: float = 10.0,
        max_send_bytes: int = DEFAULT_MAX_SEND_BYTES,
        max_recv_bytes: int | None = None,
        ca: str | Path | bytes | None = None,
        cert: str | Path | bytes | None = None,
        key: str | Path | bytes | None = None,
        server_name: str | None = None,
        username: str | None = None,
        password: str | None = None,
        retry: RetrySettings = DEFAULT_RETRY,
        health_check_interval: float = 1.0,
        health_check_timeout: float = 0.5,
        auto_sync_interval: float | None = None,
        reject_old_cluster: bool = False,
        require_leader: bool = True,
        event_hook: EventHook | None = None,
        coalesce_reads: bool | CoalesceSettings = False,
    ) -> None:
        self.config = make_config(
            endpoints,
            timeout=timeout,
            connect_timeout=connect_timeout,
            keepalive_time=keepalive_time,
            keepalive_timeout=keepalive_timeout,
            max_send_bytes=max_send_bytes,
            max_recv_bytes=max_recv_bytes,
            ca=ca,
            cert=cert,
            key=key,
            server_name=server_name,
            username=username,
            password=password,
            retry=retry,
            health_check_interval=health_check_interval,
            health_check_timeout=health_check_timeout,
            auto_sync_interval=auto_sync_interval,
            reject_old_cluster=reject_old_cluster,
            require_leader=require_leader,
            event_hook=event_hook,
            coalesce_reads=coalesce_reads,
        )
        self._connection = AsyncConnection(self.config)
        #: The generated client of every etcd service: `client.rpc.kv.range(key=b"k")`.
        self.rpc = self._connection.rpc
        # The KV methods below build their requests themselves and go straight here.
        self._invoker: AsyncInvoker = self._connection.invoker
        self._reads = self._read_coalescer(self._invoker)
        # Dropped without close(): release the channels and warn, as files do.
        self._finalizer = weakref.finalize(self, _collected, self._connection, repr(self))

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {', '.join(self.endpoints)}>"

    @property
    def endpoints(self) -> tuple[str, ...]:
        """The endpoints in use now (changed by `sync_endpoints()` and auto-sync)."""
        return self._connection.endpoints

    def endpoint_health(self) -> dict[str, EndpointHealth]:
        """Per endpoint: healthy, leader known, learner, last error, last probe latency."""
        return self._connection.endpoint_health()

    async def sync_endpoints(self, *, timeout: Timeout = DEFAULT) -> tuple[str, ...]:
        """Replace the endpoint list by the cluster's members (`MemberList`) now.

        Members added since are picked up, removed ones dropped (calls in flight
        there are resent when safe), learners get only what learners serve;
        members without a client URL (added, never started) are skipped.
        """
        return await self._connection.sync_endpoints(timeout)

    def with_namespace(self, prefix: KeyLike) -> AsyncClient:
        """A view of this client whose keys all live under `prefix` (Go's `namespace`).

        Keys in its requests get `prefix` in front, keys in its responses lose it:
        gets, puts, deletes, transactions (compares and operations), watches and
        their events, lease key lists, and the recipes (`Session`, `Mutex`, ...) run
        on it. A range over every key (`prefix=True` on "", `from_key=True`) stays
        inside the namespace. The view shares this client's connection: closing it
        does nothing, closing this client ends both. Views nest (prefixes add up).
        """
        inner = Namespace(to_bytes(prefix, "prefix"))
        if self._namespace is not None:
            inner = Namespace(self._namespace.prefix + inner.prefix)
        view = object.__new__(type(self))
        view.config = self.config
        view._connection = self._connection
        view._namespace = inner
        invoker: Any = NamespacedInvoker(self._connection.invoker, inner)
        view.rpc = AsyncRpcClients(invoker)
        view._invoker = cast(AsyncInvoker, invoker)
        view._reads = self._read_coalescer(invoker)
        view._finalizer = weakref.finalize(view, _view_collected)
        return view

    def _read_coalescer(self, invoker: Any) -> AsyncReadCoalescer | None:
        settings = self.config.coalesce_reads
        if settings is None:
            return None
        return AsyncReadCoalescer(invoker, settings, self.config.timeout)

    def read_batch_stats(self) -> ReadBatchStats | None:
        """What read coalescing did so far (batch sizes, re-sends); None when it is off."""
        return None if self._reads is None else self._reads.stats.copy()

    @property
    def namespace(self) -> bytes:
        """The key prefix of this view (`with_namespace`); b"" for the client itself."""
        return self._namespace.prefix if self._namespace is not None else b""

    async def close(self) -> None:
        """Release channels and background work; later calls raise `ClientClosedError`.

        On a `with_namespace` view this does nothing: the client it came from owns
        the connection.
        """
        self._finalizer.detach()
        if self._namespace is not None:
            return
        await self._connection.close()

    async def __aenter__(self) -> AsyncClient:
        """Authenticate now when credentials were given (bad ones raise here)."""
        try:
            await self._connection.open()
        except BaseException:
            await self.close()
            raise
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def put(
        self,
        key: KeyLike,
        value: KeyLike | None = None,
        *,
        lease: LeaseLike | None = None,
        prev_kv: bool = False,
        ignore_value: bool = False,
        ignore_lease: bool = False,
        timeout: Timeout = DEFAULT,
    ) -> rpc_pb2.PutResponse:
        """Write `value` to `key` (str or bytes).

        Args:
            lease: attach the key to this lease, an ID or a `lease()` (the key is
                deleted when the lease ends).
            prev_kv: return the previous key-value in `.prev_kv`.
            ignore_value: keep the current value (update only the lease).
            ignore_lease: keep the current lease (update only the value).
            timeout: seconds, None for no deadline, DEFAULT for the client's.
        """
        request = put_request(
            key,
            value,
            lease=lease,
            prev_kv=prev_kv,
            ignore_value=ignore_value,
            ignore_lease=ignore_lease,
        )
        return await self._invoker.unary_unary(methods.KV_PUT, request, timeout)

    async def get(
        self,
        key: KeyLike,
        *,
        range_end: KeyLike | None = None,
        prefix: bool = False,
        from_key: bool = False,
        limit: int = 0,
        revision: int | None = None,
        sort_order: SortOrder = "none",
        sort_target: SortTarget = "key",
        serializable: bool = False,
        keys_only: bool = False,
        count_only: bool = False,
        min_mod_revision: int | None = None,
        max_mod_revision: int | None = None,
        min_create_revision: int | None = None,
        max_create_revision: int | None = None,
        timeout: Timeout = DEFAULT,
    ) -> rpc_pb2.RangeResponse:
        """Read a key, a prefix (`prefix=True`), a range (`range_end=`) or all keys >= key
        (`from_key=True`). The response has `.kvs`, `.count`, `.more` and `.header`.

        Args:
            limit: at most this many keys (0: no limit); `.more` says if there were more.
            revision: read the store as of this revision (0/None: the latest).
            sort_order: "none", "ascend" or "descend".
            sort_target: "key", "version", "create", "mod" or "value".
            serializable: answer from the contacted member without consensus (may be stale).
            keys_only: leave values out. count_only: return only `.count`.
            min_mod_revision, max_mod_revision, min_create_revision, max_create_revision:
                keep only keys whose revisions lie within these bounds.
            timeout: seconds, None for no deadline, DEFAULT for the client's.
        """
        request = range_request(
            key,
            range_end=range_end,
            prefix=prefix,
            from_key=from_key,
            limit=limit,
            revision=revision,
            sort_order=sort_order,
            sort_target=sort_target,
            serializable=serializable,
            keys_only=keys_only,
            count_only=count_only,
            min_mod_revision=min_mod_revision,
            max_mod_revision=max_mod_revision,
            min_create_revision=min_create_revision,
            max_create_revision=max_create_revision,
        )
        if self._reads is not None:
            return await self._reads.get(request, timeout)
        return await self._invoker.unary_unary(methods.KV_RANGE, request, timeout)

    async def delete(
        self,
        key: KeyLike,
        *,
        range_end: KeyLike | None = None,
        prefix: bool = False,
        from_key: bool = False,
        prev_kv: bool = False,
        timeout: Timeout = DEFAULT,
    ) -> rpc_pb2.DeleteRangeResponse:
        """Delete a key, a prefix, a range or all keys >= key; `.deleted` counts them.

        Args:
            prev_kv: return the deleted key-values in `.prev_kvs`.
            timeout: seconds, None for no deadline, DEFAULT for the client's.
        """
        request = delete_request(
            key, range_end=range_end, prefix=prefix, from_key=from_key, prev_kv=prev_kv
        )
        return await self._invoker.unary_unary(methods.KV_DELETE_RANGE, request, timeout)

    async def txn(
        self,
        compare: Sequence[rpc_pb2.Compare] = (),
        success: Sequence[rpc_pb2.RequestOp] = (),
        failure: Sequence[rpc_pb2.RequestOp] = (),
        *,
        timeout: Timeout = DEFAULT,
    ) -> rpc_pb2.TxnResponse:
        """Run `success` if every compare holds, else `failure`, atomically.

        Build compares with `etcdgen.Compare` (`Compare.value("k") == "v"`) and
        operations with `etcdgen.Op` (`Op.put`, `Op.get`, `Op.delete`, `Op.txn`).
        `.succeeded` says which branch ran; `.responses` holds one result per op.
        """
        request = txn_request(compare, success, failure)
        return await self._invoker.unary_unary(methods.KV_TXN, request, timeout)

    async def compact(
        self, revision: int, *, physical: bool = False, timeout: Timeout = DEFAULT
    ) -> rpc_pb2.CompactionResponse:
        """Discard history before `revision`; `physical=True` waits until it is purged."""
        request = compaction_request(revision, physical=physical)
        return await self._invoker.unary_unary(methods.KV_COMPACT, request, timeout)

    # -- leases -------------------------------------------------------------------------------

    async def lease_grant(
        self, ttl: int, *, id: int | None = None, timeout: Timeout = DEFAULT
    ) -> rpc_pb2.LeaseGrantResponse:
        """A new lease of `ttl` seconds (`.ID`, `.TTL`); nothing keeps it alive.

        Prefer `lease()`, which keeps it alive and revokes it when done.
        """
        return await self.rpc.lease.lease_grant(
            TTL=lease_ttl_arg(ttl), ID=lease_id_arg(id, allow_none=True) or 0, timeout=timeout
        )

    async def lease_revoke(self, id: int, *, timeout: Timeout = DEFAULT) -> None:
        """End lease `id` now: its keys are deleted (`LeaseNotFoundError` if it is gone)."""
        await self.rpc.lease.lease_revoke(ID=lease_id_arg(id), timeout=timeout)

    async def lease_time_to_live(
        self, id: int, *, keys: bool = False, timeout: Timeout = DEFAULT
    ) -> rpc_pb2.LeaseTimeToLiveResponse:
        """Seconds left (`.TTL`, -1 if the lease is gone), `.grantedTTL`, and its keys."""
        return await self.rpc.lease.lease_time_to_live(
            ID=lease_id_arg(id), keys=flag("keys", keys), timeout=timeout
        )

    async def leases(self, *, timeout: Timeout = DEFAULT) -> tuple[int, ...]:
        """The IDs of every lease of the cluster."""
        reply = await self.rpc.lease.lease_leases(timeout=timeout)
        return tuple(lease.ID for lease in reply.leases)

    async def lease_keep_alive_once(self, id: int, *, timeout: Timeout = DEFAULT) -> int:
        """Renew lease `id` once; returns its new TTL (`LeaseNotFoundError` if it is gone)."""
        request = rpc_pb2.LeaseKeepAliveRequest(ID=lease_id_arg(id))
        stream = self.rpc.lease.lease_keep_alive([request], timeout=timeout)
        ttl = 0
        try:
            async for reply in stream:
                ttl = reply.TTL
                break
        finally:
            stream.cancel()
        if ttl <= 0:
            raise LeaseNotFoundError(f"lease {id:x} not found (expired or revoked)")
        return ttl

    def lease(
        self,
        ttl: int,
        *,
        id: int | None = None,
        on_lost: Callable[[LeaseExpiredError], object] | None = None,
    ) -> AsyncLease:
        """A lease kept alive while in use: `async with client.lease(ttl=10) as lease:`.

        Entering grants it; it is renewed every TTL/3 over one stream shared by all
        leases of the client (surviving reconnects and failover); leaving revokes
        it. If it is lost (expired while disconnected or paused, revoked elsewhere)
        `lease.lost` is set, `on_lost(error)` is called, and `lease.check()` raises
        `LeaseExpiredError`. Attach keys with `put(key, value, lease=lease)`.
        """
        if on_lost is not None and not callable(on_lost):
            raise TypeError("on_lost must be a function taking a LeaseExpiredError")
        return AsyncLease(
            self._connection.leases(),
            lease_ttl_arg(ttl),
            lease_id_arg(id, allow_none=True),
            on_lost,
        )

    def lock(self, name: KeyLike, *, ttl: int = 60, timeout: Timeout = DEFAULT) -> AsyncLockHold:
        """`async with client.lock("locks/job"):` a Mutex on a session of its own.

        The same lock as Go's `concurrency.Mutex` and `etcdctl lock` on that name;
        leaving the block revokes the session, which releases the lock.
        """
        return AsyncLockHold(self, name, lease_ttl_arg(ttl), timeout)

    # -- watches ------------------------------------------------------------------------------

    def watch(
        self,
        key: KeyLike,
        *,
        range_end: KeyLike | None = None,
        prefix: bool = False,
        from_key: bool = False,
        start_revision: int | None = None,
        prev_kv: bool = False,
        filters: Sequence[str] = (),
        progress_notify: bool = False,
        fragment: bool = False,
        max_buffered: int = DEFAULT_MAX_BUFFERED,
    ) -> AsyncWatch:
        """Watch `key` (or a prefix, a range, every key from `key`): `async with ... as w`.

        `async for response in w` yields one `WatchResponse` per revision batch
        (`response.events`, `response.header.revision`). Every watch of a client shares
        one gRPC stream; when it breaks (member down, connection cut, no leader,
        expired token) it is re-opened on a healthy member and each watch resumes
        from its next revision: no gap, no duplicate, no reordering.

        Args:
            start_revision: first revision to deliver; None: changes from now on.
            prev_kv: include each event's previous key-value.
            filters: drop event types: "noput", "nodelete".
            progress_notify: the server sends event-less responses now and then.
            fragment: let the server split huge revisions (reassembled here).
            max_buffered: responses held for a slow consumer before the watch is
                paused on the server (and resumed, losslessly, once drained).

        The iteration ends after `cancel()`, and raises `CompactedError` (with
        `compact_revision`) if the revision to resume from was compacted.
        """
        options = watch_options(
            key,
            range_end=range_end,
            prefix=prefix,
            from_key=from_key,
            start_revision=start_revision,
            prev_kv=prev_kv,
            filters=filters,
            progress_notify=progress_notify,
            fragment=fragment,
        )
        return self._connection.watches(self._namespace).watch(
            options, max_buffered_arg(max_buffered)
        )

    def add_watch_callback(
        self,
        key: KeyLike,
        callback: AsyncWatchCallback,
        *,
        on_error: AsyncErrorCallback | None = None,
        range_end: KeyLike | None = None,
        prefix: bool = False,
        from_key: bool = False,
        start_revision: int | None = None,
        prev_kv: bool = False,
        filters: Sequence[str] = (),
        progress_notify: bool = False,
        fragment: bool = False,
        max_buffered: int = DEFAULT_MAX_BUFFERED,
    ) -> AsyncWatch:
        """Call `callback(response)` for each response of a watch (options as `watch`).

        Callbacks of a client run one at a time on one dispatcher (no thread per
        watch); `on_error(error)` is called if the watch ends with an error. Returns
        the watch: `cancel()` it to stop.
        """
        if not callable(callback):
            raise TypeError("callback must be a function taking a WatchResponse")
        options = watch_options(
            key,
            range_end=range_end,
            prefix=prefix,
            from_key=from_key,
            start_revision=start_revision,
            prev_kv=prev_kv,
            filters=filters,
            progress_notify=progress_notify,
            fragment=fragment,
        )
        return self._connection.watches(self._namespace).add_callback(
            options, max_buffered_arg(max_buffered), callback, on_error
        )

    def iter_prefix(
        self,
        prefix: KeyLike,
        *,
        page_size: int = 1000,
        revision: int | None = None,
        keys_only: bool = False,
        timeout: Timeout = DEFAULT,
    ) -> AsyncIterator[kv_pb2.KeyValue]:
        """Every key under `prefix`, in key order, fetched `page_size` at a time.

        All pages are read at one revision (the first page's, or `revision=`),
        so concurrent writes cannot skew the result and no response comes near
        the message size limits. `timeout` applies to each page. If that revision
        is compacted while paging, `CompactedError` is raised.
        """
        start, end = key_range(prefix, prefix=True)
        return self.iter_range(
            start, end, page_size=page_size, revision=revision, keys_only=keys_only, timeout=timeout
        )

    async def iter_range(
        self,
        key: KeyLike,
        range_end: KeyLike,
        *,
        page_size: int = 1000,
        revision: int | None = None,
        keys_only: bool = False,
        timeout: Timeout = DEFAULT,
    ) -> AsyncIterator[kv_pb2.KeyValue]:
        """Every key in [key, range_end) in key order, paged at one revision (see iter_prefix)."""
        page_size = check_page_size(page_size)
        start, end = to_bytes(key), to_bytes(range_end, "range_end")
        pinned = revision or 0
        while True:
            request = range_request(
                start,
                range_end=end,
                limit=page_size,
                revision=pinned,
                keys_only=keys_only,
            )
            page = await self.rpc.kv.range(request, timeout=timeout)
            pinned = pinned or page.header.revision
            for item in page.kvs:
                yield item
            if not page.more or not page.kvs:
                return
            # The next page starts just after the last key seen.
            start = page.kvs[-1].key + b"\0"


def _collected(connection: AsyncConnection, name: str) -> None:
    """The client was garbage-collected without close()."""
    if connection.closed:
        return
    warnings.warn(
        f"unclosed {name}: use `with`/`async with` or call close()",
        ResourceWarning,
        stacklevel=2,
    )
    connection.close_abandoned()


def _view_collected() -> None:
    """A namespace view was garbage-collected: nothing to release (it owns no connection)."""
