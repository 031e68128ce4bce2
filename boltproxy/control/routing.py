"""Routing decisions: which backend a client session talks to.

This module is the one place that decides where traffic goes: which backends
are probed, which Bolt versions clients are offered, and which backend each
session's links connect to. Flips, rollbacks, weighted rollout, drains and
guards change the state held here; the relay only asks.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass

from boltproxy.bolt.handshake import KNOWN_VERSIONS
from boltproxy.bolt.messages import Version
from boltproxy.config import BackendName, Settings


@dataclass(frozen=True, slots=True)
class SessionInfo:
    """What the router may know about a client session when deciding."""

    session_id: int
    client_address: str


class Router:
    """Holds the routing state and answers where a session's queries go."""

    def __init__(self, primary: BackendName, candidates: tuple[BackendName, ...]) -> None:
        self._primary = primary
        self._candidates = candidates

    @classmethod
    def from_settings(cls, settings: Settings) -> Router:
        others = tuple(name for name in settings.backends if name != settings.routing.primary)
        return cls(settings.routing.primary, others)

    @property
    def primary(self) -> BackendName:
        return self._primary

    @property
    def candidates(self) -> tuple[BackendName, ...]:
        """Backends that are configured but not primary (shadow targets, flip targets)."""
        return self._candidates

    def watched(self) -> tuple[BackendName, ...]:
        """Backends whose health and versions the proxy keeps checking."""
        return (self._primary, *self._candidates)

    def backend_for_session(self, info: SessionInfo) -> BackendName:
        """The backend a new client session's primary link connects to."""
        return self._primary

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
