"""The admin HTTP listener: ``/metrics`` and ``/healthz``.

Traffic control (flip, rollback, weight, drain, status) will add its
token-protected routes to this same application.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from boltproxy import metrics
from boltproxy.config import AdminSettings

Health = Callable[[], Awaitable[dict[str, Any]]]


def build_admin_app(health: Health) -> web.Application:
    async def metrics_view(_request: web.Request) -> web.Response:
        body = generate_latest(metrics.REGISTRY)
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})

    async def health_view(_request: web.Request) -> web.Response:
        report = await health()
        status = 200 if report.get("status") == "ok" else 503
        return web.json_response(report, status=status)

    app = web.Application()
    app.router.add_get("/metrics", metrics_view)
    app.router.add_get("/healthz", health_view)
    return app


class AdminServer:
    def __init__(self, runner: web.AppRunner, site: web.TCPSite, port: int) -> None:
        self._runner = runner
        self._site = site
        self.port = port

    async def close(self) -> None:
        await self._runner.cleanup()


async def start_admin(settings: AdminSettings, health: Health) -> AdminServer:
    runner = web.AppRunner(build_admin_app(health), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, settings.host, settings.port)
    await site.start()
    server = getattr(site, "_server", None)
    sockets = getattr(server, "sockets", None) or []
    port = sockets[0].getsockname()[1] if sockets else settings.port
    return AdminServer(runner, site, port)
