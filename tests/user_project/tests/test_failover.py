"""Metrics and spans of a client whose member freezes (SIGSTOP) under a read load."""

from __future__ import annotations

import json
import os
import threading
import time
from pathlib import Path

import prometheus_client
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

import etcdgen
from etcdgen.metrics import PrometheusMetrics
from etcdgen.testing import EtcdCluster
from etcdgen.tracing import OpenTelemetryHook


def test_metrics_and_spans_after_failover(etcd_cluster: EtcdCluster) -> None:
    registry = prometheus_client.CollectorRegistry()
    spans = InMemorySpanExporter()
    tracers = TracerProvider()
    tracers.add_span_processor(SimpleSpanProcessor(spans))
    hooks = [PrometheusMetrics(registry), OpenTelemetryHook(tracer_provider=tracers)]

    def hook(event: etcdgen.Event) -> None:
        for each in hooks:
            each(event)

    frozen = etcd_cluster.followers()[0]
    stop = threading.Event()
    errors: list[BaseException] = []
    reads = [0]

    with etcdgen.Client(etcd_cluster.endpoints, event_hook=hook) as client:
        client.put("app/flag", "1")

        def reader() -> None:
            while not stop.is_set():
                try:
                    client.get("app/flag")
                    reads[0] += 1
                except BaseException as error:  # a failed safe call fails the test
                    errors.append(error)

        threads = [threading.Thread(target=reader) for _ in range(6)]
        for thread in threads:
            thread.start()
        frozen.pause()
        try:
            deadline = time.monotonic() + 20
            while client.endpoint_health()[frozen.endpoint].state != "unresponsive":
                assert time.monotonic() < deadline, "the frozen member was never marked"
                time.sleep(0.05)
            before = reads[0]
            while reads[0] < before + 100:  # reads go on without the frozen member
                assert time.monotonic() < deadline, "reads stalled"
                time.sleep(0.05)
        finally:
            frozen.resume()
            stop.set()
            for thread in threads:
                thread.join(timeout=30)

    assert errors == []
    scrape = prometheus_client.generate_latest(registry).decode()
    finished = spans.get_finished_spans()
    retried = [s for s in finished if s.attributes and s.attributes["etcdgen.attempts"] > 1]
    report = os.environ.get("USER_PROJECT_REPORT")
    if report:
        Path(report, "scrape.txt").write_text(scrape)
        Path(report, "spans.json").write_text(
            json.dumps(
                {
                    "spans": len(finished),
                    "retried": [
                        {
                            "name": s.name,
                            "attempts": s.attributes["etcdgen.attempts"],
                            "events": [e.name for e in s.events],
                        }
                        for s in retried[:5]
                    ],
                }
            )
        )
    assert 'grpc_client_handling_seconds_count{grpc_method="Range"' in scrape
    assert "etcdgen_retries_total" in scrape
    assert retried, "no span recorded a retried call"
    assert all("retry" in [e.name for e in s.events] for s in retried)
