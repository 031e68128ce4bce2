"""The traffic-control admin API as an operator's script sees it."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import pytest

from boltproxy.config import AdminSettings
from boltproxy.control.admin import AdminConfigError, AdminServer, start_admin
from boltproxy.control.api import AdminHooks, ShapeMatch
from boltproxy.control.plane import ControlPlane
from boltproxy.control.routing import Router
from boltproxy.control.settings import ControlSettings

TOKEN = "s3cret-admin-token-for-tests"


async def healthy() -> dict[str, Any]:
    return {"status": "ok"}


@dataclass
class Admin:
    server: AdminServer
    plane: ControlPlane
    mirror_waits: list[float] = field(default_factory=list)
    mirror_ready: bool = True

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.port}"

    async def call(
        self, method: str, path: str, body: Any = None, token: str | None = TOKEN
    ) -> tuple[int, Any]:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        async with (
            aiohttp.ClientSession() as session,
            session.request(method, self.url + path, json=body, headers=headers) as response,
        ):
            return response.status, await response.json()


async def start(token: str | None = TOKEN, **control: Any) -> Admin:
    router = Router("blue", ("green",))
    holder: list[Admin] = []

    async def drain_mirror(max_wait: float) -> bool:
        holder[0].mirror_waits.append(max_wait)
        return holder[0].mirror_ready

    def set_shadow(overrides: Mapping[str, Any], changes: Mapping[str, Any]) -> dict[str, Any]:
        if changes.get("mode") not in ("off", "reads", "all"):
            raise ValueError("mode must be off, reads or all")
        return {**overrides, **changes}

    async def get_shadow() -> dict[str, Any]:
        # What the proxy would apply: the overrides the control state carries.
        return dict(holder[0].plane.router.state.shadow)

    def rates() -> Sequence[ShapeMatch]:
        return [ShapeMatch("MATCH (n:Person) RETURN n", 9, 10)]

    plane = await ControlPlane.open(ControlSettings(**control), router, drain_mirror=drain_mirror)
    hooks = AdminHooks(get_shadow, set_shadow, rates)
    server = await start_admin(AdminSettings(port=0), healthy, plane, token=token, hooks=hooks)
    holder.append(Admin(server, plane))
    return holder[0]


@pytest.fixture
async def admin() -> AsyncIterator[Admin]:
    running = await start()
    yield running
    await running.server.close()
    await running.plane.close()


async def test_status_is_open_and_says_who_is_primary(admin: Admin) -> None:
    status, body = await admin.call("GET", "/status", token=None)
    assert status == 200
    assert (body["primary"], body["weights"], body["drained"]) == (
        "blue",
        {"blue": 100, "green": 0},
        [],
    )
    assert body["shadow"]["shapes"] == [
        {"shape": "MATCH (n:Person) RETURN n", "matched": 9, "compared": 10}
    ]


@pytest.mark.parametrize("path", ["/flip", "/rollback", "/weight", "/drain", "/shadow"])
@pytest.mark.parametrize("token", [None, "wrong-token-wrong-token"])
async def test_changes_without_the_right_token_are_refused(
    admin: Admin, path: str, token: str | None
) -> None:
    status, body = await admin.call("POST", path, {"green": 10}, token=token)
    assert status == 401
    assert body == {
        "result": "unauthorized",
        "error": "missing or wrong admin token (send Authorization: Bearer <token>)",
    }
    assert admin.plane.router.primary == "blue"
    _, audit = await admin.call("GET", "/audit?limit=1")
    assert audit["entries"][0]["result"] == "unauthorized"


async def test_without_a_configured_token_every_change_is_refused() -> None:
    running = await start(token=None)
    try:
        status, body = await running.call("POST", "/flip", {}, token="anything-anything")
        assert status == 403
        assert "no admin token is configured" in body["error"]
        assert running.plane.router.primary == "blue"
    finally:
        await running.server.close()
        await running.plane.close()


async def test_without_a_token_the_listener_refuses_a_non_loopback_host() -> None:
    with pytest.raises(AdminConfigError, match=r"admin.host is '0.0.0.0' but no admin token"):
        await start_admin(AdminSettings(host="0.0.0.0", port=0), healthy)
    server = await start_admin(AdminSettings(host="0.0.0.0", port=0), healthy, token=TOKEN)
    await server.close()
    server = await start_admin(AdminSettings(host="::1", port=0), healthy)
    await server.close()


async def test_flip_waits_for_the_mirror_then_moves_traffic_and_is_audited(admin: Admin) -> None:
    status, body = await admin.call("POST", "/flip", {"max_wait": 2.5})
    assert status == 200, body
    assert body["result"] == "ok"
    assert body["message"].startswith("green is primary (was blue)")
    assert admin.mirror_waits == [2.5]
    assert admin.plane.router.primary == "green"
    _, audit = await admin.call("GET", "/audit?limit=5", token=None)
    entry = audit["entries"][0]
    assert (entry["action"], entry["result"], entry["detail"]) == (
        "flip",
        "ok",
        {"max_wait": 2.5, "to": "green"},
    )
    # Who: the token's fingerprint and the caller's address, never the token.
    assert entry["who"].startswith("token:") and entry["who"].endswith("@127.0.0.1")
    assert TOKEN not in str(audit)


async def test_flip_is_refused_when_the_mirror_cannot_catch_up(admin: Admin) -> None:
    admin.mirror_ready = False
    status, body = await admin.call("POST", "/flip", {"max_wait": 0.5})
    assert status == 409
    assert body["error"].startswith(
        "not flipped: green has not applied every mirrored write within 0.5 s"
    )
    assert admin.plane.router.primary == "blue"


async def test_weight_drain_and_rollback_through_the_api(admin: Admin) -> None:
    status, body = await admin.call("POST", "/weight", {"green": 10})
    assert status == 200
    assert body["status"]["weights"] == {"blue": 90, "green": 10}
    status, body = await admin.call("POST", "/weight", {"green": 150})
    assert (status, body["error"]) == (409, "weight of green must be from 0 to 100, not 150")
    status, body = await admin.call("POST", "/drain", {"backend": "green"})
    assert status == 200
    assert body["status"]["drained"] == ["green"]
    status, body = await admin.call("POST", "/drain", {"backend": "blue"})
    assert status == 409
    assert body["error"] == "draining blue would leave no backend to send traffic to"
    status, body = await admin.call("POST", "/drain", {"backend": "green", "drained": False})
    assert status == 200
    status, body = await admin.call("POST", "/rollback")
    assert status == 200
    assert body["status"]["weights"] == {"blue": 100, "green": 0}
    status, body = await admin.call("POST", "/rollback")
    assert status == 409
    assert body["error"].startswith("nothing to roll back")


async def test_malformed_requests_are_refused_as_bad_input(admin: Admin) -> None:
    for path, body in [
        ("/flip", {"max_wait": "soon"}),
        ("/flip", {"to": "purple"}),
        ("/drain", {}),
        ("/drain", {"backend": "green", "drained": "yes"}),
        ("/weight", ["green", 10]),
    ]:
        status, answer = await admin.call("POST", path, body)
        assert (status, answer["result"]) == (400, "refused"), (path, body)
    status, answer = await admin.call("GET", "/audit?limit=0")
    assert status == 400


async def test_shadow_settings_pass_through_the_hooks(admin: Admin) -> None:
    status, body = await admin.call("POST", "/shadow", {"mode": "all"})
    assert (status, body["shadow"]) == (200, {"mode": "all"})
    status, body = await admin.call("GET", "/shadow", token=None)
    assert (status, body) == (200, {"mode": "all"})
    status, body = await admin.call("POST", "/shadow", {"mode": "everything"})
    assert (status, body["error"]) == (409, "mode must be off, reads or all")


async def test_shadow_settings_travel_in_the_control_state_and_show_in_the_status(
    admin: Admin,
) -> None:
    version = admin.plane.router.state.version
    status, body = await admin.call("POST", "/shadow", {"mode": "reads", "sample_rate": 0.5})
    assert (status, body["message"]) == (200, "shadow settings set at run time: mode, sample_rate")
    # Versioned like a flip: the store shares and persists it, replicas order it.
    assert admin.plane.router.state.version == version + 1
    status, report = await admin.call("GET", "/status", token=None)
    assert report["shadow"]["changed"] == {"mode": "reads", "sample_rate": 0.5}
    assert report["shadow"]["settings"] == {"mode": "reads", "sample_rate": 0.5}
    # The routing is untouched.
    assert (report["primary"], report["weights"]) == ("blue", {"blue": 100, "green": 0})


async def test_a_password_sent_with_shadow_settings_is_not_audited(admin: Admin) -> None:
    await admin.call("POST", "/shadow", {"mode": "all", "noise": {"password": "hunter2-secret"}})
    _, body = await admin.call("GET", "/audit?limit=1", token=None)
    entry = body["entries"][0]
    assert entry["action"] == "shadow"
    assert entry["detail"] == {"mode": "all", "noise": {"password": "**********"}}
    assert "hunter2" not in json.dumps(body)


async def test_metrics_count_changes_and_refusals(admin: Admin) -> None:
    await admin.call("POST", "/flip", {})
    async with (
        aiohttp.ClientSession() as session,
        session.get(admin.url + "/metrics") as response,
    ):
        text = await response.text()
    assert 'boltproxy_control_changes_total{action="flip",result="ok"}' in text
    assert 'boltproxy_routing_primary{backend="green"} 1.0' in text
