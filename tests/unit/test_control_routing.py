"""Where the router sends sessions: sticky rollout buckets, flips at boundaries, drains."""

from __future__ import annotations

import itertools

import pytest

from boltproxy.control import state as t
from boltproxy.control.routing import Router, SessionInfo, rollout_bucket


def session(session_id: int) -> SessionInfo:
    return SessionInfo(session_id, f"127.0.0.1:{40000 + session_id}")


def test_rollout_buckets_are_predictable_and_spread_consecutive_sessions() -> None:
    buckets = [rollout_bucket(i) for i in range(1, 1001)]
    assert buckets == [rollout_bucket(i) for i in range(1, 1001)]
    assert set(buckets) == set(range(100))
    # Consecutive sessions do not land in neighbouring buckets.
    assert sum(abs(a - b) <= 1 for a, b in itertools.pairwise(buckets)) < 50


def test_weights_send_that_share_of_sessions_and_each_session_sticks() -> None:
    router = Router("blue", ("green",))
    router.apply(t.set_weights(router.state, {"green": 10}))
    chosen = {i: router.backend_for_session(session(i)) for i in range(1, 2001)}
    on_green = sum(backend == "green" for backend in chosen.values())
    assert 150 <= on_green <= 250  # 10% of 2000, give or take the hash's spread
    # Exactly the sessions whose bucket is in green's range (the last ten) go to green.
    assert all((rollout_bucket(i) >= 90) == (b == "green") for i, b in chosen.items())
    # Sticky: asking again at every boundary gives the same backend.
    assert all(router.backend_at_boundary(session(i), b) == b for i, b in chosen.items())


def test_raising_a_canarys_weight_keeps_its_sessions_on_it() -> None:
    router = Router("blue", ("green",))
    router.apply(t.set_weights(router.state, {"green": 10}))
    before = {i for i in range(1, 1001) if router.backend_for_session(session(i)) == "green"}
    router.apply(t.set_weights(router.state, {"green": 40}))
    after = {i for i in range(1, 1001) if router.backend_for_session(session(i)) == "green"}
    assert before < after


def test_after_a_flip_the_next_transaction_of_every_session_goes_to_the_new_primary() -> None:
    router = Router("blue", ("green",))
    assert router.backend_at_boundary(session(7), "blue") == "blue"
    assert router.apply(t.flip(router.state))
    assert router.primary == "green"
    assert router.candidates == ("blue",)
    assert all(router.backend_at_boundary(session(i), "blue") == "green" for i in range(1, 500))
    assert router.watched() == ("green", "blue")


def test_a_drained_backends_sessions_move_to_the_primary_and_it_is_not_mirrored() -> None:
    router = Router("blue", ("green",))
    router.apply(t.set_weights(router.state, {"green": 50}))
    on_green = next(i for i in range(1, 100) if router.backend_for_session(session(i)) == "green")
    assert router.mirrors("blue") == ("green",)
    router.apply(t.drain(router.state, "green"))
    assert router.backend_at_boundary(session(on_green), "green") == "blue"
    assert router.mirrors("blue") == ()
    # Draining the primary sends everything to the other backend.
    router.apply(t.drain(router.state, "green", drained=False))
    router.apply(t.drain(router.state, "blue"))
    assert {router.backend_for_session(session(i)) for i in range(1, 200)} == {"green"}


def test_older_states_are_ignored_and_listeners_hear_each_change() -> None:
    router = Router("blue", ("green",))
    heard: list[int] = []
    router.add_listener(lambda state: heard.append(state.version))
    flipped = t.flip(router.state)
    assert router.apply(flipped)
    assert not router.apply(flipped)  # the same change heard twice (pub/sub and polling)
    stale = t.set_weights(router.state.__class__.initial("blue", ("blue", "green")), {"green": 5})
    assert not router.apply(stale)  # version 1 again: no newer than what is held
    assert heard == [1]
    assert router.primary == "green"


def test_a_state_for_other_backends_is_refused() -> None:
    router = Router("blue", ())
    other = t.flip(Router("blue", ("green",)).state)
    with pytest.raises(ValueError, match="names backends"):
        router.apply(other)
