"""Docker Compose as the pipeline drives it (``--compose``): up, and down with volumes."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from boltproxy.pipeline.model import StepFailed

DEFAULT_FILE = Path("compose/docker-compose.migration-test.yml")
PROJECT = "boltproxy-migration-test"
# Host ports as the file publishes them, each overridable by the same variable.
PORTS = {
    "CURRENT_BOLT_PORT": 7687,
    "NEXT_BOLT_PORT": 7688,
    "BOLTPROXY_BOLT_PORT": 7689,
    "BOLTPROXY_ADMIN_PORT": 7690,
}
WAIT_SECONDS = 300


def port(name: str) -> int:
    return int(os.environ.get(name, PORTS[name]))


class Compose:
    def __init__(self, file: Path, password: str, project: str = PROJECT) -> None:
        self.file = file
        self.project = project
        # The file reads the password and the proxy's primary from the environment.
        self.env = dict(os.environ, NEO4J_PASSWORD=password, BOLTPROXY_PRIMARY="green")

    def _command(self, *args: str) -> list[str]:
        return ["docker", "compose", "-f", str(self.file), "-p", self.project, *args]

    def _run(self, *args: str, timeout: float = 120.0) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            self._command(*args),
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
            stdin=subprocess.DEVNULL,
            check=False,
        )

    def check(self) -> str:
        """The Compose version; StepFailed when docker or its compose plugin is missing."""
        if shutil.which("docker") is None:
            raise StepFailed("--compose needs the docker command, which is not on PATH")
        if not self.file.is_file():
            raise StepFailed(f"{self.file} does not exist (run from the repository root)")
        result = subprocess.run(
            ["docker", "compose", "version", "--short"],
            capture_output=True,
            text=True,
            check=False,
            stdin=subprocess.DEVNULL,
        )
        if result.returncode != 0:
            raise StepFailed(f"`docker compose` is not usable here: {result.stderr.strip()}")
        return result.stdout.strip()

    def up(self) -> None:
        # --wait returns once every health check passes (or fails): the servers
        # answer Bolt before the pipeline writes to them.
        result = self._run(
            "up", "-d", "--wait", "--wait-timeout", str(WAIT_SECONDS), timeout=WAIT_SECONDS + 60
        )
        if result.returncode != 0:
            tail = "\n".join(result.stderr.strip().splitlines()[-5:])
            raise StepFailed(f"docker compose up failed: {tail}")

    def down(self) -> str:
        result = self._run("down", "--volumes", "--remove-orphans")
        if result.returncode != 0:
            return f"docker compose down failed: {result.stderr.strip()}"
        return f"compose project {self.project} removed with its volumes"
