"""Key prefixing for `client.with_namespace(prefix)`, in one place: requests in, responses out.

A namespaced client sends every key with `prefix` in front and strips it from
every key it gets back, as Go's `namespace` package does: Range, Put and
DeleteRange requests and their replies (`kvs`, `prev_kv(s)`), Txn compares and
operations (nested transactions included) and their replies, Watch creations
and the events' `kv`/`prev_kv`, and the keys of LeaseTimeToLive. Range ends
follow the key: the "to the end of the keyspace" end (`b"\\0"`, from `from_key`
or an all-keys prefix) becomes the end of the namespace, so no range leaves it.

`NamespacedInvoker` applies this around any invoker (sync or async) by method
path; RPCs without keys pass through untouched.
"""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator, Iterator
from typing import Any

from ..generated.etcdserverpb import rpc_pb2
from .describe import prefix_end

_KV = "/etcdserverpb.KV/"
_RANGE, _PUT, _DELETE, _TXN = (_KV + n for n in ("Range", "Put", "DeleteRange", "Txn"))
_WATCH = "/etcdserverpb.Watch/Watch"
_LEASE_TTL = "/etcdserverpb.Lease/LeaseTimeToLive"


class Namespace:
    """The prefix and the rewriting rules (pure functions over messages)."""

    def __init__(self, prefix: bytes) -> None:
        if not prefix:
            raise ValueError("a namespace needs a non-empty prefix, e.g. 'app1/'")
        self.prefix = prefix
        self._end = prefix_end(prefix)

    # -- keys --------------------------------------------------------------------------------

    def key(self, key: bytes) -> bytes:
        return self.prefix + key

    def span(self, key: bytes, range_end: bytes) -> tuple[bytes, bytes]:
        if range_end == b"\0":
            # To the end of the keyspace: to the end of the namespace instead.
            return self.prefix + (b"" if key == b"\0" else key), self._end
        return self.prefix + key, (self.prefix + range_end if range_end else b"")

    def strip(self, key: bytes) -> bytes:
        return key[len(self.prefix) :] if key.startswith(self.prefix) else key

    # -- requests ----------------------------------------------------------------------------

    def request(self, path: str, request: Any) -> Any:
        if path == _RANGE:
            return self._range(request)
        if path == _PUT:
            put = rpc_pb2.PutRequest()
            put.CopyFrom(request)
            put.key = self.key(request.key)
            return put
        if path == _DELETE:
            delete = rpc_pb2.DeleteRangeRequest()
            delete.CopyFrom(request)
            delete.key, delete.range_end = self.span(request.key, request.range_end)
            return delete
        if path == _TXN:
            return self._txn(request)
        if path == _WATCH:
            return self.watch_request(request)
        return request

    def _range(self, request: rpc_pb2.RangeRequest) -> rpc_pb2.RangeRequest:
        out = rpc_pb2.RangeRequest()
        out.CopyFrom(request)
        out.key, out.range_end = self.span(request.key, request.range_end)
        return out

    def _txn(self, request: rpc_pb2.TxnRequest) -> rpc_pb2.TxnRequest:
        out = rpc_pb2.TxnRequest()
        out.CopyFrom(request)
        for compare in out.compare:
            compare.key, compare.range_end = self.span(compare.key, compare.range_end)
        for op in list(out.success) + list(out.failure):
            self._op(op)
        return out

    def _op(self, op: rpc_pb2.RequestOp) -> None:
        which = op.WhichOneof("request")
        if which == "request_range":
            op.request_range.CopyFrom(self._range(op.request_range))
        elif which == "request_put":
            op.request_put.key = self.key(op.request_put.key)
        elif which == "request_delete_range":
            inner = op.request_delete_range
            inner.key, inner.range_end = self.span(inner.key, inner.range_end)
        elif which == "request_txn":
            op.request_txn.CopyFrom(self._txn(op.request_txn))

    def watch_request(self, request: rpc_pb2.WatchRequest) -> rpc_pb2.WatchRequest:
        if request.WhichOneof("request_union") != "create_request":
            return request
        out = rpc_pb2.WatchRequest()
        out.CopyFrom(request)
        create = out.create_request
        create.key, create.range_end = self.span(create.key, create.range_end)
        return out

    # -- responses ---------------------------------------------------------------------------

    def response(self, path: str, response: Any) -> Any:
        if path == _RANGE:
            self._kvs(response.kvs)
        elif path == _PUT:
            if response.HasField("prev_kv"):
                response.prev_kv.key = self.strip(response.prev_kv.key)
        elif path == _DELETE:
            self._kvs(response.prev_kvs)
        elif path == _TXN:
            self._txn_response(response)
        elif path == _WATCH:
            for event in response.events:
                event.kv.key = self.strip(event.kv.key)
                if event.HasField("prev_kv"):
                    event.prev_kv.key = self.strip(event.prev_kv.key)
        elif path == _LEASE_TTL:
            keys = [self.strip(k) for k in response.keys if k.startswith(self.prefix)]
            del response.keys[:]
            response.keys.extend(keys)
        return response

    def _kvs(self, kvs: Any) -> None:
        for kv in kvs:
            kv.key = self.strip(kv.key)

    def _txn_response(self, response: rpc_pb2.TxnResponse) -> None:
        for op in response.responses:
            which = op.WhichOneof("response")
            if which == "response_range":
                self._kvs(op.response_range.kvs)
            elif which == "response_put" and op.response_put.HasField("prev_kv"):
                op.response_put.prev_kv.key = self.strip(op.response_put.prev_kv.key)
            elif which == "response_delete_range":
                self._kvs(op.response_delete_range.prev_kvs)
            elif which == "response_txn":
                self._txn_response(op.response_txn)


class NamespacedInvoker:
    """Any invoker with `Namespace` applied to the requests and responses that carry keys."""

    def __init__(self, inner: Any, namespace: Namespace) -> None:
        self._inner = inner
        self._namespace = namespace

    def unary_unary(self, spec: Any, request: Any, timeout: Any) -> Any:
        ns = self._namespace
        result = self._inner.unary_unary(spec, ns.request(spec.path, request), timeout)
        if hasattr(result, "__await__"):
            return _await_response(ns, spec.path, result)
        return ns.response(spec.path, result)

    def unary_stream(self, spec: Any, request: Any, timeout: Any) -> Any:
        stream = self._inner.unary_stream(
            spec, self._namespace.request(spec.path, request), timeout
        )
        return _Stream(stream, self._namespace, spec.path)

    def stream_stream(self, spec: Any, requests: Any, timeout: Any) -> Any:
        ns, path = self._namespace, spec.path
        if hasattr(requests, "__aiter__"):
            rewritten: Any = _arewrite(ns, path, requests)
        else:
            rewritten = (ns.request(path, r) for r in requests)
        return _Stream(self._inner.stream_stream(spec, rewritten, timeout), ns, path)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


async def _await_response(ns: Namespace, path: str, result: Any) -> Any:
    return ns.response(path, await result)


async def _arewrite(ns: Namespace, path: str, requests: AsyncIterable[Any]) -> AsyncIterator[Any]:
    async for request in requests:
        yield ns.request(path, request)


class _Stream:
    """A response stream (sync or async) whose messages are rewritten."""

    def __init__(self, inner: Any, namespace: Namespace, path: str) -> None:
        self._inner = inner
        self._namespace = namespace
        self._path = path

    @property
    def endpoint(self) -> str:
        return str(getattr(self._inner, "endpoint", ""))

    def __iter__(self) -> Iterator[Any]:
        return self

    def __next__(self) -> Any:
        return self._namespace.response(self._path, next(self._inner))

    def __aiter__(self) -> _Stream:
        return self

    async def __anext__(self) -> Any:
        return self._namespace.response(self._path, await self._inner.__anext__())

    def cancel(self) -> None:
        self._inner.cancel()
