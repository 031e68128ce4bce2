"""Shadow settings changed at run time: what the control state carries, what each proxy applies."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from boltproxy.control import state as transitions
from boltproxy.control.state import RoutingState
from boltproxy.shadow.settings import ShadowSettings, in_force, revised


def configured(**changes: object) -> ShadowSettings:
    settings = {
        "mode": "reads",
        "store": "/var/lib/boltproxy/shadow.worker-0.sqlite",
        "noise": {"runs_per_shape": 5, "user": "shadow", "password": "worker-secret"},
        **changes,
    }
    return ShadowSettings.model_validate(settings)


def test_changes_become_canonical_overrides_over_the_configuration() -> None:
    overrides = revised({}, {"sample_rate": 1, "exclude": [{"database": "system"}]}, configured())
    # Canonical JSON: the same settings asked for twice are the same overrides.
    assert overrides == {
        "sample_rate": 1.0,
        "exclude": [{"shape": None, "database": "system", "user": None}],
    }
    settings = in_force(configured(), overrides)
    assert (settings.mode, settings.sample_rate, settings.exclude[0].database) == (
        "reads",
        1.0,
        "system",
    )


def test_later_changes_merge_into_earlier_ones_and_noise_merges_key_by_key() -> None:
    first = revised({}, {"sample_rate": 0.5, "noise": {"sample_rate": 0.1}}, configured())
    second = revised(first, {"mode": "all", "noise": {"confirmations": 3}}, configured())
    assert second == {
        "sample_rate": 0.5,
        "mode": "all",
        "noise": {"sample_rate": 0.1, "confirmations": 3},
    }
    # What the operator did not change stays as configured (runs_per_shape 5).
    noise = in_force(configured(), second).noise
    assert (noise.sample_rate, noise.confirmations, noise.runs_per_shape) == (0.1, 3, 5)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"sample_rate": 2}, "sample_rate: Input should be less than or equal to 1"),
        ({"mode": "everything"}, "mode: Input should be 'off', 'reads' or 'all'"),
        ({"colour": "blue"}, "colour: Extra inputs are not permitted"),
        ({"store": "/tmp/elsewhere.sqlite"}, "store cannot change at run time"),
        ({"capture": "/tmp/capture.jsonl"}, "capture cannot change at run time"),
        ({"noise": {"password": "guess"}}, "noise.password cannot change at run time"),
        ({"noise": {"user": "root"}}, "noise.user cannot change at run time"),
    ],
)
def test_refusals_name_the_key_and_the_rule_never_the_value(
    changes: dict[str, object], message: str
) -> None:
    with pytest.raises(ValueError, match="^" + message.replace("(", r"\(")) as caught:
        revised({}, changes, configured())
    assert "guess" not in str(caught.value) and "root" not in str(caught.value)


def test_settings_as_get_shows_them_can_be_posted_back_with_one_change() -> None:
    # A read-modify-write: start-only keys come back unchanged, the password masked.
    shown = configured().model_dump(mode="json")
    assert shown["noise"]["password"] == "**********"
    overrides = revised({}, {**shown, "sample_rate": 0.25}, configured())
    assert overrides["sample_rate"] == 0.25
    assert "store" not in overrides and "capture" not in overrides
    assert set(overrides["noise"]) == {"sample_rate", "runs_per_shape", "confirmations"}


def test_the_control_state_never_holds_a_secret_and_each_proxy_keeps_its_own() -> None:
    overrides = revised({}, {**configured().model_dump(mode="json"), "mode": "all"}, configured())
    state = transitions.set_shadow(RoutingState.initial("blue", ("blue", "green")), overrides)
    stored = state.dumps()
    assert "worker-secret" not in stored and "**********" not in stored
    assert "shadow.worker-0" not in stored
    # Another worker applies the stored settings over its own configuration.
    other = configured(
        store="/var/lib/boltproxy/shadow.worker-1.sqlite",
        noise={"user": "shadow", "password": "worker-secret"},
    )
    applied = in_force(other, RoutingState.loads(stored).shadow)
    assert applied.mode == "all"
    assert applied.store == Path("/var/lib/boltproxy/shadow.worker-1.sqlite")
    assert applied.noise.password is not None
    assert applied.noise.password.get_secret_value() == "worker-secret"


def test_start_only_keys_in_a_hand_edited_state_are_ignored() -> None:
    stored = {"store": "/tmp/x.sqlite", "noise": {"password": "planted", "sample_rate": 0.5}}
    applied = in_force(configured(), json.loads(json.dumps(stored)))
    assert applied.store == configured().store
    assert applied.noise.password is not None
    assert applied.noise.password.get_secret_value() == "worker-secret"
    assert applied.noise.sample_rate == 0.5
