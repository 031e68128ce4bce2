"""Authentication against real Neo4j through the proxy: Neo4j's own failure, no credential logged.

The proxy passes LOGON through: a wrong password must reach the driver as the
server's ``Neo.ClientError.Security.Unauthorized``, with the same exception class,
message and GQL status as straight from the server, for every driver line. And
nothing the proxy logs -- at DEBUG, in-process or as ``boltproxy serve`` -- may
contain a password, right or wrong.

Each wrong-password attempt uses a user of its own (Neo4j locks a user out after
three failures in a row, which would break every other test logging in as it).
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import socket
import subprocess
import sys
import time
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import neo4j
import pytest

from boltproxy.sandbox.ports import free_port
from tests.support.neo4j import Neo4jHandle
from tests.support.proxy import proxy_settings, running_proxy, stop_process
from tests.support.real_clients import JS_DIR, PYTHON_DRIVER_5, ROOT, temporary_user

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(240)]

# Runs under either Python driver line; the password comes in the environment.
PY_WRONG_LOGIN = """
import json, os, sys, neo4j
auth = (os.environ["PROBE_USER"], os.environ["PROBE_PASSWORD"])
try:
    with neo4j.GraphDatabase.driver(sys.argv[1], auth=auth) as driver:
        driver.verify_connectivity()
except Exception as error:
    print(json.dumps({"class": type(error).__module__ + "." + type(error).__name__,
                      "code": getattr(error, "code", None),
                      "message": getattr(error, "message", None),
                      "gql_status": getattr(error, "gql_status", None),
                      "description": getattr(error, "gql_status_description", None)}))
else:
    print(json.dumps({"class": None}))
"""
JS_WRONG_LOGIN = """
import neo4j from 'neo4j-driver'
const auth = neo4j.auth.basic(process.env.PROBE_USER, process.env.PROBE_PASSWORD)
const driver = neo4j.driver(process.argv[1], auth)
let out = { class: null }
try {
  await driver.verifyConnectivity()
} catch (error) {
  out = { class: error.constructor.name, code: error.code, message: error.message,
          gql_status: error.gqlStatus, description: error.gqlStatusDescription }
}
await driver.close()
console.log(JSON.stringify(out))
"""


@pytest.fixture(params=["blue", "green"])
def server(request: pytest.FixtureRequest) -> Neo4jHandle:
    handle: Neo4jHandle = request.getfixturevalue(f"neo4j_{request.param}")
    return handle


def _wrong_login(driver_line: str, uri: str, user: str, password: str) -> dict[str, Any]:
    if driver_line == "js":
        node = shutil.which("node")
        if node is None or not (JS_DIR / "node_modules" / "neo4j-driver").is_dir():
            pytest.skip("the JavaScript driver is not installed")
        command = [node, "--input-type=module", "-e", JS_WRONG_LOGIN, uri]
        cwd = JS_DIR
    else:
        python = sys.executable if driver_line == "py6" else str(PYTHON_DRIVER_5)
        if not Path(python).exists():
            pytest.skip("no .venv-neo4j5: run scripts/test to install the 5.28 driver")
        command, cwd = [python, "-c", PY_WRONG_LOGIN, uri], ROOT
    environment = {**os.environ, "PROBE_USER": user, "PROBE_PASSWORD": password}
    done = subprocess.run(command, capture_output=True, text=True, cwd=cwd, env=environment,
                          timeout=60, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


@pytest.mark.parametrize("driver_line", ["py6", "py5", "js"])
def test_a_wrong_password_is_neo4js_own_failure_through_the_proxy(
    server: Neo4jHandle, driver_line: str
) -> None:
    with running_proxy(proxy_settings(server.uri)) as proxy, temporary_user(server) as user:
        name, password = user
        seen = {
            path: _wrong_login(driver_line, uri, name, password + "-wrong")
            for path, uri in (("direct", server.uri), ("proxy", proxy.uri))
        }
    assert seen["proxy"] == seen["direct"]
    assert seen["proxy"]["code"] == "Neo.ClientError.Security.Unauthorized", seen
    expected = "Neo4jError" if driver_line == "js" else "neo4j.exceptions.AuthError"
    assert seen["proxy"]["class"] == expected


# --------------------------------------------------------------------------- logs


def _workload(uri: str, server: Neo4jHandle, other: tuple[str, str]) -> None:
    """Everything that carries a password: logins, re-auth, a wrong one, routing."""
    wrong = (other[0], other[1] + "-wrong")
    for scheme_uri in (uri, uri.replace("bolt://", "neo4j://")):
        with (
            warnings.catch_warnings(),
            neo4j.GraphDatabase.driver(scheme_uri, auth=server.auth) as driver,
        ):
            warnings.simplefilter("ignore")  # verify_authentication may be a preview
            assert driver.execute_query("RETURN $p AS p", p="x").records[0]["p"] == "x"
            assert driver.verify_authentication(auth=other) is True
            with driver.session(auth=other) as session:
                assert session.run("SHOW CURRENT USER YIELD user").single()["user"] == other[0]
            if scheme_uri == uri:  # one wrong attempt per path (lockout after three)
                with pytest.raises(neo4j.exceptions.AuthError), driver.session(auth=wrong) as s:
                    s.run("RETURN 1").consume()


def _assert_no_secret(text: str, secrets: list[str]) -> None:
    for secret in secrets:
        assert secret not in text, "a password reached the proxy's log"


def test_no_credential_reaches_the_proxys_log_at_debug(
    server: Neo4jHandle, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    with temporary_user(server) as other:
        with running_proxy(proxy_settings(server.uri, log_level="DEBUG")) as proxy:
            _workload(proxy.uri, server, other)
        secrets = [server.auth[1], other[1], other[1] + "-wrong"]
    proxy_records = [r for r in caplog.records if r.name.startswith("boltproxy")]
    # The capture saw the proxy at work (LOGON relayed, at DEBUG), or it would prove nothing.
    assert any(r.levelno == logging.DEBUG and "LOGON" in r.getMessage() for r in proxy_records)
    text = "\n".join(f"{r.getMessage()} {r.args!r} {r.exc_text or ''}" for r in proxy_records)
    _assert_no_secret(text, secrets)


def _wait_listening(port: int, process: subprocess.Popen[bytes], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert process.poll() is None, "boltproxy serve exited"
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.05)  # poll: the listener comes up within a second or two
    raise AssertionError(f"boltproxy serve did not listen on {port} within {timeout} s")


@pytest.fixture
def serve_log(tmp_path: Path, neo4j_blue: Neo4jHandle) -> Iterator[tuple[str, Path]]:
    """``boltproxy serve`` at DEBUG in front of blue, its output in a file."""
    port = free_port()
    config = tmp_path / "boltproxy.toml"
    config.write_text(
        f'log_level = "DEBUG"\n[listen]\nhost = "127.0.0.1"\nport = {port}\n'
        f'[admin]\nenabled = false\n[backends.blue]\nuri = "{neo4j_blue.uri}"\n'
    )
    log_file = tmp_path / "serve.log"
    with log_file.open("wb") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", "boltproxy", "serve", "--config", str(config)],
            stdout=output, stderr=subprocess.STDOUT, cwd=ROOT,
        )
        try:
            _wait_listening(port, process)
            yield f"bolt://127.0.0.1:{port}", log_file
        finally:
            stop_process(process, 20)


def test_no_credential_reaches_the_log_of_boltproxy_serve(
    neo4j_blue: Neo4jHandle, serve_log: tuple[str, Path]
) -> None:
    uri, log_file = serve_log
    with temporary_user(neo4j_blue) as other:
        _workload(uri, neo4j_blue, other)
        secrets = [neo4j_blue.auth[1], other[1], other[1] + "-wrong"]
    text = log_file.read_text(errors="replace")
    assert " DEBUG boltproxy" in text and "LOGON" in text, text[-2000:]
    _assert_no_secret(text, secrets)
