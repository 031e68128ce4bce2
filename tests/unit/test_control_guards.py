"""Guards over sliding windows, with a clock the tests move by hand."""

from __future__ import annotations

import pytest

from boltproxy.control.guards import GuardMonitor, Trip, Window
from boltproxy.control.settings import GuardSettings


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def monitor(clock: Clock, trips: list[Trip], **settings: object) -> GuardMonitor:
    defaults: dict[str, object] = {"window_seconds": 10, "min_samples": 20, "evaluate_interval": 0}
    guard = GuardMonitor(GuardSettings(**{**defaults, **settings}), clock, trips.append)
    guard.watch(("green",), "blue")
    return guard


def test_error_rate_over_the_limit_trips_once_and_disarms() -> None:
    clock, trips = Clock(), []
    guard = monitor(clock, trips, max_error_rate=0.1)
    for i in range(19):
        guard.observe("green", ok=i % 2 == 0, latency=0.01)
    assert trips == []  # half failed, but fewer than min_samples: no judgement yet
    guard.observe("green", ok=False, latency=0.01)
    assert [(trip.guard, trip.backend, trip.samples) for trip in trips] == [
        ("error_rate", "green", 20)
    ]
    assert "error rate on green was 0.5" in trips[0].reason
    assert not guard.armed
    guard.observe("green", ok=False, latency=0.01)
    assert len(trips) == 1


def test_failures_on_the_reference_backend_do_not_trip() -> None:
    clock, trips = Clock(), []
    guard = monitor(clock, trips)
    for _ in range(100):
        guard.observe("blue", ok=False, latency=0.01)
        guard.observe("green", ok=True, latency=0.01)
    assert trips == []


def test_old_failures_leave_the_window() -> None:
    clock, trips = Clock(), []
    guard = monitor(clock, trips, max_error_rate=0.2)
    for _ in range(15):
        guard.observe("green", ok=False, latency=0.01)
    clock.now += 12  # the window is 10 s: those failures are gone
    for _ in range(30):
        guard.observe("green", ok=True, latency=0.01)
    assert trips == []
    assert guard.snapshot()["backends"] == {
        "green": {
            "samples": 30,
            "error_rate": 0.0,
            "p95_seconds": pytest.approx(0.01, rel=0.1),
            "p95_ratio": None,
        }
    }


def test_p95_latency_against_the_other_backend_trips() -> None:
    clock, trips = Clock(), []
    guard = monitor(clock, trips, max_p95_latency_ratio=3.0)
    for _ in range(30):
        guard.observe("blue", ok=True, latency=0.010)
    for _ in range(19):
        guard.observe("green", ok=True, latency=0.025)  # 2.5 times slower: within the limit
    assert trips == []
    for _ in range(40):
        guard.observe("green", ok=True, latency=0.100)  # now its p95 is ten times blue's
    assert [trip.guard for trip in trips] == ["p95_latency_ratio"]
    assert trips[0].value == pytest.approx(10, rel=0.2)


def test_latency_is_not_judged_without_enough_samples_of_the_other_backend() -> None:
    clock, trips = Clock(), []
    guard = monitor(clock, trips, max_p95_latency_ratio=2.0)
    for _ in range(5):
        guard.observe("blue", ok=True, latency=0.001)
    for _ in range(100):
        guard.observe("green", ok=True, latency=1.0)
    assert trips == []


def test_shadow_mismatch_rate_trips_when_configured() -> None:
    clock, trips = Clock(), []
    guard = monitor(clock, trips, max_shadow_mismatch_rate=0.25)
    for i in range(40):
        guard.observe_shadow(matched=i % 4 != 3)  # never over 25%
    assert trips == []
    for _ in range(10):
        guard.observe_shadow(matched=False)
    assert [trip.guard for trip in trips] == ["shadow_mismatch_rate"]


def test_nothing_is_judged_when_disarmed_or_disabled() -> None:
    clock, trips = Clock(), []
    guard = monitor(clock, trips, enabled=False)
    for _ in range(100):
        guard.observe("green", ok=False, latency=0.01)
    assert trips == [] and not guard.armed
    guard = monitor(Clock(), trips)
    guard.watch((), None)
    for _ in range(100):
        guard.observe("green", ok=False, latency=0.01)
    assert trips == []


def test_rearming_starts_with_empty_windows() -> None:
    clock, trips = Clock(), []
    guard = monitor(clock, trips, max_error_rate=0.5)
    for _ in range(15):
        guard.observe("green", ok=False, latency=0.01)
    guard.watch(("green",), "blue")
    for _ in range(15):
        guard.observe("green", ok=True, latency=0.01)
    assert trips == []


def test_judgements_are_spaced_by_the_evaluation_interval() -> None:
    clock, trips = Clock(), []
    guard = monitor(clock, trips, evaluate_interval=1.0, max_error_rate=0.1)
    guard.observe("green", ok=True, latency=0.01)  # judged now (too few samples); next in 1 s
    for _ in range(30):
        guard.observe("green", ok=False, latency=0.01)
    assert trips == []
    clock.now += 1.0
    guard.observe("green", ok=False, latency=0.01)
    assert len(trips) == 1


def test_window_quantile_reads_the_histogram() -> None:
    window = Window(10)
    assert window.quantile(0, 0.95) is None
    for i in range(100):
        window.add(0, False, 0.001 * (i + 1))
    assert window.quantile(0, 0.95) == pytest.approx(0.095, rel=0.1)
    assert window.totals(0) == (100, 0)


def test_a_guard_is_turned_off_with_false_or_off() -> None:
    settings = GuardSettings(max_error_rate=False, max_p95_latency_ratio="off")  # type: ignore[arg-type]
    assert (settings.max_error_rate, settings.max_p95_latency_ratio) == (None, None)
    with pytest.raises(ValueError, match="greater than 1"):
        GuardSettings(max_p95_latency_ratio=0.5)
