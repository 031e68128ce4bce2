"""What the proxy knows about each backend: versions, reachability."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence

from boltproxy import metrics
from boltproxy.bolt.greeting import BackendOffered
from boltproxy.config import BackendSettings
from boltproxy.proxy import link
from boltproxy.proxy.probe import Answer, Capabilities, ProbeFailed, Proposal, probe_versions
from boltproxy.tasks import spawn

log = logging.getLogger("boltproxy.backends")


class Backend:
    """One configured backend and the result of its last probe."""

    def __init__(self, name: str, settings: BackendSettings) -> None:
        self.name = name
        self.settings = settings
        # What it spoke when it last answered: kept while it is down, so the
        # versions offered to clients do not flap with a short outage.
        self.capabilities: Capabilities | None = None
        self._answered = False  # did the last check (or link) reach it?
        self.last_error: str | None = None
        self.checked_at: float | None = None
        self._lock = asyncio.Lock()
        self._up_gauge = metrics.BACKEND_UP.labels(backend=name)

    @property
    def up(self) -> bool:
        return self._answered and self.capabilities is not None

    async def probe(self) -> Capabilities | None:
        """Ask the backend which versions it speaks; None when it does not answer."""
        async with self._lock:
            try:
                retries = self.settings.connect_attempts
                capabilities = await probe_versions(self._attempt, retries=retries)
            except ProbeFailed as exc:
                self.mark_down(str(exc))
                return None
            self.checked_at = time.monotonic()
            if not capabilities.versions:
                self.mark_down("no Bolt version in common with boltproxy")
                return None
            if self.capabilities != capabilities:
                log.info(
                    "backend %s at %s speaks %s",
                    self.name,
                    self.settings.address,
                    capabilities.describe(),
                )
            self.capabilities = capabilities
            self._answered = True
            self.last_error = None
            self._up_gauge.set(1)
            return capabilities

    async def _attempt(self, proposals: Sequence[Proposal], manifest: bool) -> Answer:
        try:
            answer = await link.probe_attempt(self.settings, proposals, manifest)
        except link.HandshakeRefused:
            return Answer(refused=True)
        except link.BackendUnreachable as exc:
            return Answer(error=str(exc))
        if isinstance(answer, BackendOffered):
            return Answer(offered=answer.versions)
        return Answer(version=answer.version)

    def mark_down(self, reason: str) -> None:
        """The backend failed a probe or a link: the one writer of its up gauge."""
        if self.last_error != reason:
            log.warning(
                "backend %s at %s is unavailable: %s", self.name, self.settings.address, reason
            )
        self.last_error = reason
        self.checked_at = time.monotonic()
        self._answered = False
        self._up_gauge.set(0)

    async def open(
        self, proposals: Sequence[Proposal], manifest: bool
    ) -> tuple[asyncio.Transport, link.BackendProtocol, link.Answer]:
        try:
            opened = await link.open_link(self.settings, proposals, manifest=manifest)
        except link.BackendUnreachable as exc:
            self.mark_down(str(exc))
            raise
        if not self.up and not self._lock.locked():
            # It answers again: learn its versions now, not at the next check.
            spawn(self.probe(), f"probe-{self.name}")
        return opened

    def describe(self) -> dict[str, object]:
        return {
            "address": self.settings.address,
            "up": self.up,
            "versions": sorted(f"{a}.{b}" for a, b in self.capabilities.versions)
            if self.capabilities
            else [],
            "error": self.last_error,
        }
