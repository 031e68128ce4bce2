"""``boltproxy serve --workers N``: N relay processes on one listening port.

Each worker is a full relay (its own event loop, backend checks and control
plane) listening with ``SO_REUSEPORT``, so the kernel spreads new client
connections over the workers. The parent only supervises: it reserves the port
(bound with the same option, never listening, so it receives no connection and
a port already taken is reported before any worker starts), starts the
workers, restarts one that dies, and stops them all on SIGTERM or SIGINT.

Routing and shadow settings stay consistent because every worker starts from
the same configuration and stored control state; a change at run time (a flip,
a weight, ``POST /shadow``) reaches every worker only through a shared store
(``[control] store = "redis://…"``). The admin listener runs in worker 0 alone:
one address for the operator's commands and for ``/healthz``, as with one
process. Its ``/metrics`` covers every worker: the supervisor gives the workers
one directory for prometheus-client's multiprocess mode
(``PROMETHEUS_MULTIPROC_DIR``), a fresh one at each start, removed at the end.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType

from prometheus_client import multiprocess

from boltproxy.config import Settings
from boltproxy.metrics import MULTIPROCESS_DIR

log = logging.getLogger("boltproxy.workers")

# A worker that dies this soon after its start counts as failing to start.
EARLY_EXIT_SECONDS = 5.0
# That many early deaths in a row: the workers cannot run; stop rather than spin.
MAX_EARLY_EXITS = 5
STOP_GRACE_SECONDS = 10.0
_PR_SET_PDEATHSIG = 1


def default_workers() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def shared_state(settings: Settings) -> bool:
    """Does a change made in one worker reach the others (a shared store)?"""
    return settings.control.store != "file"


def workers_problem(settings: Settings, workers: int) -> str | None:
    """Why ``workers`` processes could not keep one control state; None when they can."""
    if workers > 1 and settings.admin.enabled and not shared_state(settings):
        return (
            f"--workers {workers} needs a shared control store ([control] store = "
            '"redis://…"): a flip or a shadow settings change through the admin API would '
            "reach one worker only. Configure one, disable the admin listener, or use "
            "--workers 1"
        )
    return None


def reserve_port(host: str, port: int) -> socket.socket:
    """Bind (not listen) with SO_REUSEPORT: resolves port 0 and reports a taken port."""
    infos = socket.getaddrinfo(host or None, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    family, kind, proto, _, address = infos[0]
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind(address)
    except OSError:
        sock.close()
        raise
    return sock


def die_with_parent(parent: int) -> None:
    """In a worker: be sent SIGTERM if the supervisor dies, even by SIGKILL (Linux)."""
    name = ctypes.util.find_library("c")
    if name is None:
        return
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(name, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
    if os.getppid() != parent:  # the parent died before prctl took effect
        os.kill(os.getpid(), signal.SIGTERM)


@dataclass
class _Worker:
    index: int
    process: subprocess.Popen[bytes] | None = None
    started: float = 0.0
    early_exits: int = 0
    argv: list[str] = field(default_factory=list)


class Supervisor:
    """Starts, restarts and stops the worker processes."""

    def __init__(self, workers: int, config_path: Path | None, port: int) -> None:
        self.port = port
        self._stopping = False
        base = [sys.executable, "-m", "boltproxy", "serve", "--port", str(port)]
        if config_path is not None:
            base += ["--config", str(config_path)]
        self._workers = [
            _Worker(i, argv=[*base, "--workers", "1", "--worker-of", f"{os.getpid()}:{i}"])
            for i in range(workers)
        ]
        # Each worker's metric values, in files that worker 0's /metrics adds up.
        self.metrics_dir = tempfile.mkdtemp(prefix="boltproxy-metrics-")
        self._env = {**os.environ, MULTIPROCESS_DIR: self.metrics_dir}

    def _start(self, worker: _Worker) -> None:
        worker.process = subprocess.Popen(worker.argv, env=self._env)
        worker.started = time.monotonic()
        log.info("worker %d started (pid %d)", worker.index, worker.process.pid)

    def _stop(self, _signum: int, _frame: FrameType | None) -> None:
        self._stopping = True

    def run(self) -> int:
        """Until SIGTERM/SIGINT: keep every worker running. The exit status."""
        previous = {
            signum: signal.signal(signum, self._stop) for signum in (signal.SIGTERM, signal.SIGINT)
        }
        status = 0
        try:
            for worker in self._workers:
                self._start(worker)
            while not self._stopping:
                time.sleep(0.2)
                failed = self._restart_dead()
                if failed is not None:
                    status = 1
                    log.error("%s; stopping", failed)
                    break
        finally:
            self._stop_all()
            shutil.rmtree(self.metrics_dir, ignore_errors=True)
            for signum, handler in previous.items():
                signal.signal(signum, handler)
        return status

    def _restart_dead(self) -> str | None:
        for worker in self._workers:
            process = worker.process
            if process is None or process.poll() is None or self._stopping:
                continue
            # Its live gauges (open connections) no longer count; its counters do.
            multiprocess.mark_process_dead(process.pid, self.metrics_dir)  # type: ignore[no-untyped-call]
            lived = time.monotonic() - worker.started
            worker.early_exits = worker.early_exits + 1 if lived < EARLY_EXIT_SECONDS else 0
            if worker.early_exits >= MAX_EARLY_EXITS:
                return f"worker {worker.index} exited {worker.early_exits} times on starting"
            log.warning(
                "worker %d (pid %d) exited with status %s after %.1f s; restarting",
                worker.index,
                process.pid,
                process.returncode,
                lived,
            )
            if worker.early_exits:
                time.sleep(min(0.2 * 2**worker.early_exits, 2.0))
            self._start(worker)
        return None

    def _stop_all(self) -> None:
        running = [w.process for w in self._workers if w.process and w.process.poll() is None]
        for process in running:
            with contextlib.suppress(ProcessLookupError):
                process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + STOP_GRACE_SECONDS
        for process in running:
            try:
                process.wait(max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()

    @property
    def pids(self) -> Sequence[int]:
        return [w.process.pid for w in self._workers if w.process is not None]
