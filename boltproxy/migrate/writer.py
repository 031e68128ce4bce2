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
from collections import Counter, defaultdict
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import neo4j
from neo4j.exceptions import DriverError, Neo4jError

from boltproxy.migrate import codec, literal
from boltproxy.migrate.codec import Tagged
from boltproxy.migrate.connect import Flavor, OnSide
from boltproxy.migrate.errors import MigrateError
from boltproxy.migrate.format import Kind, NodeRow, RelRow
from boltproxy.migrate.ranges import IdRange, RangeCursor, scan_ranges
from boltproxy.migrate.reader import GraphReader

log = logging.getLogger(__name__)

IMPORT_LABEL = "__BoltproxyImport"
IMPORT_KEY = "__bp_import_id"
IMPORT_INDEX = "boltproxy_import_id"
# The node that says, in the target itself, which import is under way and how far
# it got (see ``marker``): removed last, after every other trace.
STATE_LABEL = "__BoltproxyImportState"
# The marker's property keys carry this prefix, so that no name the migrator leaves in a
# server's token store (Neo4j and FalkorDB keep names after their last use) looks like data.
STATE_PREFIX = "__bp_"
TEMPORARY_NAMES = frozenset({IMPORT_LABEL, IMPORT_KEY, STATE_LABEL})


def is_temporary_name(name: str) -> bool:
    """A label or property key that only the migrator itself uses."""
    return name in TEMPORARY_NAMES or name.startswith((STATE_PREFIX, "__Boltproxy"))
CLEANUP_BATCH = 20_000


@dataclass
class Written:
    """What the server says one batch wrote: its own counters, not our row counts."""

    created: int = 0
    skipped: Counter[str] = field(default_factory=Counter)  # type → rows without endpoints


# Temporal values the driver cannot send exactly are built by the server from numbers
# instead: it refuses UTC offsets with seconds, and its temporal types hold only the
# years 1-9999 (Neo4j stores years up to +-999,999,999).
_EXACT_VALUE = (
    "CASE i.kind WHEN 'dt' THEN datetime({{epochSeconds: i.s, nanosecond: i.ns, timezone: i.tz}})"
    " WHEN 'date' THEN date('1970-01-01') + duration({{days: i.s}})"
    " WHEN 'ldt' THEN localdatetime('1970-01-01T00:00:00')"
    " + duration({{seconds: i.s, nanoseconds: i.ns}})"
    " ELSE time({{hour: i.s / 3600, minute: i.s % 3600 / 60, second: i.s % 60,"
    " nanosecond: i.ns, timezone: i.tz}}) END"
)
_SET_EXACT = (
    "FOREACH (x IN row.exact | SET {v}[x.k] = CASE WHEN x.list THEN [i IN x.items | "
    + _EXACT_VALUE
    + "] ELSE head([i IN x.items | "
    + _EXACT_VALUE
    + "]) END)"
)

_SECONDS_PER_DAY = 86_400
# Days since 1970-01-01 of 0001-01-01 and 9999-12-31: the driver's Date range.
_FIRST_DAY, _LAST_DAY = -719_162, 2_932_896
# A UTC instant this far inside the range has a local date inside it under any offset.
_MARGIN = _SECONDS_PER_DAY


def _offset_text(seconds: int) -> str:
    sign, rest = ("-", -seconds) if seconds < 0 else ("+", seconds)
    return f"{sign}{rest // 3600:02d}:{rest % 3600 // 60:02d}:{rest % 60:02d}"


def _seconds_in_range(seconds: int, margin: int = 0) -> bool:
    first = _FIRST_DAY * _SECONDS_PER_DAY + margin
    last = (_LAST_DAY + 1) * _SECONDS_PER_DAY - margin
    return first <= seconds < last


def _exact_item(tagged: Tagged, force: bool = False) -> dict[str, Any] | None:
    tag = tagged[0]
    payload: Any = tagged[1] if len(tagged) > 1 else None
    if tag == "dtz":
        return {"kind": "dt", "s": payload[0], "ns": payload[1], "tz": payload[2]}
    if tag == "dt" and (force or payload[2] % 60 or not _seconds_in_range(payload[0], _MARGIN)):
        return {"kind": "dt", "s": payload[0], "ns": payload[1], "tz": _offset_text(payload[2])}
    if tag == "time" and (force or payload[1] % 60):
        seconds, nanos = divmod(payload[0], 1_000_000_000)
        return {"kind": "time", "s": seconds, "ns": nanos, "tz": _offset_text(payload[1])}
    if tag == "date" and (force or not _FIRST_DAY <= payload <= _LAST_DAY):
        return {"kind": "date", "s": payload, "ns": 0, "tz": ""}
    if tag == "ldt" and (force or not _seconds_in_range(payload[0])):
        return {"kind": "ldt", "s": payload[0], "ns": payload[1], "tz": ""}
    return None


def split_exact(props: dict[str, Tagged]) -> tuple[dict[str, Tagged], list[dict[str, Any]]]:
    """Properties the driver can send, and those the server must build from numbers."""
    plain: dict[str, Tagged] = {}
    exact: list[dict[str, Any]] = []
    for key, tagged in props.items():
        if tagged[0] == "l" and any(_exact_item(item) for item in tagged[1]):
            # Stored lists are homogeneous: one item needing it means all can take it.
            items = [_exact_item(item, force=True) for item in tagged[1]]
            if all(item is not None for item in items):
                exact.append({"k": key, "list": True, "items": items})
                continue
        elif (item := _exact_item(tagged)) is not None:
            exact.append({"k": key, "list": False, "items": [item]})
            continue
        plain[key] = tagged
    return plain, exact


# Clean-up of one id range of the target (FalkorDB: relationships by start node id, as the
# reader partitions them; see ``reader``).
_NEO4J_CLEAN_RELS = (
    f"UNWIND range($lo, $hi - 1) AS i MATCH ()-[r]->() WHERE id(r) = i "
    f"AND r.{IMPORT_KEY} IS NOT NULL REMOVE r.{IMPORT_KEY} RETURN count(r)"
)
_NEO4J_CLEAN_NODES = (
    f"UNWIND range($lo, $hi - 1) AS i MATCH (n) WHERE id(n) = i AND n:{IMPORT_LABEL} "
    f"REMOVE n.{IMPORT_KEY} REMOVE n:{IMPORT_LABEL} RETURN count(n)"
)
_FALKORDB_CLEAN_RELS = (
    f"MATCH (a)-[r]->() WHERE id(a) >= $lo AND id(a) < $hi AND r.{IMPORT_KEY} IS NOT NULL "
    f"REMOVE r.{IMPORT_KEY} RETURN count(r)"
)
_FALKORDB_CLEAN_NODES = (
    f"MATCH (n) WHERE id(n) >= $lo AND id(n) < $hi AND n:{IMPORT_LABEL} "
    f"REMOVE n.{IMPORT_KEY} REMOVE n:{IMPORT_LABEL} RETURN count(n)"
)


def _visited(clean: Callable[[IdRange], Awaitable[int]]) -> Callable[[IdRange], Awaitable[int]]:
    """``clean``, reporting every range as non-empty (so that no range is skipped)."""

    async def visit(span: IdRange) -> int:
        await clean(span)
        return 1

    return visit


async def _no_skip(at: int) -> int | None:
    return at


def _labels_clause(labels: Sequence[str]) -> str:
    return "".join(f":{literal.name(label)}" for label in labels)


class GraphWriter:
    """Writes batches of rows to one target."""

    def __init__(self, driver: neo4j.AsyncDriver, database: str | None, flavor: Flavor) -> None:
        self.driver = driver
        self.database = database
        self.flavor = flavor
        if flavor == "neo4j":
            self._cleanup_rels = _NEO4J_CLEAN_RELS
            self._cleanup_nodes = _NEO4J_CLEAN_NODES
        else:
            self._cleanup_rels = _FALKORDB_CLEAN_RELS
            self._cleanup_nodes = _FALKORDB_CLEAN_NODES

    async def _write(self, query: str, params: dict[str, Any] | None = None) -> list[list[Any]]:
        return (await self._write_counted(query, params))[0]

    async def _write_counted(
        self, query: str, params: dict[str, Any] | None = None
    ) -> tuple[list[list[Any]], Any]:
        """Rows and the server's update counters of one write transaction."""

        async def work(tx: neo4j.AsyncManagedTransaction) -> tuple[list[list[Any]], Any]:
            result = await tx.run(query, params or {})
            values = await result.values()
            return values, (await result.consume()).counters

        try:
            async with self.driver.session(database=self.database) as session:
                return await session.execute_write(work)
        except (Neo4jError, DriverError, ConnectionError) as exc:
            raise OnSide("target", exc) from exc

    async def _read(self, query: str) -> list[list[Any]]:
        async def work(tx: neo4j.AsyncManagedTransaction) -> list[list[Any]]:
            result = await tx.run(query)
            return await result.values()

        async with self.driver.session(database=self.database) as session:
            return await session.execute_read(work)

    # --- target state ----------------------------------------------------------------

    async def is_empty(self) -> bool:
        """No data apart from an import's state marker."""
        return not await self._read(f"MATCH (n) WHERE NOT n:{STATE_LABEL} RETURN id(n) LIMIT 1")

    async def read_marker(self) -> dict[str, Any] | None:
        rows = await self._read(f"MATCH (m:{STATE_LABEL}) RETURN properties(m) LIMIT 2")
        if len(rows) > 1:
            raise MigrateError(
                "target: more than one import state marker: two imports ran into it at once",
                hint="empty the target (`restore --wipe` from a snapshot) and import once",
            )
        if not rows:
            return None
        return {k.removeprefix(STATE_PREFIX): v for k, v in dict(rows[0][0]).items()}

    async def write_marker(self, run: str, fields: dict[str, int | str]) -> None:
        """Create or update the marker of ``run`` (ints and strings only)."""
        run_key = STATE_PREFIX + "run"
        if self.flavor == "neo4j":
            await self._write(
                f"MERGE (m:{STATE_LABEL} {{{run_key}: $run}}) SET m += $fields",
                {"run": run, "fields": {STATE_PREFIX + k: v for k, v in fields.items()}},
            )
            return
        rendered = ", ".join(
            f"m.{literal.name(STATE_PREFIX + k)} = "
            + (literal.string(v) if isinstance(v, str) else str(int(v)))
            for k, v in fields.items()
        )
        await self._write(
            f"MERGE (m:{STATE_LABEL} {{{run_key}: {literal.string(run)}}}) SET {rendered}"
        )

    async def add_to_marker(self, run: str, key: str, amount: int) -> None:
        """Add to a counter on the marker, server-side (concurrent writers may call it)."""
        name = literal.name(STATE_PREFIX + key)
        await self._write(
            f"MATCH (m:{STATE_LABEL}) WHERE m.{STATE_PREFIX}run = {literal.string(run)} "
            f"SET m.{name} = coalesce(m.{name}, 0) + {int(amount)}"
        )

    async def drop_marker(self) -> None:
        await self._write(f"MATCH (m:{STATE_LABEL}) DELETE m")

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
        except OnSide:
            log.debug("temporary import index already present")

    async def finish(self, workers: int = 2) -> None:
        """Remove every trace of the import's temporary id, by id ranges of the target.

        Each range is one id seek and costs its own size. (Finding the entities still
        marked with ``... IS NOT NULL LIMIT n`` scans past every one already cleaned,
        batch after batch: quadratic in the graph's size.)
        """
        reader = GraphReader(self.driver, self.database, self.flavor, side="target")
        steps: tuple[tuple[Kind, str], ...] = (
            ("relationships", self._cleanup_rels), ("nodes", self._cleanup_nodes)
        )
        for kind, query in steps:

            async def clean(span: IdRange, query: str = query) -> int:
                rows = await self._write(query, {"lo": span.lo, "hi": span.hi})
                return int(rows[0][0]) if rows else 0

            bounds = await reader.bounds(kind)
            width = reader.range_width(kind, bounds, CLEANUP_BATCH)
            # An empty range is not proof of a gap here (its entities may be clean already),
            # so no skipping: every range is visited.
            await scan_ranges(RangeCursor(bounds, width), _visited(clean), _no_skip, workers)
        if self.flavor == "neo4j":
            await self._write(f"DROP INDEX {IMPORT_INDEX} IF EXISTS")
            return
        try:
            await self._write(f"DROP INDEX FOR (n:{IMPORT_LABEL}) ON (n.{IMPORT_KEY})")
        except OnSide:
            log.debug("temporary import index already gone")

    # --- data ------------------------------------------------------------------------

    async def write_nodes(self, rows: Sequence[NodeRow]) -> Written:
        """MERGE the rows; ``created`` counts only nodes that did not exist (replays add 0)."""
        written = Written()
        groups: dict[tuple[str, ...], list[NodeRow]] = defaultdict(list)
        for row in rows:
            groups[tuple(row["labels"])].append(row)
        for labels, group in groups.items():
            # Labels inside the MERGE pattern: FalkorDB writes them 3x faster than a
            # later SET, and a replayed row still matches (same labels, same id).
            head = (
                f"UNWIND {{rows}} AS row MERGE (n:{IMPORT_LABEL}{_labels_clause(labels)} "
                f"{{{IMPORT_KEY}: row.id}}) SET n += row.props RETURN count(n)"
            )
            _, counters = await self._write_rows(head, group, ("id",))
            written.created += counters.nodes_created
        return written

    async def write_relationships(self, rows: Sequence[RelRow]) -> Written:
        """MERGE the rows; a row whose endpoint is not in the target is counted as skipped."""
        written = Written()
        groups: dict[str, list[RelRow]] = defaultdict(list)
        for row in rows:
            groups[row["type"]].append(row)
        for rel_type, group in groups.items():
            head = (
                f"UNWIND {{rows}} AS row "
                f"MATCH (a:{IMPORT_LABEL} {{{IMPORT_KEY}: row.start}}) "
                f"MATCH (b:{IMPORT_LABEL} {{{IMPORT_KEY}: row.end}}) "
                f"MERGE (a)-[r:{literal.name(rel_type)} {{{IMPORT_KEY}: row.id}}]->(b) "
                "SET r += row.props RETURN count(r)"
            )
            values, counters = await self._write_rows(head, group, ("id", "start", "end"))
            # Rows whose MATCH found no endpoint produce no row: count(r) says how many
            # were written (created now or by an earlier run), the rest were skipped.
            missing = len(group) - int(values[0][0] if values else 0)
            if missing:
                written.skipped[rel_type] += missing
            written.created += counters.relationships_created
        return written

    async def _write_rows(
        self, head: str, rows: Sequence[NodeRow] | Sequence[RelRow], keys: tuple[str, ...]
    ) -> tuple[list[list[Any]], Any]:
        # ``head`` holds ``{rows}`` where the list goes: a parameter or a literal.
        if self.flavor == "neo4j":
            params = []
            for row in rows:
                plain, exact = split_exact(row["props"])
                params.append(
                    {
                        **{k: row[k] for k in keys},  # type: ignore[literal-required]
                        "props": codec.decode_properties(plain),
                        "exact": exact,
                    }
                )
            var = "n" if "MERGE (n" in head else "r"
            query = head.replace("{rows}", "$rows").replace(
                f"SET {var} += row.props", f"SET {var} += row.props {_SET_EXACT.format(v=var)}"
            )
            return await self._write_counted(query, {"rows": params})
        rendered = literal.rows(
            {
                **{k: str(int(row[k])) for k in keys},  # type: ignore[literal-required]
                "props": literal.properties(row["props"]),
            }
            for row in rows
        )
        if all(literal.is_constant(v) for row in rows for v in row["props"].values()):
            # As a ``CYPHER rows=...`` prefix, FalkorDB reads the rows with its parameter
            # parser, 25 times faster than the same literal inside the query, and the
            # query after it is the same for every batch, so its plan is cached.
            query = head.replace("{rows}", "$rows")
            return await self._write_counted(f"CYPHER rows={rendered} {query}")
        return await self._write_counted(head.replace("{rows}", rendered))
