"""Reading a source graph page by page, as tagged rows.

Pages are ranges of internal ids (see ``ranges``), read with an id seek: a page
costs its own size, never a sort of what remains, pages are independent (so
several can be read at once), and the end of the last range done is all an
interrupted export needs to continue. (FalkorDB ignores Bolt's PULL size and
sends whole results, so one streaming query would not keep memory bounded there.)

FalkorDB needs its own queries: its Bolt encoder corrupts a map or list in which
a point is followed by another value, so properties come back as
``[key, typeOf(value), value]`` triples with points in a separate column as
latitude/longitude; the type name also tells its 32-bit vectors from lists.
"""

from __future__ import annotations

import asyncio
from typing import Any

import neo4j
from neo4j.exceptions import DriverError, Neo4jError

from boltproxy.migrate import codec, temporal_text
from boltproxy.migrate.codec import Tagged, UnsupportedValue
from boltproxy.migrate.connect import Flavor, OnSide
from boltproxy.migrate.errors import ReadStalled
from boltproxy.migrate.format import Kind, NodeRow, RelRow
from boltproxy.migrate.ranges import Bounds, IdRange

DEFAULT_READ_TIMEOUT = 300.0

# Temporal values the driver cannot carry exactly are read as numbers instead, and left
# out of the plain value column: its decoding rounds UTC offsets to whole minutes
# (+00:20:34 arrives as +00:20), and a date or datetime outside the years 1-9999 (which
# Neo4j stores) breaks the whole record. Dates, local and zoned datetimes and zoned times
# (and lists of them) take this path.
_EXACT_TYPES = (
    "DATE | LOCAL DATETIME | ZONED DATETIME | ZONED TIME | LIST<DATE NOT NULL | "
    "LOCAL DATETIME NOT NULL | ZONED DATETIME NOT NULL | ZONED TIME NOT NULL>"
)
_EXACT_TYPE = "(p[1] CONTAINS 'DATE' OR p[1] CONTAINS 'ZONED')"  # the same, by valueType name


def _neo4j_exact_columns(v: str) -> str:
    """``v``'s properties as ``[key, value]`` pairs without the temporals named above, and
    those temporals as numbers the server computes (``valueType`` names each type once)."""
    kt = f"[k IN keys({v}) | [k, valueType({v}[k])]]"
    return (
        f"[p IN {kt} WHERE NOT {_EXACT_TYPE} | [p[0], {v}[p[0]]]], "
        f"[p IN {kt} WHERE {_EXACT_TYPE} | [p[0], p[1] STARTS WITH 'LIST',"
        f" [x IN CASE WHEN p[1] STARTS WITH 'LIST' THEN {v}[p[0]] ELSE [{v}[p[0]]] END |"
        " CASE WHEN x IS :: ZONED DATETIME"
        " THEN ['dt', x.epochSeconds, x.nanosecond, x.offsetSeconds, x.timezone]"
        " WHEN x IS :: LOCAL DATETIME"
        " THEN ['ldt', datetime({datetime: x, timezone: 'Z'}).epochSeconds, x.nanosecond]"
        " WHEN x IS :: DATE THEN ['date', datetime({date: x, timezone: 'Z'}).epochSeconds / 86400]"
        " ELSE ['time', x.hour * 3600 + x.minute * 60 + x.second, x.nanosecond, x.offsetSeconds]"
        " END]]]"
    )


def _neo4j_page(match: str, v: str, head: str) -> str:
    """One id seek per id of the range (NodeByIdSeek, DirectedRelationshipByIdSeek): a page
    costs its own width, never a scan or a sort of the rest of the graph. (``id(n) IN
    range(...)`` is planned as a scan of every node, and ``id(n) IN $ids`` too while
    statistics are empty.)

    The page is one record with two lists: the driver's cost is per record (each is a
    Bolt message read through its own socket waits and objects); one record per page,
    sent in 64 KiB chunks, removes it, and memory still holds one page. Entities without a
    temporal of the kinds above, nearly always all of them, come as ``[*head,
    properties]``: a map is about three times cheaper for the server to build and for
    the driver to decode than per-key pairs and type names. The others come as ``[*head,
    pairs, exact temporals]``, the exact form, evaluated only for them.
    """
    return (
        f"UNWIND range($lo, $hi - 1) AS i {match} WITH *, properties({v}) AS props "
        f"WITH *, any(k IN keys(props) WHERE props[k] IS :: {_EXACT_TYPES}) AS has_exact "
        f"RETURN collect(CASE WHEN has_exact THEN null ELSE [{head}, props] END) AS plain, "
        f"collect(CASE WHEN has_exact THEN [{head}, {_neo4j_exact_columns(v)}] END) AS exact"
    )


_NEO4J_NODES = _neo4j_page("MATCH (n) WHERE id(n) = i", "n", "id(n), labels(n)")
_NEO4J_RELS = _neo4j_page("MATCH (a)-[r]->(b) WHERE id(r) = i", "r", "id(r), type(r), id(a), id(b)")

# FalkorDB aborts when it has to send a temporal value over Bolt, corrupts a list in
# which a point is followed by another value, and evaluates every branch of a CASE (a
# ``x.latitude`` on a date fails the query, and an error there crashes its Bolt
# listener). So no point or temporal value is ever returned: points come back as
# latitude/longitude, temporals as the text ``toString`` prints, each taken from a
# one-item list filtered by type, which FalkorDB does not evaluate for other types.
# Lists nested three deep, or nested lists holding such values, are only named (and
# refused) rather than returned.
_FALKOR_TEMPORAL = "['Datetime', 'Date', 'Time', 'Duration']"
_FALKOR_SPECIAL = "['Point', 'Datetime', 'Date', 'Time', 'Duration']"


def _falkordb_props(var: str) -> str:
    value = f"{var}[k]"
    special_list = (
        f"typeOf({value}) = 'List' AND any(x IN {value} WHERE typeOf(x) IN {_FALKOR_SPECIAL})"
    )
    nested = (
        f"typeOf({value}) = 'List' AND any(x IN {value} WHERE typeOf(x) = 'List' AND"
        f" any(y IN x WHERE typeOf(y) IN {_FALKOR_SPECIAL} OR typeOf(y) = 'List'))"
    )
    item = (
        f"[typeOf(x), head([y IN [x] WHERE typeOf(y) IN {_FALKOR_TEMPORAL} | toString(y)]),"
        " head([y IN [x] WHERE typeOf(y) = 'Point' | y.latitude]),"
        " head([y IN [x] WHERE typeOf(y) = 'Point' | y.longitude]),"
        f" head([y IN [x] WHERE NOT typeOf(y) IN {_FALKOR_SPECIAL} | y])]"
    )
    return (
        f"[k IN keys({var}) WHERE NOT typeOf({value}) IN {_FALKOR_SPECIAL}"
        f" AND NOT ({special_list}) AND NOT ({nested}) | [k, typeOf({value}), {value}]] AS props,"
        f" [k IN keys({var}) WHERE typeOf({value}) = 'Point' | "
        f"[k, [p IN [{value}] | p.latitude], [p IN [{value}] | p.longitude]]] AS points,"
        f" [k IN keys({var}) WHERE (typeOf({value}) IN {_FALKOR_TEMPORAL} OR ({special_list}))"
        f" AND NOT ({nested}) | [k, typeOf({value}), [x IN CASE WHEN typeOf({value}) = 'List'"
        f" THEN {value} ELSE [{value}] END | {item}]]] AS special,"
        f" [k IN keys({var}) WHERE {nested}] AS nested"
    )


# FalkorDB seeks nodes by an id range (NodeByIdSeek) but has no seek for relationship
# ids (a filter on id(r) scans every relationship for each page), so its relationships
# are partitioned by their start node's id: a seek, then the node's outgoing edges.
_FALKORDB_NODES = (
    "MATCH (n) WHERE id(n) >= $lo AND id(n) < $hi "
    "RETURN id(n) AS id, labels(n) AS labels, " + _falkordb_props("n")
)
_FALKORDB_RELS = (
    "MATCH (a)-[r]->(b) WHERE id(a) >= $lo AND id(a) < $hi "
    "RETURN id(r) AS id, type(r) AS type, id(a) AS start, id(b) AS end, " + _falkordb_props("r")
)


_COUNTS = {
    "nodes": "MATCH (n) RETURN count(n) AS c",
    "relationships": "MATCH ()-[r]->() RETURN count(r) AS c",
}
# The id span to partition, and how many entities it holds (one scan, no sort).
_BOUNDS = {
    "nodes": "MATCH (n) RETURN min(id(n)), max(id(n)), count(n)",
    "relationships": "MATCH ()-[r]->() RETURN min(id(r)), max(id(r)), count(r)",
}
_FALKORDB_REL_BOUNDS = "MATCH (a)-[r]->() RETURN min(id(a)), max(id(a)), count(r)"
# The first id at or above a point, to skip a run of empty ranges (ids with a large gap).
_NEXT_ID = {
    "nodes": "MATCH (n) WHERE id(n) >= $at RETURN min(id(n))",
    "relationships": "MATCH ()-[r]->() WHERE id(r) >= $at RETURN min(id(r))",
}
_FALKORDB_NEXT_REL = "MATCH (a)-[]->() WHERE id(a) >= $at RETURN min(id(a))"


class GraphReader:
    """Pages of nodes and relationships from one server."""

    def __init__(
        self,
        driver: neo4j.AsyncDriver,
        database: str | None,
        flavor: Flavor,
        *,
        side: str = "source",
        timeout: float = DEFAULT_READ_TIMEOUT,
    ) -> None:
        self.driver = driver
        self.database = database
        self.flavor = flavor
        self.side = side
        self.timeout = timeout

    async def _read(self, query: str, params: dict[str, Any], what: str) -> list[list[Any]]:
        async def work(tx: neo4j.AsyncManagedTransaction) -> list[list[Any]]:
            result = await tx.run(query, params)
            return await result.values()

        async def read() -> list[list[Any]]:
            async with self.driver.session(database=self.database) as session:
                return await session.execute_read(work)

        # A server can stall mid-record (one larger than it can send): never wait forever.
        try:
            return await asyncio.wait_for(read(), self.timeout)
        except (Neo4jError, DriverError, ConnectionError) as exc:
            raise OnSide(self.side, exc) from exc
        except TimeoutError:
            raise ReadStalled(
                f"{self.side}: reading {what} got no complete answer within {self.timeout:g} s",
                hint="the server may be unable to send a record that large; "
                "a smaller --batch-size or a longer --read-timeout may help",
            ) from None

    async def count(self, kind: Kind) -> int:
        rows = await self._read(_COUNTS[kind], {}, f"the number of {kind}")
        return int(rows[0][0])

    async def bounds(self, kind: Kind) -> Bounds:
        """The span of ids that ranges of ``kind`` cover, and how many entities it holds.

        On FalkorDB the relationships' span is that of their start nodes (see above).
        """
        query = _BOUNDS[kind]
        if kind == "relationships" and self.flavor == "falkordb":
            query = _FALKORDB_REL_BOUNDS
        rows = await self._read(query, {}, f"the id span of the {kind}")
        lowest, highest, count = rows[0] if rows else (None, None, 0)
        if lowest is None or highest is None or not count:
            return Bounds(0, -1, 0)
        return Bounds(int(lowest), int(highest), int(count))

    def range_width(self, kind: Kind, bounds: Bounds, batch_size: int) -> int:
        """How many ids one range spans so that it holds about ``batch_size`` entities.

        Ranges over an entity's own ids hold at most their width. FalkorDB's
        relationship ranges are over start node ids: they are widened by the
        average number of relationships per id, and a node with far more
        relationships than average makes its range larger than ``batch_size``.
        """
        if kind == "nodes" or self.flavor == "neo4j" or bounds.empty:
            return max(1, batch_size)
        span = bounds.highest - bounds.lowest + 1
        return max(1, batch_size * span // bounds.count)

    async def next_id(self, kind: Kind, at: int) -> int | None:
        """The smallest id at or above ``at`` that ranges of ``kind`` would find, if any."""
        query = _NEXT_ID[kind]
        if kind == "relationships" and self.flavor == "falkordb":
            query = _FALKORDB_NEXT_REL
        rows = await self._read(query, {"at": at}, f"the next {kind} id from {at}")
        return None if not rows or rows[0][0] is None else int(rows[0][0])

    async def range(self, kind: Kind, span: IdRange) -> list[NodeRow] | list[RelRow]:
        """Every row whose id (FalkorDB relationships: start node id) lies in ``span``."""
        params = {"lo": span.lo, "hi": span.hi}
        what = f"the {kind} with ids {span.lo} to {span.hi - 1}"
        if kind == "nodes":
            query = _NEO4J_NODES if self.flavor == "neo4j" else _FALKORDB_NODES
            rows = await self._rows(query, params, what)
            return [self._node(values, what) for values in rows]
        query = _NEO4J_RELS if self.flavor == "neo4j" else _FALKORDB_RELS
        rels = await self._rows(query, params, what)
        return [self._rel(values, what) for values in rels]

    async def content_range(self, kind: Kind, span: IdRange) -> list[ContentRow]:
        """``range`` for hashing (``validate``): per entity ``(id, head, props, plain)``,
        ``head`` the sorted labels as a tuple or the type with start and end ids, and
        ``props`` the driver's own map when ``plain`` (Neo4j's map rows: no tagged copy
        is built), else tagged. No row dict per entity either."""
        params = {"lo": span.lo, "hi": span.hi}
        what = f"the {kind} with ids {span.lo} to {span.hi - 1}"
        nodes = kind == "nodes"
        if nodes:
            query = _NEO4J_NODES if self.flavor == "neo4j" else _FALKORDB_NODES
        else:
            query = _NEO4J_RELS if self.flavor == "neo4j" else _FALKORDB_RELS
        first = 2 if nodes else 4
        plain_width = first + 1 if self.flavor == "neo4j" else -1
        rows = []
        for values in await self._rows(query, params, what):
            head = tuple(sorted(values[1])) if nodes else tuple(values[1:4])
            if len(values) == plain_width:
                rows.append((values[0], head, values[first], True))
            else:
                rows.append((values[0], head, self._props(values, first, what), False))
        return rows

    async def _rows(self, query: str, params: dict[str, Any], what: str) -> list[list[Any]]:
        rows = await self._read(query, params, what)
        if self.flavor == "neo4j":  # one record: the plain rows, then the exact ones
            return [*rows[0][0], *rows[0][1]] if rows else []
        return rows

    def _props(self, values: list[Any], first: int, what: str) -> dict[str, Tagged]:
        try:
            if self.flavor == "neo4j":
                if len(values) == first + 1:  # a plain row: one map (see ``_neo4j_page``)
                    return {k: codec.encode(v) for k, v in values[first].items()}
                props = {str(k): codec.encode(v) for k, v in values[first]}
                props.update(exact_temporals(values[first + 1]))
                return props
            if values[first + 3]:
                raise UnsupportedValue(
                    f"properties {sorted(values[first + 3])} hold lists nested three deep or "
                    "nested lists of points or temporal values, which FalkorDB cannot send"
                )
            return falkordb_properties(values[first], values[first + 1], values[first + 2])
        except UnsupportedValue as exc:
            raise UnsupportedValue(f"{self.side}: {exc} (in {what})") from None

    def _node(self, values: list[Any], what: str) -> NodeRow:
        return {
            "id": values[0],
            "labels": sorted(values[1]),
            "props": self._props(values, 2, what),
        }

    def _rel(self, values: list[Any], what: str) -> RelRow:
        return {
            "id": values[0],
            "type": values[1],
            "start": values[2],
            "end": values[3],
            "props": self._props(values, 4, what),
        }


# ``content_range``'s row: id, head (labels, or type with start and end ids), properties,
# and whether they are the driver's plain map rather than tagged.
ContentRow = tuple[int, tuple[Any, ...], dict[str, Any], bool]


def falkordb_properties(
    triples: list[list[Any]], points: list[list[Any]], special: list[list[Any]] | None = None
) -> dict[str, Tagged]:
    """Tagged properties from FalkorDB's value, point and special columns.

    A special item is ``[type, text of a temporal, latitude, longitude, plain value]``.
    """
    props: dict[str, Tagged] = {}
    for key, type_name, value in triples:
        props[key] = _falkordb_value(type_name, value)
    for key, latitude, longitude in points:
        props[key] = ["pt", [4326, float(longitude[0]), float(latitude[0])]]
    for key, type_name, items in special or ():
        tagged = [_falkordb_item(item) for item in items]
        props[key] = ["l", tagged] if type_name == "List" else tagged[0]
    return props


def _falkordb_item(item: list[Any]) -> Tagged:
    type_name, text, latitude, longitude, plain = item
    if type_name == "Point":
        return ["pt", [4326, float(longitude), float(latitude)]]
    if type_name in ("Datetime", "Date", "Time", "Duration"):
        return temporal_text.parse(type_name, text)
    return _falkordb_value(type_name, plain)


def _falkordb_value(type_name: str, value: Any) -> Tagged:
    if type_name == "Float":
        return codec.encode(float(value))
    if type_name == "Vectorf32":
        return ["vec", ["f32", [codec.encode(float(x))[1] for x in value]]]
    if type_name in ("Integer", "String", "Boolean", "List", "Map", "Null"):
        return codec.encode(value)
    raise UnsupportedValue(f"a FalkorDB property of type {type_name} is not exportable")


def exact_temporals(rows: list[list[Any]] | None) -> dict[str, Tagged]:
    """Tagged values from Neo4j's ``exact`` column (see ``_NEO4J_PROPS``)."""
    props: dict[str, Tagged] = {}
    for key, is_list, items in rows or ():
        tagged = [_exact_temporal(item) for item in items]
        props[key] = ["l", tagged] if is_list else tagged[0]
    return props


def _exact_temporal(item: list[Any]) -> Tagged:
    kind = item[0]
    if kind == "dt":
        _, seconds, nanos, offset, zone = item
        if zone and zone[0] not in "+-Z":
            return ["dtz", [int(seconds), int(nanos), str(zone)]]
        return ["dt", [int(seconds), int(nanos), int(offset)]]
    if kind == "ldt":
        return ["ldt", [int(item[1]), int(item[2])]]
    if kind == "date":
        return ["date", int(item[1])]
    _, second_of_day, nanos, offset = item
    return ["time", [int(second_of_day) * 1_000_000_000 + int(nanos), int(offset)]]
