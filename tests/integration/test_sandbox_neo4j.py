"""`boltproxy sandbox` with real Neo4j (the default engine), driven as an operator would."""

from __future__ import annotations

import json
import os
import socket
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import neo4j
import pytest
from click.testing import CliRunner

from boltproxy.cli import main
from boltproxy.config import load_settings
from boltproxy.sandbox import java, manager
from boltproxy.sandbox.manager import DEFAULT_VERSIONS
from boltproxy.sandbox.ports import free_port
from tests.support import neo4j as real
from tests.support.falkordb import SKIP_REASON, falkordb_available

BOLTPROXY = str(Path(sys.executable).with_name("boltproxy"))
PASSWORD = "sandbox-test-pw"


@pytest.fixture
def _needs_neo4j() -> None:
    reason = real.unusable()
    if reason is not None:
        pytest.skip(reason)


@pytest.fixture
def sandbox_dir(tmp_path: Path) -> Iterator[Path]:
    """A sandbox directory whose servers are always stopped after the test."""
    directory = tmp_path / "sandbox"
    yield directory
    manager.down(directory)


def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [BOLTPROXY, "sandbox", *args], capture_output=True, text=True, timeout=600,
        env={**os.environ, **(env or {})},
    )  # fmt: skip


def processes_under(path: Path) -> list[int]:
    """Pids whose command line names ``path``: what a failed `up` must not leave behind."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if str(path).encode() in (entry / "cmdline").read_bytes():
                    found.append(int(entry.name))
            except OSError:
                continue
    return found


def one_line_failure(result: subprocess.CompletedProcess[str], directory: Path) -> str:
    assert result.returncode == 1, result.stdout + result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert not (directory / "state.json").exists()
    assert processes_under(directory.resolve()) == []
    return lines[0]


@pytest.mark.usefixtures("_needs_neo4j")
def test_up_status_query_down(sandbox_dir: Path) -> None:
    started = run("up", "--dir", str(sandbox_dir), "--password", PASSWORD)
    assert started.returncode == 0, started.stdout + started.stderr
    out = started.stdout
    assert f"Neo4j {DEFAULT_VERSIONS['blue']}" in out
    assert f"Neo4j {DEFAULT_VERSIONS['green']}" in out
    assert f"credentials:         neo4j / {PASSWORD}" in out

    settings = load_settings(sandbox_dir.resolve() / "boltproxy.toml")
    assert settings.routing.primary == "blue"
    assert set(settings.backends) == {"blue", "green"}
    for name in ("blue", "green"):
        uri = settings.backends[name].uri
        assert uri in out
        with neo4j.GraphDatabase.driver(uri, auth=("neo4j", PASSWORD)) as driver:
            records, _, _ = driver.execute_query(
                "CALL dbms.components() YIELD name, versions WHERE name = 'Neo4j Kernel' "
                "RETURN versions[0] AS v"
            )
        assert records[0]["v"] == DEFAULT_VERSIONS[name]

    status = run("status", "--dir", str(sandbox_dir))
    assert status.returncode == 0, status.stdout
    lines = [line for line in status.stdout.splitlines() if line.startswith(("blue", "green"))]
    assert len(lines) == 2
    assert all(line.endswith(" up") and " MiB" in line and " pid " in line for line in lines)

    # The password is shown to the operator by `up` and kept only in a private file.
    state = (sandbox_dir / "state.json").read_text()
    assert PASSWORD not in state
    credentials = sandbox_dir / "credentials.json"
    assert stat.S_IMODE(credentials.stat().st_mode) == 0o600
    for log in sandbox_dir.glob("*/logs/*"):
        assert PASSWORD not in log.read_text(errors="replace"), log

    second = run("up", "--dir", str(sandbox_dir))
    assert second.returncode == 1
    assert "already up" in second.stderr and len(second.stderr.strip().splitlines()) == 1
    pids = [b["pid"] for b in json.loads(state)["backends"]]
    assert run("status", "--dir", str(sandbox_dir)).returncode == 0

    stopped = run("down", "--dir", str(sandbox_dir))
    assert stopped.returncode == 0
    assert processes_under(sandbox_dir.resolve()) == []
    assert all(not Path(f"/proc/{pid}").exists() for pid in pids)
    assert run("status", "--dir", str(sandbox_dir)).returncode == 3


@pytest.mark.usefixtures("_needs_neo4j")
def test_a_version_that_does_not_resolve(sandbox_dir: Path) -> None:
    result = run("up", "--dir", str(sandbox_dir), "--blue-version", "5.26.99")
    line = one_line_failure(result, sandbox_dir)
    assert "Neo4j 5.26.99 is not on Maven Central" in line


def test_not_a_version_and_a_short_password(sandbox_dir: Path) -> None:
    bad = run("up", "--engine", "neo4j", "--dir", str(sandbox_dir), "--green-version", "latest")
    assert "'latest' is not a Neo4j version" in one_line_failure(bad, sandbox_dir)
    short = run("up", "--engine", "neo4j", "--dir", str(sandbox_dir), "--password", "short")
    assert "at least 8 characters" in one_line_failure(short, sandbox_dir)


def test_a_java_home_that_does_not_fit(sandbox_dir: Path) -> None:
    wrong = [jdk for jdk in java.candidates() if jdk.major not in (21, 25)]
    if not wrong:
        pytest.skip("no JDK here that Neo4j 2026.x refuses")
    result = run(
        "up", "--engine", "neo4j", "--dir", str(sandbox_dir),
        "--green-java-home", str(wrong[0].home),
    )  # fmt: skip
    line = one_line_failure(result, sandbox_dir)
    assert f"is Java {wrong[0].major}; Neo4j {DEFAULT_VERSIONS['green']} needs Java 21 or 25" in (
        line
    )


@pytest.mark.usefixtures("_needs_neo4j")
@pytest.mark.parametrize("option", ["--proxy-port", "--blue-port"])
def test_a_port_already_taken(sandbox_dir: Path, option: str) -> None:
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", free_port()))
        squatter.listen()
        port = squatter.getsockname()[1]
        result = run("up", "--dir", str(sandbox_dir), option, str(port))
    assert f"port {port} is already taken" in one_line_failure(result, sandbox_dir)


@pytest.mark.usefixtures("_needs_neo4j")
def test_a_server_not_up_in_time_shows_its_log(sandbox_dir: Path) -> None:
    result = run("up", "--dir", str(sandbox_dir), "--timeout", "1")
    assert result.returncode == 1
    assert "did not answer within 1 s; its log ends:" in result.stderr
    assert not (sandbox_dir / "state.json").exists()
    assert processes_under(sandbox_dir.resolve()) == []


def test_missing_maven_for_an_uncached_version(sandbox_dir: Path, tmp_path: Path) -> None:
    env = {"BOLTPROXY_CACHE_DIR": str(tmp_path / "empty-cache"), "BOLTPROXY_MVN": "/nowhere/mvn"}
    result = run("up", "--engine", "neo4j", "--dir", str(sandbox_dir), env=env)
    line = one_line_failure(result, sandbox_dir)
    assert "needs Java" in line or "Maven (mvn) is needed" in line


@pytest.fixture
def no_java(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(java, "JVM_DIRS", ())
    monkeypatch.delenv("JAVA_HOME", raising=False)
    monkeypatch.setenv("PATH", str(tmp_path / "empty-bin"))


@pytest.mark.usefixtures("no_java")
def test_missing_java_is_named(sandbox_dir: Path) -> None:
    result = CliRunner().invoke(
        main, ["sandbox", "up", "--engine", "neo4j", "--dir", str(sandbox_dir)]
    )
    assert result.exit_code == 1
    assert f"Neo4j {DEFAULT_VERSIONS['blue']} needs Java 17 or 21 and none was found" in (
        result.output
    )


@pytest.mark.usefixtures("no_java")
def test_without_java_the_default_engine_falls_back_to_falkordb(sandbox_dir: Path) -> None:
    if not falkordb_available():
        pytest.skip(SKIP_REASON)
    result = CliRunner().invoke(main, ["sandbox", "up", "--dir", str(sandbox_dir)])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("note: real Neo4j cannot run here (Neo4j ")
    assert "using FalkorDB instead" in result.output
    state = manager.load_state(sandbox_dir.resolve())
    assert state is not None and state.engine == "falkordb"
