"""Logging and Prometheus metrics from real calls (prometheus_client's own registry)."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest
from polling import wait_for

import etcdgen
from etcdgen.testing import EtcdServer


def prometheus() -> object:
    """prometheus_client, or a skip (the compat matrix runs without the extra)."""
    return pytest.importorskip("prometheus_client")


def sample(registry: object, name: str, **labels: str) -> float:
    value = registry.get_sample_value(name, labels)  # type: ignore[attr-defined]
    return 0.0 if value is None else float(value)


def test_prometheus_metrics_count_calls_by_code(etcd: EtcdServer) -> None:
    prometheus_client: Any = prometheus()
    from etcdgen.metrics import PrometheusMetrics

    registry = prometheus_client.CollectorRegistry()
    metrics = PrometheusMetrics(registry)
    with etcdgen.Client(etcd.endpoint, event_hook=metrics) as client:
        for i in range(5):
            client.put(f"metrics/{i}", "v")
        client.get("metrics/", prefix=True)
        with pytest.raises(etcdgen.LeaseNotFoundError):
            client.lease_revoke(123456789)
    rpc = {"grpc_type": "unary", "grpc_service": "etcdserverpb.KV"}
    assert sample(registry, "grpc_client_started_total", **rpc, grpc_method="Put") == 5
    assert (
        sample(registry, "grpc_client_handled_total", **rpc, grpc_method="Put", grpc_code="OK") == 5
    )
    assert sample(registry, "grpc_client_handling_seconds_count", **rpc, grpc_method="Range") == 1
    assert (
        sample(
            registry,
            "grpc_client_handled_total",
            grpc_type="unary",
            grpc_service="etcdserverpb.Lease",
            grpc_method="LeaseRevoke",
            grpc_code="NOT_FOUND",
        )
        == 1
    )
    text = prometheus_client.generate_latest(registry).decode()
    assert 'grpc_client_handling_seconds_bucket{grpc_method="Put"' in text


def test_async_client_metrics(etcd: EtcdServer) -> None:
    prometheus_client: Any = prometheus()
    from etcdgen.metrics import PrometheusMetrics

    registry = prometheus_client.CollectorRegistry()

    async def scenario() -> None:
        async with etcdgen.AsyncClient(etcd.endpoint, event_hook=PrometheusMetrics(registry)) as c:
            await asyncio.gather(*(c.put(f"ametrics/{i}", "v") for i in range(8)))

    asyncio.run(scenario())
    assert (
        sample(
            registry,
            "grpc_client_handled_total",
            grpc_type="unary",
            grpc_service="etcdserverpb.KV",
            grpc_method="Put",
            grpc_code="OK",
        )
        == 8
    )


def test_logging_is_quiet_at_info_and_detailed_at_debug(
    etcd: EtcdServer, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="etcdgen"), etcdgen.Client(etcd.endpoint) as client:
        client.put("log/k", "v")
        client.get("log/k")
    assert not [r for r in caplog.records if r.name.startswith("etcdgen")]  # a happy path
    caplog.clear()
    with caplog.at_level(logging.DEBUG, logger="etcdgen"), etcdgen.Client(etcd.endpoint) as client:
        client.put("log/k", "v")
    messages = [r.getMessage() for r in caplog.records if r.name == "etcdgen.retry"]
    assert any("/etcdserverpb.KV/Put attempt 1" in m for m in messages), messages
    assert any("/etcdserverpb.KV/Put OK after 1 attempt(s)" in m for m in messages), messages


def test_endpoint_health_changes_are_logged_at_info(
    etcd_binary: object, caplog: pytest.LogCaptureFixture
) -> None:
    with (
        EtcdServer(binary=etcd_binary) as server,  # type: ignore[arg-type]
        caplog.at_level(logging.INFO, logger="etcdgen"),
        etcdgen.Client([server.endpoint, "127.0.0.1:1"], health_check_interval=0.2) as client,
    ):
        client.put("k", "v")
        wait_for(
            lambda: any("127.0.0.1:1 is now" in r.getMessage() for r in caplog.records),
            "the unreachable endpoint to be logged",
        )
    lines = [r.getMessage() for r in caplog.records if r.name == "etcdgen.connection"]
    assert any("endpoint 127.0.0.1:1 is now unreachable" in line for line in lines), lines


def test_opentelemetry_spans_and_metrics(etcd: EtcdServer) -> None:
    pytest.importorskip("opentelemetry.sdk")
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import InMemoryMetricReader
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    from etcdgen.tracing import OpenTelemetryHook

    exporter = InMemorySpanExporter()
    tracers = TracerProvider()
    tracers.add_span_processor(SimpleSpanProcessor(exporter))
    reader = InMemoryMetricReader()
    meters = MeterProvider(metric_readers=[reader])
    hook = OpenTelemetryHook(tracers, meters)
    with etcdgen.Client(etcd.endpoint, event_hook=hook) as client:
        client.put("otel/k", "v")
        with pytest.raises(etcdgen.LeaseNotFoundError):
            client.lease_revoke(987654321)
    spans = exporter.get_finished_spans()
    put = next(s for s in spans if s.name == "etcdserverpb.KV/Put")
    assert put.attributes["rpc.method"] == "Put" and put.attributes["rpc.grpc.status_code"] == 0
    assert put.attributes["etcdgen.attempts"] == 1 and put.end_time >= put.start_time
    revoke = next(s for s in spans if s.name == "etcdserverpb.Lease/LeaseRevoke")
    assert revoke.attributes["rpc.grpc.status_code"] == 5 and not revoke.status.is_ok
    data = reader.get_metrics_data()
    names = {m.name for rm in data.resource_metrics for sm in rm.scope_metrics for m in sm.metrics}
    assert "rpc.client.duration" in names


def test_active_watchers_gauge_follows_open_watches(etcd: EtcdServer) -> None:
    prometheus_client: Any = prometheus()
    from etcdgen.metrics import PrometheusMetrics

    registry = prometheus_client.CollectorRegistry()
    metrics = PrometheusMetrics(registry)
    with etcdgen.Client(etcd.endpoint, event_hook=metrics) as client:
        first = client.watch("gauge/a")
        second = client.watch("gauge/", prefix=True)
        assert sample(registry, "etcdgen_active_watchers") == 2
        first.cancel()
        assert sample(registry, "etcdgen_active_watchers") == 1

        async def on_async_client() -> None:
            async with etcdgen.AsyncClient(etcd.endpoint, event_hook=metrics) as other:
                watch = other.watch("gauge/b")
                await watch.wait_created(5)
                assert sample(registry, "etcdgen_active_watchers") == 2
            # closing the client ends its watches

        asyncio.run(on_async_client())
        assert sample(registry, "etcdgen_active_watchers") == 1
        second.cancel()
    assert sample(registry, "etcdgen_active_watchers") == 0
