"""``import``: an export directory into a target — schema, nodes, relationships, cleanup.

Progress is recorded in the export directory (``import-state/<target>.json``),
one file per target, after each batch. Why there and not in the target: the
target's data must end up exactly the source's, with no bookkeeping node left
behind, and the export directory is needed for a resume anyway. The record only
saves work: correctness under replay comes from the writer's ``MERGE`` on the
temporary source id, so a batch that was committed but not yet recorded is
harmlessly written again.

Running an import twice is a no-op the second time: the state file says the
target is complete. If the state file is lost, a non-empty target is refused
unless ``--into-non-empty`` is given.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import neo4j

from boltproxy.migrate.connect import Endpoint, server_info
from boltproxy.migrate.errors import TargetNotEmpty
from boltproxy.migrate.format import ExportDir, Kind, _atomic_write, now_iso
from boltproxy.migrate.progress import NullProgress, Progress
from boltproxy.migrate.schemaio import apply_schema
from boltproxy.migrate.writer import GraphWriter

log = logging.getLogger(__name__)

STATE_DIR = "import-state"


@dataclass
class ImportState:
    target: str
    started: bool = False
    nodes_batches: int = 0
    relationships_batches: int = 0
    schema_applied: bool = False
    complete: bool = False
    updated: str = ""

    def done(self, kind: Kind) -> int:
        return self.nodes_batches if kind == "nodes" else self.relationships_batches


class StateFile:
    """The import progress for one target, kept next to the export it reads."""

    def __init__(self, export_path: Path, target: str) -> None:
        digest = hashlib.sha256(target.encode("utf-8")).hexdigest()[:16]
        self.path = export_path / STATE_DIR / f"{digest}.json"
        self.writable = True
        self.state = ImportState(target)
        if self.path.is_file():
            try:
                self.state = ImportState(**json.loads(self.path.read_text(encoding="utf-8")))
            except (OSError, TypeError, ValueError):
                log.warning("ignoring unreadable import state %s", self.path)

    def save(self) -> None:
        if not self.writable:
            return
        self.state.updated = now_iso()
        try:
            self.path.parent.mkdir(exist_ok=True)
            _atomic_write(self.path, json.dumps(asdict(self.state), indent=2).encode("utf-8"))
        except OSError as exc:
            # A read-only export still imports; a resume then replays from the start.
            log.warning("cannot record import progress in %s (%s)", self.path, exc.strerror)
            self.writable = False

    def forget(self) -> None:
        self.state = ImportState(self.state.target)
        self.path.unlink(missing_ok=True)


@dataclass
class ImportResult:
    target: str
    nodes: int
    relationships: int
    resumed: bool
    already_complete: bool
    schema_applied: bool

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


async def import_graph(
    driver: neo4j.AsyncDriver,
    source: Path,
    *,
    target: Endpoint,
    into_non_empty: bool = False,
    progress: Progress | None = None,
) -> ImportResult:
    """Import the finished export in ``source`` into the server behind ``driver``."""
    progress = progress or NullProgress()
    export = ExportDir.open_complete(source)
    export.verify()
    manifest = export.manifest
    state_file = StateFile(source, target.identity())
    state = state_file.state
    info = await server_info(driver, target.database)
    writer = GraphWriter(driver, target.database, info.flavor)

    empty = await writer.is_empty()
    if state.complete and not empty:
        progress.note(f"already imported into {target.display}; nothing to do")
        return ImportResult(
            target.display,
            manifest.count("nodes"),
            manifest.count("relationships"),
            False,
            True,
            state.schema_applied,
        )
    if empty and state.started:
        state_file.forget()  # the target was emptied since: start again
        state = state_file.state
    resumed = state.started
    if not empty and not resumed and not into_non_empty:
        marks = await writer.has_import_marks()
        raise TargetNotEmpty(
            f"{target.display} already holds data"
            + (" left by an interrupted import" if marks else ""),
            hint="import into an empty database, or pass --into-non-empty to merge into it",
        )

    state.started = True
    state_file.save()
    if not state.schema_applied:
        state.schema_applied = await apply_schema(driver, target.database, manifest.schema)
        state_file.save()
    await writer.prepare()
    for kind in ("nodes", "relationships"):
        entries = export.entries(kind)
        skip = state.done(kind)
        progress.phase(kind, manifest.count(kind), sum(e.count for e in entries[:skip]))
        for number, entry in enumerate(entries[skip:], start=skip + 1):
            rows = export.read_batch(entry)
            if kind == "nodes":
                await writer.write_nodes(rows)
                state.nodes_batches = number
            else:
                await writer.write_relationships(rows)
                state.relationships_batches = number
            state_file.save()
            progress.advance(entry.count)
    progress.phase("cleanup", None)
    await writer.finish()
    state.complete = True
    state_file.save()
    progress.close()
    return ImportResult(
        target.display,
        manifest.count("nodes"),
        manifest.count("relationships"),
        resumed,
        False,
        state.schema_applied,
    )
