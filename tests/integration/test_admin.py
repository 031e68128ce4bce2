"""The admin listener as Prometheus and a load balancer see it."""

from __future__ import annotations

from typing import Any

import aiohttp
from prometheus_client.parser import text_string_to_metric_families

from boltproxy import metrics
from boltproxy.config import AdminSettings
from boltproxy.control.admin import start_admin


def health_returning(report: dict[str, Any]) -> Any:
    async def health() -> dict[str, Any]:
        return report

    return health


async def get(port: int, path: str) -> tuple[int, str, str]:
    async with (
        aiohttp.ClientSession() as session,
        session.get(f"http://127.0.0.1:{port}{path}") as response,
    ):
        return response.status, response.headers["Content-Type"], await response.text()


async def test_metrics_serves_the_proxy_registry() -> None:
    metrics.MESSAGES.labels(direction="server_to_client", type="RECORD").inc(7)
    metrics.BACKEND_UP.labels(backend="blue").set(1)
    server = await start_admin(AdminSettings(port=0), health_returning({"status": "ok"}))
    try:
        assert server.port != 0
        status, content_type, body = await get(server.port, "/metrics")
    finally:
        await server.close()
    assert status == 200
    assert content_type.startswith("text/plain")
    samples = {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(body)
        for sample in family.samples
    }
    records = ("boltproxy_messages_total", (("direction", "server_to_client"), ("type", "RECORD")))
    assert samples[records] >= 7
    assert samples[("boltproxy_backend_up", (("backend", "blue"),))] == 1
    # Only our registry: no process or Python collectors of the default registry.
    assert all(name.startswith("boltproxy_") for name, _ in samples)


async def test_healthz_is_200_when_healthy_and_503_otherwise() -> None:
    healthy = {"status": "ok", "backends": {"blue": "up"}}
    server = await start_admin(AdminSettings(port=0), health_returning(healthy))
    try:
        status, content_type, body = await get(server.port, "/healthz")
    finally:
        await server.close()
    assert (status, content_type.split(";")[0]) == (200, "application/json")
    assert '"blue": "up"' in body

    degraded = {"status": "degraded", "backends": {"blue": "unreachable"}}
    server = await start_admin(AdminSettings(port=0), health_returning(degraded))
    try:
        status, _, body = await get(server.port, "/healthz")
    finally:
        await server.close()
    assert status == 503
    assert "unreachable" in body
