"""Detached server processes: is a pid still ours, how big is it, stop it.

The sandbox's servers outlive the command that started them, so later commands
know them only by pid. A pid can be reused after a reboot or a crash, so every
check also looks at the command line for a marker only our server has.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from pathlib import Path


def pid_alive(pid: int) -> bool:
    """Whether ``pid`` still runs (a zombie child of ours is reaped and counts as gone)."""
    try:
        reaped, _ = os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        pass  # not our child: `sandbox up` ran in another process
    else:
        if reaped == pid:
            return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def runs(pid: int, marker: bytes) -> bool:
    """Whether ``pid`` is alive and its command line contains ``marker``."""
    if not pid_alive(pid):
        return False
    try:
        return marker in Path(f"/proc/{pid}/cmdline").read_bytes()
    except FileNotFoundError:
        return not Path("/proc/self").exists()  # no procfs: trust the pid
    except OSError:
        return True


def rss_bytes(pid: int) -> int | None:
    """Resident memory of ``pid`` (None where procfs does not say)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        return None
    return None


def stop_pid(pid: int, timeout: float = 10.0) -> bool:
    """SIGTERM, then SIGKILL after ``timeout``; returns whether it stopped without SIGKILL."""
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and pid_alive(pid):
        time.sleep(0.05)
    if not pid_alive(pid):
        return True
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 5.0
    while time.monotonic() < deadline and pid_alive(pid):  # also reaps our own child
        time.sleep(0.05)
    return False
