"""What the pipeline's steps share: options, the servers under test, step outcomes."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

Status = Literal["passed", "failed", "skipped"]
Mode = Literal["sandbox", "compose", "external"]

# The order the steps run in; --pause-before takes one of these names.
STEP_NAMES = (
    "start",
    "populate",
    "snapshot",
    "export",
    "import",
    "validate",
    "compatibility",
    "cleanup",
)


class StepFailed(Exception):
    """A step could not do its job; the message says what broke and what to do."""


@dataclass
class StepResult:
    name: str
    status: Status
    summary: str
    seconds: float
    details: list[str] = field(default_factory=list)
    # Tables for the report: title → rows (the first row is the header).
    tables: dict[str, list[list[str]]] = field(default_factory=dict)


@dataclass
class Server:
    """One side as the steps reach it. The password is kept out of ``repr``."""

    name: str  # "blue" (current) or "green" (next)
    uri: str
    user: str | None
    password: str | None = field(repr=False)
    version: str = ""
    engine: str = "neo4j"  # or "falkordb"

    @property
    def auth(self) -> tuple[str, str] | None:
        return (self.user, self.password or "") if self.user else None


@dataclass
class Servers:
    blue: Server
    green: Server
    # Stops what the pipeline started (None: the servers belong to someone else).
    stop: Callable[[], str] | None = None
    # A proxy already running with green as primary (Compose runs its own).
    proxy_uri: str | None = None


@dataclass
class Options:
    mode: Mode = "sandbox"
    work_dir: Path = Path(".boltproxy/pipeline")
    size: int = 1000
    dataset: Path | None = None
    seed: int = 0
    blue_uri: str | None = None
    green_uri: str | None = None
    user: str | None = None
    password: str | None = field(default=None, repr=False)
    engine: str | None = None  # sandbox engine: None picks Neo4j, else FalkorDB
    compose_file: Path | None = None
    app_tests: str | None = None
    replay: Path | None = None
    replay_mode: str = "reads"
    keep: bool = False
    sample: int = 100
    pause_before: str | None = None


class Clock:
    """Wall time of one step."""

    def __init__(self) -> None:
        self.began = time.monotonic()

    @property
    def seconds(self) -> float:
        return time.monotonic() - self.began
