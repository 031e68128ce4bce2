"""The control plane: operator actions and guards, applied to the router and stored.

Every change goes the same way: a pure transition (``state``) applied by the
store to the freshest stored state, then adopted by the :class:`Router` (which
the relay asks at each transaction boundary), then written to the audit log.
Refusals are audited too, so the log answers "who tried what" as well as
"what changed".

Shadow settings changed at run time take the same way (they are part of the
state), so they reach every worker and replica as a flip does; the proxy
applies them when its router adopts the state. A change of shadow settings
alone leaves the guards' windows as they are: the routing they judge is the same.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

from boltproxy.config import BackendName
from boltproxy.control import metrics
from boltproxy.control import state as transitions
from boltproxy.control.audit import (
    AuditEntry,
    AuditLog,
    FileAuditLog,
    MemoryAuditLog,
    TeeAuditLog,
    without_secrets,
)
from boltproxy.control.guards import Clock, GuardMonitor, Trip
from boltproxy.control.routing import Router
from boltproxy.control.settings import ControlSettings
from boltproxy.control.state import Refused, RoutingState
from boltproxy.control.store import (
    Change,
    ControlStoreError,
    FileStateStore,
    MemoryStateStore,
    StateStore,
)
from boltproxy.tasks import spawn

log = logging.getLogger("boltproxy.control")

# Waits until the candidate has applied every mirrored write, at most ``max_wait``
# seconds; False when it could not. The relay supplies it.
DrainMirror = Callable[[float], Awaitable[bool]]


# The shadow overrides after a change, from those in the freshest state; ValueError
# refuses. The proxy supplies it: it knows its configuration and what may change.
ShadowRevision = Callable[[Mapping[str, Any]], Mapping[str, Any]]


async def no_mirror(max_wait: float) -> bool:
    """Without mirrored writes there is nothing to wait for."""
    return True


@dataclass(frozen=True, slots=True)
class Outcome:
    """A change that was made."""

    action: str
    state: RoutingState
    message: str

    def to_json(self) -> dict[str, Any]:
        return {"result": "ok", "action": self.action, "message": self.message}


async def open_stores(settings: ControlSettings) -> tuple[StateStore, AuditLog]:
    """The state store and audit log that ``settings`` name."""
    store: StateStore
    audit: AuditLog
    local: FileAuditLog | None = None
    if settings.audit_log is not None:
        local = FileAuditLog(settings.audit_log)
        await local.open()
    if settings.uses_redis:
        # Imported here: a proxy without a shared store needs no Redis client.
        from boltproxy.control.redis_store import RedisAuditLog, RedisStateStore

        if settings.state_file is not None:
            log.warning("control.state_file is not used: the routing state lives in the store")
        prefix = settings.redis_key_prefix
        store = RedisStateStore(settings.store, prefix, settings.redis_poll_interval)
        shared = RedisAuditLog(settings.store, prefix, settings.redis_audit_max_entries)
        audit = TeeAuditLog(shared, local) if local is not None else shared
    else:
        if settings.state_file is not None:
            store = FileStateStore(settings.state_file)
        else:
            store = MemoryStateStore()
        audit = local if local is not None else MemoryAuditLog()
    return store, audit


class ControlPlane:
    def __init__(
        self,
        router: Router,
        store: StateStore,
        audit: AuditLog,
        settings: ControlSettings,
        *,
        drain_mirror: DrainMirror | None = None,
        clock: Clock = time.monotonic,
    ) -> None:
        self.router = router
        self.store = store
        self.audit = audit
        self.settings = settings
        self.drain_mirror: DrainMirror = drain_mirror or no_mirror
        self.guards = GuardMonitor(settings.guards, clock, on_trip=self._tripped)
        # Changes made by this replica are serialised; replicas are ordered by the store.
        self._lock = asyncio.Lock()
        # The state the guards were last armed for (None: not yet).
        self._armed: RoutingState | None = None
        self._judge: asyncio.Task[None] | None = None
        router.add_listener(self._adopted)

    @classmethod
    async def open(
        cls,
        settings: ControlSettings,
        router: Router,
        *,
        drain_mirror: DrainMirror | None = None,
        clock: Clock = time.monotonic,
    ) -> ControlPlane:
        """Restore the stored state into ``router`` and start following the store."""
        store, audit = await open_stores(settings)
        plane = cls(router, store, audit, settings, drain_mirror=drain_mirror, clock=clock)
        try:
            router.reset(await store.restore(router.state))
            await store.watch(plane._heard)
            plane._judge = spawn(plane._judge_loop(), "control-guards")
        except BaseException:
            await plane.close()
            raise
        return plane

    async def close(self) -> None:
        if self._judge is not None:
            self._judge.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._judge
        self.router.remove_listener(self._adopted)
        await self.store.close()
        await self.audit.close()

    # --- following the state --------------------------------------------------

    def _heard(self, state: RoutingState) -> None:
        """A state written by another replica (or our own, echoed back)."""
        try:
            self.router.apply(state)
        except ValueError as exc:
            log.error("ignoring a routing state from %s: %s", self.store.description, exc)

    def _adopted(self, state: RoutingState) -> None:
        metrics.publish(state)
        if self._armed is not None and self._armed.same_routing(state):
            return  # only shadow settings changed: the windows still judge this routing
        self._armed = state
        self.guards.watch(state.guarded(), state.rollback_target())

    # --- operator actions -------------------------------------------------------

    async def flip(
        self, who: str, max_wait: float | None = None, to: BackendName | None = None
    ) -> Outcome:
        """Make the other backend primary, once the candidate has every mirrored write."""
        wait = self.settings.flip_max_wait if max_wait is None else max_wait
        detail: dict[str, Any] = {"max_wait": wait, **({"to": to} if to else {})}
        try:
            # Judged before waiting, so a flip that cannot happen is refused at once.
            target = transitions.flip(self.router.state, to).primary
        except Refused as exc:
            await self._record(who, "flip", "refused", str(exc), detail)
            raise
        detail["to"] = target
        if not await self._mirror_drained(target, wait):
            message = (
                f"not flipped: {target} has not applied every mirrored write within {wait:g} s"
                " (a flip now could lose acknowledged writes); retry, or raise --max-wait"
            )
            await self._record(who, "flip", "refused", message, detail)
            raise Refused(message)
        return await self._change(who, "flip", detail, lambda s: transitions.flip(s, target))

    async def _mirror_drained(self, target: BackendName, wait: float) -> bool:
        try:
            # The hook promises to answer within ``wait``; the margin covers a late answer.
            return await asyncio.wait_for(self.drain_mirror(wait), wait + 5.0)
        except TimeoutError:
            return False
        except Exception as exc:
            log.error("waiting for %s to apply mirrored writes failed: %s", target, exc)
            return False

    async def rollback(self, who: str) -> Outcome:
        return await self._change(who, "rollback", {}, transitions.rollback)

    async def weight(self, who: str, weights: Mapping[str, int]) -> Outcome:
        return await self._change(
            who, "weight", dict(weights), lambda s: transitions.set_weights(s, weights)
        )

    async def drain(self, who: str, backend: str, drained: bool = True) -> Outcome:
        action = "drain" if drained else "undrain"
        return await self._change(
            who,
            action,
            {"backend": backend},
            lambda s: transitions.drain(s, backend, drained),
        )

    async def set_shadow(
        self, who: str, revise: ShadowRevision, detail: Mapping[str, Any]
    ) -> Outcome:
        """Change the shadow settings of every replica: ``revise`` gives the new overrides.

        ``revise`` runs on the freshest stored state, so two operators changing
        different keys at once on two replicas keep both changes.
        """

        def change(state: RoutingState) -> RoutingState:
            try:
                overrides = revise(state.shadow)
            except ValueError as exc:
                raise Refused(str(exc)) from None
            return transitions.set_shadow(state, overrides)

        return await self._change(who, "shadow", dict(detail), change)

    async def _change(
        self, who: str, action: str, detail: dict[str, Any], change: Change
    ) -> Outcome:
        async with self._lock:
            before = self.router.state
            try:
                state = await self.store.update(change, before)
            except Refused as exc:
                await self._record(who, action, "refused", str(exc), detail)
                raise
            except ControlStoreError as exc:
                await self._record(who, action, "failed", str(exc), detail)
                raise
            self.router.apply(state)
        message = summary(action, before, state)
        log.info("%s by %s: %s", action, who, message)
        await self._record(who, action, "ok", message, detail, state.version)
        return Outcome(action, state, message)

    # --- guards -------------------------------------------------------------------

    async def _judge_loop(self) -> None:
        # Observations trigger judgements, at most one per evaluate_interval; a
        # burst of failures followed by silence would otherwise wait for the
        # next query to be judged.
        interval = max(self.settings.guards.evaluate_interval, 0.1)
        while True:
            await asyncio.sleep(interval)
            self.guards.evaluate()

    def _tripped(self, trip: Trip) -> None:
        # Called from the relay's observation, on the event loop: the rollback
        # itself needs the store, so it runs as a task of its own.
        armed = self._armed or self.router.state
        spawn(self._auto_rollback(trip, armed), "control-auto-rollback")

    async def _auto_rollback(self, trip: Trip, armed: RoutingState) -> None:
        def change(state: RoutingState) -> RoutingState:
            if not state.same_routing(armed):
                raise Refused("the routing state changed since the guard judged it")
            return transitions.auto_rollback(state, trip.reason)

        detail = {"guard": trip.guard, "backend": trip.backend, "value": trip.value}
        try:
            outcome = await self._change("guard", "auto-rollback", detail, change)
        except (Refused, ControlStoreError) as exc:
            log.error("automatic rollback (%s) not made: %s", trip.reason, exc)
            return
        metrics.AUTO_ROLLBACKS.labels(guard=trip.guard).inc()
        log.error(
            "automatic rollback: %s; %s; latched until an operator acts",
            trip.reason,
            outcome.message,
        )

    # --- audit and status -----------------------------------------------------------

    async def record(
        self, who: str, action: str, result: str, message: str, detail: dict[str, Any]
    ) -> None:
        """Audit something decided outside the plane (an unauthorised call, shadow settings)."""
        await self._record(who, action, result, message, detail)

    async def _record(
        self,
        who: str,
        action: str,
        result: str,
        message: str,
        detail: dict[str, Any],
        version: int | None = None,
    ) -> None:
        metrics.CHANGES.labels(action=action, result=result).inc()
        entry = AuditEntry(who, action, result, message, without_secrets(detail), version)
        try:
            await self.audit.append(entry)
        except Exception as exc:
            # The change (if any) stands; losing its audit line must be loud, not fatal.
            log.error("could not write the audit log (%s): %s", self.audit.description, exc)

    async def recent(self, limit: int) -> list[AuditEntry]:
        return await self.audit.recent(limit)

    def status(self) -> dict[str, Any]:
        state = self.router.state
        report = state.to_json()
        report.pop("format")
        report.update(
            # The keys changed at run time; the admin API adds the settings in force.
            shadow={"changed": dict(state.shadow)},
            candidates=list(self.router.candidates),
            rollback_target=state.rollback_target(),
            summary=state.describe(),
            store=self.store.description,
            audit=self.audit.description,
            guards=self.guards.snapshot(),
        )
        return report


def summary(action: str, before: RoutingState, after: RoutingState) -> str:
    """One sentence saying what a change did."""
    if action == "shadow":  # names the keys, never their values (rules may quote queries)
        changed = ", ".join(sorted(after.shadow)) or "none"
        return f"shadow settings set at run time: {changed}"
    if before.primary != after.primary:
        text = f"{after.primary} is primary (was {before.primary})"
    elif action in ("drain", "undrain"):
        names = (before.drained ^ after.drained) or after.drained
        text = f"{', '.join(sorted(names))} {'drained' if action == 'drain' else 'undrained'}"
    elif action == "rollback" and before.latched and not after.latched and not before.split:
        text = f"already rolled back automatically ({before.latch_reason}); acknowledged"
    else:
        text = "weights " + ", ".join(f"{n} {after.weight(n)}%" for n in after.backends)
    return f"{text}; now {after.describe()}"
