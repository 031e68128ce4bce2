"""Traffic control's metrics, in the proxy's registry (``boltproxy.metrics.REGISTRY``)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge

from boltproxy.control.state import RoutingState
from boltproxy.metrics import REGISTRY

CHANGES = Counter(
    "boltproxy_control_changes_total",
    "Requested routing changes by action (flip, rollback, weight, drain, ...) and result.",
    ["action", "result"],
    registry=REGISTRY,
)
AUTO_ROLLBACKS = Counter(
    "boltproxy_auto_rollbacks_total",
    "Automatic rollbacks, by the guard that tripped.",
    ["guard"],
    registry=REGISTRY,
)
WEIGHT = Gauge(
    "boltproxy_routing_weight",
    "Share (0 to 100) of client connections whose primary link goes to the backend.",
    ["backend"],
    registry=REGISTRY,
    multiprocess_mode="livemostrecent",  # every worker sets the same
)
PRIMARY = Gauge(
    "boltproxy_routing_primary",
    "1 for the backend that is primary, else 0.",
    ["backend"],
    registry=REGISTRY,
    multiprocess_mode="livemostrecent",  # every worker sets the same
)
DRAINED = Gauge(
    "boltproxy_routing_drained",
    "1 when the backend is drained (no new transactions), else 0.",
    ["backend"],
    registry=REGISTRY,
    multiprocess_mode="livemostrecent",  # every worker sets the same
)
LATCHED = Gauge(
    "boltproxy_routing_auto_rollback_latched",
    "1 after an automatic rollback until an operator acts.",
    registry=REGISTRY,
    multiprocess_mode="livemostrecent",  # every worker sets the same
)


def publish(state: RoutingState) -> None:
    for name in state.backends:
        WEIGHT.labels(backend=name).set(state.weight(name))
        PRIMARY.labels(backend=name).set(1 if name == state.primary else 0)
        DRAINED.labels(backend=name).set(1 if name in state.drained else 0)
    LATCHED.set(1 if state.latched else 0)
