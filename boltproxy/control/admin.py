"""The admin HTTP listener: ``/metrics``, ``/healthz`` and traffic control.

Traffic control's routes (status page, status, flip, rollback, weight, drain,
shadow settings, audit; see ``api``) join the same application when a
:class:`ControlPlane` is given, so operators keep one admin port.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST

from boltproxy import metrics
from boltproxy.config import AdminSettings
from boltproxy.control.api import AdminHooks, TrafficApi
from boltproxy.control.plane import ControlPlane

# Returns a JSON-able report; ``{"status": "ok", ...}`` means healthy.
Health = Callable[[], Awaitable[dict[str, Any]]]


class AdminConfigError(Exception):
    """The admin listener cannot start as configured; the message says what to change."""


def build_admin_app(
    health: Health,
    control: ControlPlane | None = None,
    *,
    token: str | None = None,
    hooks: AdminHooks | None = None,
) -> web.Application:
    """The admin routes, without a listener (tests drive it with aiohttp's test client)."""

    async def metrics_view(_request: web.Request) -> web.Response:
        # Our own registry only (the default one would add the process collectors
        # of whichever program embeds boltproxy), or every worker's.
        body = metrics.exposition()
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})

    async def health_view(_request: web.Request) -> web.Response:
        report = await health()
        # Load balancers and compose healthchecks read the status code, people read the JSON.
        status = 200 if report.get("status") == "ok" else 503
        return web.json_response(report, status=status)

    app = web.Application()
    app.router.add_get("/metrics", metrics_view)
    app.router.add_get("/healthz", health_view)
    if control is not None:
        TrafficApi(control, token, hooks or AdminHooks.defaults(control)).add_routes(app)
    return app


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False  # a name that may resolve to any interface


def check_exposure(host: str, token: str | None) -> None:
    """Refuse to serve the admin API beyond this machine without a token."""
    if token is None and not is_loopback(host):
        raise AdminConfigError(
            f"admin.host is {host!r} but no admin token is configured: without a token the"
            " admin listener only binds to loopback (127.0.0.1 or ::1). Set [admin] token"
            ' (or BOLTPROXY_ADMIN__TOKEN), or set admin.host = "127.0.0.1".'
        )


class AdminServer:
    """A running admin listener; ``port`` is the bound port even when 0 was configured."""

    def __init__(self, runner: web.AppRunner, port: int) -> None:
        self._runner = runner
        self.port = port

    async def close(self) -> None:
        await self._runner.cleanup()


async def start_admin(
    settings: AdminSettings,
    health: Health,
    control: ControlPlane | None = None,
    *,
    token: str | None = None,
    hooks: AdminHooks | None = None,
) -> AdminServer:
    check_exposure(settings.host, token)
    app = build_admin_app(health, control, token=token, hooks=hooks)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    try:
        site = web.TCPSite(runner, settings.host, settings.port)
        await site.start()
    except BaseException:
        await runner.cleanup()
        raise
    ports = [address[1] for address in runner.addresses if isinstance(address, tuple)]
    return AdminServer(runner, ports[0] if ports else settings.port)
