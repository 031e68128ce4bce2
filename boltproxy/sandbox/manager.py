"""The sandbox: blue and green backends that outlive the command that started them.

Engines: ``neo4j`` (real Neo4j from Maven Central jars: blue 5.26 LTS, green a
calendar release) and ``falkordb`` (for machines without Java). What runs is
recorded in ``state.json``; the credentials of the Neo4j pair live beside their
data in ``credentials.json`` (mode 0600) because the data keeps that password.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path

from boltproxy.sandbox import jars, java
from boltproxy.sandbox.errors import SandboxError
from boltproxy.sandbox.falkordb import FalkorDBServer, bolt_answers, runs_redis_server, stop_pid
from boltproxy.sandbox.neo4j import (
    DEFAULT_USER,
    START_TIMEOUT,
    STOP_TIMEOUT,
    Neo4jServer,
    check_password,
    runs_neo4j,
)
from boltproxy.sandbox.ports import free_port, port_free
from boltproxy.sandbox.process import rss_bytes

NAMES = ("blue", "green")
DEFAULT_DIR = Path(".boltproxy/sandbox")
ENGINES = ("neo4j", "falkordb")
# The newest releases verified to resolve from Maven Central and run here (docs/versions.md).
DEFAULT_VERSIONS = {"blue": "5.26.30", "green": "2026.08.1"}
PROXY_PORT = 7687  # Neo4j's own port when it is free, so the usual bolt://localhost:7687 works


@dataclass
class BackendRecord:
    name: str
    pid: int
    bolt_port: int
    redis_port: int = 0
    engine: str = "falkordb"
    version: str = ""
    http_port: int = 0
    home: str = ""
    java: str = ""
    apoc: str = ""

    @property
    def uri(self) -> str:
        return f"bolt://127.0.0.1:{self.bolt_port}"

    def running(self) -> bool:
        if self.engine == "neo4j":
            return runs_neo4j(self.pid, Path(self.home))
        return runs_redis_server(self.pid)

    def answers(self) -> bool:
        return self.running() and bolt_answers(self.bolt_port)

    def rss(self) -> int | None:
        return rss_bytes(self.pid) if self.running() else None

    def describe(self) -> str:
        if self.engine != "neo4j":
            return "FalkorDB"
        apoc = f", APOC {self.apoc}" if self.apoc else ""
        return f"Neo4j {self.version}{apoc}"


@dataclass
class SandboxState:
    directory: Path
    backends: list[BackendRecord]
    proxy_port: int
    admin_port: int
    engine: str = "falkordb"

    @property
    def config_path(self) -> Path:
        return self.directory / "boltproxy.toml"


@dataclass
class UpOptions:
    """What `sandbox up` was asked for; None means the default."""

    engine: str | None = None
    versions: dict[str, str] = field(default_factory=lambda: dict(DEFAULT_VERSIONS))
    java_homes: dict[str, Path | None] = field(default_factory=dict)
    with_apoc: bool = False
    user: str | None = None
    password: str | None = None
    bolt_ports: dict[str, int | None] = field(default_factory=dict)
    proxy_port: int | None = None
    timeout: float = START_TIMEOUT


@dataclass
class UpResult:
    state: SandboxState
    credentials: tuple[str, str] | None = None
    notes: list[str] = field(default_factory=list)


# --- state on disk ---------------------------------------------------------------------


def _state_file(directory: Path) -> Path:
    return directory / "state.json"


def _credentials_file(directory: Path) -> Path:
    return directory / "credentials.json"


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
            str(raw.get("engine", "falkordb")),
        )
    except (ValueError, KeyError, TypeError) as exc:
        raise SandboxError(
            f"{path} is damaged ({exc}); remove it and run `sandbox up` again"
        ) from None


def _write_private(path: Path, text: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)


def _save(state: SandboxState) -> None:
    data = {
        "engine": state.engine,
        "backends": [asdict(b) for b in state.backends],
        "proxy_port": state.proxy_port,
        "admin_port": state.admin_port,
    }
    _write_private(_state_file(state.directory), json.dumps(data, indent=2) + "\n")


def _load_credentials(directory: Path) -> tuple[str, str] | None:
    try:
        raw = json.loads(_credentials_file(directory).read_text())
        return str(raw["user"]), str(raw["password"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _proxy_port(asked: int | None) -> int:
    if asked is not None:
        if not port_free(asked):
            raise SandboxError(f"the proxy port {asked} is already taken")
        return asked
    return PROXY_PORT if port_free(PROXY_PORT) else free_port()


def write_config(state: SandboxState) -> None:
    lines = [
        "# Written by `boltproxy sandbox up`: the proxy in front of the local sandbox.",
        "# blue is the primary (what applications get); green is the candidate.",
    ]
    lines += [f"#   {b.name}: {b.describe()}" for b in state.backends]
    lines += [
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
        lines += ["", f"[backends.{backend.name}]", f'uri = "{backend.uri}"']
        if backend.engine == "falkordb":
            # FalkorDB drops some connections under churn: short timeouts, several attempts.
            lines += ["connect_timeout = 2.0", "handshake_timeout = 2.0", "connect_attempts = 5"]
    directory = state.directory.resolve()
    # Shadow reads to green and keep what differs (boltproxy report reads it); FalkorDB
    # is not shadowed: doubling its connections makes it abort.
    shadowed = all(backend.engine != "falkordb" for backend in state.backends)
    lines += ["", "[shadow]", f'mode = "{"reads" if shadowed else "off"}"']
    lines += [f'store = "{directory / "shadow.sqlite"}"'] if shadowed else []
    lines += [
        "",
        "[control]",
        f'state_file = "{directory / "routing.json"}"',
        f'audit_log = "{directory / "audit.jsonl"}"',
    ]
    state.config_path.write_text("\n".join(lines) + "\n")


# --- engine choice ---------------------------------------------------------------------


def neo4j_unusable(options: UpOptions) -> str | None:
    """Why the Neo4j engine cannot run here (no JDK, no Maven for an uncached version)."""
    for name in NAMES:
        version = options.versions[name]
        try:
            jars.check_version(version)
            java.select(version, options.java_homes.get(name))
        except SandboxError as exc:
            return str(exc)
        if jars.cached(version) is None and jars.maven() is None:
            return (
                f"Neo4j {version} is not cached and Maven (mvn) is missing to fetch it "
                "from Maven Central"
            )
    return None


# --- up / down -------------------------------------------------------------------------


def up(directory: Path = DEFAULT_DIR, options: UpOptions | None = None) -> UpResult:
    """Start both backends; a sandbox that is already up is an error (nothing changes)."""
    options = options or UpOptions()
    directory = directory.resolve()
    directory.mkdir(parents=True, exist_ok=True)
    state = load_state(directory)
    if state is not None and any(b.running() for b in state.backends):
        where = ", ".join(f"{b.name} {b.uri}" for b in state.backends)
        raise SandboxError(
            f"the sandbox in {directory} is already up ({where}); "
            "run `boltproxy sandbox down` first"
        )
    if state is not None:
        down(directory)
    notes: list[str] = []
    engine = options.engine
    if engine is None:
        reason = neo4j_unusable(options)
        engine = "neo4j" if reason is None else "falkordb"
        if reason is not None:
            notes.append(f"real Neo4j cannot run here ({reason}); using FalkorDB instead")
    if engine == "falkordb":
        return UpResult(_up_falkordb(directory, options), None, notes)
    result = _up_neo4j(directory, options)
    result.notes[:0] = notes
    return result


def _up_falkordb(directory: Path, options: UpOptions) -> SandboxState:
    proxy_port = _proxy_port(options.proxy_port)
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
    state = SandboxState(directory, started, proxy_port, free_port(), "falkordb")
    _save(state)
    write_config(state)
    return state


def _credentials(directory: Path, options: UpOptions) -> tuple[str, str]:
    """The given credentials, else those the existing data was set up with, else new ones."""
    known = _load_credentials(directory)
    has_data = any((directory / name / "data").exists() for name in NAMES)
    if known is not None and has_data:
        user = options.user or known[0]
        password = options.password or known[1]
        if (user, password) != known:
            raise SandboxError(
                f"the data in {directory} was set up with other credentials: leave out "
                "--user/--password, or run `boltproxy sandbox down --wipe` first"
            )
        return known
    user = options.user or DEFAULT_USER
    # Hex: a generated password never starts with "-", which command lines would misread.
    password = options.password or secrets.token_hex(12)
    check_password(password)
    return user, password


def _version_marker(directory: Path, name: str) -> Path:
    return directory / name / "neo4j-version"


def _check_data_version(directory: Path, name: str, version: str) -> None:
    # A store written by a newer Neo4j cannot be opened by an older one, and an upgrade
    # in place is not what a sandbox should do silently.
    marker = _version_marker(directory, name)
    if marker.is_file():
        held = marker.read_text().strip()
        if held and held != version:
            raise SandboxError(
                f"{name} holds the data of Neo4j {held}: ask for that version "
                f"(--{name}-version {held}) or run `boltproxy sandbox down --wipe` first"
            )


def _up_neo4j(directory: Path, options: UpOptions) -> UpResult:
    user, password = _credentials(directory, options)
    for name in NAMES:
        _check_data_version(directory, name, options.versions[name])
    proxy_port = _proxy_port(options.proxy_port)
    servers = [
        Neo4jServer(
            directory / name,
            options.versions[name],
            name=name,
            user=user,
            password=password,
            bolt_port=options.bolt_ports.get(name),
            java_home=options.java_homes.get(name),
            apoc=options.with_apoc,
        )
        for name in NAMES
    ]
    # Written first: once prepare() has set the password, the data keeps it.
    _write_private(_credentials_file(directory), json.dumps({"user": user, "password": password}))
    # Preparing is mostly JVMs that set the password and ask the bootloader for the
    # command line: both sides at once. Then both servers start before either is awaited.
    with ThreadPoolExecutor(len(servers), thread_name_prefix="sandbox-prepare") as pool:
        for future in [pool.submit(server.prepare) for server in servers]:
            future.result()
    try:
        for server in servers:
            server.launch(detach=True)
        for server in servers:
            server.finish(options.timeout, detach=True)
    except BaseException:
        for server in servers:
            server.stop()
        raise
    notes = [
        f"{s.name}: APOC core is not on Maven Central for Neo4j {s.version}; "
        f"{s.name} runs without it"
        for s in servers
        if options.with_apoc and not s.apoc_version
    ]
    records = []
    for server in servers:
        assert server.pid is not None and server.jdk is not None
        _version_marker(directory, server.name).write_text(server.version + "\n")
        records.append(
            BackendRecord(
                server.name,
                server.pid,
                server.bolt_port,
                engine="neo4j",
                version=server.info.version,
                http_port=server.http_port,
                home=str(server.home),
                java=f"Java {server.jdk.major} ({server.jdk.home})",
                apoc=server.apoc_version or "",
            )
        )
    state = SandboxState(directory, records, proxy_port, free_port(), "neo4j")
    _save(state)
    write_config(state)
    return UpResult(state, (user, password), notes)


def down(directory: Path = DEFAULT_DIR, *, wipe: bool = False) -> SandboxState | None:
    directory = directory.resolve()
    state = load_state(directory)
    if state is not None:
        running = [b for b in state.backends if b.running()]
        # Both at once: each JVM checkpoints and stops on SIGTERM.
        with ThreadPoolExecutor(max(1, len(running)), thread_name_prefix="sandbox-stop") as pool:
            for future in [pool.submit(stop_pid, b.pid, STOP_TIMEOUT) for b in running]:
                future.result()
        _state_file(directory).unlink(missing_ok=True)
    if wipe and directory.is_dir():
        for name in NAMES:
            shutil.rmtree(directory / name, ignore_errors=True)
        _credentials_file(directory).unlink(missing_ok=True)
        (directory / "boltproxy.toml").unlink(missing_ok=True)
    return state
