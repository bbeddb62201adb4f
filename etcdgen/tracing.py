"""Spans and metrics through the OpenTelemetry API (`pip install etcdgen[opentelemetry]`).

    hook = etcdgen.tracing.OpenTelemetryHook()   # the global tracer and meter providers
    client = etcdgen.Client(endpoints, event_hook=hook)

An event hook (see `etcdgen.Event`); nothing runs without it. Each finished
unary call becomes one CLIENT span named after its method (`etcdserverpb.KV/Range`),
timed from the call's start, with the RPC semantic-convention attributes
(`rpc.system`, `rpc.service`, `rpc.method`, `rpc.grpc.status_code`,
`server.address`), `etcdgen.attempts`, one span event per retry, and an error
status when it failed. Spans are made when the call ends (the hook sees events,
not contexts), so they are not parents of anything. Metrics: the
`rpc.client.duration` histogram (milliseconds) and `etcdgen.retries`,
`etcdgen.failovers`, `etcdgen.stream_reopens`, `etcdgen.watch_resumes`,
`etcdgen.lease_lost` counters, and the `etcdgen.active_watchers` up-down counter.
"""

from __future__ import annotations

import threading
import time
from typing import Any

from ._core.events import Event

# gRPC status code names -> numbers (rpc.grpc.status_code is numeric).
_CODES = {
    "OK": 0,
    "CANCELLED": 1,
    "UNKNOWN": 2,
    "INVALID_ARGUMENT": 3,
    "DEADLINE_EXCEEDED": 4,
    "NOT_FOUND": 5,
    "ALREADY_EXISTS": 6,
    "PERMISSION_DENIED": 7,
    "RESOURCE_EXHAUSTED": 8,
    "FAILED_PRECONDITION": 9,
    "ABORTED": 10,
    "OUT_OF_RANGE": 11,
    "UNIMPLEMENTED": 12,
    "INTERNAL": 13,
    "UNAVAILABLE": 14,
    "DATA_LOSS": 15,
    "UNAUTHENTICATED": 16,
}


class OpenTelemetryHook:
    """An `event_hook=` that records spans and metrics with OpenTelemetry."""

    def __init__(self, tracer_provider: Any = None, meter_provider: Any = None) -> None:
        try:
            from opentelemetry import metrics, trace
        except ImportError as error:
            raise ImportError(
                "OpenTelemetryHook needs opentelemetry-api: pip install 'etcdgen[opentelemetry]'"
            ) from error
        from ._version import __version__

        self._trace = trace
        self._tracer = trace.get_tracer("etcdgen", __version__, tracer_provider=tracer_provider)
        meter = metrics.get_meter("etcdgen", __version__, meter_provider=meter_provider)
        self._duration = meter.create_histogram(
            "rpc.client.duration",
            unit="ms",
            description="Duration of etcd calls, retries included.",
        )
        self._counters = {
            "evict": meter.create_counter(
                "etcdgen.failovers", description="Members failed away from."
            ),
            "stream_reopened": meter.create_counter("etcdgen.stream_reopens"),
            "watch_resumed": meter.create_counter("etcdgen.watch_resumes"),
            "lease_lost": meter.create_counter("etcdgen.lease_lost"),
        }
        self._retries = meter.create_counter("etcdgen.retries", description="Attempts retried.")
        self._watchers = meter.create_up_down_counter(
            "etcdgen.active_watchers", description="Watches open on the clients."
        )
        # Retries seen per thread since its last finished call (a call runs in one thread
        # or task; asyncio tasks of one loop share a thread, so the count is best effort).
        self._pending = threading.local()

    def __call__(self, event: Event) -> None:
        kind = event.kind
        if kind == "retry":
            pending = getattr(self._pending, "retries", None)
            if pending is None:
                pending = self._pending.retries = []
            pending.append((time.time_ns(), event.endpoint, event.detail))
        elif kind == "call":
            self._finish(event)
        elif kind == "watch_started":
            self._watchers.add(1)
        elif kind == "watch_ended":
            self._watchers.add(-1)
        elif kind in self._counters:
            self._counters[kind].add(
                1, {"server.address": event.endpoint} if event.endpoint else {}
            )

    def _finish(self, event: Event) -> None:
        service, _, method = event.rpc.strip("/").partition("/")
        attributes: dict[str, str | int] = {
            "rpc.system": "grpc",
            "rpc.service": service,
            "rpc.method": method,
            "rpc.grpc.status_code": _CODES.get(event.code, 2),
            "server.address": event.endpoint,
            "etcdgen.attempts": event.attempts,
        }
        end = time.time_ns()
        start = end - int(event.duration * 1e9)
        span = self._tracer.start_span(
            f"{service}/{method}",
            kind=self._trace.SpanKind.CLIENT,
            attributes=attributes,
            start_time=start,
        )
        retries = getattr(self._pending, "retries", None) or []
        self._pending.retries = []
        for when, endpoint, detail in retries:
            if when >= start:
                span.add_event("retry", {"server.address": endpoint, "error": detail}, when)
        if event.code != "OK":
            span.set_status(self._trace.Status(self._trace.StatusCode.ERROR, event.code))
        span.end(end_time=end)
        metric_attributes = {
            k: attributes[k]
            for k in ("rpc.system", "rpc.service", "rpc.method", "rpc.grpc.status_code")
        }
        self._duration.record(event.duration * 1000, metric_attributes)
        if event.attempts > 1:
            self._retries.add(event.attempts - 1, {"rpc.method": method})
