"""The live status page, opened in headless Chromium."""

from __future__ import annotations

import asyncio
import re
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from boltproxy.config import AdminSettings
from boltproxy.control.admin import start_admin
from boltproxy.control.api import AdminHooks, MemoryShadowSettings, ShapeMatch
from boltproxy.control.plane import ControlPlane
from boltproxy.control.routing import Router
from boltproxy.control.settings import ControlSettings

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="chromium not found (Debian: apt-get install -y chromium)"
)


async def healthy() -> dict[str, Any]:
    return {"status": "ok"}


def shapes() -> Sequence[ShapeMatch]:
    return [ShapeMatch("MATCH (n:Person) WHERE n.id = $id RETURN n", 45, 50)]


async def dump_dom(url: str, profile: Path) -> str:
    """The page's DOM after its scripts ran (and, in virtual time, refreshed)."""
    assert CHROMIUM is not None
    process = await asyncio.create_subprocess_exec(
        CHROMIUM,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={profile}",
        # Lets the page's one-second refresh run before the DOM is dumped.
        "--virtual-time-budget=2500",
        "--dump-dom",
        url,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        out, err = await asyncio.wait_for(process.communicate(), 120)
    except TimeoutError:
        process.kill()
        await process.wait()
        raise
    assert process.returncode == 0, err.decode(errors="replace")[-2000:]
    return out.decode()


def text_of(dom: str, element_id: str) -> str:
    match = re.search(rf'id="{element_id}"[^>]*>(.*?)</', dom, re.S)
    assert match, f"no element {element_id} in the page"
    return match.group(1)


async def test_status_page_shows_primary_weights_guards_shapes_and_audit(tmp_path: Path) -> None:
    control = await ControlPlane.open(ControlSettings(), Router("blue", ("green",)))
    memory = MemoryShadowSettings(control)
    server = await start_admin(
        AdminSettings(port=0),
        healthy,
        control,
        token="page-test-token-0123456789",
        hooks=AdminHooks(memory.get, memory.revise, shapes),
    )
    try:
        await control.flip("token:abc@127.0.0.1")
        await control.weight("token:abc@127.0.0.1", {"blue": 10})
        for _ in range(5):
            control.guards.observe("green", ok=True, latency=0.004)
        dom = await dump_dom(f"http://127.0.0.1:{server.port}/", tmp_path / "profile")
    finally:
        await server.close()
        await control.close()
    assert text_of(dom, "primary") == "green"
    assert text_of(dom, "previous") == "blue"
    # The weights table: backend, role, weight, drained.
    assert "<td>green</td><td>primary</td><td>90%</td><td>no</td>" in dom
    assert "<td>blue</td><td>candidate</td><td>10%</td><td>no</td>" in dom
    assert text_of(dom, "guard-state").startswith("armed, watching")
    assert "<td>green</td><td>5</td><td>0.0%</td>" in dom
    assert "<td>MATCH (n:Person) WHERE n.id = $id RETURN n</td><td>45</td><td>50</td>" in dom
    assert "<td>90.0%</td>" in dom
    assert "<td>token:abc@127.0.0.1</td><td>weight</td><td>ok</td>" in dom
    assert "<td>token:abc@127.0.0.1</td><td>flip</td><td>ok</td>" in dom
    # The script refreshed the page from the API (it is live, not only as served).
    assert 'data-live="live"' in dom, text_of(dom, "updated")
