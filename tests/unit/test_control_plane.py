"""The control plane with an in-memory store: automatic rollback and its latch."""

from __future__ import annotations

import asyncio

import pytest

from boltproxy import metrics
from boltproxy.control.guards import Trip
from boltproxy.control.plane import ControlPlane
from boltproxy.control.routing import Router, SessionInfo
from boltproxy.control.settings import ControlSettings, GuardSettings
from boltproxy.control.state import Refused
from boltproxy.tasks import running


class Clock:
    def __init__(self) -> None:
        self.now = 50.0

    def __call__(self) -> float:
        return self.now


async def plane(clock: Clock) -> ControlPlane:
    guards = GuardSettings(window_seconds=10, min_samples=10, evaluate_interval=0)
    settings = ControlSettings(guards=guards)
    return await ControlPlane.open(settings, Router("blue", ("green",)), clock=clock)


async def settle() -> None:
    """Let the automatic rollback's task finish (it needs no time, only turns of the loop)."""
    for _ in range(100):
        if not any(task.get_name() == "control-auto-rollback" for task in running()):
            return
        await asyncio.sleep(0)
    raise AssertionError("the automatic rollback did not finish")


def rollbacks(guard: str) -> float:
    value = metrics.REGISTRY.get_sample_value("boltproxy_auto_rollbacks_total", {"guard": guard})
    return value or 0.0


async def test_errors_on_the_new_primary_roll_back_latch_and_count(
    caplog: pytest.LogCaptureFixture,
) -> None:
    clock = Clock()
    control = await plane(clock)
    before = rollbacks("error_rate")
    await control.flip("operator")
    assert control.guards.armed
    for _ in range(10):
        control.guards.observe("green", ok=False, latency=0.01)
    await settle()
    state = control.router.state
    assert (state.primary, state.latched) == ("blue", True)
    assert state.latch_reason is not None and "error rate on green was 1" in state.latch_reason
    assert control.router.backend_at_boundary(SessionInfo(3, "x"), "green") == "blue"
    assert rollbacks("error_rate") == before + 1
    assert "automatic rollback: error rate on green" in caplog.text
    entry = (await control.recent(1))[0]
    assert (entry.who, entry.action, entry.result) == ("guard", "auto-rollback", "ok")
    # Latched: more failures change nothing, and the guards stay disarmed.
    for _ in range(20):
        control.guards.observe("green", ok=False, latency=0.01)
    await settle()
    assert control.router.state.version == state.version
    assert not control.guards.armed
    # Until an operator acts: a rollback acknowledges, a flip re-arms.
    outcome = await control.rollback("operator")
    assert outcome.message.startswith("already rolled back automatically")
    assert not control.router.state.latched
    await control.flip("operator")
    assert control.guards.armed
    await control.close()


async def test_a_trip_judged_on_an_older_state_is_not_acted_on() -> None:
    clock = Clock()
    control = await plane(clock)
    await control.flip("operator")
    armed = control.router.state
    # An operator changes the state while the trip's rollback is on its way.
    await control.weight("operator", {"blue": 50})
    await control._auto_rollback(Trip("error_rate", "green", 1.0, 0.05, 10), armed)
    assert not control.router.state.latched
    await control.close()


async def test_refused_changes_are_audited_and_raise() -> None:
    control = await plane(Clock())
    with pytest.raises(Refused, match="nothing to roll back"):
        await control.rollback("operator")
    entry = (await control.recent(1))[0]
    assert (entry.action, entry.result) == ("rollback", "refused")
    await control.close()


async def test_a_shadow_settings_change_keeps_the_guards_judging_the_same_routing() -> None:
    clock = Clock()
    control = await plane(clock)
    await control.flip("operator")
    for _ in range(9):  # one short of min_samples
        control.guards.observe("green", ok=False, latency=0.01)
    outcome = await control.set_shadow("operator", lambda now: {**now, "sample_rate": 0.5}, {})
    assert outcome.message == "shadow settings set at run time: sample_rate"
    # The failures seen before the change still count: the tenth trips the guard.
    control.guards.observe("green", ok=False, latency=0.01)
    await settle()
    state = control.router.state
    assert (state.primary, state.latched, state.shadow) == ("blue", True, {"sample_rate": 0.5})
    await control.close()


async def test_a_refused_shadow_change_is_audited_and_changes_nothing() -> None:
    control = await plane(Clock())

    def refuse(_now: object) -> dict[str, object]:
        raise ValueError("sample_rate: Input should be less than or equal to 1")

    with pytest.raises(Refused, match="sample_rate"):
        await control.set_shadow("operator", refuse, {"sample_rate": 2})
    assert control.router.state.version == 0
    entry = (await control.recent(1))[0]
    assert (entry.action, entry.result, entry.detail) == ("shadow", "refused", {"sample_rate": 2})
    await control.close()
