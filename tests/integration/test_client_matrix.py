"""The official drivers through boltproxy: every driver line, both URI schemes, two backends.

Each case runs a client scenario script (``tests/clients/``) as its own process
-- the Python driver 5.28.x and 6.x, sync and async, and the JavaScript driver
-- against a real proxy in front of either the scripted fake Neo4j 5.26 or
FalkorDB. A script prints one JSON line per scenario; a case passes when every
scenario did. Control runs go to the backends directly, so a failure seen
through the proxy can be told apart from one the backend causes by itself.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from boltproxy.sandbox.falkordb import FalkorDBServer, SandboxError
from tests.support.fakeneo import NEO4J_5_26, FakeNeo4j, QueryLog, Result, run_in_thread
from tests.support.proxy import ThreadedProxy, proxy_settings, running_proxy

ROOT = Path(__file__).resolve().parents[2]
CLIENTS = ROOT / "tests" / "clients"
PY_SCENARIOS = CLIENTS / "py_scenarios.py"
JS_DIR = CLIENTS / "js"
PYTHON_DRIVER_5 = ROOT / ".venv-neo4j5" / "bin" / "python"

SCENARIOS = {
    "connectivity",
    "auto_commit_execute_query",
    "auto_commit_session_run",
    "explicit_transaction_commit",
    "explicit_transaction_rollback",
    "managed_transactions_with_bookmarks",
    "large_result",
    "server_error",
    "parameters",
}
FAKE_USER, FAKE_PASSWORD = "neo4j", "password"
FEW_ROWS = 2_500  # still several PULL batches (the scripts fetch 1,000 at a time)
MANY_ROWS = 100_000
CLIENT_TIMEOUT = 240  # seconds for one whole script run, far above a normal run

pytestmark = pytest.mark.timeout(CLIENT_TIMEOUT + 60)


@dataclass(frozen=True)
class Client:
    """One official driver line in one mode."""

    name: str
    mode: str  # "sync" | "async" | "js"

    def command(self) -> list[str]:
        if self.mode == "js":
            node = shutil.which("node")
            if node is None:
                pytest.skip("Node.js is not installed: the JavaScript driver cannot run")
            if not (JS_DIR / "node_modules" / "neo4j-driver").is_dir():
                pytest.skip("neo4j-driver is not installed: run scripts/test (npm install "
                            "in tests/clients/js)")
            return [node, str(JS_DIR / "scenarios.mjs")]
        if self.name.startswith("py5"):
            if not PYTHON_DRIVER_5.exists():
                pytest.skip("no .venv-neo4j5: run scripts/test to install the 5.28 driver")
            python = str(PYTHON_DRIVER_5)
        else:
            python = sys.executable  # .venv, with the 6.x driver
        return [python, str(PY_SCENARIOS), "--mode", self.mode]


PY5_SYNC = Client("py5-sync", "sync")
PY5_ASYNC = Client("py5-async", "async")
PY6_SYNC = Client("py6-sync", "sync")
PY6_ASYNC = Client("py6-async", "async")
JS = Client("js", "js")
ALL_CLIENTS = [PY5_SYNC, PY5_ASYNC, PY6_SYNC, PY6_ASYNC, JS]

# The 100,000-row result is the slow scenario: once per driver line is enough.
MANY_ROWS_CASES = {
    ("py5-sync", "bolt", "fake"),
    ("py6-async", "bolt", "falkordb"),
    ("js", "neo4j", "fake"),
}


@dataclass
class ScriptRun:
    command: list[str]
    returncode: int | None
    stdout: str
    stderr: str

    @property
    def outcomes(self) -> list[dict[str, object]]:
        lines = []
        for line in self.stdout.splitlines():
            try:
                parsed = json.loads(line)
            except ValueError:
                continue
            if isinstance(parsed, dict) and "scenario" in parsed:
                lines.append(parsed)
        return lines

    def explain(self) -> str:
        shown = " ".join(
            "***" if previous == "--password" else part
            for previous, part in zip(["", *self.command], self.command, strict=False)
        )
        return (f"$ {shown}\nexit status: {self.returncode}\n--- stdout\n{self.stdout}"
                f"--- stderr (last lines)\n" + "\n".join(self.stderr.splitlines()[-30:]))


def run_client(client: Client, uri: str, backend: str, rows: int, *extra: str) -> ScriptRun:
    command = [*client.command(), "--uri", uri, "--backend", backend, "--rows", str(rows)]
    if backend == "fake":
        command += ["--auth", "basic", "--user", FAKE_USER, "--password", FAKE_PASSWORD]
    else:
        # FalkorDB has no password; the JavaScript driver only gets in with no auth.
        command += ["--auth", "none"]
        if not uri.startswith("neo4j://"):
            # With routing, FalkorDB answers every ROUTE with rt.db = "falkordb",
            # whatever db was asked for, and the Python driver then finds no table
            # for the database it named (straight to FalkorDB as well as through
            # the proxy, which relays the backend's answer): routed runs use the
            # home database instead.
            command += ["--database", "clientmatrix"]
    command += list(extra)
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=CLIENT_TIMEOUT,
                              cwd=ROOT, check=False)
    except subprocess.TimeoutExpired as expired:
        return ScriptRun(command, None, _text(expired.stdout),
                         _text(expired.stderr) + f"\n(killed after {CLIENT_TIMEOUT} s)")
    return ScriptRun(command, done.returncode, done.stdout, done.stderr)


def _text(output: bytes | str | None) -> str:
    if isinstance(output, bytes):
        return output.decode(errors="replace")
    return output or ""


def assert_all_passed(run: ScriptRun) -> None:
    outcomes = run.outcomes
    failed = [o for o in outcomes if o.get("ok") is not True]
    seen = {str(o["scenario"]) for o in outcomes}
    assert not failed and seen == SCENARIOS and run.returncode == 0, run.explain()


# --------------------------------------------------------------------------- backends


def echo_parameter(call: QueryLog) -> Result:
    return Result(["p"], [[call.parameters.get("p")]])


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeNeo4j]:
    server = FakeNeo4j(profile=NEO4J_5_26)
    # The scenario scripts send ``RETURN $p AS p`` and expect ``$p`` back unchanged.
    server.script.on(re.compile(r"^\s*RETURN \$p AS p\s*$"), echo_parameter)
    with run_in_thread(server) as running:
        yield running


@pytest.fixture(scope="module")
def falkordb_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FalkorDBServer]:
    # Our own server: FalkorDB picks the graph from the first key of RUN's extra
    # map, not from ``db``, so a graph name would not isolate us from other tests.
    try:
        server = FalkorDBServer(tmp_path_factory.mktemp("falkordb-matrix"), name="matrix")
        server.start()
    except SandboxError as error:
        pytest.skip(f"FalkorDB is not available: {error}")
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def proxy_to_fake(fake: FakeNeo4j) -> Iterator[ThreadedProxy]:
    with running_proxy(proxy_settings(fake.uri)) as proxy:
        yield proxy


@pytest.fixture(scope="module")
def proxy_to_falkordb(falkordb_server: FalkorDBServer) -> Iterator[ThreadedProxy]:
    with running_proxy(proxy_settings(falkordb_server.bolt_uri)) as proxy:
        yield proxy


# --------------------------------------------------------------------------- the matrix


def matrix_cases() -> list[object]:
    cases: list[object] = []
    for client in ALL_CLIENTS:
        for scheme in ("bolt", "neo4j"):
            for backend in ("fake", "falkordb"):
                cases.append(pytest.param(client, scheme, backend,
                                          id=f"{client.name}-{scheme}-{backend}"))
    return cases


@pytest.mark.parametrize(("client", "scheme", "backend"), matrix_cases())
def test_driver_scenarios_pass_through_the_proxy(
    client: Client, scheme: str, backend: str, request: pytest.FixtureRequest
) -> None:
    client.command()  # skips before any backend starts if this driver is missing
    proxy: ThreadedProxy = request.getfixturevalue(f"proxy_to_{backend}")
    uri = proxy.uri if scheme == "bolt" else proxy.routing_uri()
    rows = MANY_ROWS if (client.name, scheme, backend) in MANY_ROWS_CASES else FEW_ROWS
    assert_all_passed(run_client(client, uri, backend, rows))


# --------------------------------------------------------------------------- controls


def test_control_python_driver_straight_to_the_fake(fake: FakeNeo4j) -> None:
    """Without the proxy: if this fails too, the fault is the fake's or the script's."""
    assert_all_passed(run_client(PY6_SYNC, fake.uri, "fake", FEW_ROWS))


def test_control_python_driver_straight_to_falkordb(falkordb_server: FalkorDBServer) -> None:
    """Without the proxy. FalkorDB leaves a share of new connections unanswered after
    others have closed, so the script may retry its first connection here."""
    run = run_client(PY6_SYNC, falkordb_server.bolt_uri, "falkordb", FEW_ROWS,
                     "--timeout", "2", "--connect-attempts", "5")
    assert_all_passed(run)
