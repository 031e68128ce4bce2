"""``copy``: export piped into import, without files.

One reader fills a bounded queue with pages; ``concurrency`` writers drain it.
The queue bound keeps memory at (concurrency + queue size) pages whatever the
graph's size, and makes a fast reader wait for slow writers. All nodes are
written before any relationship, because a relationship needs both endpoints.
A copy is not resumable (use export + import for that), but a repeated copy into
a target that still carries the temporary ids converges thanks to ``MERGE``.
"""

from __future__ import annotations

import asyncio
from dataclasses import asdict, dataclass
from typing import Any

import neo4j

from boltproxy.migrate.connect import Endpoint, server_info
from boltproxy.migrate.errors import TargetNotEmpty
from boltproxy.migrate.format import KINDS, Kind, NodeRow, RelRow
from boltproxy.migrate.progress import NullProgress, Progress
from boltproxy.migrate.reader import GraphReader
from boltproxy.migrate.schemaio import apply_schema, fetch_schema
from boltproxy.migrate.writer import GraphWriter
from boltproxy.tasks import spawn

_DONE = None


@dataclass
class CopyResult:
    source: str
    target: str
    nodes: int
    relationships: int
    schema_applied: bool

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


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
) -> CopyResult:
    progress = progress or NullProgress()
    source_info = await server_info(source_driver, source.database)
    target_info = await server_info(target_driver, target.database)
    reader = GraphReader(source_driver, source.database, source_info.flavor)
    writer = GraphWriter(target_driver, target.database, target_info.flavor)
    if not into_non_empty and not await writer.is_empty():
        raise TargetNotEmpty(
            f"{target.display} already holds data",
            hint="copy into an empty database, or pass --into-non-empty",
        )

    schema = await fetch_schema(source_driver, source.database)
    schema_applied = await apply_schema(target_driver, target.database, schema)
    await writer.prepare()
    counts: dict[Kind, int] = {}
    for kind in KINDS:
        progress.phase(kind, await reader.count(kind))
        counts[kind] = await _pump(kind, reader, writer, batch_size, max(1, concurrency), progress)
    progress.phase("cleanup", None)
    await writer.finish()
    progress.close()
    return CopyResult(
        source.display, target.display, counts["nodes"], counts["relationships"], schema_applied
    )


async def _pump(
    kind: Kind,
    reader: GraphReader,
    writer: GraphWriter,
    batch_size: int,
    concurrency: int,
    progress: Progress,
) -> int:
    queue: asyncio.Queue[list[NodeRow] | list[RelRow] | None] = asyncio.Queue(concurrency)
    written = 0

    async def write() -> None:
        nonlocal written
        while (rows := await queue.get()) is not _DONE:
            assert rows is not None
            if kind == "nodes":
                await writer.write_nodes(rows)  # type: ignore[arg-type]
            else:
                await writer.write_relationships(rows)  # type: ignore[arg-type]
            written += len(rows)
            progress.advance(len(rows))

    writers = [spawn(write(), f"copy-{kind}-writer-{n}") for n in range(concurrency)]
    try:
        after = -1
        while True:
            # A writer that failed would leave the queue full: stop reading then.
            for task in writers:
                if task.done():
                    task.result()
            rows = await reader.page(kind, after, batch_size)
            if not rows:
                break
            await _put(queue, rows, writers)
            after = rows[-1]["id"]
            if len(rows) < batch_size:
                break
        for _ in writers:
            await _put(queue, _DONE, writers)
        await asyncio.gather(*writers)
    finally:
        for task in writers:
            task.cancel()
    return written


async def _put(queue: asyncio.Queue[Any], item: Any, writers: list[asyncio.Task[None]]) -> None:
    """Queue ``item``, but raise a writer's failure instead of waiting forever."""
    put = spawn(queue.put(item), "copy-queue-put")
    running = [task for task in writers if not task.done()]
    while running:
        done, _ = await asyncio.wait([put, *running], return_when=asyncio.FIRST_COMPLETED)
        if put in done:
            return
        for task in done:
            task.result()  # a writer's exception surfaces here
        running = [task for task in running if not task.done()]
    put.cancel()
    raise RuntimeError("every copy writer stopped before the copy ended")
