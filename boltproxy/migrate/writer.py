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

import asyncio
import contextlib
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
# ``copy`` records each id range it wrote in one node of this label, created in the same
# transaction as the range's entities (see ``GraphWriter.copy_nodes``).
RANGE_LABEL = "__BoltproxyCopyRange"
TEMPORARY_NAMES = frozenset({IMPORT_LABEL, IMPORT_KEY, STATE_LABEL, RANGE_LABEL})


def is_temporary_name(name: str) -> bool:
    """A label or property key that only the migrator itself uses."""
    return name in TEMPORARY_NAMES or name.startswith((STATE_PREFIX, "__Boltproxy"))
CLEANUP_BATCH = 20_000
_ID_SLICE = 2_000  # ids per record when a node range record is read back


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


def neo4j_rows(rows: Sequence[Any], keys: tuple[str, ...]) -> list[dict[str, Any]]:
    """Rows as driver parameters: the properties it can carry, the rest as numbers."""
    params = []
    for row in rows:
        plain, exact = split_exact(row["props"])
        params.append(
            {
                **{k: row[k] for k in keys},
                "props": codec.decode_properties(plain),
                "exact": exact,
            }
        )
    return params


def literal_rows(rows: Sequence[Any], keys: tuple[str, ...]) -> tuple[str, bool]:
    """Rows as a FalkorDB literal list, and whether every property value is a constant."""
    rendered = literal.rows(
        {**{k: str(int(row[k])) for k in keys}, "props": literal.properties(row["props"])}
        for row in rows
    )
    return rendered, all(literal.is_constant(v) for row in rows for v in row["props"].values())


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
        # FalkorDB runs one write at a time, and two write transactions open at once cost
        # it far more than queueing them here: a copy's ranges of 10,000 nodes took 1.6 s
        # each with two writers, 0.11 s with one (reads of the source still overlap).
        self._write_turn: asyncio.Lock | contextlib.nullcontext[None] = (
            asyncio.Lock() if flavor == "falkordb" else contextlib.nullcontext()
        )
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

    # --- copy: plain CREATE, one range record per range -------------------------------
    #
    # Each range of the source is written by one transaction (on FalkorDB one query, its
    # unit of atomicity) that creates its entities with plain ``CREATE`` (no temporary
    # label, property or index, so nothing to clean up) and a record of the range: which
    # ids it covered and, for nodes, which target id each source node became. A range is
    # therefore in the target whole or not at all, and a resumed copy skips the ranges
    # recorded. Relationships are written between target ids, found by an id seek.

    async def copy_nodes(self, span: IdRange, rows: Sequence[NodeRow]) -> int:
        """Create the nodes of ``span`` and its record; how many were created."""
        groups: dict[tuple[str, ...], list[NodeRow]] = defaultdict(list)
        for row in rows:
            groups[tuple(row["labels"])].append(row)
        query = _Query(self.flavor, span)
        carried: list[str] = []
        for number, (labels, group) in enumerate(groups.items()):
            source = query.rows(f"g{number}", group, ("id",))
            query.parts.append(
                f"UNWIND {source} AS row CREATE (n{_labels_clause(labels)}) "
                f"SET n += row.props{query.exact('n')} "
                f"WITH {''.join(c + ', ' for c in carried)}collect([row.id, id(n)]) AS m{number}"
            )
            carried.append(f"m{number}")
        query.parts.append(
            f"WITH {' + '.join(carried)} AS m CREATE (x:{RANGE_LABEL} {{"
            f"{STATE_PREFIX}kind: 'nodes', {STATE_PREFIX}lo: $lo, {STATE_PREFIX}hi: $hi, "
            f"{STATE_PREFIX}rows: size(m), {STATE_PREFIX}src: [p IN m | p[0]], "
            f"{STATE_PREFIX}tgt: [p IN m | p[1]]}}) RETURN size(m)"
        )
        async with self._write_turn:
            values = await self._write(*query.text())
        return int(values[0][0]) if values else 0

    async def copy_relationships(
        self, span: IdRange, rows: Sequence[RelRow], targets: dict[int, int]
    ) -> Written:
        """Create the relationships of ``span`` between the target ids of their endpoints
        (``targets``: source id → target id) and the range's record. A row whose endpoint
        has no target id, or whose target node is gone, is counted as skipped."""
        read: Counter[str] = Counter(row["type"] for row in rows)
        groups: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for row in rows:
            start, end = targets.get(row["start"]), targets.get(row["end"])
            if start is not None and end is not None:
                groups[row["type"]].append({**row, "start": start, "end": end})
        query = _Query(self.flavor, span)
        made: dict[str, str] = {}
        for number, (rel_type, group) in enumerate(groups.items()):
            source = query.rows(f"g{number}", group, ("start", "end"))
            carried = "".join(c + ", " for c in made.values())
            # Ids as plain variables: FalkorDB seeks ``id(a) = s`` but scans every node
            # for ``id(a) = row.start`` (1 ms against 1.3 s for 100 rows of 100,000 nodes).
            query.parts.append(
                f"UNWIND {source} AS row WITH {carried}row, row.start AS s, row.end AS e "
                f"MATCH (a) WHERE id(a) = s MATCH (b) WHERE id(b) = e "
                f"CREATE (a)-[r:{literal.name(rel_type)}]->(b) "
                f"SET r += row.props{query.exact('r')} "
                f"WITH {carried}count(r) AS c{number}"
            )
            made[rel_type] = f"c{number}"
        types = sorted(read)
        query.constant("types", types)
        query.constant("read", [read[t] for t in types])
        counts = "[" + ", ".join(made.get(t, "0") for t in types) + "]"
        query.parts.append(
            f"{'WITH ' + ', '.join(made.values()) + ' ' if made else ''}"
            f"CREATE (x:{RANGE_LABEL} {{{STATE_PREFIX}kind: 'relationships', "
            f"{STATE_PREFIX}lo: $lo, {STATE_PREFIX}hi: $hi, {STATE_PREFIX}rows: {len(rows)}, "
            f"{STATE_PREFIX}types: $types, {STATE_PREFIX}read: $read, "
            f"{STATE_PREFIX}made: {counts}}}) RETURN {counts}"
        )
        async with self._write_turn:
            values = await self._write(*query.text())
        written = Written()
        created = [int(c) for c in values[0][0]] if values else [0] * len(types)
        for rel_type, count in zip(types, created, strict=True):
            written.created += count
            if read[rel_type] > count:
                written.skipped[rel_type] += read[rel_type] - count
        return written

    async def copied_ranges(self, kind: Kind) -> list[tuple[int, IdRange, int]]:
        """``(record id, range, rows)`` of every range of ``kind`` a copy recorded."""
        values = await self._read(
            f"MATCH (x:{RANGE_LABEL}) WHERE x.{STATE_PREFIX}kind = {literal.string(kind)} "
            f"RETURN id(x), x.{STATE_PREFIX}lo, x.{STATE_PREFIX}hi, x.{STATE_PREFIX}rows"
        )
        return [(int(r), IdRange(int(lo), int(hi)), int(n)) for r, lo, hi, n in values]

    async def copied_node_ids(self, record: int) -> tuple[list[int], list[int]]:
        """The source ids of one node range record and the target ids they became."""
        src, tgt = f"x.{STATE_PREFIX}src", f"x.{STATE_PREFIX}tgt"
        # In slices: FalkorDB stalls sending a record much larger than 64 KiB.
        values = await self._read(
            f"MATCH (x) WHERE id(x) = {int(record)} "
            f"UNWIND range(0, size({src}) - 1, {_ID_SLICE}) AS i "
            f"RETURN {src}[i..i + {_ID_SLICE}], {tgt}[i..i + {_ID_SLICE}]"
        )
        sources: list[int] = []
        targets: list[int] = []
        for some_sources, some_targets in values:
            sources.extend(some_sources)
            targets.extend(some_targets)
        return sources, targets

    async def copied_totals(self) -> tuple[int, int, Counter[str]]:
        """Nodes and relationships created over every recorded range, and those skipped."""
        values = await self._read(
            f"MATCH (x:{RANGE_LABEL}) RETURN x.{STATE_PREFIX}kind, x.{STATE_PREFIX}rows, "
            f"x.{STATE_PREFIX}types, x.{STATE_PREFIX}read, x.{STATE_PREFIX}made"
        )
        nodes = relationships = 0
        skipped: Counter[str] = Counter()
        for kind, rows, types, read, made in values:
            if kind == "nodes":
                nodes += int(rows)
                continue
            for rel_type, count, created in zip(types, read, made, strict=True):
                relationships += int(created)
                if int(count) > int(created):
                    skipped[str(rel_type)] += int(count) - int(created)
        return nodes, relationships, skipped

    async def drop_copied_ranges(self, batch: int = 1_000) -> None:
        """Delete every range record (few: one per range of the source)."""
        while True:
            rows = await self._write(
                f"MATCH (x:{RANGE_LABEL}) WITH x LIMIT {int(batch)} DELETE x RETURN count(*)"
            )
            if not rows or not rows[0][0]:
                return

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
            var = "n" if "MERGE (n" in head else "r"
            query = head.replace("{rows}", "$rows").replace(
                f"SET {var} += row.props", f"SET {var} += row.props {_SET_EXACT.format(v=var)}"
            )
            return await self._write_counted(query, {"rows": neo4j_rows(rows, keys)})
        rendered, constant = literal_rows(rows, keys)
        if constant:
            # As a ``CYPHER rows=...`` prefix, FalkorDB reads the rows with its parameter
            # parser, 25 times faster than the same literal inside the query, and the
            # query after it is the same for every batch, so its plan is cached.
            query = head.replace("{rows}", "$rows")
            return await self._write_counted(f"CYPHER rows={rendered} {query}")
        return await self._write_counted(head.replace("{rows}", rendered))


class _Query:
    """One copy query under construction: rows as parameters (Neo4j) or literals (FalkorDB).

    FalkorDB takes constants in a ``CYPHER name=value ...`` prefix (its fast parameter
    parser, see ``_write_rows``), and rows holding an expression inline.
    """

    def __init__(self, flavor: Flavor, span: IdRange) -> None:
        self.flavor = flavor
        self.parts: list[str] = []
        self.params: dict[str, Any] = {"lo": span.lo, "hi": span.hi}
        self.prefix: dict[str, str] = {"lo": str(int(span.lo)), "hi": str(int(span.hi))}

    def constant(self, name: str, value: list[str] | list[int]) -> None:
        """A parameter holding a list of strings or integers."""
        self.params[name] = value
        self.prefix[name] = literal.value(codec.encode(value))

    def exact(self, var: str) -> str:
        """Neo4j: the clause that sets the values the driver cannot carry (see above)."""
        return " " + _SET_EXACT.format(v=var) if self.flavor == "neo4j" else ""

    def rows(self, name: str, rows: Sequence[Any], keys: tuple[str, ...]) -> str:
        """Where the query reads ``rows`` from: ``$name``, or a literal list."""
        if self.flavor == "neo4j":
            self.params[name] = neo4j_rows(rows, keys)
            return f"${name}"
        rendered, constant = literal_rows(rows, keys)
        if constant:
            self.prefix[name] = rendered
            return f"${name}"
        return rendered

    def text(self) -> tuple[str, dict[str, Any] | None]:
        body = " ".join(self.parts)
        if self.flavor == "neo4j":
            return body, self.params
        prefix = " ".join(f"{k}={v}" for k, v in self.prefix.items())
        return f"CYPHER {prefix} {body}", None
