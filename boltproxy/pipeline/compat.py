"""Step 7: does the application still work when the next version answers?

A proxy is started with green as its primary (Compose runs its own), a smoke
check goes through it, then the team's test command runs against it with the
proxy's URI in BOLTPROXY_URI and the credentials in NEO4J_USER/NEO4J_PASSWORD.
A capture or a Neo4j query log is replayed on both servers with ``boltproxy
replay``, whose report names every query shape that answers differently.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from boltproxy.pipeline.connect import open_driver
from boltproxy.pipeline.model import Server, Servers, StepFailed
from boltproxy.sandbox.ports import free_port

PROXY_START_SECONDS = 30.0
OUTPUT_TAIL_LINES = 40


# `boltproxy replay` exit codes.
REPLAY_SAME, REPLAY_DIFFERENT = 0, 4


def replay(capture: Path, servers: Servers, mode: str, work_dir: Path) -> tuple[int, Path, str]:
    """Play ``capture`` on blue and green; returns the exit code, the report, stderr's tail."""
    report = work_dir / "replay.md"
    env = {k: v for k, v in os.environ.items() if not k.startswith("BOLTPROXY_REPLAY_")}
    if servers.green.user:
        # The replay command reads these; on its command line they would be visible to all.
        env["BOLTPROXY_REPLAY_USER"] = servers.green.user
        env["BOLTPROXY_REPLAY_PASSWORD"] = servers.green.password or ""
    result = subprocess.run(
        [sys.executable, "-m", "boltproxy", "replay", str(capture),
         "--blue", servers.blue.uri, "--green", servers.green.uri, "--mode", mode,
         "--store", str(work_dir / "replay.db"), "--format", "md", "--out", str(report)],
        env=env, capture_output=True, text=True, stdin=subprocess.DEVNULL, check=False,
    )  # fmt: skip
    tail = " / ".join(result.stderr.strip().splitlines()[-3:])
    return result.returncode, report, tail


def _config(servers: Servers, port: int, admin: int) -> str:
    lines = [
        "# Written by `boltproxy pipeline`: green (the next version) answers.",
        "[listen]", 'host = "127.0.0.1"', f"port = {port}", "",
        "[admin]", 'host = "127.0.0.1"', f"port = {admin}", "",
        "[routing]", 'primary = "green"',
    ]  # fmt: skip
    for server in (servers.blue, servers.green):
        lines += ["", f"[backends.{server.name}]", f'uri = "{server.uri}"']
        if server.engine == "falkordb":
            # FalkorDB drops some connections under churn: short timeouts, more attempts.
            lines += ["connect_timeout = 2.0", "handshake_timeout = 2.0", "connect_attempts = 5"]
    return "\n".join(lines) + "\n"


@contextmanager
def proxy(servers: Servers, work_dir: Path) -> Iterator[str]:
    """A running proxy in front of both servers with green as primary; yields its URI."""
    if servers.proxy_uri is not None:
        yield servers.proxy_uri
        return
    port, admin = free_port(), free_port()
    config = work_dir / "boltproxy-green.toml"
    config.write_text(_config(servers, port, admin))
    log = (work_dir / "proxy.log").open("w")
    env = {k: v for k, v in os.environ.items() if not k.startswith("BOLTPROXY_")}
    process = subprocess.Popen(
        [sys.executable, "-m", "boltproxy", "serve", "--config", str(config)],
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        env=env,
    )
    try:
        _wait_healthy(process, admin, work_dir / "proxy.log")
        yield f"bolt://127.0.0.1:{port}"
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


def _wait_healthy(process: subprocess.Popen[bytes], admin: int, log: Path) -> None:
    deadline = time.monotonic() + PROXY_START_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            tail = log.read_text(errors="replace").strip().splitlines()[-3:]
            raise StepFailed(f"the proxy did not start: {' / '.join(tail)}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{admin}/healthz", timeout=1) as reply:
                if reply.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.2)
    raise StepFailed(f"the proxy did not report healthy within {PROXY_START_SECONDS:.0f} s")


def smoke(uri: str, green: Server) -> str:
    """One read through the proxy: what any application does first."""
    through = Server("proxy", uri, green.user, green.password, engine=green.engine)
    with open_driver(through) as driver:
        records, summary, _ = driver.execute_query("MATCH (n) RETURN count(n) AS nodes")
        agent = summary.server.agent
    return f"{records[0]['nodes']} nodes read through the proxy from {agent}"


def run_app_tests(command: str, uri: str, green: Server, work_dir: Path) -> tuple[int, str, Path]:
    """The team's command; returns its exit code, the tail of its output and the log."""
    env = dict(os.environ, BOLTPROXY_URI=uri)
    for key in ("NEO4J_USER", "NEO4J_PASSWORD"):
        env.pop(key, None)
    if green.user:
        env["NEO4J_USER"], env["NEO4J_PASSWORD"] = green.user, green.password or ""
    log = work_dir / "app-tests.log"
    with log.open("w") as handle:
        result = subprocess.run(
            command, shell=True, env=env, stdout=handle, stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL, check=False,
        )  # fmt: skip
    lines = log.read_text(errors="replace").splitlines()
    return result.returncode, "\n".join(lines[-OUTPUT_TAIL_LINES:]), log


def replay_summary(report: Path) -> str:
    """The report's headline ("N query shapes, M with differences"), if it has one."""
    try:
        lines = report.read_text().splitlines()
    except OSError:
        return ""
    return next((line.rstrip(".") for line in lines if "query shapes" in line), "")
