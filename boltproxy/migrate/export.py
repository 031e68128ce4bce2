"""``export``: a live graph into an export directory, resumably and in bounded memory.

Memory holds one page of rows at a time whatever the graph's size. Each batch is
recorded in the manifest as soon as its file is complete, so a re-run continues
after the last recorded batch (see ``format``). The export is online and not a
transactional snapshot: writes that happen during it may or may not be included.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import neo4j

from boltproxy.migrate.connect import Flavor, server_info
from boltproxy.migrate.errors import BadExport
from boltproxy.migrate.format import KINDS, MANIFEST_NAME, ExportDir, Manifest, now_iso
from boltproxy.migrate.progress import NullProgress, Progress
from boltproxy.migrate.ranges import RangeCursor
from boltproxy.migrate.reader import DEFAULT_READ_TIMEOUT, GraphReader
from boltproxy.migrate.schemaio import fetch_schema

DEFAULT_BATCH_SIZE = 10_000


@dataclass
class ExportResult:
    path: Path
    nodes: int
    relationships: int
    batches: int
    resumed: bool
    schema_included: bool
    changed: str | None = None  # how the source changed while it was read

    @property
    def consistent(self) -> bool:
        return self.changed is None

    def problem(self) -> str | None:
        if self.changed is None:
            return None
        return (
            f"the export did not see a consistent graph: {self.changed}. Relationships may "
            "lack endpoints and entities may be missing; export again while nothing writes "
            "to the source (the import reports relationships it had to skip)"
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": str(self.path),
            "nodes": self.nodes,
            "relationships": self.relationships,
            "batches": self.batches,
            "resumed": self.resumed,
            "schema_included": self.schema_included,
            "consistent": self.consistent,
        }


async def export_graph(
    driver: neo4j.AsyncDriver,
    out: Path,
    *,
    source: str,
    database: str | None = None,
    kind: Literal["export", "snapshot"] = "export",
    batch_size: int = DEFAULT_BATCH_SIZE,
    progress: Progress | None = None,
    read_timeout: float = DEFAULT_READ_TIMEOUT,
) -> ExportResult:
    """Export everything ``driver`` sees into ``out``, continuing an unfinished export there.

    ``source`` names the server (no credentials) in the manifest; a resume must
    name the same source and database, so two graphs never mix in one directory.
    """
    progress = progress or NullProgress()
    resumed = (out / MANIFEST_NAME).exists()
    if resumed:
        export = _reopen(out, source, database, kind)
    else:
        info = await server_info(driver, database)
        manifest = Manifest(
            kind=kind,
            source={"uri": source, "database": database, **info.to_dict()},
            created=now_iso(),
            batch_size=batch_size,
            schema=await fetch_schema(driver, database),
        )
        export = ExportDir.create(out, manifest)

    manifest = export.manifest
    if not manifest.complete:
        reader = GraphReader(driver, database, _flavor(manifest), timeout=read_timeout)
        for phase in KINDS:
            if _phase_done(manifest.cursor.phase, phase):
                continue
            after = manifest.cursor.after if manifest.cursor.phase == phase else -1
            total = await reader.count(phase)
            if f"{phase}_at_start" not in manifest.observed:
                manifest.observed[f"{phase}_at_start"] = total  # saved with the next batch
            progress.phase(phase, total, manifest.count(phase))
            # Ranges in order, one at a time: batch files and the cursor (the end of
            # the last range written) stay in id order, so a resume continues there.
            bounds = await reader.bounds(phase)
            cursor = RangeCursor(
                bounds, reader.range_width(phase, bounds, manifest.batch_size), start=after + 1
            )
            while (span := cursor.take()) is not None:
                rows = await reader.range(phase, span)
                if not rows:
                    if span.hi <= bounds.highest:
                        cursor.skip_to(await reader.next_id(phase, span.hi))
                    continue
                export.write_batch(phase, rows, last_id=span.hi - 1)
                progress.advance(len(rows))
            export.finish_phase(phase)
        for phase in KINDS:
            manifest.observed[f"{phase}_at_end"] = await reader.count(phase)
        manifest.changed = changes(manifest)
        export.mark_complete()
        progress.close()
    return ExportResult(
        path=out,
        nodes=manifest.count("nodes"),
        relationships=manifest.count("relationships"),
        batches=len(manifest.batches),
        resumed=resumed,
        schema_included=manifest.schema is not None,
        changed=manifest.changed,
    )


def changes(manifest: Manifest) -> str | None:
    """How the source's counts moved while it was read, or None if they did not.

    The export reads page by page, not in one transaction: an entity created or
    deleted meanwhile may or may not be in it, and a relationship may point to a
    node the node phase never saw. Equal counts at the start of each phase, at the
    end, and in the files are the evidence that nothing changed (a create and a
    delete between two counts cancel out, which counting cannot see).
    """
    found = []
    for kind in KINDS:
        seen = {
            "at the start": manifest.observed.get(f"{kind}_at_start"),
            "at the end": manifest.observed.get(f"{kind}_at_end"),
            "exported": manifest.count(kind),
        }
        if len({value for value in seen.values() if value is not None}) > 1:
            listed = [f"{value} {when}" for when, value in seen.items() if value is not None]
            found.append(f"{kind} " + ", ".join(listed))
    return "; ".join(found) or None


def _phase_done(cursor_phase: str, phase: str) -> bool:
    order = {"nodes": 0, "relationships": 1, "done": 2}
    return order[cursor_phase] > order[phase]


def _flavor(manifest: Manifest) -> Flavor:
    return "falkordb" if manifest.source.get("flavor") == "falkordb" else "neo4j"


def _reopen(out: Path, source: str, database: str | None, kind: str) -> ExportDir:
    export = ExportDir.open(out)
    recorded = export.manifest.source
    if recorded.get("uri") != source or recorded.get("database") != database:
        raise BadExport(
            f"{out} holds an export of {recorded.get('uri')} (database "
            f"{recorded.get('database')!r}), not of {source} (database {database!r})",
            hint="choose another directory",
        )
    if export.manifest.complete:
        # Returning it would pass off an old graph as the current one.
        raise BadExport(
            f"{out} already holds a finished {export.manifest.kind} "
            f"(taken {export.manifest.created}); it is never overwritten or reused",
            hint="choose another directory, or delete this one to take a new export",
        )
    if export.manifest.kind != kind:
        raise BadExport(
            f"{out} holds a {export.manifest.kind}, not a {kind}", hint="choose another directory"
        )
    return export
