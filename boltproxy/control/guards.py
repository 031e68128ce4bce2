"""Guards: judge the traffic of a newly routed backend and call for a rollback.

The relay reports every query's outcome (:meth:`GuardMonitor.observe`) and the
shadow comparer every comparison (:meth:`GuardMonitor.observe_shadow`). The
monitor keeps them in sliding windows and, when a configured threshold is
crossed on a guarded backend, calls ``on_trip`` once and disarms until the
control plane arms it again for the next routing state.

Windows are kept as time slices of counts and a latency histogram, so an
observation costs a few additions whatever the traffic, and the p95 is read
from the histogram (to within one bucket, 10%) rather than by sorting samples.
Time comes from an injected clock: tests move it by hand.
"""

from __future__ import annotations

import bisect
import logging
import math
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from boltproxy.config import BackendName
from boltproxy.control.settings import GuardSettings

log = logging.getLogger("boltproxy.control.guards")

Clock = Callable[[], float]

# Latency buckets: 10 µs to about 100 s, each 10% wider than the one before.
_GROWTH = 1.1
LATENCY_BOUNDS: tuple[float, ...] = tuple(
    1e-5 * _GROWTH**i for i in range(int(math.log(1e7) / math.log(_GROWTH)) + 2)
)
# A window is this many slices; the oldest slice leaves whole.
_SLICES = 10


@dataclass(frozen=True, slots=True)
class Trip:
    """Why a guard called for a rollback."""

    guard: str  # "error_rate", "p95_latency_ratio" or "shadow_mismatch_rate"
    backend: BackendName | None  # None for the shadow guard (it judges the pair)
    value: float
    threshold: float
    samples: int

    @property
    def reason(self) -> str:
        where = f" on {self.backend}" if self.backend else ""
        return (
            f"{self.guard.replace('_', ' ')}{where} was {self.value:.3g}, over the limit of"
            f" {self.threshold:.3g} ({self.samples} samples in the window)"
        )


class _Slice:
    __slots__ = ("count", "failures", "histogram", "start")

    def __init__(self, start: float, with_latency: bool) -> None:
        self.start = start
        self.count = 0
        self.failures = 0
        self.histogram = [0] * (len(LATENCY_BOUNDS) + 1) if with_latency else []


class Window:
    """Counts, failures and latencies of the last ``seconds``, in slices."""

    def __init__(self, seconds: float, with_latency: bool = True) -> None:
        self._width = seconds / _SLICES
        self._seconds = seconds
        self._with_latency = with_latency
        self._slices: deque[_Slice] = deque()

    def add(self, now: float, failed: bool, latency: float | None = None) -> None:
        slices = self._slices
        if not slices or now >= slices[-1].start + self._width:
            # Old slices leave when a new one starts (and whenever the window is
            # read): once per slice, not per query on the relay path.
            self._expire(now)
            slices.append(_Slice(now, self._with_latency))
        current = slices[-1]
        current.count += 1
        current.failures += failed
        if self._with_latency and latency is not None:
            current.histogram[bisect.bisect_left(LATENCY_BOUNDS, latency)] += 1

    def _expire(self, now: float) -> None:
        while self._slices and self._slices[0].start + self._width <= now - self._seconds:
            self._slices.popleft()

    def totals(self, now: float) -> tuple[int, int]:
        """(observations, failures) in the window."""
        self._expire(now)
        return sum(s.count for s in self._slices), sum(s.failures for s in self._slices)

    def quantile(self, now: float, q: float) -> float | None:
        """The upper bound of the bucket holding the ``q`` quantile of latencies."""
        self._expire(now)
        merged = [sum(column) for column in zip(*(s.histogram for s in self._slices), strict=True)]
        total = sum(merged)
        if total == 0:
            return None
        rank = math.ceil(q * total)
        seen = 0
        for index, count in enumerate(merged):
            seen += count
            if seen >= rank:
                return LATENCY_BOUNDS[min(index, len(LATENCY_BOUNDS) - 1)]
        return LATENCY_BOUNDS[-1]


class GuardMonitor:
    """Sliding-window guards over the guarded backends; see the module docstring."""

    def __init__(
        self,
        settings: GuardSettings,
        clock: Clock = time.monotonic,
        on_trip: Callable[[Trip], None] | None = None,
    ) -> None:
        self.settings = settings
        self._clock = clock
        self.on_trip = on_trip
        self._guarded: tuple[BackendName, ...] = ()
        self._reference: BackendName | None = None
        self._windows: dict[BackendName, Window] = {}
        self._shadow = Window(settings.window_seconds, with_latency=False)
        self._next_evaluation = 0.0
        self.last_trip: Trip | None = None

    # --- arming ---------------------------------------------------------------

    def watch(self, guarded: tuple[BackendName, ...], reference: BackendName | None) -> None:
        """Judge ``guarded`` against ``reference`` from now on, with empty windows.

        Observations made under an earlier routing state say nothing about the
        new one (a flipped-away backend's errors must not trip the guard of
        the backend that replaced it), so every change starts afresh.
        """
        self._guarded = guarded if self.settings.enabled else ()
        self._reference = reference
        self._windows.clear()
        self._shadow = Window(self.settings.window_seconds, with_latency=False)

    @property
    def armed(self) -> bool:
        return bool(self._guarded)

    # --- observations (the relay's hot path) -----------------------------------

    def observe(self, backend: BackendName, ok: bool, latency: float) -> None:
        """One query's outcome on ``backend``: ``ok`` False when the backend failed it.

        Count failures the backend caused (database errors, lost connections),
        not the client's own mistakes, which fail on every version alike.
        """
        window = self._windows.get(backend)
        if window is None:
            window = self._windows[backend] = Window(self.settings.window_seconds)
        now = self._clock()
        window.add(now, not ok, latency)
        if self._guarded and now >= self._next_evaluation:
            self._maybe_evaluate(now)

    def observe_shadow(self, matched: bool) -> None:
        """One shadow comparison: did the candidate's result match the primary's?"""
        now = self._clock()
        self._shadow.add(now, not matched)
        self._maybe_evaluate(now)

    def _maybe_evaluate(self, now: float) -> None:
        if self._guarded and now >= self._next_evaluation:
            self._next_evaluation = now + self.settings.evaluate_interval
            self.evaluate()

    # --- judgement ------------------------------------------------------------

    def evaluate(self) -> Trip | None:
        """Judge the windows now; on a trip, disarm and call ``on_trip``."""
        if not self._guarded:
            return None
        trip = self._judge(self._clock())
        if trip is not None:
            self._guarded = ()
            self.last_trip = trip
            log.warning("guard tripped: %s", trip.reason)
            if self.on_trip is not None:
                self.on_trip(trip)
        return trip

    def _judge(self, now: float) -> Trip | None:
        s = self.settings
        for backend in self._guarded:
            window = self._windows.get(backend)
            if window is None:
                continue
            count, failures = window.totals(now)
            if count < s.min_samples:
                continue
            if s.max_error_rate is not None and failures / count > s.max_error_rate:
                return Trip("error_rate", backend, failures / count, s.max_error_rate, count)
            ratio = self._latency_ratio(backend, now)
            if s.max_p95_latency_ratio is not None and ratio and ratio > s.max_p95_latency_ratio:
                return Trip("p95_latency_ratio", backend, ratio, s.max_p95_latency_ratio, count)
        if s.max_shadow_mismatch_rate is not None:
            count, mismatches = self._shadow.totals(now)
            if count >= s.min_samples and mismatches / count > s.max_shadow_mismatch_rate:
                rate = mismatches / count
                return Trip("shadow_mismatch_rate", None, rate, s.max_shadow_mismatch_rate, count)
        return None

    def _latency_ratio(self, backend: BackendName, now: float) -> float | None:
        """p95 of ``backend`` over the reference's p95, when both have enough samples."""
        if self._reference is None:
            return None
        mine, theirs = self._windows.get(backend), self._windows.get(self._reference)
        if mine is None or theirs is None or theirs.totals(now)[0] < self.settings.min_samples:
            return None
        ours, reference = mine.quantile(now, 0.95), theirs.quantile(now, 0.95)
        if ours is None or reference is None:
            return None
        return ours / reference

    # --- reporting --------------------------------------------------------------

    def snapshot(self) -> dict[str, object]:
        """What the status page and ``GET /status`` show about the guards."""
        now = self._clock()
        backends: dict[str, object] = {}
        for name, window in sorted(self._windows.items()):
            count, failures = window.totals(now)
            p95 = window.quantile(now, 0.95)
            backends[name] = {
                "samples": count,
                "error_rate": failures / count if count else None,
                "p95_seconds": p95,
                "p95_ratio": self._latency_ratio(name, now) if name in self._guarded else None,
            }
        shadow_count, mismatches = self._shadow.totals(now)
        s = self.settings
        return {
            "enabled": s.enabled,
            "armed": self.armed,
            "guarded": list(self._guarded),
            "reference": self._reference,
            "window_seconds": s.window_seconds,
            "min_samples": s.min_samples,
            "thresholds": {
                "error_rate": s.max_error_rate,
                "p95_latency_ratio": s.max_p95_latency_ratio,
                "shadow_mismatch_rate": s.max_shadow_mismatch_rate,
            },
            "backends": backends,
            "shadow": {
                "samples": shadow_count,
                "mismatch_rate": mismatches / shadow_count if shadow_count else None,
            },
            "last_trip": self.last_trip.reason if self.last_trip else None,
        }
