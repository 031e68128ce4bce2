"""One real Neo4j Community server, run from the jars that Maven Central publishes.

The server is started the way the ``neo4j`` script starts it: Neo4j's own
bootloader (``org.neo4j.server.startup.Neo4jCommand console --dry-run``) reads
``neo4j.conf`` and prints the exact JVM command line (heap, classpath with the
plugin directory, version-specific JVM flags, the entry point, which differs
between 5.26 and the calendar releases); we run that command ourselves, detached,
so no bootloader JVM waits beside the server. ``neo4j-admin`` is there too
(``Neo4jAdminCommand``): it sets the initial password, and can dump and load.

Layout under ``home``: ``conf/neo4j.conf``, ``data/``, ``logs/`` (``neo4j.log``,
``debug.log``, and ``console.log`` with what the JVM itself printed), ``run/``.
"""

from __future__ import annotations

import contextlib
import os
import shlex
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

import neo4j
from neo4j.exceptions import AuthError, DriverError, Neo4jError

from boltproxy.sandbox import jars, java
from boltproxy.sandbox.errors import SandboxError
from boltproxy.sandbox.falkordb import bolt_answers
from boltproxy.sandbox.ports import free_port, port_free
from boltproxy.sandbox.process import pid_alive, runs, stop_pid

DEFAULT_USER = "neo4j"
MIN_PASSWORD_LENGTH = 8  # Neo4j's dbms.security.auth_minimum_password_length
START_TIMEOUT = 180.0
STOP_TIMEOUT = 60.0
BOOTLOADER = "org.neo4j.server.startup.Neo4jCommand"
ADMIN = "org.neo4j.server.startup.Neo4jAdminCommand"
_TAKEN = ("Address already in use", "already in use", "BindException")


@dataclass
class Memory:
    """Bounded so that two servers, the proxy and the test suite fit a small machine."""

    heap_initial: str = "256m"
    heap_max: str = "512m"
    pagecache: str = "128m"


@dataclass
class ServerInfo:
    """What the server said about itself once it answered ``CALL dbms.components()``."""

    version: str = ""
    edition: str = ""
    agent: str = ""
    bolt_version: tuple[int, int] = (0, 0)
    cypher_versions: list[str] = field(default_factory=list)


def check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise SandboxError(
            f"the password must have at least {MIN_PASSWORD_LENGTH} characters (Neo4j's minimum)"
        )


def runs_neo4j(pid: int, home: Path) -> bool:
    """Whether ``pid`` is the Neo4j server of ``home`` (not a reused pid)."""
    return runs(pid, f"--home-dir={home}".encode())


class Neo4jServer:
    """Prepares, starts, checks and stops one Neo4j server."""

    def __init__(
        self,
        home: Path,
        version: str,
        *,
        password: str,
        name: str = "neo4j",
        user: str = DEFAULT_USER,
        bolt_port: int | None = None,
        http_port: int | None = None,
        java_home: Path | None = None,
        apoc: bool = False,
        memory: Memory | None = None,
    ) -> None:
        check_password(password)
        jars.check_version(version)
        self.home = Path(home).resolve()
        self.version = version
        self.name = name
        self.user = user
        self.password = password
        self._ports_are_ours = bolt_port is None and http_port is None
        self.bolt_port = bolt_port or free_port()
        self.http_port = http_port or free_port()
        while self.http_port == self.bolt_port:
            self.http_port = free_port()
        self.java_home = java_home
        self.apoc = apoc
        self.apoc_version: str | None = None
        self.memory = memory or Memory()
        self.jdk: java.Jdk | None = None
        self.info = ServerInfo()
        self.pid: int | None = None
        self._process: subprocess.Popen[bytes] | None = None
        self._command: list[str] = []
        self._jars: jars.Neo4jJars | None = None
        self._log_start = 0

    # --- where things are ------------------------------------------------------------

    @property
    def uri(self) -> str:
        return f"bolt://127.0.0.1:{self.bolt_port}"

    @property
    def http_uri(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    @property
    def auth(self) -> tuple[str, str]:
        return (self.user, self.password)

    @property
    def conf_dir(self) -> Path:
        return self.home / "conf"

    @property
    def log_file(self) -> Path:
        return self.home / "logs" / "neo4j.log"

    @property
    def console_file(self) -> Path:
        return self.home / "logs" / "console.log"

    @property
    def fresh(self) -> bool:
        """No database was ever created here, so the initial password can still be set."""
        return not (self.home / "data" / "dbms" / "auth.ini").exists() and not (
            self.home / "data" / "databases" / "system"
        ).exists()

    # --- start -------------------------------------------------------------------------

    def prepare(self) -> None:
        """Everything before the JVM starts: jars, JDK, configuration, password, command.

        Slow only the first time per version (Maven); safe to run in a thread
        beside another server's ``prepare``.
        """
        self._check_ports()
        self.jdk = java.select(self.version, self.java_home)
        self._jars = jars.resolve(self.version, java_home=self.jdk.home)
        if self.apoc:
            self.apoc_version = jars.resolve_apoc(self._jars, java_home=self.jdk.home)
        for sub in ("conf", "data", "logs", "run", "plugins"):
            (self.home / sub).mkdir(parents=True, exist_ok=True)
        self._write_conf()
        if self.fresh:
            self._admin("dbms", "set-initial-password", self.password)
        self._command = self._server_command()

    def _check_ports(self) -> None:
        # Ports we picked are picked again if taken (see finish); given ones must be free.
        for port in (self.bolt_port, self.http_port):
            if not self._ports_are_ours and not port_free(port):
                raise SandboxError(f"{self.name}: port {port} is already taken")

    def _plugins(self) -> Path:
        if self.apoc_version and self._jars is not None:
            return self._jars.apoc
        return self.home / "plugins"

    def _write_conf(self) -> None:
        m = self.memory
        lines = [
            "# Written by boltproxy for its sandbox; rewritten at every start.",
            "server.default_listen_address=127.0.0.1",
            "server.default_advertised_address=127.0.0.1",
            f"server.bolt.listen_address=127.0.0.1:{self.bolt_port}",
            f"server.bolt.advertised_address=127.0.0.1:{self.bolt_port}",
            f"server.http.listen_address=127.0.0.1:{self.http_port}",
            f"server.http.advertised_address=127.0.0.1:{self.http_port}",
            "server.https.enabled=false",
            f"server.directories.plugins={self._plugins()}",
            "dbms.security.auth_enabled=true",
            "dbms.usage_report.enabled=false",
            f"server.memory.heap.initial_size={m.heap_initial}",
            f"server.memory.heap.max_size={m.heap_max}",
            f"server.memory.pagecache.size={m.pagecache}",
            # A sandbox is stopped often: do not spend 10 s draining Bolt connections.
            "internal.server.bolt.connection_shutdown_wait_time=1s",
            "internal.server.bolt.thread_pool_shutdown_wait_time=1s",
            # What the tarball's neo4j.conf sets, and fail fast instead of limping on.
            "server.jvm.additional=-XX:+UseG1GC",
            "server.jvm.additional=-XX:-OmitStackTraceInFastThrow",
            "server.jvm.additional=-XX:+DisableExplicitGC",
            "server.jvm.additional=-XX:+ExitOnOutOfMemoryError",
            "server.jvm.additional=-Djdk.nio.maxCachedBufferSize=1024",
            "server.jvm.additional=-Dio.netty.tryReflectionSetAccessible=true",
            "server.jvm.additional=-Dlog4j2.disable.jmx=true",
        ]
        if self.apoc_version:
            lines.append("dbms.security.procedures.unrestricted=apoc.*")
        (self.conf_dir / "neo4j.conf").write_text("\n".join(lines) + "\n")

    def _env(self) -> dict[str, str]:
        assert self.jdk is not None
        env = dict(os.environ)
        env.update(
            NEO4J_HOME=str(self.home), NEO4J_CONF=str(self.conf_dir), JAVA_HOME=str(self.jdk.home)
        )
        return env

    def _java(self, main: str, *args: str, timeout: float = 120.0) -> str:
        assert self.jdk is not None and self._jars is not None
        command = [str(self.jdk.java), "-cp", self._jars.classpath, main, *args]
        try:
            done = subprocess.run(
                command, env=self._env(), capture_output=True, text=True, timeout=timeout,
                stdin=subprocess.DEVNULL, cwd=self.home,
            )  # fmt: skip
        except subprocess.TimeoutExpired:
            raise SandboxError(f"{self.name}: {main} did not finish within {timeout:g} s") from None
        if done.returncode != 0:
            tail = "\n".join((done.stdout + done.stderr).strip().splitlines()[-10:])
            raise SandboxError(f"{self.name}: {main.rsplit('.', 1)[-1]} failed:\n{tail}")
        return done.stdout

    def _admin(self, *args: str) -> None:
        self._java(ADMIN, *args)

    def _server_command(self) -> list[str]:
        """The JVM command line Neo4j's own bootloader would run for this home."""
        out = self._java(BOOTLOADER, "console", "--dry-run")
        lines = [line for line in out.splitlines() if line.strip()]
        try:
            command = shlex.split(lines[-1])
        except (IndexError, ValueError):
            raise SandboxError(f"{self.name}: unexpected bootloader output: {out[-300:]}") from None
        if not command or f"--home-dir={self.home}" not in command:
            raise SandboxError(f"{self.name}: unexpected bootloader output: {out[-300:]}")
        # Without --console-mode the server logs to logs/neo4j.log, as `neo4j start` does.
        return [arg for arg in command if arg != "--console-mode"]

    def launch(self, *, detach: bool = False) -> None:
        """Start the JVM and return at once (see :meth:`wait_ready`).

        ``detach`` puts it in a session of its own so that it outlives the
        command that started it (``sandbox up``).
        """
        if not self._command:
            self.prepare()
        self._check_ports()
        self._log_start = self.log_file.stat().st_size if self.log_file.exists() else 0
        with self.console_file.open("ab") as console:
            self._process = subprocess.Popen(
                self._command, env=self._env(), cwd=self.home, stdin=subprocess.DEVNULL,
                stdout=console, stderr=subprocess.STDOUT, start_new_session=detach,
            )  # fmt: skip
        self.pid = self._process.pid

    def wait_ready(self, timeout: float = START_TIMEOUT) -> ServerInfo:
        """Wait until Bolt answers and ``CALL dbms.components()`` names our version."""
        deadline = time.monotonic() + timeout
        while True:
            if not self.running():
                self._process, self.pid = None, None
                if self._port_taken():
                    raise _PortTaken
                raise SandboxError(f"{self.name} (Neo4j {self.version}) exited at start:\n"
                                   f"{self.log_tail()}")  # fmt: skip
            if bolt_answers(self.bolt_port, timeout=1.0) and self._components():
                return self.info
            if time.monotonic() > deadline:
                self.stop()
                raise SandboxError(
                    f"{self.name} (Neo4j {self.version}) did not answer within {timeout:g} s; "
                    f"its log ends:\n{self.log_tail()}"
                )
            time.sleep(0.25)

    def finish(self, timeout: float = START_TIMEOUT, *, detach: bool = False) -> ServerInfo:
        """:meth:`wait_ready` after :meth:`launch`; ports we picked are picked again if taken.

        The machines are shared: another process may bind a port between our
        check and the server's bind.
        """
        for attempt in range(1, 4):
            try:
                return self.wait_ready(timeout)
            except _PortTaken:
                if not self._ports_are_ours or attempt == 3:
                    raise SandboxError(
                        f"{self.name}: port {self.bolt_port} or {self.http_port} is already taken"
                    ) from None
                self.bolt_port, self.http_port = free_port(), free_port()
                self._write_conf()
                self.launch(detach=detach)
        raise AssertionError("unreachable")

    def start(self, timeout: float = START_TIMEOUT, *, detach: bool = False) -> ServerInfo:
        """Prepare, launch and wait until the server answers."""
        self.prepare()
        self.launch(detach=detach)
        return self.finish(timeout, detach=detach)

    def _port_taken(self) -> bool:
        text = ""
        for path, start in ((self.log_file, self._log_start), (self.console_file, 0)):
            with contextlib.suppress(OSError), path.open("rb") as handle:
                handle.seek(start)
                text += handle.read().decode(errors="replace")
        return any(sign in text for sign in _TAKEN)

    def _components(self) -> bool:
        """One readiness check with the official driver; False while the server warms up."""
        try:
            with neo4j.GraphDatabase.driver(
                self.uri, auth=self.auth, connection_timeout=2.0,
                connection_acquisition_timeout=5.0, max_transaction_retry_time=0.0,
            ) as driver:  # fmt: skip
                records, summary, _ = driver.execute_query(
                    "CALL dbms.components() YIELD name, versions, edition "
                    "RETURN name, versions, edition",
                    database_="system",
                )
        except AuthError:
            if self.user != DEFAULT_USER:
                return self._create_user()
            raise SandboxError(
                f"{self.name}: Neo4j refused the credentials; its data in {self.home / 'data'} "
                "was set up with another password (`boltproxy sandbox down --wipe` starts afresh)"
            ) from None
        except (DriverError, Neo4jError, OSError):
            return False
        for record in records:
            if record["name"] == "Neo4j Kernel":
                self.info.version = str(record["versions"][0])
                self.info.edition = str(record["edition"])
            elif record["name"] == "Cypher":
                self.info.cypher_versions = [str(v) for v in record["versions"]]
        self.info.agent = str(summary.server.agent)
        self.info.bolt_version = tuple(summary.server.protocol_version)  # type: ignore[assignment]
        if self.info.version != self.version:
            self.stop()
            raise SandboxError(
                f"{self.name}: asked for Neo4j {self.version}, the server says {self.info.version}"
            )
        return True

    def _create_user(self) -> bool:
        """Community has one built-in user, neo4j; another name is created at first start."""
        try:
            with neo4j.GraphDatabase.driver(
                self.uri, auth=(DEFAULT_USER, self.password), connection_timeout=2.0
            ) as driver:
                driver.execute_query(
                    "CREATE USER $user IF NOT EXISTS SET PASSWORD $password CHANGE NOT REQUIRED",
                    user=self.user, password=self.password, database_="system",
                )  # fmt: skip
        except AuthError:
            raise SandboxError(
                f"{self.name}: Neo4j refused the credentials for {self.user!r}; its data in "
                f"{self.home / 'data'} was set up with others (`sandbox down --wipe` starts afresh)"
            ) from None
        except (DriverError, Neo4jError, OSError):
            return False
        return False  # check again, now as the new user

    # --- watch and stop ----------------------------------------------------------------

    def running(self) -> bool:
        if self._process is not None:
            return self._process.poll() is None
        return self.pid is not None and runs_neo4j(self.pid, self.home)

    def log_tail(self, lines: int = 15) -> str:
        """The end of neo4j.log, and the JVM's own errors (a wrong Java says so only there)."""
        parts: list[str] = []
        for path in (self.log_file, self.console_file):
            try:
                text = path.read_text(errors="replace").splitlines()
            except OSError:
                continue
            # The JVM's warnings about sun.misc.Unsafe and native access are noise here.
            kept = [line for line in text if line.strip() and not line.startswith("WARNING:")]
            if kept:
                parts.append(f"--- {path}\n" + "\n".join(kept[-lines:]))
        return "\n".join(parts) or "(no log)"

    def stop(self, timeout: float = STOP_TIMEOUT) -> None:
        """SIGTERM: Neo4j checkpoints and stops cleanly; SIGKILL only after ``timeout``."""
        if self._process is not None:
            self._process.terminate()
            try:
                self._process.wait(timeout)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait(timeout)
            self._process = None
        elif self.pid is not None and pid_alive(self.pid):
            stop_pid(self.pid, timeout)
        self.pid = None

    def __enter__(self) -> Neo4jServer:
        self.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


class _PortTaken(Exception):
    """Another process bound one of our ports between our pick and the server's bind."""
