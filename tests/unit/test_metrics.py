"""The metric names, labels and buckets that dashboards and alerts depend on."""

from __future__ import annotations

import prometheus_client
from prometheus_client import generate_latest

from boltproxy import metrics


def sample(name: str, **labels: str) -> float | None:
    return metrics.REGISTRY.get_sample_value(name, labels)


def test_record_counts_add_up_when_incremented_in_bulk() -> None:
    records = metrics.MESSAGES.labels(direction="server_to_client", type="RECORD")
    before = sample("boltproxy_messages_total", direction="server_to_client", type="RECORD") or 0
    records.inc(500)
    records.inc(12)
    after = sample("boltproxy_messages_total", direction="server_to_client", type="RECORD")
    assert after == before + 512


def test_latency_buckets_separate_sub_millisecond_from_minute_long_queries() -> None:
    latency = metrics.QUERY_LATENCY.labels(backend="test-buckets")
    latency.observe(0.00015)  # a fast lookup
    latency.observe(45.0)  # a heavy report
    name = "boltproxy_query_latency_seconds_bucket"
    assert sample(name, backend="test-buckets", le="0.0001") == 0
    assert sample(name, backend="test-buckets", le="0.00025") == 1
    assert sample(name, backend="test-buckets", le="30.0") == 1
    assert sample(name, backend="test-buckets", le="60.0") == 2


def test_exposition_names_and_labels() -> None:
    metrics.OPEN_CONNECTIONS.labels(side="client").inc()
    metrics.BYTES.labels(direction="client_to_server").inc(64)
    metrics.ERRORS.labels(side="candidate", kind="timeout").inc()
    metrics.BACKEND_UP.labels(backend="green").set(0)
    text = generate_latest(metrics.REGISTRY).decode()
    for line in (
        'boltproxy_open_connections{side="client"}',
        'boltproxy_bytes_total{direction="client_to_server"}',
        'boltproxy_errors_total{kind="timeout",side="candidate"}',
        'boltproxy_backend_up{backend="green"} 0.0',
    ):
        assert line in text


def test_metrics_stay_out_of_the_default_registry() -> None:
    # An application embedding boltproxy keeps its own /metrics free of ours (and vice versa).
    default = generate_latest(prometheus_client.REGISTRY).decode()
    assert "boltproxy_" not in default


def test_query_latencies_reach_the_histogram_with_the_traffic_flush() -> None:
    from boltproxy.proxy.observer import MetricsObserver

    observer = MetricsObserver()
    name = "boltproxy_query_latency_seconds"
    # On a bucket's bound, below every bound, and past the last one: the buckets
    # Histogram.observe would choose.
    for seconds in (0.00025, 0.00001, 1e6):
        observer.query_latency("test-flush", seconds)
    assert sample(f"{name}_count", backend="test-flush") in (None, 0)
    observer.traffic({}, {}, 0, 0)
    assert sample(f"{name}_bucket", backend="test-flush", le="0.0001") == 1
    assert sample(f"{name}_bucket", backend="test-flush", le="0.00025") == 2
    assert sample(f"{name}_bucket", backend="test-flush", le="+Inf") == 3
    assert sample(f"{name}_sum", backend="test-flush") == 0.00025 + 0.00001 + 1e6
    observer.traffic({}, {}, 0, 0)  # nothing new: nothing counted twice
    assert sample(f"{name}_count", backend="test-flush") == 3
