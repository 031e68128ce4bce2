"""Named, kept background tasks.

``asyncio.create_task`` returns a task that the event loop only weakly references:
a task nobody keeps may be garbage-collected mid-flight, and an exception in it
vanishes silently. ``spawn`` names every task, keeps it until it ends and logs
what killed it. ruff bans the bare call everywhere else.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")

log = logging.getLogger(__name__)
_running: set[asyncio.Task[Any]] = set()


def _done(task: asyncio.Task[Any]) -> None:
    _running.discard(task)
    if task.cancelled():
        return
    exc = task.exception()
    if exc is not None:
        log.error("task %s failed: %s: %s", task.get_name(), type(exc).__name__, exc)


def spawn(coro: Coroutine[Any, Any, T], name: str) -> asyncio.Task[T]:
    """Start ``coro`` as a task called ``name`` and keep it until it ends."""
    task = asyncio.create_task(coro, name=name)
    _running.add(task)
    task.add_done_callback(_done)
    return task


def running() -> frozenset[asyncio.Task[Any]]:
    """The tasks started through :func:`spawn` that have not ended yet."""
    return frozenset(_running)
