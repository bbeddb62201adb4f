"""Metrics and spans of a client whose member freezes (SIGSTOP) under a read load."""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path

import prometheus_client
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

import etcdgen
from etcdgen.metrics import PrometheusMetrics
from etcdgen.testing import EtcdCluster
from etcdgen.tracing import OpenTelemetryHook


def wait_for(condition: Callable[[], object], what: str, timeout: float = 20.0) -> None:
    """Until `condition()` holds, at most `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


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
        # Reads go round-robin over the members found healthy: wait until the one to be
        # frozen is among them, so reads are in flight on it when it freezes.
        wait_for(
            lambda: all(h.healthy for h in client.endpoint_health().values()),
            "every member to be probed healthy",
        )
        frozen.pause()
        try:
            wait_for(
                lambda: client.endpoint_health()[frozen.endpoint].state == "unresponsive",
                "the client to mark the frozen member",
            )
            before = reads[0]
            wait_for(lambda: reads[0] >= before + 100, "reads to go on without the member")
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
