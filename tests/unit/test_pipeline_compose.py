"""``boltproxy pipeline --compose`` drives Docker Compose: checked with a stub ``docker``.

The stub records each call (arguments, and whether the password and primary
arrived in its environment) and answers like Docker would.
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

from boltproxy.sandbox.ports import free_port

ROOT = Path(__file__).resolve().parents[2]
FILE = "compose/docker-compose.migration-test.yml"
PROJECT = ["-f", FILE, "-p", "boltproxy-migration-test"]

STUB = """#!{python}
import json, os, sys
with open({log!r}, "a") as log:
    log.write(json.dumps({{"args": sys.argv[1:],
                          "password": os.environ.get("NEO4J_PASSWORD"),
                          "primary": os.environ.get("BOLTPROXY_PRIMARY")}}) + "\\n")
if sys.argv[1:3] == ["compose", "version"]:
    print("2.40.3")
elif "up" in sys.argv and os.environ.get("STUB_UP_FAILS"):
    print("Error response from daemon: pull access denied for neo4j", file=sys.stderr)
    sys.exit(1)
"""


def run_pipeline(tmp_path: Path, **env: str) -> tuple[subprocess.CompletedProcess[str], list[dict]]:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    log = tmp_path / "docker.log"
    docker = bin_dir / "docker"
    docker.write_text(STUB.format(python=sys.executable, log=str(log)))
    docker.chmod(docker.stat().st_mode | stat.S_IEXEC)
    # Nothing listens on these: the start step finds no server after `up`.
    ports = {"CURRENT_BOLT_PORT": str(free_port()), "NEXT_BOLT_PORT": str(free_port())}
    result = subprocess.run(
        [sys.executable, "-m", "boltproxy", "pipeline", "--compose", "--password", "s3cret-pass",
         "--work-dir", str(tmp_path / "work")],
        cwd=ROOT, capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL,
        env={**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}", "COLUMNS": "200",
             **ports, **env},
    )  # fmt: skip
    calls = [json.loads(line) for line in log.read_text().splitlines()]
    return result, calls


def test_compose_up_then_down_with_volumes_when_the_servers_do_not_answer(tmp_path: Path) -> None:
    result, calls = run_pipeline(tmp_path)
    assert [c["args"] for c in calls] == [
        ["compose", "version", "--short"],
        ["compose", *PROJECT, "up", "-d", "--wait", "--wait-timeout", "300"],
        ["compose", *PROJECT, "down", "--volumes", "--remove-orphans"],
    ]
    # The password reaches Compose through its environment, never its arguments.
    assert all(c["password"] == "s3cret-pass" for c in calls[1:])
    assert not any("s3cret-pass" in arg for c in calls for arg in c["args"])
    assert calls[1]["primary"] == "green"  # the compose proxy answers from the next version
    assert result.returncode == 1
    assert "does not answer" in result.stdout
    assert "s3cret-pass" not in result.stdout + result.stderr
    report = (tmp_path / "work" / "report.md").read_text()
    assert "| 1 | start | failed |" in report and "| 2 | populate | skipped |" in report


def test_a_failed_compose_up_is_reported_and_cleaned_up(tmp_path: Path) -> None:
    result, calls = run_pipeline(tmp_path, STUB_UP_FAILS="1")
    assert [c["args"][-1] for c in calls] == ["--short", "300", "--remove-orphans"]
    assert result.returncode == 1
    assert "docker compose up failed" in result.stdout and "pull access denied" in result.stdout
