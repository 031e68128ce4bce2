"""Which target node each source node became, kept on disk so that memory stays flat.

``copy`` creates nodes with plain ``CREATE`` and learns the target's id of each
(see ``writer.GraphWriter.copy_nodes``); relationships are then written between
target ids, each endpoint found by an id seek. The pairs live in a temporary
SQLite file with a capped page cache (like ``identity``), about 20 bytes per
node on disk, never in a Python structure per node. The durable copy of the
pairs is in the target itself (the range records), so a resumed copy rebuilds
this file from there.
"""

from __future__ import annotations

import sqlite3
import tempfile
import threading
from collections.abc import Iterable
from pathlib import Path
from types import TracebackType

from boltproxy.migrate.identity import scratch_settings

# SQLite's default limit on host parameters in one statement is 32,766.
_CHUNK = 30_000


class IdMap:
    """Source node id → target node id, in a temporary SQLite file."""

    def __init__(self, directory: Path | None = None, cache_kib: int = 16_384) -> None:
        self._tmp = tempfile.TemporaryDirectory(prefix="boltproxy-idmap-", dir=directory)
        # Look-ups run in worker threads (off the event loop); one at a time uses it.
        self._lock = threading.Lock()
        self.db = sqlite3.connect(Path(self._tmp.name) / "ids.sqlite", check_same_thread=False)
        scratch_settings(self.db, cache_kib)
        self.db.execute("CREATE TABLE ids (s INTEGER PRIMARY KEY, t INTEGER NOT NULL)")
        self.size = 0

    def add(self, sources: Iterable[int], targets: Iterable[int]) -> None:
        """Record pairs (a source id seen again takes its latest target)."""
        pairs = list(zip(sources, targets, strict=True))
        with self._lock:
            self.db.executemany("INSERT OR REPLACE INTO ids VALUES (?, ?)", pairs)
            self.size += len(pairs)

    def lookup(self, sources: Iterable[int]) -> dict[int, int]:
        """The target id of each source id that has one (absent ones are left out)."""
        wanted = sorted(set(sources))
        found: dict[int, int] = {}
        with self._lock:
            for start in range(0, len(wanted), _CHUNK):
                chunk = wanted[start : start + _CHUNK]
                marks = ",".join("?" * len(chunk))
                found.update(self.db.execute(f"SELECT s, t FROM ids WHERE s IN ({marks})", chunk))
        return found

    def close(self) -> None:
        self.db.close()
        self._tmp.cleanup()

    def __enter__(self) -> IdMap:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
