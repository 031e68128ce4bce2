"""The migrator, called through its command line.

The pipeline runs ``boltproxy migrate … --json`` in a child process rather than
importing the migrator's internals: the command line is its stable contract
(exit codes, the JSON summary), and a child keeps its event loop and drivers
apart from ours. Credentials travel in NEO4J_* environment variables, never on
the command line, where any user of the machine could read them.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from boltproxy.pipeline.model import Server, StepFailed

# The migrator's exit codes (boltproxy migrate --help).
EXIT_MEANING = {
    1: "the operation failed",
    2: "bad usage",
    3: "a server is unreachable",
    4: "a server refused the credentials",
    5: "the export directory is foreign, corrupt or unfinished",
    6: "the target already holds data",
}


@dataclass
class Outcome:
    code: int
    data: dict[str, Any]
    stderr: str


def _env(blue: Server | None, green: Server | None, single: Server | None) -> dict[str, str]:
    env = dict(os.environ)
    for key in ("NEO4J_USER", "NEO4J_PASSWORD", "NEO4J_BLUE_USER", "NEO4J_BLUE_PASSWORD",
                "NEO4J_GREEN_USER", "NEO4J_GREEN_PASSWORD"):  # fmt: skip
        env.pop(key, None)
    if single is not None and single.user:
        env["NEO4J_USER"], env["NEO4J_PASSWORD"] = single.user, single.password or ""
    for side, server in (("BLUE", blue), ("GREEN", green)):
        if server is not None and server.user:
            env[f"NEO4J_{side}_USER"] = server.user
            env[f"NEO4J_{side}_PASSWORD"] = server.password or ""
    return env


def run(
    args: list[str],
    *,
    server: Server | None = None,
    blue: Server | None = None,
    green: Server | None = None,
    while_running: Callable[[], None] | None = None,
) -> Outcome:
    """``boltproxy migrate ARGS --json``; ``while_running`` is called about once a second."""
    command = [sys.executable, "-m", "boltproxy", "migrate", *args, "--json"]
    process = subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        env=_env(blue, green, server),
        text=True,
    )
    out: list[str] = []
    err: list[str] = []
    readers = [
        threading.Thread(target=lambda: out.append(process.stdout.read()), daemon=True),  # type: ignore[union-attr]
        threading.Thread(target=lambda: err.append(process.stderr.read()), daemon=True),  # type: ignore[union-attr]
    ]
    for reader in readers:
        reader.start()
    while True:
        try:
            process.wait(1.0)
            break
        except subprocess.TimeoutExpired:
            if while_running is not None:
                while_running()
    for reader in readers:
        reader.join()
    stdout, stderr = "".join(out), "".join(err)
    try:
        data = json.loads(stdout) if stdout.strip() else {}
    except ValueError:
        data = {"raw": stdout[-2000:]}
    return Outcome(process.returncode, data if isinstance(data, dict) else {"value": data}, stderr)


def require(outcome: Outcome, what: str) -> dict[str, Any]:
    """The summary of a successful run, else StepFailed with the migrator's own message."""
    if outcome.code == 0:
        return outcome.data
    message = str(outcome.data.get("error") or "").strip() or _last_error(outcome.stderr)
    meaning = EXIT_MEANING.get(outcome.code, f"exit code {outcome.code}")
    raise StepFailed(f"{what} failed ({meaning}): {message}" if message else f"{what}: {meaning}")


def _last_error(stderr: str) -> str:
    lines = [line for line in stderr.splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("error:")]
    return (errors or lines or [""])[-1].removeprefix("error:").strip()


def exported_entities(directory: Path) -> int:
    """Entities written so far to an export directory (its manifest lists every batch)."""
    try:
        manifest = json.loads((directory / "manifest.json").read_text())
    except (OSError, ValueError):
        return 0
    total = 0
    for entry in manifest.get("batches", []) or []:
        if isinstance(entry, dict):
            total += int(entry.get("count", 0))
    return total
