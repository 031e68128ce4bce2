"""The admin HTTP listener: ``/metrics`` and ``/healthz``.

Traffic control (flip, rollback, weight, drain, status; ROADMAP item 4) will add
its token-protected routes to this same application through ``build_admin_app``,
so operators keep one admin port.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from boltproxy import metrics
from boltproxy.config import AdminSettings

# Returns a JSON-able report; ``{"status": "ok", ...}`` means healthy.
Health = Callable[[], Awaitable[dict[str, Any]]]


def build_admin_app(health: Health) -> web.Application:
    """The admin routes, without a listener (tests drive it with aiohttp's test client)."""

    async def metrics_view(_request: web.Request) -> web.Response:
        # Our own registry only: the default one would add the process collectors
        # of whichever program embeds boltproxy.
        body = generate_latest(metrics.REGISTRY)
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})

    async def health_view(_request: web.Request) -> web.Response:
        report = await health()
        # Load balancers and compose healthchecks read the status code, people read the JSON.
        status = 200 if report.get("status") == "ok" else 503
        return web.json_response(report, status=status)

    app = web.Application()
    app.router.add_get("/metrics", metrics_view)
    app.router.add_get("/healthz", health_view)
    return app


class AdminServer:
    """A running admin listener; ``port`` is the bound port even when 0 was configured."""

    def __init__(self, runner: web.AppRunner, port: int) -> None:
        self._runner = runner
        self.port = port

    async def close(self) -> None:
        await self._runner.cleanup()


async def start_admin(settings: AdminSettings, health: Health) -> AdminServer:
    runner = web.AppRunner(build_admin_app(health), access_log=None)
    await runner.setup()
    try:
        site = web.TCPSite(runner, settings.host, settings.port)
        await site.start()
    except BaseException:
        await runner.cleanup()
        raise
    ports = [address[1] for address in runner.addresses if isinstance(address, tuple)]
    return AdminServer(runner, ports[0] if ports else settings.port)
