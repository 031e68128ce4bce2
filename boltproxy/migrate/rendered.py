"""Properties as the server itself prints them, for a check that bypasses the driver's decoding.

The Python driver turns Bolt values into Python objects (its "hydration"), and
has had bugs there: it rounds UTC offsets to whole minutes. A check that reads
both servers through the same driver cannot see such a loss. So ``validate``
also asks each server to render sampled entities' properties as text
(``toStringOrNull`` on Neo4j, ``toString`` on FalkorDB) with their type names,
and compares the text. Strings, numbers and booleans come back as strings,
which the driver passes through untouched.

FalkorDB prints floats with ``%f`` (six decimals), so there the text check is
weaker for floats than the hashed comparison; vectors cannot be printed at all
and are left out (the hashed comparison covers them).
"""

from __future__ import annotations

from typing import Any

import neo4j

from boltproxy.migrate.connect import Flavor

_NEO4J = (
    "MATCH (n) WHERE id(n) IN $ids RETURN id(n) AS id, "
    "[k IN keys(n) | [k, valueType(n[k]), CASE WHEN n[k] IS :: LIST<ANY> "
    "THEN [x IN n[k] | toStringOrNull(x)] ELSE [toStringOrNull(n[k])] END]] AS props"
)
_FALKORDB = (
    "MATCH (n) WHERE id(n) IN $ids RETURN id(n) AS id, "
    "[k IN keys(n) WHERE NOT typeOf(n[k]) STARTS WITH 'Vector' | [k, typeOf(n[k]), "
    # FalkorDB evaluates a comprehension in a CASE branch not taken: keep it outside.
    "[x IN CASE WHEN typeOf(n[k]) = 'List' THEN n[k] ELSE [n[k]] END | toString(x)]]] AS props"
)

Rendered = tuple[tuple[str, str, tuple[str | None, ...]], ...]


async def render_nodes(
    driver: neo4j.AsyncDriver, database: str | None, flavor: Flavor, ids: list[int]
) -> dict[int, Rendered]:
    """Node id → its properties as ``(key, type name, texts)``, sorted by key."""
    if not ids:
        return {}

    async def work(tx: neo4j.AsyncManagedTransaction) -> list[list[Any]]:
        query = _NEO4J if flavor == "neo4j" else _FALKORDB
        result = await tx.run(query, {"ids": [int(i) for i in ids]})
        return await result.values()

    async with driver.session(database=database) as session:
        rows = await session.execute_read(work)
    return {
        int(node_id): tuple(sorted((str(k), str(t), tuple(texts or ())) for k, t, texts in props))
        for node_id, props in rows
    }
