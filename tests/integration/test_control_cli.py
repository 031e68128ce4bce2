"""``boltproxy status|flip|rollback|weight|drain`` against a live admin listener."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from click.testing import CliRunner

from boltproxy.cli import main
from boltproxy.config import AdminSettings
from boltproxy.control.admin import AdminServer, start_admin
from boltproxy.control.plane import ControlPlane
from boltproxy.control.routing import Router
from boltproxy.control.settings import ControlSettings
from boltproxy.sandbox.ports import free_port

TOKEN = "cli-test-token-0123456789"


class AdminThread:
    """An admin listener with its control plane, on an event loop of its own."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self._thread.start()
        self.plane: ControlPlane = self._run(self._open_plane())
        self.server: AdminServer = self._run(self._open_admin())
        self.url = f"http://127.0.0.1:{self.server.port}"

    def _run(self, coro: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(30)

    async def _open_plane(self) -> ControlPlane:
        return await ControlPlane.open(ControlSettings(), Router("blue", ("green",)))

    async def _open_admin(self) -> AdminServer:
        async def health() -> dict[str, Any]:
            return {"status": "ok"}

        return await start_admin(AdminSettings(port=0), health, self.plane, token=TOKEN)

    def close(self) -> None:
        self._run(self.server.close())
        self._run(self.plane.close())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(10)
        self.loop.close()


@pytest.fixture
def admin() -> Iterator[AdminThread]:
    running = AdminThread()
    yield running
    running.close()


def run(admin: AdminThread, *args: str, token: str | None = TOKEN) -> Any:
    env = {"BOLTPROXY_ADMIN_URL": admin.url}
    if token is not None:
        env["BOLTPROXY_ADMIN_TOKEN"] = token
    return CliRunner().invoke(main, list(args), env=env, catch_exceptions=False)


def test_status_prints_a_summary_or_json(admin: AdminThread) -> None:
    result = run(admin, "status", token=None)
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[:3] == [
        "primary:  blue",
        "weights:  blue 100%, green 0%",
        "drained:  none",
    ]
    assert "shadow:   as configured" in result.output.splitlines()
    result = run(admin, "status", "--json", token=None)
    assert json.loads(result.output)["primary"] == "blue"


def test_status_names_the_shadow_settings_changed_at_run_time(admin: AdminThread) -> None:
    admin._run(admin.plane.set_shadow("operator", lambda now: {"sample_rate": 0.5}, {}))
    result = run(admin, "status", token=None)
    assert "shadow:   changed at run time: sample_rate" in result.output.splitlines()


def test_flip_and_rollback_report_what_they_did(admin: AdminThread) -> None:
    result = run(admin, "flip", "--max-wait", "1")
    assert result.exit_code == 0, result.output
    assert result.output.startswith("green is primary (was blue)")
    assert admin.plane.router.primary == "green"
    result = run(admin, "rollback")
    assert result.exit_code == 0
    assert result.output.startswith("blue is primary (was green)")


@pytest.mark.parametrize("token", [None, "not-the-token-at-all"])
def test_a_change_without_the_right_token_exits_1(admin: AdminThread, token: str | None) -> None:
    result = run(admin, "flip", token=token)
    assert result.exit_code == 1
    assert "refused (HTTP 401): missing or wrong admin token" in result.output
    assert admin.plane.router.primary == "blue"


def test_weight_and_drain_and_their_refusals(admin: AdminThread) -> None:
    result = run(admin, "weight", "green=10")
    assert (result.exit_code, admin.plane.router.state.weight("green")) == (0, 10)
    result = run(admin, "weight", "green=150")
    assert result.exit_code == 1
    assert "weight of green must be from 0 to 100, not 150" in result.output
    result = run(admin, "weight", "green")
    assert result.exit_code == 2
    assert "expected BACKEND=PERCENT like green=10" in result.output
    result = run(admin, "drain", "green", "--json")
    assert result.exit_code == 0
    assert json.loads(result.output)["status"]["drained"] == ["green"]
    result = run(admin, "drain", "green", "--undo")
    assert result.exit_code == 0
    assert "green undrained" in result.output
    result = run(admin, "drain", "purple", "--json")
    assert result.exit_code == 1
    assert json.loads(result.output)["result"] == "refused"


def test_unreachable_admin_api_exits_3() -> None:
    url = f"http://127.0.0.1:{free_port()}"
    result = CliRunner().invoke(main, ["status", "--admin-url", url])
    assert result.exit_code == 3
    assert f"cannot reach the admin API at {url}" in result.output


def test_usage_errors_exit_2() -> None:
    assert CliRunner().invoke(main, ["status", "--admin-url", "localhost:7688"]).exit_code == 2
    assert CliRunner().invoke(main, ["weight"]).exit_code == 2
    assert CliRunner().invoke(main, ["flip", "--max-wait", "-1"]).exit_code == 2


def test_the_installed_command_reads_its_environment(admin: AdminThread) -> None:
    env = {**os.environ, "BOLTPROXY_ADMIN_URL": admin.url, "BOLTPROXY_ADMIN_TOKEN": TOKEN}
    done = subprocess.run(
        [sys.executable, "-m", "boltproxy", "weight", "green=30"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert "weights blue 70%, green 30%" in done.stdout
    assert TOKEN not in done.stdout + done.stderr
