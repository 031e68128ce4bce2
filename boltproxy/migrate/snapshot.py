"""Snapshot and restore: the rollback data path.

A snapshot is an export whose manifest says ``kind: snapshot``, taken before a
migration. Restoring deletes everything in the target in batches (so a large
graph does not need one huge transaction), forgets any earlier import state for
that target, and imports the snapshot. Indexes and constraints the target has
beyond the snapshot's are left in place and reported by ``schema-diff``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import neo4j

from boltproxy.migrate.connect import Endpoint, database_identity, server_info
from boltproxy.migrate.errors import BadExport, TargetNotEmpty
from boltproxy.migrate.export import DEFAULT_BATCH_SIZE, ExportResult, export_graph
from boltproxy.migrate.format import ExportDir
from boltproxy.migrate.importer import ImportResult, StateFile, import_graph
from boltproxy.migrate.progress import NullProgress, Progress
from boltproxy.migrate.reader import DEFAULT_READ_TIMEOUT
from boltproxy.migrate.writer import GraphWriter


async def take_snapshot(
    driver: neo4j.AsyncDriver,
    out: Path,
    *,
    source: Endpoint,
    batch_size: int = DEFAULT_BATCH_SIZE,
    progress: Progress | None = None,
    read_timeout: float = DEFAULT_READ_TIMEOUT,
) -> ExportResult:
    return await export_graph(
        driver,
        out,
        source=source.display,
        database=source.database,
        kind="snapshot",
        batch_size=batch_size,
        progress=progress,
        read_timeout=read_timeout,
    )


@dataclass
class RestoreResult:
    target: str
    deleted_nodes: int
    imported: ImportResult

    def to_dict(self) -> dict[str, Any]:
        return {
            "target": self.target,
            "deleted_nodes": self.deleted_nodes,
            "imported": asdict(self.imported),
        }


def check_snapshot(path: Path) -> ExportDir:
    """The snapshot in ``path``, fully checked, before anything is deleted anywhere."""
    snapshot = ExportDir.open_complete(path)
    if snapshot.manifest.kind != "snapshot":
        raise BadExport(
            f"{path} holds an export, not a snapshot",
            hint="restore from a directory written by `boltproxy migrate snapshot`",
        )
    snapshot.verify()
    return snapshot


async def restore_snapshot(
    driver: neo4j.AsyncDriver,
    path: Path,
    *,
    target: Endpoint,
    wipe: bool,
    progress: Progress | None = None,
) -> RestoreResult:
    """Put ``target`` back to the snapshot in ``path``; ``wipe`` allows deleting its data."""
    progress = progress or NullProgress()
    check_snapshot(path)
    info = await server_info(driver, target.database)
    writer = GraphWriter(driver, target.database, info.flavor)
    deleted = 0
    if not await writer.is_empty():
        if not wipe:
            raise TargetNotEmpty(
                f"{target.display} holds data", hint="pass --wipe to delete it before restoring"
            )
        progress.phase("wipe", None)
        deleted = await writer.wipe()
    identity = await database_identity(driver, target.database, info.flavor)
    if identity is not None:
        StateFile(path, identity).forget()
    imported = await import_graph(driver, path, target=target, progress=progress)
    return RestoreResult(target.display, deleted, imported)
