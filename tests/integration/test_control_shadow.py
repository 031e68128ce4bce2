"""Shadow settings changed through the admin API: in force at once, and after a restart."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiohttp
import neo4j
import pytest

from boltproxy.config import Settings
from boltproxy.control.state import RoutingState
from boltproxy.proxy.server import ProxyServer
from boltproxy.shadow.store import StoreError, load
from tests.support.fakeneo import NEO4J_5_26, FakeNeo4j, running
from tests.support.proxy import proxy_settings

TOKEN = "shadow-control-token-0123456789"
PASSWORD = "noise-login-secret"


def configured(fake: FakeNeo4j, tmp_path: Path) -> Settings:
    return proxy_settings(
        fake.uri,
        admin={"token": TOKEN},
        control={"state_file": str(tmp_path / "state.json"), "audit_log": str(tmp_path / "a.log")},
        shadow={"sample_rate": 1.0, "noise": {"user": "shadow", "password": PASSWORD}},
    )


@asynccontextmanager
async def serving(settings: Settings) -> AsyncIterator[ProxyServer]:
    server = ProxyServer(settings)
    await server.start()
    try:
        yield server
    finally:
        await server.close()


async def call(server: ProxyServer, method: str, path: str, body: Any = None) -> tuple[int, Any]:
    headers = {"Authorization": f"Bearer {TOKEN}"}
    async with (
        aiohttp.ClientSession() as session,
        session.request(
            method, f"http://127.0.0.1:{server.admin_port}{path}", json=body, headers=headers
        ) as response,
    ):
        return response.status, await response.json()


@pytest.fixture
async def fake() -> AsyncIterator[FakeNeo4j]:
    async with running(FakeNeo4j(profile=NEO4J_5_26)) as server:
        yield server


async def test_shadow_settings_changed_at_run_time_survive_a_restart(
    fake: FakeNeo4j, tmp_path: Path
) -> None:
    settings = configured(fake, tmp_path)
    async with serving(settings) as server:
        status, body = await call(
            server, "POST", "/shadow", {"sample_rate": 0.25, "noise": {"sample_rate": 0.1}}
        )
        assert status == 200, body
        shown = body["shadow"]
        assert (shown["sample_rate"], shown["noise"]["sample_rate"]) == (0.25, 0.1)

    stored = (tmp_path / "state.json").read_text()
    assert PASSWORD not in stored and PASSWORD not in (tmp_path / "a.log").read_text()
    assert RoutingState.loads(stored).shadow == {"sample_rate": 0.25, "noise": {"sample_rate": 0.1}}

    async with serving(configured(fake, tmp_path)) as restarted:
        _, shown = await call(restarted, "GET", "/shadow")
        assert (shown["sample_rate"], shown["noise"]["sample_rate"]) == (0.25, 0.1)
        _, report = await call(restarted, "GET", "/status")
        assert report["shadow"]["changed"] == {"sample_rate": 0.25, "noise": {"sample_rate": 0.1}}
        # What is in force is what new sessions get, and the login is still this proxy's.
        in_force = restarted.mirror_policy.settings
        assert in_force.sample_rate == 0.25
        assert in_force.noise.password is not None
        assert in_force.noise.password.get_secret_value() == PASSWORD
        # Start-only keys are refused rather than shown as changed while they are not.
        status, body = await call(restarted, "POST", "/shadow", {"store": str(tmp_path / "x.db")})
        assert status == 409
        assert body["error"].startswith("store cannot change at run time")


async def test_stored_shadow_settings_this_proxy_cannot_hold_are_not_applied(
    fake: FakeNeo4j, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    state = json.loads(RoutingState.initial("blue", ("blue",)).dumps())
    state["version"] = 3
    state["shadow"] = {"sample_rate": 5}  # edited by hand, or written by another version
    (tmp_path / "state.json").write_text(json.dumps(state))
    with caplog.at_level(logging.INFO):
        async with serving(configured(fake, tmp_path)) as server:
            assert server.mirror_policy.settings.sample_rate == 1.0
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert errors == [
        "shadow settings of control state version 3 not applied (sample_rate: Input should be"
        " less than or equal to 1): keeping the current ones"
    ]


async def test_shadowing_turned_on_at_run_time_compares_what_it_mirrors(tmp_path: Path) -> None:
    store = tmp_path / "shadow.sqlite"
    async with (
        running(FakeNeo4j(profile=NEO4J_5_26)) as blue,
        running(FakeNeo4j(profile=NEO4J_5_26)) as green,
    ):
        settings = proxy_settings(
            blue.uri,
            green_uri=green.uri,
            admin={"token": TOKEN},
            shadow={"mode": "off", "store": str(store)},
        )
        async with serving(settings) as server:
            assert server.shadow_sink is None  # nothing to compare at start
            status, body = await call(server, "POST", "/shadow", {"mode": "reads"})
            assert (status, body["shadow"]["mode"]) == (200, "reads")
            async with neo4j.AsyncGraphDatabase.driver(
                f"bolt://127.0.0.1:{server.port}", auth=("neo4j", "password")
            ) as driver:
                await driver.execute_query("RETURN 1 AS x")

            async def compared() -> bool:
                try:
                    return sum(shape.total for shape in load([store]).values()) > 0
                except StoreError:
                    return False

            await eventually(compared)


async def eventually(condition: Callable[[], Awaitable[bool]], within: float = 30.0) -> None:
    deadline = asyncio.get_running_loop().time() + within
    while not await condition():
        assert asyncio.get_running_loop().time() < deadline, "timed out"
        await asyncio.sleep(0.05)
