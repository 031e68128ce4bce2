"""Routing decisions: which backend a client session talks to.

This module is the one seam where the proxy asks "where does this go?". Today
the answer is always the configured primary. Flips, rollbacks, weighted
rollout, drains and guards (ROADMAP item 4) change the state held here; the
relay only ever asks :meth:`Router.backend_for_session` at a session's start
and, later, :meth:`Router.backend_at_boundary` at transaction boundaries, so
none of that work needs to touch the relay.
"""

from __future__ import annotations

from dataclasses import dataclass

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

    def backend_for_session(self, info: SessionInfo) -> BackendName:
        """The backend a new client session is relayed to."""
        return self._primary

    def backend_at_boundary(self, info: SessionInfo, current: BackendName) -> BackendName:
        """Where a session sitting at a transaction boundary should continue.

        Returning another backend than ``current`` asks the relay to move the
        session there (re-authenticating with the credentials it holds).
        Until traffic control exists the answer is always ``current``.
        """
        return current
