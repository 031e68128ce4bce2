"""``boltproxy serve --workers 2``: two relay processes on one port, supervised."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import neo4j
import pytest

from boltproxy.sandbox.ports import free_port
from boltproxy.shadow.replicas import replica_paths
from boltproxy.shadow.store import StoreError, load
from tests.support.fakeneo import NEO4J_5_26, FakeNeo4j, run_in_thread
from tests.support.proxy import stop_process

AUTH = ("neo4j", "password")


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeNeo4j]:
    with run_in_thread(FakeNeo4j(profile=NEO4J_5_26)) as server:
        yield server


def _children(pid: int) -> list[int]:
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        found += [int(c) for c in (task / "children").read_text().split()]
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def _socket_inodes(pid: int) -> set[int]:
    inodes: set[int] = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(int(target[8:-1]))
    return inodes


def _tcp_sockets(port: int) -> dict[int, str]:
    """Inode → 'listen' or 'established' for this machine's TCP sockets on local ``port``."""
    found: dict[int, str] = {}
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            local_port = int(fields[1].rsplit(":", 1)[1], 16)
            if local_port == port and fields[3] in ("0A", "01"):
                found[int(fields[9])] = "listen" if fields[3] == "0A" else "established"
    return found


def _wait_for(condition: Callable[[], bool], timeout: float = 60.0) -> None:
    # Generous: interpreters start slowly on a loaded machine; a pass returns at once.
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.1)
    raise AssertionError("timed out")


def _accepts(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


def _serve_two_workers(tmp_path: Path, port: int, sections: str) -> subprocess.Popen[bytes]:
    """``serve --workers 2`` on ``port``, configured with ``sections`` besides the listener."""
    config = tmp_path / "boltproxy.toml"
    config.write_text(
        f'log_level = "WARNING"\n[listen]\nhost = "127.0.0.1"\nport = {port}\n{sections}'
    )
    return subprocess.Popen(
        [sys.executable, "-m", "boltproxy", "serve", "--config", str(config), "--workers", "2"],
        stdout=subprocess.DEVNULL,
    )


@pytest.fixture
def served(fake: FakeNeo4j, tmp_path: Path) -> Iterator[tuple[subprocess.Popen[bytes], int]]:
    port = free_port()
    process = _serve_two_workers(
        tmp_path, port, f'[admin]\nenabled = false\n[backends.blue]\nuri = "{fake.uri}"\n'
    )
    try:
        _wait_for(lambda: len(_children(process.pid)) == 2 and _accepts(port))
        yield process, port
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(10)


def test_two_workers_accept_on_one_port_and_a_driver_works(
    served: tuple[subprocess.Popen[bytes], int],
) -> None:
    process, port = served
    workers = _children(process.pid)
    assert len(workers) == 2
    # Both workers listen on the port (the parent only reserves it, never listening).
    _wait_for(lambda: all("listen" in _states(pid, port) for pid in workers))
    assert "listen" not in _states(process.pid, port)

    with neo4j.GraphDatabase.driver(f"bolt://127.0.0.1:{port}", auth=AUTH) as driver:
        for _ in range(5):
            records, _, _ = driver.execute_query("RETURN 1 AS x")
            assert [r["x"] for r in records] == [1]

    # The kernel spreads new connections over both workers.
    clients = [socket.create_connection(("127.0.0.1", port), timeout=5) for _ in range(24)]
    try:
        _wait_for(lambda: all("established" in _states(pid, port) for pid in workers))
    finally:
        for client in clients:
            client.close()


def _states(pid: int, port: int) -> set[str]:
    sockets = _tcp_sockets(port)
    return {sockets[inode] for inode in _socket_inodes(pid) if inode in sockets}


def test_a_dead_worker_is_replaced_and_stopping_the_parent_stops_all(
    served: tuple[subprocess.Popen[bytes], int],
) -> None:
    process, port = served
    first, second = _children(process.pid)
    os.kill(second, signal.SIGKILL)
    _wait_for(lambda: len(set(_children(process.pid)) - {first, second}) == 1)
    replacement = (set(_children(process.pid)) - {first, second}).pop()
    _wait_for(lambda: "listen" in _states(replacement, port))
    with neo4j.GraphDatabase.driver(f"bolt://127.0.0.1:{port}", auth=AUTH) as driver:
        records, _, _ = driver.execute_query("RETURN 1 AS x")
        assert [r["x"] for r in records] == [1]

    process.send_signal(signal.SIGTERM)
    assert process.wait(15) == 0
    assert not _alive(first) and not _alive(replacement)
    assert not _accepts(port)


def test_workers_die_with_a_killed_parent(served: tuple[subprocess.Popen[bytes], int]) -> None:
    process, _port = served
    workers = _children(process.pid)
    process.kill()
    process.wait(10)
    _wait_for(lambda: not any(_alive(pid) for pid in workers), timeout=10)


@pytest.fixture
def redis_url(tmp_path: Path) -> Iterator[str]:
    """A throwaway redis-server: several workers with an admin listener need a shared store."""
    from tests.integration.test_control_redis import REDIS_SERVER, wait_until_listening

    if REDIS_SERVER is None:
        pytest.skip("no redis-server (Debian: apt-get install -y redis-server)")
    port = free_port()
    process = subprocess.Popen(
        [REDIS_SERVER, "--port", str(port), "--bind", "127.0.0.1", "--dir", str(tmp_path),
         "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        wait_until_listening(process, port)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        process.terminate()
        process.wait(10)


def _open_clients(admin_port: int) -> float | None:
    """boltproxy_open_connections{side="client"} as /metrics reports it."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{admin_port}/metrics", timeout=2) as reply:
            text = reply.read().decode()
    except OSError:
        return None
    for line in text.splitlines():
        if line.startswith('boltproxy_open_connections{side="client"}'):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def test_metrics_cover_every_worker(fake: FakeNeo4j, tmp_path: Path, redis_url: str) -> None:
    port, admin_port = free_port(), free_port()
    process = _serve_two_workers(
        tmp_path,
        port,
        f'[admin]\nenabled = true\nhost = "127.0.0.1"\nport = {admin_port}\n'
        f'[control]\nstore = "{redis_url}"\n[backends.blue]\nuri = "{fake.uri}"\n',
    )
    clients: list[socket.socket] = []
    try:
        _wait_for(lambda: len(_children(process.pid)) == 2 and _accepts(port))
        workers = _children(process.pid)
        _wait_for(lambda: all("listen" in _states(pid, port) for pid in workers))
        _wait_for(lambda: _open_clients(admin_port) == 0.0)
        clients = [socket.create_connection(("127.0.0.1", port), timeout=5) for _ in range(24)]
        # Both workers hold some of them, and worker 0's /metrics counts them all.
        _wait_for(lambda: all("established" in _states(pid, port) for pid in workers))
        _wait_for(lambda: _open_clients(admin_port) == 24.0)
    finally:
        for client in clients:
            client.close()
        process.send_signal(signal.SIGTERM)
        process.wait(15)


def test_each_worker_captures_to_its_own_file_and_nothing_is_lost(
    fake: FakeNeo4j, tmp_path: Path
) -> None:
    port = free_port()
    capture = tmp_path / "capture.jsonl"
    process = _serve_two_workers(
        tmp_path,
        port,
        f'[admin]\nenabled = false\n[backends.blue]\nuri = "{fake.uri}"\n'
        f'[shadow]\nmode = "off"\ncapture = "{capture}"\n',
    )
    files = [tmp_path / "capture.worker-0.jsonl", tmp_path / "capture.worker-1.jsonl"]
    try:
        # Each worker opens its capture as its shadow worker starts.
        _wait_for(lambda: all(f.exists() for f in files) and _accepts(port))
        drivers = [neo4j.GraphDatabase.driver(f"bolt://127.0.0.1:{port}", auth=AUTH)
                   for _ in range(8)]  # fmt: skip
        for number, driver in enumerate(drivers):
            with driver:
                driver.execute_query(f"RETURN {number} AS x")
        process.send_signal(signal.SIGTERM)
        assert process.wait(30) == 0  # each worker flushes its capture on the way out
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(10)
    assert replica_paths(capture) == files
    captured = [json.loads(line) for f in files for line in f.read_text().splitlines()]
    assert sorted(c["query"] for c in captured) == [f"RETURN {n} AS x" for n in range(8)]


TOKEN = "workers-admin-token-0123456789"


def _admin(admin_port: int, method: str, path: str, body: object = None) -> Any:
    """The admin API's JSON answer; None while it is not listening yet."""
    request = urllib.request.Request(
        f"http://127.0.0.1:{admin_port}{path}",
        method=method,
        data=None if body is None else json.dumps(body).encode(),
        headers={"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=5) as reply:
            return json.loads(reply.read())
    except urllib.error.HTTPError:
        raise  # an answer, not an absence: the test must see it
    except OSError:
        return None


def _compared(store: Path) -> int:
    """Comparisons in one worker's shadow store so far (0 before it has any)."""
    try:
        return sum(shape.total for shape in load([store]).values())
    except StoreError:
        return 0


def test_shadow_settings_posted_to_worker_0_reach_the_other_worker(
    fake: FakeNeo4j, tmp_path: Path, redis_url: str
) -> None:
    with run_in_thread(FakeNeo4j(profile=NEO4J_5_26)) as green:
        port, admin_port = free_port(), free_port()
        process = _serve_two_workers(
            tmp_path,
            port,
            f'[admin]\nenabled = true\nhost = "127.0.0.1"\nport = {admin_port}\n'
            f'token = "{TOKEN}"\n[control]\nstore = "{redis_url}"\n'
            f'[backends.blue]\nuri = "{fake.uri}"\n[backends.green]\nuri = "{green.uri}"\n'
            # Nothing mirrored until an operator asks for it at run time.
            f'[shadow]\nmode = "reads"\nsample_rate = 0.0\nstore = "{tmp_path / "shadow.db"}"\n',
        )
        stores = [tmp_path / "shadow.worker-0.db", tmp_path / "shadow.worker-1.db"]
        try:
            _wait_for(lambda: len(_children(process.pid)) == 2 and _accepts(port))
            workers = _children(process.pid)
            _wait_for(lambda: all("listen" in _states(pid, port) for pid in workers))
            _wait_for(lambda: _admin(admin_port, "GET", "/shadow") is not None)

            answer = _admin(admin_port, "POST", "/shadow", {"sample_rate": 1.0})
            assert answer["shadow"]["sample_rate"] == 1.0
            report = _admin(admin_port, "GET", "/status")
            assert report["shadow"]["changed"] == {"sample_rate": 1.0}

            def every_worker_mirrors() -> bool:
                # Each new connection lands on either worker (the kernel spreads them).
                with neo4j.GraphDatabase.driver(f"bolt://127.0.0.1:{port}", auth=AUTH) as driver:
                    driver.execute_query("RETURN 1 AS x")
                return all(_compared(store) > 0 for store in stores)

            _wait_for(every_worker_mirrors)
        finally:
            stop_process(process, 15)
