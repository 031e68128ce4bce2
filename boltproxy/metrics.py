"""Prometheus metrics, in a registry of their own (tests and embedding stay isolated).

With several worker processes (``boltproxy serve --workers N``) the supervisor
gives them one ``PROMETHEUS_MULTIPROC_DIR``: prometheus-client then keeps each
process's values in files there, and :func:`exposition` adds up every worker's.
Gauges say how: a count of open connections is the sum over the live workers;
a state every worker sets alike (a backend up, the routing) is the latest set.
"""

from __future__ import annotations

import os

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector

MULTIPROCESS_DIR = "PROMETHEUS_MULTIPROC_DIR"

REGISTRY = CollectorRegistry()


def exposition() -> bytes:
    """What ``/metrics`` serves: this process's metrics, or all workers' together."""
    directory = os.environ.get(MULTIPROCESS_DIR)
    if not directory:
        return generate_latest(REGISTRY)
    merged = CollectorRegistry()
    MultiProcessCollector(merged, path=directory)  # type: ignore[no-untyped-call]
    return generate_latest(merged)


OPEN_CONNECTIONS = Gauge(
    "boltproxy_open_connections",
    "Connections open now, by side (client or backend).",
    ["side"],
    multiprocess_mode="livesum",
    registry=REGISTRY,
)
MESSAGES = Counter(
    "boltproxy_messages_total",
    "Bolt messages relayed, by direction and message type.",
    ["direction", "type"],
    registry=REGISTRY,
)
BYTES = Counter(
    "boltproxy_bytes_total",
    "Bytes relayed, by direction.",
    ["direction"],
    registry=REGISTRY,
)
QUERY_LATENCY = Histogram(
    "boltproxy_query_latency_seconds",
    "Time from a RUN sent to the backend to the last summary of its result.",
    ["backend"],
    buckets=(
        0.0001,
        0.00025,
        0.0005,
        0.001,
        0.0025,
        0.005,
        0.01,
        0.025,
        0.05,
        0.1,
        0.25,
        0.5,
        1.0,
        2.5,
        5.0,
        10.0,
        30.0,
        60.0,
    ),
    registry=REGISTRY,
)
ERRORS = Counter(
    "boltproxy_errors_total",
    "Errors by the side that caused them (client, primary, candidate, proxy) and kind.",
    ["side", "kind"],
    registry=REGISTRY,
)
BACKEND_UP = Gauge(
    "boltproxy_backend_up",
    "1 when the backend answered its last handshake, else 0.",
    ["backend"],
    multiprocess_mode="livemostrecent",
    registry=REGISTRY,
)
