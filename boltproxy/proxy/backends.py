"""What the proxy knows about each backend: versions, reachability."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence

from boltproxy import metrics
from boltproxy.bolt.messages import Version
from boltproxy.config import BackendSettings
from boltproxy.proxy import link
from boltproxy.proxy.probe import Answer, Capabilities, ProbeFailed, Proposal, probe_versions

log = logging.getLogger("boltproxy.backends")


class Backend:
    """One configured backend and the result of its last probe."""

    def __init__(self, name: str, settings: BackendSettings) -> None:
        self.name = name
        self.settings = settings
        self.capabilities: Capabilities | None = None
        self.last_error: str | None = None
        self.checked_at: float | None = None
        self._lock = asyncio.Lock()

    @property
    def up(self) -> bool:
        return self.capabilities is not None and bool(self.capabilities.versions)

    async def probe(self) -> Capabilities | None:
        """Ask the backend which versions it speaks; None when it does not answer."""
        async with self._lock:

            async def attempt(proposals: Sequence[Proposal], manifest: bool) -> Answer:
                return await link.probe_attempt(self.settings, proposals, manifest)

            try:
                capabilities = await probe_versions(attempt, retries=self.settings.connect_attempts)
            except ProbeFailed as exc:
                self._mark_down(str(exc))
                return None
            self.checked_at = time.monotonic()
            if not capabilities.versions:
                self._mark_down("no Bolt version in common with boltproxy")
                return None
            if self.capabilities != capabilities:
                log.info(
                    "backend %s at %s speaks %s",
                    self.name,
                    self.settings.address,
                    capabilities.describe(),
                )
            self.capabilities = capabilities
            self.last_error = None
            metrics.BACKEND_UP.labels(backend=self.name).set(1)
            return capabilities

    async def ensure_probed(self) -> Capabilities | None:
        return self.capabilities if self.capabilities is not None else await self.probe()

    def _mark_down(self, reason: str) -> None:
        if self.last_error != reason:
            log.warning(
                "backend %s at %s is unavailable: %s", self.name, self.settings.address, reason
            )
        self.last_error = reason
        self.checked_at = time.monotonic()
        metrics.BACKEND_UP.labels(backend=self.name).set(0)

    async def open(self, version: Version) -> tuple[asyncio.Transport, link.BackendProtocol]:
        manifest = self.capabilities.manifest if self.capabilities else False
        try:
            return await link.open_link(self.settings, version, manifest=manifest)
        except link.LinkError as exc:
            self._mark_down(str(exc))
            # Its versions may have changed (an upgrade behind our back): ask again next time.
            self.capabilities = None
            raise

    def describe(self) -> dict[str, object]:
        return {
            "address": self.settings.address,
            "up": self.up,
            "versions": sorted(f"{a}.{b}" for a, b in self.capabilities.versions)
            if self.capabilities
            else [],
            "error": self.last_error,
        }


def offered_versions(
    backends: Sequence[Backend], fallback: Sequence[Version]
) -> frozenset[Version]:
    """Versions to offer clients: what every reachable backend speaks.

    Both backends must speak the session's version so that a session can later
    be mirrored or moved between them. When none is known (all down), offer
    everything: the client then learns of the outage from a FAILURE after its
    HELLO, which drivers retry, instead of a refused handshake, which they don't.
    """
    known = [
        b.capabilities.versions for b in backends if b.capabilities and b.capabilities.versions
    ]
    if not known:
        return frozenset(fallback)
    common = frozenset.intersection(*known)
    return common if common else known[0]
