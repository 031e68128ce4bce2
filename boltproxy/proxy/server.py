"""The proxy process: probes backends, listens for clients, serves admin."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
from collections.abc import Mapping
from typing import Any

from boltproxy.bolt.messages import Version
from boltproxy.config import BackendName, Settings
from boltproxy.control.admin import AdminServer, start_admin
from boltproxy.control.api import AdminHooks
from boltproxy.control.plane import ControlPlane
from boltproxy.control.routing import Router, SessionInfo
from boltproxy.control.state import RoutingState
from boltproxy.proxy.backends import Backend
from boltproxy.proxy.bookmarks import BookmarkMap
from boltproxy.proxy.connection import ClientConnection
from boltproxy.proxy.mirror import MirrorPolicy
from boltproxy.proxy.session import MirrorPlan
from boltproxy.shadow.exchange import Exchange
from boltproxy.shadow.settings import in_force, revised
from boltproxy.shadow.worker import ShadowSink
from boltproxy.tasks import spawn

log = logging.getLogger("boltproxy.server")

GUARD_FEED_SECONDS = 1.0
GUARD_FEED_CAP = 1000
# Which comparison outcomes count for the shadow mismatch guard, and how.
_SHADOW_MATCHED = {
    "match": True,
    "both_failed_alike": True,
    "mismatch": False,
    "candidate_error": False,
}


def client_ssl_context(settings: Settings) -> ssl.SSLContext | None:
    listen = settings.listen
    if listen.tls_cert is None or listen.tls_key is None:
        return None
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(str(listen.tls_cert), str(listen.tls_key))
    return context


class ProxyServer:
    def __init__(self, settings: Settings, *, reuse_port: bool = False) -> None:
        self.settings = settings
        # One of several worker processes sharing the listening port (SO_REUSEPORT).
        self.reuse_port = reuse_port
        self.router = Router.from_settings(settings)
        self.backends: dict[BackendName, Backend] = {
            name: Backend(name, cfg) for name, cfg in settings.backends.items()
        }
        self.port = 0
        self.advertised_address = ""
        self._server: asyncio.Server | None = None
        self._admin: AdminServer | None = None
        self._connections: set[ClientConnection] = set()
        self._buffered = 0  # bytes of partly received client messages, all connections
        # The settings in force: the configuration with the run-time changes that
        # the control state carries (to every worker and replica), see _follow_shadow.
        self.mirror_policy = MirrorPolicy(settings.shadow)
        self._shadow_overrides: Mapping[str, Any] = {}
        self.router.add_listener(self._follow_shadow)
        self.bookmarks = BookmarkMap(settings.shadow.bookmark_pairs)
        # Where mirrored exchanges go to be compared (off the event loop).
        self.shadow_sink: ShadowSink | None = None
        self.control: ControlPlane | None = None
        self._guard_feed: asyncio.Task[None] | None = None
        self._sink_start: asyncio.Task[None] | None = None
        self._recheck: asyncio.Task[None] | None = None

    # --- lifecycle -------------------------------------------------------

    async def start(self) -> None:
        await self._check_backends()
        listen = self.settings.listen
        self._server = await asyncio.get_running_loop().create_server(
            lambda: ClientConnection(self),
            listen.host,
            listen.port,
            ssl=client_ssl_context(self.settings),
            reuse_address=True,
            reuse_port=self.reuse_port or None,
        )
        sockets = self._server.sockets
        self.port = sockets[0].getsockname()[1] if sockets else listen.port
        self.advertised_address = listen.advertised(self.port)
        self.control = await ControlPlane.open(
            self.settings.control, self.router, drain_mirror=self._drain_mirror
        )
        if self.settings.admin.enabled:
            hooks = AdminHooks(self._get_shadow, self._revise_shadow)
            self._admin = await start_admin(
                self.settings.admin,
                self.health,
                self.control,
                token=self.settings.admin.token,
                hooks=hooks,
            )
        self._recheck = spawn(self._recheck_loop(), "backend-recheck")
        # As restored from the control state; a POST /shadow may have started it already.
        if self.shadow_sink is None and self._sink_start is None and self._wants_shadow_sink():
            await self._start_shadow_sink()
        scheme = "bolt+s" if listen.tls_cert else "bolt"
        log.info(
            "listening on %s://%s:%d (advertised as %s), primary %s, offering %s",
            scheme,
            listen.host,
            self.port,
            self.advertised_address,
            self.router.primary,
            ", ".join(f"{a}.{b}" for a, b in sorted(self.relayable_versions(), reverse=True)),
        )

    @property
    def admin_port(self) -> int | None:
        return self._admin.port if self._admin else None

    async def close(self) -> None:
        for task in (self._recheck, self._guard_feed):
            if task is not None:
                task.cancel()
        if self._server is not None:
            self._server.close()
        for connection in list(self._connections):
            connection.close()
        if self._server is not None:
            await self._server.wait_closed()
        if self._admin is not None:
            await self._admin.close()
        if self.control is not None:
            await self.control.close()
        if self._sink_start is not None:
            # The worker's interpreter cannot be stopped half started: let it finish.
            with contextlib.suppress(Exception):
                await self._sink_start
        if self.shadow_sink is not None:
            await asyncio.to_thread(self.shadow_sink.close)

    def _wants_shadow_sink(self) -> bool:
        settings = self.mirror_policy.settings
        return self.capturing or (settings.mode != "off" and bool(self.router.candidates))

    async def _start_shadow_sink(self) -> None:
        settings = self.mirror_policy.settings
        self.shadow_sink = ShadowSink(
            settings,
            primaries={str(name): b for name, b in self.settings.backends.items()},
        )
        # Spawning the worker's interpreter takes a while: not on the loop.
        await asyncio.to_thread(self.shadow_sink.start)
        if self.mirror_policy.settings is not settings:  # changed while it started
            self.shadow_sink.reconfigure(self.mirror_policy.settings)
        self._guard_feed = spawn(self._feed_shadow_guard(), "shadow-guard-feed")

    async def _recheck_loop(self) -> None:
        # Every backend, up or not: health and the versions offered to clients
        # follow a backend that dies, comes back or is upgraded.
        while True:
            await asyncio.sleep(self.settings.relay.health_check_interval)
            await self._check_backends()

    async def _feed_shadow_guard(self) -> None:
        """The shadow mismatch guard judges the comparisons the worker has made."""
        seen: dict[str, int] = {}
        while True:
            await asyncio.sleep(GUARD_FEED_SECONDS)
            sink, control = self.shadow_sink, self.control
            if sink is None or control is None:
                continue
            fresh: dict[str, int] = {}
            for kind, count in sink.outcome_counts().items():
                if kind in _SHADOW_MATCHED:
                    fresh[kind] = count - seen.get(kind, 0)
                seen[kind] = count
            # Bounded per tick, in proportion: the guard judges a rate.
            scale = min(1.0, GUARD_FEED_CAP / max(1, sum(fresh.values())))
            for kind, new in fresh.items():
                for _ in range(round(new * scale)):
                    control.guards.observe_shadow(_SHADOW_MATCHED[kind])

    async def _check_backends(self) -> None:
        await asyncio.gather(*(self.backends[name].probe() for name in self.router.watched()))

    # --- what connections ask ---------------------------------------------

    def relayable_versions(self) -> frozenset[Version]:
        known: dict[BackendName, frozenset[Version] | None] = {
            name: backend.capabilities.versions if backend.capabilities else None
            for name, backend in self.backends.items()
        }
        return self.router.relayable_versions(known)

    def mirror_plan(self, info: SessionInfo, primary: BackendName) -> MirrorPlan | None:
        """Shadowing for a new session: the policy's sampling, a candidate that answers."""
        if not self.mirror_policy.session_sampled(info.session_id):
            return None
        candidate = self.router.mirror_for_session(info, primary)
        if candidate is None or not self.backends[candidate].up:
            return None
        return MirrorPlan(
            backend=candidate,
            policy=self.mirror_policy,
            bookmarks=self.bookmarks,
            manifest=self.speaks_manifest(candidate),
        )

    async def _get_shadow(self) -> dict[str, Any]:
        return self.mirror_policy.settings.model_dump(mode="json")

    def _revise_shadow(
        self, overrides: Mapping[str, Any], changes: Mapping[str, Any]
    ) -> Mapping[str, Any]:
        """``POST /shadow``: the overrides the control state is to carry (ValueError refuses).

        Applied by :meth:`_follow_shadow` here and in every other worker and replica.
        """
        return revised(overrides, changes, self.settings.shadow)

    def _follow_shadow(self, state: RoutingState) -> None:
        """The router adopted a state: apply its shadow settings if they changed.

        Mirroring rules apply to sessions that start from now; comparison rules
        (ignore rules, tolerances, noise learning) to what the worker compares next.
        The store, the capture and the noise login stay as configured here.
        """
        if state.shadow == self._shadow_overrides:
            return
        self._shadow_overrides = state.shadow
        try:
            settings = in_force(self.settings.shadow, state.shadow)
        except ValueError as exc:
            # Another replica's configuration may allow what this one's cannot hold.
            log.error(
                "shadow settings of control state version %d not applied (%s): keeping the"
                " current ones",
                state.version,
                exc,
            )
            return
        self.mirror_policy = MirrorPolicy(settings)
        if self.shadow_sink is not None:
            self.shadow_sink.reconfigure(settings)
        elif self.control is not None and self._sink_start is None and self._wants_shadow_sink():
            # Shadowing turned on at run time (mode was "off" at start): without a
            # worker to compare, mirrored sessions would load the candidate for nothing.
            self._sink_start = spawn(self._start_shadow_sink(), "shadow-sink-start")

    async def _drain_mirror(self, max_wait: float) -> bool:
        """Before a flip: has the candidate applied every write mirrored to it so far?

        Only dual writes (``shadow.mode = "all"``) put writes on the candidate. Each
        session's mirror answers in order, so it has applied them once it has
        answered everything sent before the flip was asked for.
        """
        if self.mirror_policy.settings.mode != "all":
            return True
        marks = []
        for connection in self._connections:
            session = connection.session
            mark = session.mirror_mark() if session is not None else None
            if session is not None and mark is not None:
                marks.append((session, mark))
        loop = asyncio.get_running_loop()
        deadline = loop.time() + max_wait
        while not all(session.mirror_caught_up(mark) for session, mark in marks):
            if loop.time() >= deadline:
                return False
            await asyncio.sleep(0.005)
        return True

    @property
    def capturing(self) -> bool:
        """``[shadow] capture``: every relayed query is recorded for replay."""
        return self.mirror_policy.settings.capture is not None

    def speaks_manifest(self, name: BackendName) -> bool:
        capabilities = self.backends[name].capabilities
        return capabilities.manifest if capabilities else False

    def shadowed(self, exchange: Exchange) -> None:
        if self.shadow_sink is not None:
            self.shadow_sink.submit(exchange)

    def admit(self, connection: ClientConnection) -> bool:
        if len(self._connections) >= self.settings.listen.max_connections:
            return False
        self._connections.add(connection)
        return True

    def release(self, connection: ClientConnection) -> None:
        self._connections.discard(connection)

    def take_buffer(self, size: int) -> bool:
        """Account ``size`` more bytes held (negative: released); False past the budget."""
        if size > 0 and self._buffered + size > self.settings.relay.max_buffered_bytes:
            return False
        self._buffered += size
        return True

    def return_buffer(self, size: int) -> None:
        self._buffered -= size

    async def health(self) -> dict[str, Any]:
        """Answered at once from the background checks, never by probing here."""
        primary = self.backends[self.router.primary]
        return {
            "status": "ok" if primary.up else "unavailable",
            "primary": self.router.primary,
            "connections": len(self._connections),
            "backends": {name: backend.describe() for name, backend in self.backends.items()},
        }
