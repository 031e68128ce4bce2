"""The routing state and its transitions, as pure functions.

A :class:`RoutingState` is immutable. Every operator action (flip, rollback,
weight, drain, shadow settings) and the guards' automatic rollback is a function
from one state to the next that either returns the new state or raises
:class:`Refused` with a sentence an operator can act on. Nothing here does I/O,
so the rules are tested without a proxy, a file or Redis, and the same rules
hold on every replica.

The state also carries the shadow settings changed at run time (``POST
/shadow``): riding in the same document, they are persisted, restored, shared
between workers and replicas, and ordered by the same version as a flip. They
are kept as the operator's overrides (canonical JSON) over each proxy's own
``[shadow]`` configuration; the shadow area interprets them, not this module.

Weights are the share (0 to 100) of client connections whose primary link goes to
each backend; they always add up to 100 over the configured backends. After a
flip or rollback the primary has all of it. A rollout that gives one backend
100 completes: that backend becomes the primary, as if flipped.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any, cast

from boltproxy.config import BACKEND_NAMES, BackendName

FORMAT = 1  # bump when the stored shape changes incompatibly


class Refused(Exception):
    """The change was not made; the message says why and what to do instead."""


class StateFormatError(ValueError):
    """A stored routing state cannot be read (corrupt, foreign or from the future)."""


@dataclass(frozen=True, slots=True)
class RoutingState:
    backends: tuple[BackendName, ...]
    primary: BackendName
    previous: BackendName | None = None
    # Missing backends have weight 0; see ``initial`` for the usual shape.
    weights: Mapping[BackendName, int] = field(default_factory=dict)
    drained: frozenset[BackendName] = frozenset()
    latched: bool = False
    latch_reason: str | None = None
    version: int = 0
    # Shadow settings changed at run time: the keys changed and their values (JSON).
    # Never a secret: each proxy keeps the noise login of its own configuration.
    shadow: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def initial(cls, primary: BackendName, backends: tuple[BackendName, ...]) -> RoutingState:
        ordered = _ordered(backends)
        if primary not in ordered:
            raise ValueError(f"primary {primary!r} is not among the backends {ordered}")
        return cls(backends=ordered, primary=primary, weights=_all_to(primary, ordered))

    def weight(self, name: BackendName) -> int:
        return self.weights.get(name, 0)

    def same_routing(self, other: RoutingState) -> bool:
        """Whether ``other`` routes traffic as this state does (shadow settings aside)."""
        return replace(other, version=self.version, shadow=self.shadow) == self

    @property
    def split(self) -> bool:
        """Whether a rollout is in progress: a backend other than the primary has a share."""
        return any(self.weight(name) > 0 for name in self.backends if name != self.primary)

    @property
    def others(self) -> tuple[BackendName, ...]:
        return tuple(name for name in self.backends if name != self.primary)

    # --- what the guards watch ----------------------------------------------

    def rollback_target(self) -> BackendName | None:
        """Where a rollback would send all traffic, or None if there is nowhere."""
        if self.split:
            return self.primary
        if self.previous is not None and self.previous != self.primary:
            return self.previous
        return None

    def guarded(self) -> tuple[BackendName, ...]:
        """Backends whose failures trigger an automatic rollback.

        The backends taking traffic that a rollback would take away from them:
        during a rollout the canaries, after a flip the new primary. Before any
        change there is nothing to roll back to, so nothing is guarded.
        """
        if self.latched:
            return ()
        target = self.rollback_target()
        if target is None:
            return ()
        return tuple(
            name
            for name in self.backends
            if name != target and (self.weight(name) > 0 or name == self.primary)
        )

    # --- serialisation --------------------------------------------------------

    def to_json(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "version": self.version,
            "backends": list(self.backends),
            "primary": self.primary,
            "previous": self.previous,
            "weights": {name: self.weight(name) for name in self.backends},
            "drained": sorted(self.drained),
            "latched": self.latched,
            "latch_reason": self.latch_reason,
            "shadow": dict(self.shadow),
        }

    def dumps(self) -> str:
        return json.dumps(self.to_json(), sort_keys=True)

    @classmethod
    def from_json(cls, data: Any) -> RoutingState:
        """Read a stored state; any defect raises :class:`StateFormatError` naming it."""
        if not isinstance(data, dict):
            raise StateFormatError("not a JSON object")
        if data.get("format") != FORMAT:
            raise StateFormatError(f"format {data.get('format')!r} is not {FORMAT}")
        try:
            backends = _ordered(tuple(_backend(name) for name in data["backends"]))
            primary = _backend(data["primary"])
            previous = None if data["previous"] is None else _backend(data["previous"])
            weights = {_backend(k): _percent(v) for k, v in dict(data["weights"]).items()}
            drained = frozenset(_backend(name) for name in data["drained"])
            latched = data["latched"]
            reason = data["latch_reason"]
            version = data["version"]
            # Absent from states written before shadow settings were kept here.
            shadow = data.get("shadow", {})
        except KeyError as exc:
            raise StateFormatError(f"missing key {exc}") from None
        except (TypeError, ValueError) as exc:
            raise StateFormatError(str(exc)) from None
        if not isinstance(latched, bool) or not isinstance(version, int) or version < 0:
            raise StateFormatError("latched must be a boolean and version a whole number")
        if reason is not None and not isinstance(reason, str):
            raise StateFormatError("latch_reason must be text")
        if primary not in backends or sum(weights.values()) != 100:
            raise StateFormatError("primary must be a backend and weights must add up to 100")
        if not isinstance(shadow, dict):
            raise StateFormatError("shadow must be a JSON object")
        return cls(backends, primary, previous, weights, drained, latched, reason, version, shadow)

    @classmethod
    def loads(cls, text: str | bytes) -> RoutingState:
        try:
            data = json.loads(text)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise StateFormatError(f"not JSON: {exc}") from None
        return cls.from_json(data)

    def describe(self) -> str:
        """One line for logs and the CLI."""
        shares = ", ".join(f"{name} {self.weight(name)}%" for name in self.backends)
        parts = [f"primary {self.primary}", f"weights {shares}"]
        if self.drained:
            parts.append("drained " + ", ".join(sorted(self.drained)))
        if self.latched:
            parts.append(f"auto-rollback latched ({self.latch_reason})")
        return "; ".join(parts)


# --- transitions ----------------------------------------------------------------


def flip(state: RoutingState, to: BackendName | None = None) -> RoutingState:
    """Make the other backend (or ``to``) primary, with all traffic."""
    if to is None:
        if len(state.others) != 1:
            raise Refused(
                "flip needs exactly one other backend; configured: " + ", ".join(state.backends)
            )
        to = state.others[0]
    _known(state, to)
    if to == state.primary:
        hint = "; use rollback or weight to end the rollout" if state.split else ""
        raise Refused(f"{to} is already the primary{hint}")
    if to in state.drained:
        raise Refused(f"{to} is drained; undrain it before making it primary")
    return _next(
        state,
        primary=to,
        previous=state.primary,
        weights=_all_to(to, state.backends),
        latched=False,
        latch_reason=None,
    )


def rollback(state: RoutingState) -> RoutingState:
    """Undo the last change of traffic: a rollout, else the last flip.

    A rollback does not toggle: after it there is no previous primary, so a
    second rollback is refused rather than undoing the first. Right after an
    automatic rollback it only acknowledges (clears the latch).
    """
    if state.split:
        return _next(
            state, weights=_all_to(state.primary, state.backends), latched=False, latch_reason=None
        )
    target = state.rollback_target()
    if target is None:
        if state.latched:
            return _next(state, latched=False, latch_reason=None)
        raise Refused(f"nothing to roll back: {state.primary} has all traffic and no flip preceded")
    if target in state.drained:
        raise Refused(f"{target} is drained; undrain it before rolling back to it")
    return _next(
        state,
        primary=target,
        previous=None,
        weights=_all_to(target, state.backends),
        latched=False,
        latch_reason=None,
    )


def auto_rollback(state: RoutingState, reason: str) -> RoutingState:
    """The guards' rollback: like :func:`rollback`, and latched until an operator acts."""
    after = rollback(state)
    return replace(after, latched=True, latch_reason=reason)


def set_weights(state: RoutingState, requested: Mapping[str, int]) -> RoutingState:
    """Set the share of new connections per backend; the rest goes to the others.

    With two backends naming one is enough (``green=10`` leaves blue 90).
    """
    if not requested:
        raise Refused("name at least one backend and its weight, for example green=10")
    wanted: dict[BackendName, int] = {}
    for raw_name, raw_value in requested.items():
        name = _known(state, raw_name)
        if isinstance(raw_value, bool) or not isinstance(raw_value, int):
            raise Refused(f"weight of {name} must be a whole number from 0 to 100")
        if not 0 <= raw_value <= 100:
            raise Refused(f"weight of {name} must be from 0 to 100, not {raw_value}")
        if raw_value > 0 and name in state.drained:
            raise Refused(f"{name} is drained; undrain it before giving it traffic")
        wanted[name] = raw_value
    rest = [name for name in state.backends if name not in wanted]
    remainder = 100 - sum(wanted.values())
    if len(rest) == 1:
        if remainder < 0:
            raise Refused(f"weights add up to {100 - remainder}, more than 100")
        if remainder > 0 and rest[0] in state.drained:
            raise Refused(f"{rest[0]} is drained and cannot take the remaining {remainder}%")
        wanted[rest[0]] = remainder
    elif remainder != 0:
        raise Refused(f"weights must add up to 100 (they add up to {100 - remainder})")
    if sum(wanted.values()) != 100:  # more than two backends with some unnamed
        raise Refused("name the weight of every backend; they must add up to 100")
    whole = [name for name, share in wanted.items() if share == 100]
    if whole and whole[0] != state.primary:
        # A rollout at 100% is a completed flip: the backend becomes the primary.
        return flip(state, whole[0])
    weights = {name: wanted.get(name, 0) for name in state.backends}
    if weights == {name: state.weight(name) for name in state.backends}:
        raise Refused("the weights are already " + _shares(weights))
    return _next(state, weights=weights, latched=False, latch_reason=None)


def set_shadow(state: RoutingState, overrides: Mapping[str, Any]) -> RoutingState:
    """Replace the shadow settings changed at run time; the routing stays as it is.

    The same overrides again are no change (no new version): asking twice is harmless.
    """
    if dict(overrides) == dict(state.shadow):
        return state
    return _next(state, shadow=dict(overrides))


def drain(state: RoutingState, name: str, drained: bool = True) -> RoutingState:
    """Stop (or resume) giving new transactions to a backend."""
    backend = _known(state, name)
    if drained == (backend in state.drained):
        raise Refused(f"{backend} is {'already' if drained else 'not'} drained")
    now = state.drained | {backend} if drained else state.drained - {backend}
    if drained and set(state.backends) <= now:
        raise Refused(f"draining {backend} would leave no backend to send traffic to")
    return _next(state, drained=frozenset(now))


# --- helpers ----------------------------------------------------------------------


def _next(state: RoutingState, **changes: Any) -> RoutingState:
    return replace(state, version=state.version + 1, **changes)


def _all_to(primary: BackendName, backends: tuple[BackendName, ...]) -> dict[BackendName, int]:
    return {name: 100 if name == primary else 0 for name in backends}


def _shares(weights: Mapping[BackendName, int]) -> str:
    return ", ".join(f"{name}={share}" for name, share in weights.items())


def _ordered(backends: tuple[BackendName, ...]) -> tuple[BackendName, ...]:
    # A fixed order makes the rollout's buckets (and so each session's backend)
    # the same on every replica, whatever order the configuration listed them in.
    return tuple(name for name in BACKEND_NAMES if name in backends)


def _known(state: RoutingState, name: str) -> BackendName:
    if name not in state.backends:
        configured = ", ".join(state.backends)
        raise Refused(f"unknown backend {name!r}; configured: {configured}")
    return name


def _backend(name: Any) -> BackendName:
    if name not in BACKEND_NAMES:
        raise ValueError(f"unknown backend {name!r}")
    return cast(BackendName, name)


def _percent(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 100:
        raise ValueError(f"weight {value!r} is not a whole number from 0 to 100")
    return value
