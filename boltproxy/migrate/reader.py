"""Reading a source graph page by page, as tagged rows.

Pages are keyed by internal id (``WHERE id(x) > $after ... ORDER BY id(x) LIMIT``):
a page never depends on the previous one being held in memory, and the last id
of a page is all an interrupted export needs to continue. (FalkorDB ignores
Bolt's PULL size and sends whole results, so one streaming query would not keep
memory bounded there.)

FalkorDB needs its own queries: its Bolt encoder corrupts a map or list in which
a point is followed by another value, so properties come back as
``[key, typeOf(value), value]`` triples with points in a separate column as
latitude/longitude; the type name also tells its 32-bit vectors from lists.
"""

from __future__ import annotations

from typing import Any

import neo4j

from boltproxy.migrate import codec
from boltproxy.migrate.codec import Tagged, UnsupportedValue
from boltproxy.migrate.connect import Flavor
from boltproxy.migrate.format import Kind, NodeRow, RelRow

_NEO4J_NODES = (
    "MATCH (n) WHERE id(n) > $after WITH n ORDER BY id(n) LIMIT $limit "
    "RETURN id(n) AS id, labels(n) AS labels, properties(n) AS props"
)
_NEO4J_RELS = (
    "MATCH (a)-[r]->(b) WHERE id(r) > $after WITH a, r, b ORDER BY id(r) LIMIT $limit "
    "RETURN id(r) AS id, type(r) AS type, id(a) AS start, id(b) AS end, properties(r) AS props"
)


def _falkordb_props(var: str) -> str:
    return (
        f"[k IN keys({var}) WHERE typeOf({var}[k]) <> 'Point' | [k, typeOf({var}[k]), {var}[k]]]"
        f" AS props, [k IN keys({var}) WHERE typeOf({var}[k]) = 'Point' | "
        f"[k, [p IN [{var}[k]] | p.latitude], [p IN [{var}[k]] | p.longitude]]] AS points"
    )


_FALKORDB_NODES = (
    "MATCH (n) WHERE id(n) > $after WITH n ORDER BY id(n) LIMIT $limit "
    "RETURN id(n) AS id, labels(n) AS labels, " + _falkordb_props("n")
)
_FALKORDB_RELS = (
    "MATCH (a)-[r]->(b) WHERE id(r) > $after WITH a, r, b ORDER BY id(r) LIMIT $limit "
    "RETURN id(r) AS id, type(r) AS type, id(a) AS start, id(b) AS end, " + _falkordb_props("r")
)

_COUNTS = {
    "nodes": "MATCH (n) RETURN count(n) AS c",
    "relationships": "MATCH ()-[r]->() RETURN count(r) AS c",
}


class GraphReader:
    """Pages of nodes and relationships from one server."""

    def __init__(self, driver: neo4j.AsyncDriver, database: str | None, flavor: Flavor) -> None:
        self.driver = driver
        self.database = database
        self.flavor = flavor

    async def _read(self, query: str, params: dict[str, Any]) -> list[list[Any]]:
        async def work(tx: neo4j.AsyncManagedTransaction) -> list[list[Any]]:
            result = await tx.run(query, params)
            return await result.values()

        async with self.driver.session(database=self.database) as session:
            return await session.execute_read(work)

    async def count(self, kind: Kind) -> int:
        rows = await self._read(_COUNTS[kind], {})
        return int(rows[0][0])

    async def page(self, kind: Kind, after: int, limit: int) -> list[NodeRow] | list[RelRow]:
        """Up to ``limit`` rows with internal id greater than ``after``, in id order."""
        params = {"after": after, "limit": limit}
        if kind == "nodes":
            query = _NEO4J_NODES if self.flavor == "neo4j" else _FALKORDB_NODES
            return [self._node(values) for values in await self._read(query, params)]
        query = _NEO4J_RELS if self.flavor == "neo4j" else _FALKORDB_RELS
        return [self._rel(values) for values in await self._read(query, params)]

    def _props(self, values: list[Any], first: int) -> dict[str, Tagged]:
        if self.flavor == "neo4j":
            return codec.encode_properties(values[first])
        return falkordb_properties(values[first], values[first + 1])

    def _node(self, values: list[Any]) -> NodeRow:
        return {"id": values[0], "labels": sorted(values[1]), "props": self._props(values, 2)}

    def _rel(self, values: list[Any]) -> RelRow:
        return {
            "id": values[0],
            "type": values[1],
            "start": values[2],
            "end": values[3],
            "props": self._props(values, 4),
        }


def falkordb_properties(triples: list[list[Any]], points: list[list[Any]]) -> dict[str, Tagged]:
    """Tagged properties from FalkorDB's ``[key, typeOf, value]`` and point columns."""
    props: dict[str, Tagged] = {}
    for key, type_name, value in triples:
        if type_name == "Float":
            props[key] = ["f", float(value)]
        elif type_name == "Vectorf32":
            props[key] = ["vec", ["f32", [float(x) for x in value]]]
        elif type_name in ("Integer", "String", "Boolean", "List", "Map", "Null"):
            props[key] = codec.encode(value)
        else:
            raise UnsupportedValue(f"FalkorDB property of type {type_name} is not exportable")
    for key, latitude, longitude in points:
        props[key] = ["pt", [4326, float(longitude[0]), float(latitude[0])]]
    return props
