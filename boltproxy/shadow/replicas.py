"""One shadow store and capture file per relay process, found again by the report.

SQLite and a JSON Lines file each want one writer. With ``serve --workers N``
every worker writes its own, beside the configured path (``shadow.sqlite`` →
``shadow.worker-0.sqlite``, …); ``boltproxy report --config`` and ``replay``
read the configured file and all its worker siblings, and merge them.
"""

from __future__ import annotations

import re
from pathlib import Path


def worker_path(path: Path, index: int) -> Path:
    """Where worker ``index`` writes what the configuration puts at ``path``."""
    return path.with_name(f"{path.stem}.worker-{index}{path.suffix}")


def replica_paths(path: Path) -> list[Path]:
    """``path`` (when it exists) and every worker's file beside it, in worker order."""
    sibling = re.compile(rf"{re.escape(path.stem)}\.worker-(\d+){re.escape(path.suffix)}")
    found: list[tuple[int, Path]] = []
    if path.parent.is_dir():
        for candidate in path.parent.iterdir():
            match = sibling.fullmatch(candidate.name)
            if match is not None:
                found.append((int(match.group(1)), candidate))
    workers = [p for _, p in sorted(found)]
    return [path, *workers] if path.exists() or not workers else workers
