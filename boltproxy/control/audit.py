"""The audit log: who asked for which change, when, and what came of it.

Entries are appended, never changed: JSON Lines in a file, or (redis_store) a
Redis stream that every replica writes to. Entries never hold a token, only
its fingerprint (:func:`token_id`), nor a password (:func:`without_secrets`).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import os
from collections import deque
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

log = logging.getLogger("boltproxy.control.audit")

# Entries kept in memory for GET /audit and the status page.
RECENT = 1000


# How a secret is shown; pydantic shows a SecretStr the same way (GET /shadow).
SECRET_MASK = "**********"
_SECRET_WORDS = ("password", "secret", "token")


def token_id(token: str) -> str:
    """A short fingerprint naming a token in the log without revealing it."""
    return "token:" + hashlib.sha256(token.encode()).hexdigest()[:12]


def without_secrets(detail: Mapping[str, Any]) -> dict[str, Any]:
    """``detail`` with the value of every key that names a secret masked, at any depth.

    A request's arguments are audited as given, and a ``POST /shadow`` may carry
    ``noise.password`` (refused, but audited): the log must not keep it.
    """
    masked: dict[str, Any] = {}
    for key, value in detail.items():
        if any(word in str(key).lower() for word in _SECRET_WORDS) and value is not None:
            masked[key] = SECRET_MASK
        elif isinstance(value, Mapping):
            masked[key] = without_secrets(value)
        elif isinstance(value, list):
            masked[key] = [without_secrets(v) if isinstance(v, Mapping) else v for v in value]
        else:
            masked[key] = value
    return masked


@dataclass(frozen=True, slots=True)
class AuditEntry:
    who: str  # token fingerprint and remote address, or "guard"
    action: str  # flip, rollback, weight, drain, shadow, auto-rollback, ...
    result: str  # ok, refused, unauthorized, failed
    message: str
    detail: dict[str, Any] = field(default_factory=dict)
    version: int | None = None  # the routing state's version after the change
    at: str = field(default_factory=lambda: datetime.now(UTC).isoformat(timespec="milliseconds"))

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    def dumps(self) -> str:
        return json.dumps(self.to_json(), sort_keys=True)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> AuditEntry:
        return cls(
            who=str(data.get("who", "")),
            action=str(data.get("action", "")),
            result=str(data.get("result", "")),
            message=str(data.get("message", "")),
            detail=dict(data.get("detail") or {}),
            version=data.get("version"),
            at=str(data.get("at", "")),
        )


class AuditLog(Protocol):
    description: str

    async def append(self, entry: AuditEntry) -> None: ...

    async def recent(self, limit: int) -> list[AuditEntry]:
        """The last ``limit`` entries, newest first."""

    async def close(self) -> None: ...


class MemoryAuditLog:
    description = "memory"

    def __init__(self) -> None:
        self._entries: deque[AuditEntry] = deque(maxlen=RECENT)

    async def append(self, entry: AuditEntry) -> None:
        self._entries.append(entry)

    async def recent(self, limit: int) -> list[AuditEntry]:
        return list(reversed(self._entries))[:limit]

    async def close(self) -> None:
        return None


class FileAuditLog(MemoryAuditLog):
    """JSON Lines appended to ``path``; the last entries also kept in memory."""

    def __init__(self, path: Path) -> None:
        super().__init__()
        self.path = path
        self.description = f"file {path}"
        self._lock = asyncio.Lock()

    async def open(self) -> None:
        """Load the last entries, so the status page shows history across restarts."""
        lines = await asyncio.to_thread(_tail_lines, self.path, RECENT)
        for line in lines:
            try:
                self._entries.append(AuditEntry.from_json(json.loads(line)))
            except (ValueError, TypeError, AttributeError):
                continue  # a line torn by a crash: the rest of the log is still good

    async def append(self, entry: AuditEntry) -> None:
        async with self._lock:
            await asyncio.to_thread(_append_line, self.path, entry.dumps())
            self._entries.append(entry)


def _append_line(path: Path, line: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    # O_APPEND: each line lands whole at the end, even with another writer.
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640)
    try:
        os.write(fd, (line + "\n").encode())
        os.fsync(fd)
    finally:
        os.close(fd)


def _tail_lines(path: Path, count: int, block: int = 65536) -> list[str]:
    """The last ``count`` lines of ``path`` without reading the whole file."""
    try:
        with path.open("rb") as handle:
            handle.seek(0, os.SEEK_END)
            end = handle.tell()
            data = b""
            while end > 0 and data.count(b"\n") <= count:
                start = max(0, end - block)
                handle.seek(start)
                data = handle.read(end - start) + data
                end = start
    except FileNotFoundError:
        return []
    lines = data.decode("utf-8", errors="replace").splitlines()
    return [line for line in lines[-count:] if line.strip()]


class TeeAuditLog:
    """Appends to several logs; reads from the first (the shared one)."""

    def __init__(self, *logs: AuditLog) -> None:
        self._logs = logs
        self.description = " + ".join(each.description for each in logs)

    async def append(self, entry: AuditEntry) -> None:
        # Every log gets its copy even if an earlier one fails (Redis down, disk full).
        failure: Exception | None = None
        for each in self._logs:
            try:
                await each.append(entry)
            except Exception as exc:
                failure = failure or exc
        if failure is not None:
            raise failure

    async def recent(self, limit: int) -> list[AuditEntry]:
        return await self._logs[0].recent(limit)

    async def close(self) -> None:
        for each in self._logs:
            await each.close()
