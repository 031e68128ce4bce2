"""``import``: an export directory into a target — schema, nodes, relationships, cleanup.

Where the import stands is kept in the target itself, in one marker node
(``writer.STATE_LABEL``) written before the first entity and deleted after the
last trace of the import: which export it imports (the export's own id), the
phase (``write`` or ``cleanup``), how many batches of each kind are done and what
the server said it created. So a re-run finds the state whatever URI names the
server, and never writes data again once clean-up has begun (that, with the
temporary ids half removed, is what would duplicate it).

A finished import leaves no marker. It is recorded in the export directory
(``import-state/``) under the target database's own id (Neo4j's ``db.info()``),
so running the same import again is a no-op; a server without such an id
(FalkorDB) cannot be recognised, and a second run is refused as a non-empty target.
Correctness under replay still comes from the writer's ``MERGE`` on the temporary
source id: a batch committed but not yet recorded is harmlessly written again.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import neo4j

from boltproxy.migrate.connect import Endpoint, database_identity, server_info
from boltproxy.migrate.errors import BadExport, TargetNotEmpty
from boltproxy.migrate.format import KINDS, ExportDir, _atomic_write, now_iso
from boltproxy.migrate.progress import NullProgress, Progress
from boltproxy.migrate.schemaio import apply_schema
from boltproxy.migrate.writer import GraphWriter

log = logging.getLogger(__name__)

STATE_DIR = "import-state"


@dataclass
class ImportState:
    """A finished import, recorded per target database id (see the module docstring)."""

    target: str
    complete: bool = False
    nodes_created: int = 0
    relationships_created: int = 0
    skipped: dict[str, int] = field(default_factory=dict)
    schema_applied: bool = False
    updated: str = ""


class StateFile:
    """The import progress for one target, kept next to the export it reads."""

    def __init__(self, export_path: Path, target: str) -> None:
        digest = hashlib.sha256(target.encode("utf-8")).hexdigest()[:16]
        self.path = export_path / STATE_DIR / f"{digest}.json"
        self.writable = True
        self.state = ImportState(target)
        if self.path.is_file():
            try:
                state = ImportState(**json.loads(self.path.read_text(encoding="utf-8")))
                if state.target == target:
                    self.state = state
            except (OSError, TypeError, ValueError):
                log.warning("ignoring unreadable import state %s", self.path)

    def save(self) -> None:
        if not self.writable:
            return
        try:
            self.path.parent.mkdir(exist_ok=True)
            _atomic_write(self.path, json.dumps(asdict(self.state), indent=2).encode("utf-8"))
        except (OSError, BadExport) as exc:
            # A read-only export still imports; only the "already done" record is lost.
            log.warning("cannot record import progress in %s (%s)", self.path, exc)
            self.writable = False

    def forget(self) -> None:
        self.state = ImportState(self.state.target)
        self.path.unlink(missing_ok=True)


@dataclass
class ImportResult:
    target: str
    nodes: int  # created, as the server counted them (over all runs of this import)
    relationships: int
    expected_nodes: int  # in the export
    expected_relationships: int
    skipped_relationships: dict[str, int]  # type → relationships whose endpoint is missing
    resumed: bool
    already_complete: bool
    schema_applied: bool
    source_changed: str | None = None  # the export saw the source change (see ``export``)

    @property
    def complete(self) -> bool:
        """Every exported entity is in the target (created by this import)."""
        return (
            not self.skipped_relationships
            and self.nodes == self.expected_nodes
            and self.relationships == self.expected_relationships
        )

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "complete": self.complete}

    def problem(self) -> str | None:
        """What went missing, for the exit status (None when nothing did)."""
        if self.complete:
            return None
        parts = []
        if self.skipped_relationships:
            listed = ", ".join(f":{t} {n}" for t, n in sorted(self.skipped_relationships.items()))
            parts.append(
                f"{sum(self.skipped_relationships.values())} relationship(s) skipped because "
                f"an endpoint is not in the target ({listed})"
            )
        if self.nodes != self.expected_nodes:
            parts.append(f"{self.nodes} of {self.expected_nodes} nodes created")
        if self.relationships != self.expected_relationships:
            parts.append(
                f"{self.relationships} of {self.expected_relationships} relationships created"
            )
        return "; ".join(parts)


def export_run_id(export: ExportDir) -> str:
    """What identifies the import of this export (same export → same id)."""
    manifest = export.manifest
    seed = json.dumps([manifest.created, manifest.source, manifest.kind], sort_keys=True)
    return "import:" + hashlib.sha256(seed.encode("utf-8")).hexdigest()[:24]


async def claim_target(
    writer: GraphWriter,
    run: str,
    *,
    target: Endpoint,
    into_non_empty: bool,
    what: str,
    fields: dict[str, int | str] | None = None,
) -> dict[str, Any]:
    """The marker of ``run`` in the target: found (a resume) or newly written.

    Refuses a target that holds another run's marker, or data without any marker
    unless ``into_non_empty``; the refusal never suggests a flag that would
    duplicate data. ``fields`` go into a new marker only (how this run writes, say).
    """
    marker = await writer.read_marker()
    if marker is not None:
        if marker.get("run") != run:
            raise TargetNotEmpty(
                f"target {target.display} holds an unfinished {marker.get('kind', 'import')} "
                "of other data",
                hint="finish that one by running its command again, or empty the target "
                "(`restore --wipe` from a snapshot) and start over",
            )
        return marker
    if not await writer.is_empty():
        if await writer.has_import_marks():
            raise TargetNotEmpty(
                f"target {target.display} holds data left by an interrupted import "
                "whose state is unknown",
                hint="empty the target (`restore --wipe` from a snapshot) and start over; "
                "merging into it could duplicate data",
            )
        if not into_non_empty:
            raise TargetNotEmpty(
                f"target {target.display} already holds data",
                hint=f"{what} into an empty database. If it already holds this data from an "
                "earlier run, there is nothing to do (check with `validate`). "
                "--into-non-empty is only for adding to unrelated data: over an earlier "
                "import of the same data it would duplicate it.",
            )
    fields = {"kind": what, "phase": "write", "nodes_batches": 0, "relationships_batches": 0,
              "nodes_created": 0, "relationships_created": 0, "skipped": "{}",
              **(fields or {})}  # fmt: skip
    await writer.write_marker(run, fields)
    return {"run": run, **fields}


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
    info = await server_info(driver, target.database)
    writer = GraphWriter(driver, target.database, info.flavor)
    identity = await database_identity(driver, target.database, info.flavor)
    state_file = StateFile(source, identity) if identity else None
    run = export_run_id(export)
    expected = (manifest.count("nodes"), manifest.count("relationships"))
    if manifest.changed:
        progress.note(f"note: the source changed while it was exported ({manifest.changed})")

    if state_file is not None and state_file.state.complete and await writer.read_marker() is None:
        if not await writer.is_empty():
            progress.note(f"already imported into {target.display}; nothing to do")
            done = state_file.state
            return ImportResult(target.display, done.nodes_created, done.relationships_created,
                                *expected, dict(done.skipped), False, True,
                                done.schema_applied)  # fmt: skip
        state_file.forget()  # emptied since: import again
    marker = await claim_target(
        writer, run, target=target, into_non_empty=into_non_empty, what="import"
    )
    resumed = marker.get("nodes_batches", 0) > 0 or marker.get("phase") != "write"
    skipped: Counter[str] = Counter(json.loads(str(marker.get("skipped") or "{}")))
    schema_applied = bool(marker.get("schema_applied", 0))
    if marker.get("phase") == "write":
        if not schema_applied:
            schema_applied = await apply_schema(driver, target.database, manifest.schema)
            await writer.write_marker(run, {"schema_applied": int(schema_applied)})
        await writer.prepare()
        for kind in KINDS:
            entries = export.entries(kind)
            skip = int(marker.get(f"{kind}_batches", 0))
            progress.phase(kind, manifest.count(kind), sum(e.count for e in entries[:skip]))
            for number, entry in enumerate(entries[skip:], start=skip + 1):
                rows = export.read_batch(entry)
                if kind == "nodes":
                    written = await writer.write_nodes(rows)
                else:
                    written = await writer.write_relationships(rows)
                    skipped.update(written.skipped)
                marker[f"{kind}_created"] = int(marker.get(f"{kind}_created", 0)) + written.created
                await writer.write_marker(run, {
                    f"{kind}_batches": number,
                    f"{kind}_created": marker[f"{kind}_created"],
                    "skipped": json.dumps(dict(skipped), sort_keys=True),
                })  # fmt: skip
                progress.advance(entry.count)
        await writer.write_marker(run, {"phase": "cleanup"})
    progress.phase("cleanup", None)
    await writer.finish()
    await writer.drop_marker()
    result = ImportResult(
        target.display, int(marker.get("nodes_created", 0)),
        int(marker.get("relationships_created", 0)), *expected, dict(skipped), resumed,
        False, schema_applied, manifest.changed,
    )  # fmt: skip
    if state_file is not None:
        state_file.state = ImportState(
            identity or "", True, result.nodes, result.relationships, dict(skipped),
            schema_applied, now_iso(),
        )  # fmt: skip
        state_file.save()
    progress.close()
    return result
