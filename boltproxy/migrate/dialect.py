"""Schema introspection and DDL per server dialect: Neo4j 5.26, Neo4j 2025+/Cypher 25, FalkorDB.

Parsing is kept in pure functions over result rows, so the Neo4j forms (which no
server here can produce) are tested with recorded row shapes.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Iterable
from typing import Any, Protocol

import neo4j

from boltproxy.migrate.connect import server_info
from boltproxy.migrate.schema import Catalogue, ConstraintDef, IndexDef, Schema, _frozen_options

# Neo4j renamed some constraint types between 5.x and 2025: one vocabulary here.
_CONSTRAINT_KINDS = {
    "UNIQUENESS": "UNIQUENESS",
    "NODE_PROPERTY_UNIQUENESS": "UNIQUENESS",
    "RELATIONSHIP_UNIQUENESS": "UNIQUENESS",
    "RELATIONSHIP_PROPERTY_UNIQUENESS": "UNIQUENESS",
    "NODE_KEY": "NODE_KEY",
    "RELATIONSHIP_KEY": "RELATIONSHIP_KEY",
    "NODE_PROPERTY_EXISTENCE": "NOT_NULL",
    "RELATIONSHIP_PROPERTY_EXISTENCE": "NOT_NULL",
    "NODE_PROPERTY_TYPE": "PROPERTY_TYPE",
    "RELATIONSHIP_PROPERTY_TYPE": "PROPERTY_TYPE",
}
_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def quote(name: str) -> str:
    """A Cypher identifier, backtick-quoted when it needs to be."""
    return name if _IDENTIFIER.match(name) else "`" + name.replace("`", "``") + "`"


class Dialect(Protocol):
    name: str

    async def fetch_schema(self, driver: neo4j.AsyncDriver, database: str | None) -> Schema: ...
    def render_ddl(self, item: IndexDef | ConstraintDef) -> str: ...
    async def apply_schema(
        self,
        driver: neo4j.AsyncDriver,
        database: str | None,
        schema: Schema,
        *,
        wait_seconds: float = 300.0,
    ) -> None: ...
    async def fetch_catalogue(
        self, driver: neo4j.AsyncDriver, database: str | None
    ) -> Catalogue: ...


async def _rows(
    driver: neo4j.AsyncDriver, database: str | None, query: str
) -> list[dict[str, Any]]:
    async def work(tx: neo4j.AsyncManagedTransaction) -> list[dict[str, Any]]:
        result = await tx.run(query)
        return [record.data() for record in await result.fetch(1_000_000)]

    async with driver.session(database=database) as session:
        return await session.execute_read(work)


async def _write(driver: neo4j.AsyncDriver, database: str | None, query: str) -> None:
    async with driver.session(database=database) as session:
        await (await session.run(query)).consume()


# --- Neo4j ------------------------------------------------------------------------------


def parse_neo4j_indexes(rows: Iterable[dict[str, Any]]) -> tuple[IndexDef, ...]:
    """``SHOW INDEXES YIELD *`` rows → definitions (constraint-owned indexes left out:
    their constraint recreates them)."""
    out = []
    for row in rows:
        if row.get("owningConstraint"):
            continue
        out.append(
            IndexDef(
                name=str(row["name"]),
                kind=str(row["type"]),
                entity=str(row["entityType"]),
                labels_or_types=tuple(row.get("labelsOrTypes") or ()),
                properties=tuple(row.get("properties") or ()),
                options=_frozen_options((row.get("options") or {}).get("indexConfig") or {}),
            )
        )
    return tuple(sorted(out, key=lambda i: i.identity))


def parse_neo4j_constraints(rows: Iterable[dict[str, Any]]) -> tuple[ConstraintDef, ...]:
    out = []
    for row in rows:
        raw = str(row["type"])
        out.append(
            ConstraintDef(
                name=str(row["name"]),
                kind=_CONSTRAINT_KINDS.get(raw, raw),
                entity=str(
                    row.get("entityType") or ("RELATIONSHIP" if "RELATIONSHIP" in raw else "NODE")
                ),
                labels_or_types=tuple(row.get("labelsOrTypes") or ()),
                properties=tuple(row.get("properties") or ()),
                property_type=row.get("propertyType"),
            )
        )
    return tuple(sorted(out, key=lambda c: c.identity))


def _pattern(entity: str, labels: tuple[str, ...], variable: str = "x") -> str:
    target = "|".join(quote(label) for label in labels)
    if entity == "NODE":
        return f"({variable}:{target})" if target else f"({variable})"
    return f"()-[{variable}:{target}]-()" if target else f"()-[{variable}]-()"


def _config_literal(options: tuple[tuple[str, str], ...]) -> str:
    parts = []
    for key, value in options:
        literal = (
            value if not value.startswith('"') else "'" + value[1:-1].replace("'", "\\'") + "'"
        )
        parts.append(f"`{key}`: {literal}")
    return "{" + ", ".join(parts) + "}"


def render_neo4j(item: IndexDef | ConstraintDef) -> str:
    """DDL that both Cypher 5 (5.26) and Cypher 25 accept."""
    name = quote(item.name)
    if isinstance(item, ConstraintDef):
        pattern = _pattern(item.entity, item.labels_or_types)
        props = ", ".join(f"x.{quote(p)}" for p in item.properties)
        group = f"({props})" if len(item.properties) > 1 else props
        requirement = {
            "UNIQUENESS": "IS UNIQUE",
            "NODE_KEY": "IS NODE KEY",
            "RELATIONSHIP_KEY": "IS RELATIONSHIP KEY",
            "NOT_NULL": "IS NOT NULL",
            "PROPERTY_TYPE": f"IS :: {item.property_type}",
        }.get(item.kind)
        if requirement is None:
            raise ValueError(f"no DDL for constraint kind {item.kind}")
        return f"CREATE CONSTRAINT {name} IF NOT EXISTS FOR {pattern} REQUIRE {group} {requirement}"
    if item.kind == "LOOKUP":
        each = "labels(x)" if item.entity == "NODE" else "type(x)"
        target = _pattern(item.entity, ())
        return f"CREATE LOOKUP INDEX {name} IF NOT EXISTS FOR {target} ON EACH {each}"
    pattern = _pattern(item.entity, item.labels_or_types)
    props = ", ".join(f"x.{quote(p)}" for p in item.properties)
    options = f" OPTIONS {{indexConfig: {_config_literal(item.options)}}}" if item.options else ""
    if item.kind == "FULLTEXT":
        return (
            f"CREATE FULLTEXT INDEX {name} IF NOT EXISTS FOR {pattern} ON EACH [{props}]{options}"
        )
    prefix = {"RANGE": "", "TEXT": "TEXT ", "POINT": "POINT ", "VECTOR": "VECTOR "}.get(item.kind)
    if prefix is None:
        raise ValueError(f"no DDL for index kind {item.kind}")
    return f"CREATE {prefix}INDEX {name} IF NOT EXISTS FOR {pattern} ON ({props}){options}"


class Neo4jDialect:
    def __init__(self, agent: str) -> None:
        self.agent = agent
        self.name = "neo4j-2025+" if re.match(r"Neo4j/20\d\d\.", agent) else "neo4j-5"

    async def fetch_schema(self, driver: neo4j.AsyncDriver, database: str | None) -> Schema:
        indexes = parse_neo4j_indexes(await _rows(driver, database, "SHOW INDEXES YIELD *"))
        constraints = parse_neo4j_constraints(
            await _rows(driver, database, "SHOW CONSTRAINTS YIELD *")
        )
        return Schema(constraints, indexes)

    def render_ddl(self, item: IndexDef | ConstraintDef) -> str:
        return render_neo4j(item)

    async def apply_schema(
        self,
        driver: neo4j.AsyncDriver,
        database: str | None,
        schema: Schema,
        *,
        wait_seconds: float = 300.0,
    ) -> None:
        items: list[IndexDef | ConstraintDef] = [*schema.constraints, *schema.indexes]
        for item in items:
            await _write(driver, database, self.render_ddl(item))
        await _write(driver, database, f"CALL db.awaitIndexes({int(wait_seconds)})")

    async def fetch_catalogue(self, driver: neo4j.AsyncDriver, database: str | None) -> Catalogue:
        labels = await _rows(driver, database, "CALL db.labels() YIELD label RETURN label")
        types = await _rows(
            driver,
            database,
            "CALL db.relationshipTypes() YIELD relationshipType RETURN relationshipType",
        )
        keys = await _rows(
            driver, database, "CALL db.propertyKeys() YIELD propertyKey RETURN propertyKey"
        )
        procedures = await _rows(driver, database, "SHOW PROCEDURES YIELD name, signature")
        functions = await _rows(driver, database, "SHOW FUNCTIONS YIELD name, signature")
        return Catalogue(
            frozenset(r["label"] for r in labels),
            frozenset(r["relationshipType"] for r in types),
            frozenset(r["propertyKey"] for r in keys),
            {r["name"]: str(r.get("signature") or "") for r in procedures},
            {r["name"]: str(r.get("signature") or "") for r in functions},
        )


# --- FalkorDB ---------------------------------------------------------------------------


def parse_falkordb_indexes(rows: Iterable[dict[str, Any]]) -> tuple[IndexDef, ...]:
    """``CALL db.indexes()``: one row per label, its properties each with index types."""
    out = []
    for row in rows:
        entity = str(row.get("entitytype") or "NODE")
        label = str(row["label"])
        options = row.get("options") or {}
        for prop, kinds in (row.get("types") or {}).items():
            for kind in kinds:
                out.append(
                    IndexDef(
                        name=f"falkordb_{entity.lower()}_{label}_{prop}_{kind.lower()}",
                        kind=str(kind),
                        entity=entity,
                        labels_or_types=(label,),
                        properties=(str(prop),),
                        options=_frozen_options(options.get(prop) or {}),
                    )
                )
    return tuple(sorted(out, key=lambda i: i.identity))


def parse_falkordb_constraints(rows: Iterable[dict[str, Any]]) -> tuple[ConstraintDef, ...]:
    out = []
    for row in rows:
        kind = "UNIQUENESS" if str(row["type"]).upper() == "UNIQUE" else "NOT_NULL"
        entity = str(row.get("entitytype") or "NODE")
        label = str(row["label"])
        props = tuple(str(p) for p in row.get("properties") or ())
        out.append(
            ConstraintDef(
                f"falkordb_{kind.lower()}_{label}_{'_'.join(props)}", kind, entity, (label,), props
            )
        )
    return tuple(sorted(out, key=lambda c: c.identity))


class FalkorDBDialect:
    """What FalkorDB's Cypher allows: range, full-text and vector indexes. Its constraints
    are created with the Redis command GRAPH.CONSTRAINT, not Cypher, so they are read
    and compared but not recreated."""

    name = "falkordb"

    async def fetch_schema(self, driver: neo4j.AsyncDriver, database: str | None) -> Schema:
        indexes = parse_falkordb_indexes(await _rows(driver, database, "CALL db.indexes()"))
        constraints = parse_falkordb_constraints(
            await _rows(driver, database, "CALL db.constraints()")
        )
        return Schema(constraints, indexes)

    def render_ddl(self, item: IndexDef | ConstraintDef) -> str:
        if isinstance(item, ConstraintDef):
            raise ValueError("FalkorDB creates constraints with GRAPH.CONSTRAINT, not Cypher")
        pattern = _pattern(item.entity, item.labels_or_types)
        props = ", ".join(f"x.{quote(p)}" for p in item.properties)
        if item.kind == "RANGE":
            return f"CREATE INDEX FOR {pattern} ON ({props})"
        if item.kind == "FULLTEXT" and item.entity == "NODE":
            label = item.labels_or_types[0].replace("'", "\\'")
            fields = ", ".join("'" + p.replace("'", "\\'") + "'" for p in item.properties)
            return f"CALL db.idx.fulltext.createNodeIndex('{label}', {fields})"
        if item.kind == "VECTOR":
            options = _config_literal(item.options)
            return f"CREATE VECTOR INDEX FOR {pattern} ON ({props}) OPTIONS {options}"
        raise ValueError(f"FalkorDB has no {item.kind} index on {item.entity.lower()}s")

    async def apply_schema(
        self,
        driver: neo4j.AsyncDriver,
        database: str | None,
        schema: Schema,
        *,
        wait_seconds: float = 300.0,
    ) -> None:
        existing = {i.identity for i in (await self.fetch_schema(driver, database)).indexes}
        for index in schema.indexes:
            if index.identity not in existing:
                await _write(driver, database, self.render_ddl(index))
        deadline = time.monotonic() + wait_seconds
        while time.monotonic() < deadline:
            rows = await _rows(driver, database, "CALL db.indexes()")
            if all(str(r.get("status", "OPERATIONAL")) == "OPERATIONAL" for r in rows):
                return
            await asyncio.sleep(0.2)
        raise TimeoutError("indexes did not come online in time")

    async def fetch_catalogue(self, driver: neo4j.AsyncDriver, database: str | None) -> Catalogue:
        labels = await _rows(driver, database, "CALL db.labels()")
        types = await _rows(driver, database, "CALL db.relationshipTypes()")
        keys = await _rows(driver, database, "CALL db.propertyKeys()")
        procedures = await _rows(driver, database, "CALL dbms.procedures()")
        return Catalogue(
            frozenset(r["label"] for r in labels),
            frozenset(r["relationshipType"] for r in types),
            frozenset(r["propertyKey"] for r in keys),
            {r["name"]: str(r.get("mode") or "") for r in procedures},
            {},
        )


async def detect_dialect(driver: neo4j.AsyncDriver, database: str | None) -> Dialect:
    """FalkorDB calls itself Neo4j/5.13.0; only a real Neo4j has dbms.components()."""
    info = await server_info(driver, database)
    if info.flavor == "falkordb":
        return FalkorDBDialect()
    return Neo4jDialect(info.agent)
