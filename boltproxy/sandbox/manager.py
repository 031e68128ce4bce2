"""The sandbox: blue and green FalkorDB backends that outlive the command."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

from boltproxy.sandbox.falkordb import (
    FalkorDBServer,
    SandboxError,
    bolt_answers,
    runs_redis_server,
    stop_pid,
)
from boltproxy.sandbox.ports import free_port

NAMES = ("blue", "green")
DEFAULT_DIR = Path(".boltproxy/sandbox")


@dataclass
class BackendRecord:
    name: str
    pid: int
    bolt_port: int
    redis_port: int

    @property
    def uri(self) -> str:
        return f"bolt://127.0.0.1:{self.bolt_port}"

    def running(self) -> bool:
        return runs_redis_server(self.pid)

    def answers(self) -> bool:
        return self.running() and bolt_answers(self.bolt_port)


@dataclass
class SandboxState:
    directory: Path
    backends: list[BackendRecord]
    proxy_port: int
    admin_port: int

    @property
    def config_path(self) -> Path:
        return self.directory / "boltproxy.toml"


def _state_file(directory: Path) -> Path:
    return directory / "state.json"


def load_state(directory: Path) -> SandboxState | None:
    path = _state_file(directory)
    if not path.is_file():
        return None
    try:
        raw = json.loads(path.read_text())
        return SandboxState(
            directory,
            [BackendRecord(**item) for item in raw["backends"]],
            int(raw["proxy_port"]),
            int(raw["admin_port"]),
        )
    except (ValueError, KeyError, TypeError) as exc:
        raise SandboxError(
            f"{path} is damaged ({exc}); remove it and run `sandbox up` again"
        ) from None


def _save(state: SandboxState) -> None:
    data = {
        "backends": [asdict(b) for b in state.backends],
        "proxy_port": state.proxy_port,
        "admin_port": state.admin_port,
    }
    _state_file(state.directory).write_text(json.dumps(data, indent=2) + "\n")


def _proxy_port() -> int:
    # Neo4j's own port when it is free, so the usual bolt://localhost:7687 works.
    try:
        return free_port(7687, 7687)
    except OSError:
        return free_port()


def write_config(state: SandboxState) -> None:
    lines = [
        "# Written by `boltproxy sandbox up`: the proxy in front of the local sandbox.",
        "[listen]",
        'host = "127.0.0.1"',
        f"port = {state.proxy_port}",
        "",
        "[admin]",
        'host = "127.0.0.1"',
        f"port = {state.admin_port}",
        "",
        "[routing]",
        'primary = "blue"',
    ]
    for backend in state.backends:
        # FalkorDB drops some connections under churn: short timeouts, several attempts.
        lines += [
            "",
            f"[backends.{backend.name}]",
            f'uri = "{backend.uri}"',
            "connect_timeout = 2.0",
            "handshake_timeout = 2.0",
            "connect_attempts = 5",
        ]
    state.config_path.write_text("\n".join(lines) + "\n")


def up(directory: Path = DEFAULT_DIR) -> tuple[SandboxState, bool]:
    """Start both backends unless they run; returns the state and whether anything started."""
    directory = directory.resolve()
    directory.mkdir(parents=True, exist_ok=True)
    state = load_state(directory)
    if state is not None and all(b.running() for b in state.backends):
        return state, False
    if state is not None:
        down(directory)
    started: list[BackendRecord] = []
    try:
        for name in NAMES:
            server = FalkorDBServer(directory / name, name=name)
            server.start(detach=True)
            assert server.pid is not None
            started.append(BackendRecord(name, server.pid, server.bolt_port, server.redis_port))
    except SandboxError:
        for record in started:
            stop_pid(record.pid)
        raise
    state = SandboxState(directory, started, _proxy_port(), free_port())
    _save(state)
    write_config(state)
    return state, True


def down(directory: Path = DEFAULT_DIR, *, wipe: bool = False) -> SandboxState | None:
    directory = directory.resolve()
    state = load_state(directory)
    if state is not None:
        for backend in state.backends:
            if backend.running():
                stop_pid(backend.pid)
        _state_file(directory).unlink(missing_ok=True)
    if wipe and directory.is_dir():
        for name in NAMES:
            for path in sorted((directory / name).glob("*")):
                path.unlink()
        state_config = directory / "boltproxy.toml"
        state_config.unlink(missing_ok=True)
    return state
