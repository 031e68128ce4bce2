"""``copy``: export piped into import, without files.

``concurrency`` workers each take the next range of ids (see ``ranges``), read it
and write it: memory holds at most ``concurrency`` pages whatever the graph's
size, and a fast reader never runs ahead of slow writers. All nodes are
written before any relationship, because a relationship needs both endpoints.
Like ``import``, a copy keeps its state in a marker node in the target (see
``importer.claim_target``): a re-run of an interrupted copy of the same source
reads everything again and converges thanks to ``MERGE`` on the temporary ids,
or, if clean-up had begun, only finishes the clean-up, so nothing is written twice.
Counts are the server's own: nodes and relationships it says it created.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from dataclasses import asdict, dataclass
from typing import Any

import neo4j

from boltproxy.migrate.connect import Endpoint, database_identity, server_info
from boltproxy.migrate.format import KINDS, Kind
from boltproxy.migrate.importer import claim_target
from boltproxy.migrate.progress import NullProgress, Progress
from boltproxy.migrate.ranges import IdRange, RangeCursor, scan_ranges
from boltproxy.migrate.reader import DEFAULT_READ_TIMEOUT, GraphReader
from boltproxy.migrate.schemaio import apply_schema, fetch_schema
from boltproxy.migrate.writer import GraphWriter


@dataclass
class CopyResult:
    source: str
    target: str
    nodes: int  # created, as the server counted them (over all runs of this copy)
    relationships: int
    read_nodes: int  # read from the source in this run
    read_relationships: int
    skipped_relationships: dict[str, int]
    resumed: bool
    schema_applied: bool

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "complete": self.problem() is None}

    def problem(self) -> str | None:
        """What did not arrive, for the exit status (None when everything did)."""
        parts = []
        if self.skipped_relationships:
            listed = ", ".join(f":{t} {n}" for t, n in sorted(self.skipped_relationships.items()))
            parts.append(
                f"{sum(self.skipped_relationships.values())} relationship(s) skipped because "
                f"an endpoint is not in the target ({listed})"
            )
        if self.nodes < self.read_nodes or self.relationships < self.read_relationships - sum(
            self.skipped_relationships.values()
        ):
            parts.append(
                f"the target created {self.nodes} nodes and {self.relationships} relationships "
                f"of {self.read_nodes} and {self.read_relationships} read"
            )
        return "; ".join(parts) or None


async def copy_graph(
    source_driver: neo4j.AsyncDriver,
    target_driver: neo4j.AsyncDriver,
    *,
    source: Endpoint,
    target: Endpoint,
    batch_size: int = 10_000,
    concurrency: int = 2,
    into_non_empty: bool = False,
    progress: Progress | None = None,
    read_timeout: float = DEFAULT_READ_TIMEOUT,
) -> CopyResult:
    progress = progress or NullProgress()
    source_info = await server_info(source_driver, source.database)
    target_info = await server_info(target_driver, target.database)
    reader = GraphReader(source_driver, source.database, source_info.flavor,
                         timeout=read_timeout)
    writer = GraphWriter(target_driver, target.database, target_info.flavor)
    source_id = await database_identity(source_driver, source.database, source_info.flavor)
    # Same source database → same run, so an interrupted copy is recognised and resumed.
    run = "copy:" + hashlib.sha256(
        (source_id or f"{source.display}#{source.database or ''}").encode("utf-8")
    ).hexdigest()[:24]
    marker = await claim_target(
        writer, run, target=target, into_non_empty=into_non_empty, what="copy"
    )
    resumed = marker.get("phase") != "write" or bool(marker.get("nodes_created"))
    read: dict[Kind, int] = {"nodes": 0, "relationships": 0}
    skipped: Counter[str] = Counter(json.loads(str(marker.get("skipped") or "{}")))
    schema_applied = bool(marker.get("schema_applied", 0))
    if marker.get("phase") == "write":
        schema = await fetch_schema(source_driver, source.database)
        schema_applied = await apply_schema(target_driver, target.database, schema)
        await writer.write_marker(run, {"schema_applied": int(schema_applied)})
        await writer.prepare()
        for kind in KINDS:
            progress.phase(kind, await reader.count(kind))
            read[kind], kind_skipped = await _pump(
                kind, reader, writer, run, batch_size, max(1, concurrency), progress
            )
            skipped.update(kind_skipped)
            await writer.write_marker(run, {"skipped": json.dumps(dict(skipped), sort_keys=True)})
        await writer.write_marker(run, {"phase": "cleanup"})
    progress.phase("cleanup", None)
    await writer.finish()
    final = await writer.read_marker() or marker
    await writer.drop_marker()
    progress.close()
    return CopyResult(
        source.display, target.display, int(final.get("nodes_created", 0)),
        int(final.get("relationships_created", 0)), read["nodes"], read["relationships"],
        dict(skipped), resumed, schema_applied,
    )  # fmt: skip


async def _pump(
    kind: Kind,
    reader: GraphReader,
    writer: GraphWriter,
    run: str,
    batch_size: int,
    concurrency: int,
    progress: Progress,
) -> tuple[int, Counter[str]]:
    """Copy every entity of ``kind``; the number read and the relationships skipped.

    ``concurrency`` workers each take the next id range, read it and write it, so
    reads of some ranges overlap writes of others.
    """
    read = 0
    skipped: Counter[str] = Counter()
    bounds = await reader.bounds(kind)

    async def copy_range(span: IdRange) -> int:
        nonlocal read
        rows = await reader.range(kind, span)
        if not rows:
            return 0
        read += len(rows)
        if kind == "nodes":
            written = await writer.write_nodes(rows)  # type: ignore[arg-type]
        else:
            written = await writer.write_relationships(rows)  # type: ignore[arg-type]
            skipped.update(written.skipped)
        # Server-side increment: writers run concurrently, and a re-run adds only
        # what it really created.
        await writer.add_to_marker(run, f"{kind}_created", written.created)
        progress.advance(len(rows))
        return len(rows)

    cursor = RangeCursor(bounds, reader.range_width(kind, bounds, batch_size))
    await scan_ranges(cursor, copy_range, lambda at: reader.next_id(kind, at), concurrency)
    return read, skipped
