"""Routing decisions: which backend a client session talks to.

This module is the one place that decides where traffic goes: which backends
are probed, which Bolt versions clients are offered, and which backend each
session's links connect to. Flips, rollbacks, weighted rollout, drains and
guards change the state held here; the relay only asks.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass

from boltproxy.bolt.handshake import KNOWN_VERSIONS
from boltproxy.bolt.messages import Version
from boltproxy.config import BackendName, Settings
from boltproxy.control.state import RoutingState


@dataclass(frozen=True, slots=True)
class SessionInfo:
    """What the router may know about a client session when deciding."""

    session_id: int
    client_address: str


# Rollout shares are whole percentages, so a hundred buckets express every weighting.
ROLLOUT_BUCKETS = 100

StateListener = Callable[[RoutingState], None]


def rollout_bucket(session_id: int) -> int:
    """The rollout bucket (0 to 99) of a session: the same for the session's whole life.

    Fibonacci hashing spreads consecutive session ids over the buckets, so
    that a 10% rollout takes about every tenth connection rather than a run of
    neighbours, yet stays predictable for tests and identical on every replica.
    """
    return ((session_id * 0x9E3779B1) & 0xFFFFFFFF) % ROLLOUT_BUCKETS


def bucket_table(state: RoutingState) -> tuple[BackendName, ...]:
    """The backend of each rollout bucket under ``state``.

    Backends take consecutive bucket ranges in a fixed order, so raising a
    canary's weight only adds buckets to it: a session already on the canary
    stays there. A drained backend's buckets go to the primary (or, if the
    primary is drained, to the first backend that is not).
    """
    fallback = state.primary
    if fallback in state.drained:
        fallback = next(name for name in state.backends if name not in state.drained)
    table: list[BackendName] = []
    for name in state.backends:
        table.extend([fallback if name in state.drained else name] * state.weight(name))
    return tuple(table)


class Router:
    """Holds the routing state and answers where a session's queries go.

    Every answer is a lookup in a table built when the state changes, so the
    relay can ask at each transaction boundary without measurable cost, and a
    change applies to the next transaction of every session at once.
    """

    def __init__(self, primary: BackendName, candidates: tuple[BackendName, ...]) -> None:
        self._listeners: list[StateListener] = []
        self._install(RoutingState.initial(primary, (primary, *candidates)))

    @classmethod
    def from_settings(cls, settings: Settings) -> Router:
        others = tuple(name for name in settings.backends if name != settings.routing.primary)
        return cls(settings.routing.primary, others)

    def _install(self, state: RoutingState) -> None:
        self._state = state
        self._table = bucket_table(state)
        self._candidates = state.others

    @property
    def state(self) -> RoutingState:
        return self._state

    def apply(self, state: RoutingState) -> bool:
        """Adopt ``state`` if it is newer than the one held; True if it was adopted.

        Replicas hear of changes from more than one path (their own write,
        pub/sub, polling); the version makes the order they arrive in harmless.
        """
        if state.version <= self._state.version:
            return False
        if state.backends != self._state.backends:
            raise ValueError(
                f"state names backends {state.backends}, this proxy has {self._state.backends}"
            )
        self._install(state)
        for listener in list(self._listeners):
            listener(state)
        return True

    def reset(self, state: RoutingState) -> None:
        """Adopt ``state`` whatever its version (restoring at start)."""
        self._install(state)
        for listener in list(self._listeners):
            listener(state)

    def add_listener(self, listener: StateListener) -> None:
        """Call ``listener(state)`` after every change (on the event loop, synchronously)."""
        self._listeners.append(listener)

    def remove_listener(self, listener: StateListener) -> None:
        self._listeners.remove(listener)

    @property
    def primary(self) -> BackendName:
        return self._state.primary

    @property
    def candidates(self) -> tuple[BackendName, ...]:
        """Backends that are configured but not primary (shadow targets, flip targets)."""
        return self._candidates

    def watched(self) -> tuple[BackendName, ...]:
        """Backends whose health and versions the proxy keeps checking."""
        return (self._state.primary, *self._candidates)

    def backend_for_session(self, info: SessionInfo) -> BackendName:
        """The backend a new client session's primary link connects to.

        Sticky per connection: the session's rollout bucket picks the backend,
        so it keeps the same one for as long as the weights stay the same.
        """
        return self._table[rollout_bucket(info.session_id)]

    def backend_at_boundary(self, info: SessionInfo, current: BackendName) -> BackendName:
        """Where the session's next transaction (or auto-commit query) goes.

        Asked between transactions, never inside one: an open transaction
        finishes where it began. After a flip, a rollback, a weight change that
        moves the session's bucket, or a drain of ``current``, the answer
        differs from ``current`` and the relay moves the session's primary
        link; otherwise it is ``current``.
        """
        return self.session_route(info)(current)

    def session_route(self, info: SessionInfo) -> Callable[[BackendName], BackendName]:
        """:meth:`backend_at_boundary` for one session, as its relay asks it.

        Asked before every auto-commit query: one call, with the session's bucket
        computed once, rather than three per query.
        """
        bucket = rollout_bucket(info.session_id)

        def route(current: BackendName) -> BackendName:
            return self._table[bucket]

        return route

    def mirrors(self, primary: BackendName) -> tuple[BackendName, ...]:
        """Backends that shadow a session whose primary link is ``primary``."""
        drained = self._state.drained
        return tuple(n for n in self._state.backends if n != primary and n not in drained)

    def mirror_for_session(self, info: SessionInfo, primary: BackendName) -> BackendName | None:
        """The candidate a session is mirrored to, if any (drained backends are not)."""
        mirrors = self.mirrors(primary)
        return mirrors[0] if mirrors else None

    def relayable_versions(
        self, known: Mapping[BackendName, Collection[Version] | None]
    ) -> frozenset[Version]:
        """Versions a client may settle on: what every reachable backend speaks.

        Every backend must speak the session's version so that a session can be
        mirrored to, or moved to, any of them. The primary's own handshake
        still has the last word; with nothing known (all down) every version
        boltproxy relays is allowed, and the primary's handshake decides.
        """
        ordered = [known.get(name) for name in self.watched()]
        sets = [frozenset(versions) for versions in ordered if versions]
        relayable = frozenset(KNOWN_VERSIONS)
        if not sets:
            return relayable
        common = frozenset.intersection(*sets)
        return relayable & (common if common else sets[0])
