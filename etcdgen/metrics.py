"""Client metrics through `prometheus_client` (`pip install etcdgen[prometheus]`).

    metrics = etcdgen.metrics.PrometheusMetrics()          # the default registry
    client = etcdgen.Client(endpoints, event_hook=metrics)

An event hook (see `etcdgen.Event`): nothing is counted, and nothing costs, without it.
The per-RPC metrics carry the names and labels of go-grpc-prometheus's client
metrics, so existing gRPC dashboards work unchanged:

- `grpc_client_started_total{grpc_type, grpc_service, grpc_method}`
- `grpc_client_handled_total{grpc_type, grpc_service, grpc_method, grpc_code}`
- `grpc_client_handling_seconds{grpc_type, grpc_service, grpc_method}` (histogram;
  a call's whole time, retries and failover included)

and etcdgen's own: `etcdgen_retries_total{grpc_service, grpc_method}`,
`etcdgen_failovers_total{endpoint}` (a member's calls moved elsewhere),
`etcdgen_endpoint_changes_total{endpoint, state}` (health transitions),
`etcdgen_stream_reopens_total{grpc_method}`, `etcdgen_watch_resumes_total`,
`etcdgen_lease_lost_total` and the gauge `etcdgen_active_watchers` (watches open
on the clients that share this adapter). Unary calls only in the grpc_* families (streams are
counted by their re-opens).
"""

from __future__ import annotations

from typing import Any

from ._core.events import Event

# go-grpc-prometheus's default handling-time buckets (seconds).
DEFAULT_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


def _split(path: str) -> tuple[str, str]:
    service, _, method = path.strip("/").partition("/")
    return service, method


class PrometheusMetrics:
    """An `event_hook=` that publishes to a `prometheus_client` registry."""

    def __init__(
        self, registry: Any = None, *, buckets: tuple[float, ...] = DEFAULT_BUCKETS
    ) -> None:
        try:
            import prometheus_client as prom
        except ImportError as error:
            raise ImportError(
                "PrometheusMetrics needs prometheus_client: pip install 'etcdgen[prometheus]'"
            ) from error
        if registry is None:
            registry = prom.REGISTRY
        rpc = ("grpc_type", "grpc_service", "grpc_method")
        self.started = prom.Counter(
            "grpc_client_started",
            "Total number of RPCs started on the client.",
            rpc,
            registry=registry,
        )
        self.handled = prom.Counter(
            "grpc_client_handled",
            "Total number of RPCs completed by the client, regardless of success or failure.",
            (*rpc, "grpc_code"),
            registry=registry,
        )
        self.handling = prom.Histogram(
            "grpc_client_handling_seconds",
            "Histogram of response latency (seconds) of the gRPC until it is finished by the "
            "application.",
            rpc,
            buckets=buckets,
            registry=registry,
        )
        self.retries = prom.Counter(
            "etcdgen_retries",
            "Attempts that failed and were retried.",
            ("grpc_service", "grpc_method"),
            registry=registry,
        )
        self.failovers = prom.Counter(
            "etcdgen_failovers",
            "Members whose calls and streams were moved to healthy members.",
            ("endpoint",),
            registry=registry,
        )
        self.health_changes = prom.Counter(
            "etcdgen_endpoint_changes",
            "Health transitions of endpoints.",
            ("endpoint", "state"),
            registry=registry,
        )
        self.stream_reopens = prom.Counter(
            "etcdgen_stream_reopens",
            "Watch and LeaseKeepAlive streams opened again.",
            ("grpc_method",),
            registry=registry,
        )
        self.watch_resumes = prom.Counter(
            "etcdgen_watch_resumes",
            "Watches re-created after a break or a pause.",
            registry=registry,
        )
        self.lease_losses = prom.Counter(
            "etcdgen_lease_lost", "Managed leases lost.", registry=registry
        )
        self.active_watchers = prom.Gauge(
            "etcdgen_active_watchers", "Watches open on the clients.", registry=registry
        )
        # Labelled children per RPC path: `labels()` costs more than the increment.
        self._per_rpc: dict[str, _RpcChildren] = {}

    def _children(self, path: str) -> _RpcChildren:
        children = self._per_rpc.get(path)
        if children is None:
            children = self._per_rpc[path] = _RpcChildren(self, *_split(path))
        return children

    def __call__(self, event: Event) -> None:
        kind = event.kind
        if kind == "attempt":
            if event.attempts == 1 and event.rpc:
                self._children(event.rpc).started.inc()
        elif kind == "call":
            children = self._children(event.rpc)
            children.handled(event.code).inc()
            children.handling.observe(event.duration)
            if event.attempts > 1:
                children.retries.inc(event.attempts - 1)
        elif kind == "evict":
            self.failovers.labels(event.endpoint).inc()
        elif kind == "health":
            self.health_changes.labels(event.endpoint, event.health).inc()
        elif kind == "stream_reopened":
            self.stream_reopens.labels(event.rpc).inc()
        elif kind == "watch_resumed":
            self.watch_resumes.inc()
        elif kind == "lease_lost":
            self.lease_losses.inc()
        elif kind == "watch_started":
            self.active_watchers.inc()
        elif kind == "watch_ended":
            self.active_watchers.dec()


class _RpcChildren:
    """The labelled metrics of one RPC (one `labels()` lookup per RPC, not per call)."""

    __slots__ = ("_codes", "_handled", "_method", "_service", "handling", "retries", "started")

    def __init__(self, metrics: PrometheusMetrics, service: str, method: str) -> None:
        self._service, self._method = service, method
        self._handled = metrics.handled
        self.started = metrics.started.labels("unary", service, method)
        self.handling = metrics.handling.labels("unary", service, method)
        self.retries = metrics.retries.labels(service, method)
        self._codes: dict[str, Any] = {}

    def handled(self, code: str) -> Any:
        child = self._codes.get(code)
        if child is None:
            child = self._codes[code] = self._handled.labels(
                "unary", self._service, self._method, code
            )
        return child
