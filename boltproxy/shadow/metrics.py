"""Prometheus metrics of shadowing, in the proxy's registry."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

from boltproxy.metrics import REGISTRY

_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

OUTCOMES = Counter(
    "boltproxy_shadow_outcomes_total",
    "Mirrored queries by outcome kind (match, mismatch, candidate_error, dropped, timeout, …).",
    ["kind"],
    registry=REGISTRY,
)
QUEUE_DROPS = Counter(
    "boltproxy_shadow_queue_drops_total",
    "Exchanges not compared because the shadow queue was full (also counted as dropped).",
    registry=REGISTRY,
)
QUEUE_ENTRIES = Gauge(
    "boltproxy_shadow_queue_entries",
    "Exchanges waiting for the shadow worker.",
    registry=REGISTRY,
)
WORKER_ERRORS = Counter(
    "boltproxy_shadow_worker_errors_total",
    "Exchanges the shadow worker could not process (a defect; see the log).",
    registry=REGISTRY,
)
LATENCY = Histogram(
    "boltproxy_shadow_query_latency_seconds",
    "Latency of mirrored queries, by role (primary or candidate).",
    ["role"],
    buckets=_BUCKETS,
    registry=REGISTRY,
)
SHED = Counter(
    "boltproxy_shadow_shed_total",
    "Units of work (transactions, auto-commit queries) not mirrored because "
    "shadow.max_concurrent sessions already had the candidate working.",
    registry=REGISTRY,
)
