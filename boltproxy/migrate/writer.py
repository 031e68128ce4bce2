"""Writing tagged rows into a target graph, idempotently.

Every imported node carries a temporary label and a temporary property holding its
id in the source; a temporary index on them makes relationship endpoints a lookup.
Nodes and relationships are written with ``MERGE`` on that id, so a batch that is
written twice (an interrupted run that had committed it without recording so)
changes nothing the second time. :meth:`GraphWriter.finish` removes the label, the
properties and the index.

Neo4j receives rows as parameters through ``UNWIND``. FalkorDB receives them as
Cypher literals (see ``literal``): its Bolt parameters are lossy and crash it when
large. Labels and relationship types cannot be parameters in Cypher 5, so each
batch is split by label set / type and written with one query per group.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

import neo4j
from neo4j.exceptions import Neo4jError

from boltproxy.migrate import codec, literal
from boltproxy.migrate.connect import Flavor
from boltproxy.migrate.format import NodeRow, RelRow

log = logging.getLogger(__name__)

IMPORT_LABEL = "__BoltproxyImport"
IMPORT_KEY = "__bp_import_id"
IMPORT_INDEX = "boltproxy_import_id"
CLEANUP_BATCH = 20_000


def _labels_clause(labels: Sequence[str]) -> str:
    return "".join(f":{literal.name(label)}" for label in labels)


class GraphWriter:
    """Writes batches of rows to one target."""

    def __init__(self, driver: neo4j.AsyncDriver, database: str | None, flavor: Flavor) -> None:
        self.driver = driver
        self.database = database
        self.flavor = flavor

    async def _write(self, query: str, params: dict[str, Any] | None = None) -> list[list[Any]]:
        async def work(tx: neo4j.AsyncManagedTransaction) -> list[list[Any]]:
            result = await tx.run(query, params or {})
            return await result.values()

        async with self.driver.session(database=self.database) as session:
            return await session.execute_write(work)

    async def _read(self, query: str) -> list[list[Any]]:
        async def work(tx: neo4j.AsyncManagedTransaction) -> list[list[Any]]:
            result = await tx.run(query)
            return await result.values()

        async with self.driver.session(database=self.database) as session:
            return await session.execute_read(work)

    # --- target state ----------------------------------------------------------------

    async def is_empty(self) -> bool:
        return not await self._read("MATCH (n) RETURN id(n) LIMIT 1")

    async def has_import_marks(self) -> bool:
        """Whether an earlier import into this target stopped before its cleanup."""
        return bool(await self._read(f"MATCH (n:{IMPORT_LABEL}) RETURN id(n) LIMIT 1"))

    async def wipe(self, batch: int = 10_000) -> int:
        """Delete every node and relationship, in batches; the number of nodes deleted."""
        deleted = 0
        while True:
            rows = await self._write(
                f"MATCH (n) WITH n LIMIT {int(batch)} DETACH DELETE n RETURN count(*) AS c"
            )
            if not rows or not rows[0][0]:
                return deleted
            deleted += int(rows[0][0])

    # --- temporary import id ---------------------------------------------------------

    async def prepare(self) -> None:
        """Create the temporary id index and wait until it is online."""
        if self.flavor == "neo4j":
            await self._write(
                f"CREATE INDEX {IMPORT_INDEX} IF NOT EXISTS "
                f"FOR (n:{IMPORT_LABEL}) ON (n.{IMPORT_KEY})"
            )
            await self._write("CALL db.awaitIndexes(300)")
            return
        try:  # FalkorDB has no IF NOT EXISTS; an existing index is what we want
            await self._write(f"CREATE INDEX FOR (n:{IMPORT_LABEL}) ON (n.{IMPORT_KEY})")
        except Neo4jError:
            log.debug("temporary import index already present")

    async def finish(self) -> None:
        """Remove every trace of the import's temporary id, in batches."""
        while True:
            rows = await self._write(
                f"MATCH ()-[r]->() WHERE r.{IMPORT_KEY} IS NOT NULL WITH r "
                f"LIMIT {CLEANUP_BATCH} REMOVE r.{IMPORT_KEY} RETURN count(r) AS c"
            )
            if not rows or not rows[0][0]:
                break
        while True:
            rows = await self._write(
                f"MATCH (n:{IMPORT_LABEL}) WITH n LIMIT {CLEANUP_BATCH} "
                f"REMOVE n.{IMPORT_KEY} REMOVE n:{IMPORT_LABEL} RETURN count(n) AS c"
            )
            if not rows or not rows[0][0]:
                break
        if self.flavor == "neo4j":
            await self._write(f"DROP INDEX {IMPORT_INDEX} IF EXISTS")
            return
        try:
            await self._write(f"DROP INDEX FOR (n:{IMPORT_LABEL}) ON (n.{IMPORT_KEY})")
        except Neo4jError:
            log.debug("temporary import index already gone")

    # --- data ------------------------------------------------------------------------

    async def write_nodes(self, rows: Sequence[NodeRow]) -> None:
        groups: dict[tuple[str, ...], list[NodeRow]] = defaultdict(list)
        for row in rows:
            groups[tuple(row["labels"])].append(row)
        for labels, group in groups.items():
            # Labels inside the MERGE pattern: FalkorDB writes them 3x faster than a
            # later SET, and a replayed row still matches (same labels, same id).
            head = (
                f"UNWIND {{rows}} AS row MERGE (n:{IMPORT_LABEL}{_labels_clause(labels)} "
                f"{{{IMPORT_KEY}: row.id}}) SET n += row.props"
            )
            await self._write_rows(head, group, ("id",))

    async def write_relationships(self, rows: Sequence[RelRow]) -> None:
        groups: dict[str, list[RelRow]] = defaultdict(list)
        for row in rows:
            groups[row["type"]].append(row)
        for rel_type, group in groups.items():
            head = (
                f"UNWIND {{rows}} AS row "
                f"MATCH (a:{IMPORT_LABEL} {{{IMPORT_KEY}: row.start}}) "
                f"MATCH (b:{IMPORT_LABEL} {{{IMPORT_KEY}: row.end}}) "
                f"MERGE (a)-[r:{literal.name(rel_type)} {{{IMPORT_KEY}: row.id}}]->(b) "
                "SET r += row.props"
            )
            await self._write_rows(head, group, ("id", "start", "end"))

    async def _write_rows(
        self, head: str, rows: Sequence[NodeRow] | Sequence[RelRow], keys: tuple[str, ...]
    ) -> None:
        # ``head`` holds ``{rows}`` where the list goes: a parameter or a literal.
        if self.flavor == "neo4j":
            params = [
                {
                    **{k: row[k] for k in keys},  # type: ignore[literal-required]
                    "props": codec.decode_properties(row["props"]),
                }
                for row in rows
            ]
            await self._write(head.replace("{rows}", "$rows"), {"rows": params})
            return
        rendered = literal.rows(
            {
                **{k: str(int(row[k])) for k in keys},  # type: ignore[literal-required]
                "props": literal.properties(row["props"]),
            }
            for row in rows
        )
        await self._write(head.replace("{rows}", rendered))
