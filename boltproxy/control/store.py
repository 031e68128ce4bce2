"""Where the routing state is kept: in memory, in a file, or (redis_store) in Redis.

A store hands out the state at start and applies changes with ``update``: the
change is a pure transition, applied to the freshest stored state so that
replicas sharing a store never overwrite each other's change with a stale one.
"""

from __future__ import annotations

import asyncio
import logging
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

from boltproxy.control.state import RoutingState, StateFormatError

log = logging.getLogger("boltproxy.control.store")

Change = Callable[[RoutingState], RoutingState]
StateCallback = Callable[[RoutingState], None]


class ControlStoreError(Exception):
    """The store could not be read or written; the message names it and the cause."""


class StateStore(Protocol):
    description: str

    async def restore(self, configured: RoutingState) -> RoutingState:
        """The state to start with: the stored one, else ``configured`` (saying why)."""

    async def update(self, change: Change, current: RoutingState) -> RoutingState:
        """Apply ``change`` to the freshest state (``current`` if the store has none); store it.

        Raises what ``change`` raises (``Refused``) and :class:`ControlStoreError`.
        """

    async def watch(self, on_state: StateCallback) -> None:
        """Deliver states written by others (other replicas) to ``on_state`` from now on."""

    async def close(self) -> None: ...


def usable(state: RoutingState, configured: RoutingState, source: str) -> bool:
    """Whether a stored state fits this proxy's backends; logs why not."""
    if state.backends == configured.backends:
        return True
    log.error(
        "routing state in %s names backends %s but this proxy has %s; starting with the"
        " configured primary %s",
        source,
        ", ".join(state.backends),
        ", ".join(configured.backends),
        configured.primary,
    )
    return False


class MemoryStateStore:
    """No persistence: a restart returns to the configured primary."""

    description = "memory (not persisted)"

    async def restore(self, configured: RoutingState) -> RoutingState:
        return configured

    async def update(self, change: Change, current: RoutingState) -> RoutingState:
        return change(current)

    async def watch(self, on_state: StateCallback) -> None:
        return None

    async def close(self) -> None:
        return None


class FileStateStore:
    """The state in one JSON file, replaced atomically on every change.

    The new state is written to a temporary file in the same directory,
    flushed to disk and renamed over the old one, so a crash at any moment
    leaves either the old or the new state, never half of one.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self.description = f"file {path}"
        self._lock = asyncio.Lock()

    async def restore(self, configured: RoutingState) -> RoutingState:
        try:
            text = await asyncio.to_thread(self.path.read_bytes)
        except FileNotFoundError:
            log.info(
                "no routing state file at %s yet: starting with the configured primary %s",
                self.path,
                configured.primary,
            )
            return configured
        except OSError as exc:
            log.error(
                "cannot read the routing state file %s (%s): starting with the configured"
                " primary %s",
                self.path,
                exc.strerror or exc,
                configured.primary,
            )
            return configured
        try:
            state = RoutingState.loads(text)
        except StateFormatError as exc:
            log.error(
                "routing state file %s is unreadable (%s): starting with the configured primary"
                " %s; the file is replaced at the next change",
                self.path,
                exc,
                configured.primary,
            )
            return configured
        if not usable(state, configured, str(self.path)):
            return configured
        log.info("routing state restored from %s: %s", self.path, state.describe())
        return state

    async def update(self, change: Change, current: RoutingState) -> RoutingState:
        # One process owns the file; the lock orders this process's writers.
        async with self._lock:
            state = change(current)
            try:
                await asyncio.to_thread(write_atomically, self.path, state.dumps() + "\n")
            except OSError as exc:
                raise ControlStoreError(
                    f"cannot write the routing state file {self.path}: {exc.strerror or exc}"
                ) from None
            return state

    async def watch(self, on_state: StateCallback) -> None:
        return None

    async def close(self) -> None:
        return None


def write_atomically(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    # The rename itself must reach the disk too, or a crash could bring the old file back.
    directory = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)
