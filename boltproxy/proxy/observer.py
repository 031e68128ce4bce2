"""Where a session's observations go: log lines and metrics, kept out of the session.

The session is sans-I/O and free of globals; it reports what happened to an
observer. Production uses :class:`MetricsObserver` (Prometheus and the log, with
a per-connection prefix); tests pass one that records.
"""

from __future__ import annotations

import logging
from bisect import bisect_left
from typing import Any, Protocol

from boltproxy import metrics
from boltproxy.bolt.messages import Tag
from boltproxy.config import BackendName
from boltproxy.control.guards import GuardMonitor

log = logging.getLogger("boltproxy.session")

TAG_NAMES = {int(tag): tag.name for tag in Tag}


class SessionObserver(Protocol):
    def error(self, side: str, kind: str, message: str) -> None:
        """Something broke: ``side`` is client (bad input), primary, candidate or proxy."""

    def notice(self, message: str) -> None:
        """Worth a line in the log, not an error (a backend closing an idle connection)."""

    def server_failure(self, side: str, kind: str, backend: BackendName) -> None:
        """``backend`` answered a request with FAILURE (relayed as is)."""

    def query_latency(self, backend: BackendName, seconds: float) -> None: ...

    def traffic(
        self, client: dict[int, int], server: dict[int, int], bytes_in: int, bytes_out: int
    ) -> None:
        """Message counts per tag and byte counts since the last call."""

    def debug(self, direction: str, tag: int, note: str = "") -> None: ...

    @property
    def debugging(self) -> bool: ...


def _message_counters(direction: str) -> dict[int, Any]:
    # Resolved once: a labels() lookup per message would cost more than the relay.
    return {
        tag: metrics.MESSAGES.labels(direction=direction, type=name)
        for tag, name in TAG_NAMES.items()
    }


_CLIENT_MESSAGES = _message_counters("client_to_server")
_SERVER_MESSAGES = _message_counters("server_to_client")
_BYTES_IN = metrics.BYTES.labels(direction="client_to_server")
_BYTES_OUT = metrics.BYTES.labels(direction="server_to_client")


class _Latencies:
    """One backend's query latencies since the last flush, counted per histogram bucket.

    A Prometheus observation costs a Python loop over the buckets and two locked
    increments; counted here, a query costs one bisection, and the histogram gets
    the sums once per traffic flush (at most a second later, and at the session's end).
    """

    __slots__ = ("bounds", "counts", "histogram", "total")

    def __init__(self, histogram: Any) -> None:
        self.histogram = histogram
        # The histogram's own bounds (+Inf last): a query lands in the bucket that
        # Histogram.observe would put it in, the first bound not below it.
        self.bounds: list[float] = histogram._upper_bounds
        self.counts = [0] * len(self.bounds)
        self.total = 0.0

    def flush(self) -> None:
        buckets = self.histogram._buckets
        for index, count in enumerate(self.counts):
            if count:
                buckets[index].inc(count)
                self.counts[index] = 0
        self.histogram._sum.inc(self.total)
        self.total = 0.0


class MetricsObserver:
    """Prometheus counters and the log, every line prefixed with the connection."""

    __slots__ = ("_guards", "_latency", "debugging", "prefix")

    def __init__(self, prefix: str = "", guards: GuardMonitor | None = None) -> None:
        self.prefix = prefix
        # Read per message on the relay path: settled once per connection, not
        # asked of the logging module each time.
        self.debugging = log.isEnabledFor(logging.DEBUG)
        self._latency: dict[str, _Latencies] = {}
        # Traffic control's guards judge each backend by what its queries do.
        self._guards = guards

    def error(self, side: str, kind: str, message: str) -> None:
        metrics.ERRORS.labels(side=side, kind=kind).inc()
        log.warning("%s%s error (%s): %s", self.prefix, side, kind, message)

    def notice(self, message: str) -> None:
        log.info("%s%s", self.prefix, message)

    def server_failure(self, side: str, kind: str, backend: BackendName) -> None:
        metrics.ERRORS.labels(side=side, kind=kind).inc()
        if self._guards is not None and side == "primary":
            self._guards.observe(backend, False, 0.0)

    def query_latency(self, backend: BackendName, seconds: float) -> None:
        latencies = self._latency.get(backend)
        if latencies is None:
            histogram = metrics.QUERY_LATENCY.labels(backend=backend)
            latencies = self._latency[backend] = _Latencies(histogram)
        latencies.counts[bisect_left(latencies.bounds, seconds)] += 1
        latencies.total += seconds
        if self._guards is not None:
            self._guards.observe(backend, True, seconds)

    def traffic(
        self, client: dict[int, int], server: dict[int, int], bytes_in: int, bytes_out: int
    ) -> None:
        for counts, counters in ((client, _CLIENT_MESSAGES), (server, _SERVER_MESSAGES)):
            for tag, count in counts.items():
                counter = counters.get(tag)
                if counter is not None:
                    counter.inc(count)
        if bytes_in:
            _BYTES_IN.inc(bytes_in)
        if bytes_out:
            _BYTES_OUT.inc(bytes_out)
        for latencies in self._latency.values():
            latencies.flush()

    def debug(self, direction: str, tag: int, note: str = "") -> None:
        name = TAG_NAMES.get(tag, hex(tag))
        log.debug("%s%s: %s%s", self.prefix, direction, name, f" {note}" if note else "")
