"""``copy``: export piped into import, without files.

``concurrency`` workers each take the next range of ids (see ``ranges``), read it
and write it: memory holds at most ``concurrency`` pages whatever the graph's
size, and a fast reader never runs ahead of slow writers. All nodes are
written before any relationship, because a relationship needs both endpoints.

Each range is written with plain ``CREATE`` in one transaction that also records
the range in the target (see ``writer.GraphWriter.copy_nodes``), with the target
id each source node became. Relationships are created between target ids, found
from a local map of those pairs (``idmap``, on disk) and an id seek. Nothing is
written per entity for the migration's sake, so clean-up only deletes the range
records. Like ``import``, a copy keeps its state in a marker node in the target
(see ``importer.claim_target``): a re-run of an interrupted copy of the same
source skips the ranges recorded, or, if clean-up had begun, only finishes the
clean-up, so nothing is written twice. Counts are the server's own: nodes and
relationships its queries created.

A copy interrupted by a version that wrote temporary ids (a marker without
``method``) is finished that way: ``MERGE`` on the temporary ids, then their clean-up.
"""

from __future__ import annotations

import asyncio
import hashlib
import itertools
import json
from collections import Counter
from dataclasses import asdict, dataclass
from typing import Any

import neo4j

from boltproxy.migrate.connect import Endpoint, database_identity, server_info
from boltproxy.migrate.format import KINDS, Kind
from boltproxy.migrate.idmap import IdMap
from boltproxy.migrate.importer import claim_target
from boltproxy.migrate.progress import NullProgress, Progress
from boltproxy.migrate.ranges import DoneRanges, IdRange, RangeCursor, scan_ranges
from boltproxy.migrate.reader import DEFAULT_READ_TIMEOUT, GraphReader
from boltproxy.migrate.schemaio import apply_schema, fetch_schema
from boltproxy.migrate.writer import GraphWriter

# What a marker's ``method`` says about how its copy writes (see the module docstring).
METHOD = "ranges"


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
        writer, run, target=target, into_non_empty=into_non_empty, what="copy",
        fields={"method": METHOD},
    )  # fmt: skip
    legacy = marker.get("method") != METHOD
    resumed = marker.get("phase") != "write" or bool(marker.get("nodes_created"))
    read: dict[Kind, int] = {"nodes": 0, "relationships": 0}
    skipped: Counter[str] = Counter(json.loads(str(marker.get("skipped") or "{}")))
    schema_applied = bool(marker.get("schema_applied", 0))
    workers = max(1, concurrency)
    if marker.get("phase") == "write":
        schema = await fetch_schema(source_driver, source.database)
        schema_applied = await apply_schema(target_driver, target.database, schema)
        await writer.write_marker(run, {"schema_applied": int(schema_applied)})
        if legacy:
            await writer.prepare()
            for kind in KINDS:
                progress.phase(kind, await reader.count(kind))
                read[kind], kind_skipped = await _pump(
                    kind, reader, writer, run, batch_size, workers, progress
                )
                skipped.update(kind_skipped)
                await writer.write_marker(
                    run, {"skipped": json.dumps(dict(skipped), sort_keys=True)}
                )
        else:
            with IdMap() as ids:
                for kind in KINDS:
                    recorded = await writer.copied_ranges(kind)
                    resumed = resumed or bool(recorded)
                    progress.phase(kind, await reader.count(kind), sum(n for *_, n in recorded))
                    read[kind] = await _copy_ranges(
                        kind, reader, writer, ids, recorded, batch_size, workers, progress
                    )
            nodes, relationships, skipped = await writer.copied_totals()
            await writer.write_marker(run, {
                "nodes_created": nodes, "relationships_created": relationships,
                "skipped": json.dumps(dict(skipped), sort_keys=True),
            })  # fmt: skip
        await writer.write_marker(run, {"phase": "cleanup"})
    progress.phase("cleanup", None)
    if legacy:
        await writer.finish()
    else:
        await writer.drop_copied_ranges()
    final = await writer.read_marker() or marker
    await writer.drop_marker()
    progress.close()
    return CopyResult(
        source.display, target.display, int(final.get("nodes_created", 0)),
        int(final.get("relationships_created", 0)), read["nodes"], read["relationships"],
        dict(skipped), resumed, schema_applied,
    )  # fmt: skip


async def _copy_ranges(
    kind: Kind,
    reader: GraphReader,
    writer: GraphWriter,
    ids: IdMap,
    recorded: list[tuple[int, IdRange, int]],
    batch_size: int,
    workers: int,
    progress: Progress,
) -> int:
    """Copy every range of ``kind`` not ``recorded`` yet; how many entities were read.

    For nodes, ``ids`` is then filled from every node range record in the target (those
    of earlier runs included), for the relationships to find their endpoints.
    """
    read = 0
    done = DoneRanges(span for _, span, _ in recorded)

    async def copy_span(span: IdRange) -> int:
        nonlocal read
        rows = await reader.range(kind, span)
        if not rows:
            return 0
        read += len(rows)
        if kind == "nodes":
            await writer.copy_nodes(span, rows)  # type: ignore[arg-type]
        else:
            ends = itertools.chain.from_iterable((r["start"], r["end"]) for r in rows)  # type: ignore[typeddict-item]
            targets = await asyncio.to_thread(ids.lookup, ends)
            await writer.copy_relationships(span, rows, targets)  # type: ignore[arg-type]
        progress.advance(len(rows))
        return len(rows)

    async def copy_range(span: IdRange) -> int:
        if not done:
            return await copy_span(span)
        missing = done.missing(span)
        if missing == [span]:
            return await copy_span(span)
        # Partly or wholly written by an earlier run: not evidence of a gap in the ids.
        for part in missing:
            await copy_span(part)
        return 1

    bounds = await reader.bounds(kind)
    cursor = RangeCursor(bounds, reader.range_width(kind, bounds, batch_size))
    await scan_ranges(cursor, copy_range, lambda at: reader.next_id(kind, at), workers)
    if kind == "nodes":
        for record, _, _ in await writer.copied_ranges("nodes"):
            ids.add(*await writer.copied_node_ids(record))
    return read


async def _pump(
    kind: Kind,
    reader: GraphReader,
    writer: GraphWriter,
    run: str,
    batch_size: int,
    concurrency: int,
    progress: Progress,
) -> tuple[int, Counter[str]]:
    """Copy every entity of ``kind`` with temporary ids (a copy begun by an earlier version);
    the number read and the relationships skipped.

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
