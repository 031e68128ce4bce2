"""The client scenario scripts (tests/clients/) against real Neo4j, straight and through the proxy.

A script prints one JSON line per scenario: ``ok``, a ``detail`` for people and
``facts`` for comparison -- what the user observed, without run-specific ids.
Against real Neo4j (``--backend neo4j``) the scripts also need a second user for
their re-authentication scenario; :func:`temporary_user` makes one per run, so
that the wrong-password attempts of one run never lock out another run (Neo4j
locks a user for 5 s after 3 failed logins in a row).
"""

from __future__ import annotations

import itertools
import json
import os
import secrets
import shutil
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.support.neo4j import Neo4jHandle

ROOT = Path(__file__).resolve().parents[2]
CLIENTS = ROOT / "tests" / "clients"
PY_SCENARIOS = CLIENTS / "py_scenarios.py"
JS_DIR = CLIENTS / "js"
PYTHON_DRIVER_5 = ROOT / ".venv-neo4j5" / "bin" / "python"
CLIENT_TIMEOUT = 240  # seconds for one whole script run, far above a normal run

SCENARIOS = frozenset({
    "connectivity",
    "auto_commit_execute_query",
    "auto_commit_session_run",
    "explicit_transaction_commit",
    "explicit_transaction_rollback",
    "managed_transactions_with_bookmarks",
    "large_result",
    "server_error",
    "parameters",
    "values",
    "notifications",
    "reauthentication",
    "cleanup",
})

_users = itertools.count(1)


@dataclass(frozen=True)
class Client:
    """One official driver line in one mode."""

    name: str
    mode: str  # "sync" | "async" | "js"

    def command(self) -> list[str]:
        """The script's command line; skips the test if this driver is not installed."""
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
            return [str(PYTHON_DRIVER_5), str(PY_SCENARIOS), "--mode", self.mode]
        return [sys.executable, str(PY_SCENARIOS), "--mode", self.mode]  # .venv: driver 6.x


PY5_SYNC = Client("py5-sync", "sync")
PY5_ASYNC = Client("py5-async", "async")
PY6_SYNC = Client("py6-sync", "sync")
PY6_ASYNC = Client("py6-async", "async")
JS = Client("js", "js")
ALL_CLIENTS = (PY5_SYNC, PY5_ASYNC, PY6_SYNC, PY6_ASYNC, JS)


@dataclass
class ScriptRun:
    """One run of a scenario script, and what it printed."""

    label: str  # "direct" | "proxy"
    command: list[str]
    returncode: int | None
    stdout: str
    stderr: str
    secrets: tuple[str, ...] = ()

    @property
    def outcomes(self) -> dict[str, dict[str, Any]]:
        found: dict[str, dict[str, Any]] = {}
        for line in self.stdout.splitlines():
            try:
                parsed = json.loads(line)
            except ValueError:
                continue
            if isinstance(parsed, dict) and "scenario" in parsed:
                found[str(parsed["scenario"])] = parsed
        return found

    def facts(self) -> dict[str, Any]:
        return {name: outcome.get("facts") for name, outcome in self.outcomes.items()}

    def explain(self) -> str:
        text = (f"[{self.label}] $ {' '.join(self.command)}\nexit status: {self.returncode}\n"
                f"--- stdout\n{self.stdout}--- stderr (last lines)\n"
                + "\n".join(self.stderr.splitlines()[-30:]))
        for secret in self.secrets:
            text = text.replace(secret, "***")
        return text

    def failures(self) -> list[str]:
        """What went wrong in this run (empty when every scenario passed)."""
        outcomes = self.outcomes
        problems = [f"{name}: {outcome.get('detail')}" for name, outcome in outcomes.items()
                    if outcome.get("ok") is not True]
        missing = SCENARIOS - set(outcomes)
        if missing:
            problems.append(f"scenarios that never reported: {sorted(missing)}")
        if self.returncode != 0:
            problems.append(f"exit status {self.returncode}")
        return problems


@contextmanager
def temporary_user(handle: Neo4jHandle) -> Iterator[tuple[str, str]]:
    """A user of its own for one script run (name, password); dropped afterwards."""
    name = f"client_{os.getpid()}_{next(_users)}"
    password = secrets.token_hex(12)  # no leading "-": it is passed on command lines
    with handle.driver() as driver:
        driver.execute_query(
            f"CREATE OR REPLACE USER {name} SET PASSWORD $password CHANGE NOT REQUIRED",
            password=password, database_="system",
        )
        try:
            yield name, password
        finally:
            driver.execute_query(f"DROP USER {name} IF EXISTS", database_="system")


def run_scenarios(
    client: Client, uri: str, handle: Neo4jHandle, rows: int, label: str
) -> ScriptRun:
    """Run ``client``'s script against ``uri`` (the server ``handle`` or a proxy in front)."""
    user, password = handle.auth
    with temporary_user(handle) as (other_user, other_password):
        command = [
            *client.command(), "--uri", uri, "--backend", "neo4j", "--rows", str(rows),
            "--auth", "basic", "--user", user, f"--password={password}",
            "--other-user", other_user, f"--other-password={other_password}",
        ]
        hidden = (password, other_password)
        try:
            done = subprocess.run(command, capture_output=True, text=True, cwd=ROOT,
                                  timeout=CLIENT_TIMEOUT, check=False)
        except subprocess.TimeoutExpired as expired:
            return ScriptRun(label, command, None, _text(expired.stdout),
                             _text(expired.stderr) + f"\n(killed after {CLIENT_TIMEOUT} s)",
                             hidden)
    return ScriptRun(label, command, done.returncode, done.stdout, done.stderr, hidden)


def _text(output: bytes | str | None) -> str:
    if isinstance(output, bytes):
        return output.decode(errors="replace")
    return output or ""


def fact_differences(direct: ScriptRun, proxied: ScriptRun) -> list[str]:
    """Scenario by scenario, the facts that differ between the two runs."""
    ours, theirs = direct.facts(), proxied.facts()
    return [
        f"{name}:\n  direct: {json.dumps(ours.get(name), sort_keys=True)}\n"
        f"  proxy:  {json.dumps(theirs.get(name), sort_keys=True)}"
        for name in sorted(set(ours) | set(theirs))
        if ours.get(name) != theirs.get(name)
    ]
