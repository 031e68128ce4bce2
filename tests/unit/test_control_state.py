"""Routing state transitions: what operators may do, and the refusals they get otherwise."""

from __future__ import annotations

import json

import pytest

from boltproxy.control import state as t
from boltproxy.control.state import Refused, RoutingState, StateFormatError

BOTH = ("blue", "green")


def fresh(primary: str = "blue") -> RoutingState:
    return RoutingState.initial(primary, BOTH)  # type: ignore[arg-type]


def test_initial_state_gives_the_primary_all_traffic_and_guards_nothing() -> None:
    state = fresh()
    assert (state.primary, state.weight("blue"), state.weight("green")) == ("blue", 100, 0)
    assert state.rollback_target() is None
    assert state.guarded() == ()


def test_flip_moves_all_traffic_and_remembers_where_it_came_from() -> None:
    flipped = t.flip(fresh())
    assert (flipped.primary, flipped.previous) == ("green", "blue")
    assert (flipped.weight("blue"), flipped.weight("green")) == (0, 100)
    assert flipped.version == 1
    # After a flip the new primary is judged; a rollback would go back to blue.
    assert flipped.guarded() == ("green",)
    assert flipped.rollback_target() == "blue"


def test_rollback_returns_to_the_previous_primary_once_and_does_not_toggle() -> None:
    back = t.rollback(t.flip(fresh()))
    assert (back.primary, back.previous, back.weight("blue")) == ("blue", None, 100)
    with pytest.raises(Refused, match="nothing to roll back"):
        t.rollback(back)


def test_rollback_of_a_fresh_state_is_refused() -> None:
    with pytest.raises(Refused, match="nothing to roll back: blue has all traffic"):
        t.rollback(fresh())


def test_weight_names_one_backend_and_the_other_takes_the_rest() -> None:
    state = t.set_weights(fresh(), {"green": 10})
    assert (state.weight("blue"), state.weight("green"), state.primary) == (90, 10, "blue")
    assert state.split
    # During a rollout the canary is guarded and a rollback undoes the rollout.
    assert state.guarded() == ("green",)
    assert state.rollback_target() == "blue"
    undone = t.rollback(state)
    assert (undone.weight("blue"), undone.weight("green"), undone.primary) == (100, 0, "blue")


def test_a_rollout_at_100_percent_completes_as_a_flip() -> None:
    state = t.set_weights(t.set_weights(fresh(), {"green": 50}), {"green": 100})
    assert (state.primary, state.previous, state.split) == ("green", "blue", False)


@pytest.mark.parametrize(
    ("weights", "message"),
    [
        ({}, "name at least one backend"),
        ({"purple": 10}, "unknown backend 'purple'; configured: blue, green"),
        ({"green": 101}, "from 0 to 100, not 101"),
        ({"green": -1}, "from 0 to 100, not -1"),
        ({"green": 2.5}, "whole number"),
        ({"green": True}, "whole number"),
        ({"green": 60, "blue": 60}, "must add up to 100 \\(they add up to 120\\)"),
        ({"green": 0}, "already blue=100, green=0"),
    ],
)
def test_bad_weights_are_refused_with_a_reason(weights: dict[str, int], message: str) -> None:
    with pytest.raises(Refused, match=message):
        t.set_weights(fresh(), weights)


def test_both_weights_given_must_add_up_to_100() -> None:
    state = t.set_weights(fresh(), {"green": 30, "blue": 70})
    assert state.weight("green") == 30


def test_drain_refuses_to_leave_nothing_and_flip_refuses_a_drained_target() -> None:
    drained = t.drain(fresh(), "green")
    assert drained.drained == {"green"}
    with pytest.raises(Refused, match="green is drained; undrain it"):
        t.flip(drained)
    with pytest.raises(Refused, match="green is drained"):
        t.set_weights(drained, {"green": 10})
    with pytest.raises(Refused, match="would leave no backend"):
        t.drain(drained, "blue")
    with pytest.raises(Refused, match="already drained"):
        t.drain(drained, "green")
    assert t.drain(drained, "green", drained=False).drained == frozenset()
    with pytest.raises(Refused, match="not drained"):
        t.drain(fresh(), "green", drained=False)


def test_flip_with_one_backend_configured_is_refused() -> None:
    alone = RoutingState.initial("blue", ("blue",))
    with pytest.raises(Refused, match="exactly one other backend; configured: blue"):
        t.flip(alone)
    with pytest.raises(Refused, match="unknown backend 'green'"):
        t.set_weights(alone, {"green": 10})


def test_auto_rollback_latches_until_an_operator_acts() -> None:
    latched = t.auto_rollback(t.flip(fresh()), "error rate on green was 0.5")
    assert (latched.primary, latched.latched, latched.latch_reason) == (
        "blue",
        True,
        "error rate on green was 0.5",
    )
    assert latched.guarded() == ()
    # An operator's rollback acknowledges; a flip clears the latch too.
    acknowledged = t.rollback(latched)
    assert (acknowledged.primary, acknowledged.latched) == ("blue", False)
    assert not t.flip(latched).latched


def test_state_round_trips_through_json_and_rejects_damage() -> None:
    state = t.set_weights(fresh(), {"green": 25})
    assert RoutingState.loads(state.dumps()) == state
    good = json.loads(state.dumps())
    for damage, message in [
        ("{", "not JSON"),
        ("[]", "not a JSON object"),
        (json.dumps({**good, "format": 99}), "format 99"),
        (json.dumps({**good, "primary": "red"}), "unknown backend 'red'"),
        (json.dumps({**good, "weights": {"blue": 50, "green": 10}}), "add up to 100"),
        (json.dumps({k: v for k, v in good.items() if k != "drained"}), "missing key 'drained'"),
        (json.dumps({**good, "weights": {"blue": "x", "green": 0}}), "whole number"),
        (json.dumps({**good, "shadow": ["mode", "all"]}), "shadow must be a JSON object"),
    ]:
        with pytest.raises(StateFormatError, match=message):
            RoutingState.loads(damage)


def test_shadow_settings_ride_in_the_state_without_touching_the_routing() -> None:
    rollout = t.set_weights(t.flip(fresh()), {"blue": 10})
    changed = t.set_shadow(rollout, {"sample_rate": 0.5})
    assert changed.shadow == {"sample_rate": 0.5}
    # A new version, so that every worker and replica adopts it (and orders it).
    assert changed.version == rollout.version + 1
    assert changed.same_routing(rollout) and not changed.same_routing(t.rollback(rollout))
    assert (changed.primary, changed.weight("blue"), changed.previous) == ("green", 10, "blue")
    # Stored and restored with the routing, like a flip.
    assert RoutingState.loads(changed.dumps()) == changed
    # The same overrides again change nothing: no new version to spread.
    assert t.set_shadow(changed, {"sample_rate": 0.5}) is changed
    # Routing changes keep the shadow settings.
    assert t.flip(changed).shadow == {"sample_rate": 0.5}
    assert t.drain(changed, "blue").shadow == {"sample_rate": 0.5}


def test_a_state_stored_before_shadow_settings_were_kept_still_loads() -> None:
    stored = json.loads(t.flip(fresh()).dumps())
    del stored["shadow"]
    state = RoutingState.loads(json.dumps(stored))
    assert (state.primary, state.shadow) == ("green", {})
