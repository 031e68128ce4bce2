"""Schema parsing and DDL per dialect, from recorded row shapes (no server needed)."""

from __future__ import annotations

from boltproxy.migrate.dialect import (
    parse_falkordb_indexes,
    parse_neo4j_constraints,
    parse_neo4j_indexes,
    render_neo4j,
)
from boltproxy.migrate.schema import Catalogue, IndexDef, Schema
from boltproxy.migrate.schemadiff import diff_catalogue, diff_schema

# Shapes of `SHOW INDEXES YIELD *` / `SHOW CONSTRAINTS YIELD *` rows (Neo4j 5.26 and 2025.x).
NEO4J_INDEXES = [
    {"name": "index_343aff4e", "type": "LOOKUP", "entityType": "NODE", "labelsOrTypes": None,
     "properties": None, "owningConstraint": None, "options": {"indexConfig": {}}},
    {"name": "person_name", "type": "RANGE", "entityType": "NODE", "labelsOrTypes": ["Person"],
     "properties": ["name"], "owningConstraint": None, "options": {"indexConfig": {}}},
    {"name": "uid_unique", "type": "RANGE", "entityType": "NODE", "labelsOrTypes": ["Person"],
     "properties": ["uid"], "owningConstraint": "uid_unique", "options": {"indexConfig": {}}},
    {"name": "bio", "type": "FULLTEXT", "entityType": "NODE", "labelsOrTypes": ["Person", "Bot"],
     "properties": ["bio"], "owningConstraint": None,
     "options": {"indexConfig": {"fulltext.analyzer": "standard-no-stop-words"}}},
    {"name": "emb", "type": "VECTOR", "entityType": "NODE", "labelsOrTypes": ["Doc"],
     "properties": ["embedding"], "owningConstraint": None,
     "options": {"indexConfig": {"vector.dimensions": 3, "vector.similarity_function": "COSINE"}}},
    {"name": "since", "type": "RANGE", "entityType": "RELATIONSHIP", "labelsOrTypes": ["KNOWS"],
     "properties": ["since"], "owningConstraint": None, "options": {"indexConfig": {}}},
]  # fmt: skip
NEO4J_5_CONSTRAINTS = [
    {"name": "uid_unique", "type": "UNIQUENESS", "entityType": "NODE", "labelsOrTypes": ["Person"],
     "properties": ["uid"], "propertyType": None},
    {"name": "age_int", "type": "NODE_PROPERTY_TYPE", "entityType": "NODE",
     "labelsOrTypes": ["Person"], "properties": ["age"], "propertyType": "INTEGER"},
]  # fmt: skip
NEO4J_2025_CONSTRAINTS = [
    {**NEO4J_5_CONSTRAINTS[0], "type": "NODE_PROPERTY_UNIQUENESS", "name": "other_name"},
    NEO4J_5_CONSTRAINTS[1],
]


def test_neo4j_indexes_leave_out_constraint_owned_ones() -> None:
    indexes = parse_neo4j_indexes(NEO4J_INDEXES)
    assert {i.name for i in indexes} == {"index_343aff4e", "person_name", "bio", "emb", "since"}


def test_constraint_vocabulary_is_the_same_across_versions() -> None:
    five = Schema(parse_neo4j_constraints(NEO4J_5_CONSTRAINTS))
    later = Schema(parse_neo4j_constraints(NEO4J_2025_CONSTRAINTS))
    assert diff_schema(five, later) == []  # renamed, same meaning
    assert five.unique_keys() == {"Person": ("uid",)}


def test_ddl() -> None:
    by_name = {i.name: i for i in parse_neo4j_indexes(NEO4J_INDEXES)}
    assert render_neo4j(by_name["person_name"]) == (
        "CREATE INDEX person_name IF NOT EXISTS FOR (x:Person) ON (x.name)"
    )
    assert render_neo4j(by_name["since"]) == (
        "CREATE INDEX since IF NOT EXISTS FOR ()-[x:KNOWS]-() ON (x.since)"
    )
    assert render_neo4j(by_name["bio"]).startswith(
        "CREATE FULLTEXT INDEX bio IF NOT EXISTS FOR (x:Person|Bot) ON EACH [x.bio] OPTIONS"
    )
    assert "`vector.dimensions`: 3" in render_neo4j(by_name["emb"])
    assert render_neo4j(by_name["index_343aff4e"]) == (
        "CREATE LOOKUP INDEX index_343aff4e IF NOT EXISTS FOR (x) ON EACH labels(x)"
    )
    unique, typed = parse_neo4j_constraints(NEO4J_5_CONSTRAINTS)[::-1]
    assert render_neo4j(unique) == (
        "CREATE CONSTRAINT uid_unique IF NOT EXISTS FOR (x:Person) REQUIRE x.uid IS UNIQUE"
    )
    assert render_neo4j(typed).endswith("REQUIRE x.age IS :: INTEGER")
    odd = IndexDef("odd name", "TEXT", "NODE", ("My Label",), ("we`ird",))
    assert render_neo4j(odd) == (
        "CREATE TEXT INDEX `odd name` IF NOT EXISTS FOR (x:`My Label`) ON (x.`we``ird`)"
    )


def test_falkordb_index_rows() -> None:
    row = {"label": "P", "properties": ["a", "b"], "types": {"a": ["RANGE"], "b": ["FULLTEXT"]}}
    rows = [{**row, "options": {"a": {}, "b": {}}, "entitytype": "NODE", "status": "OPERATIONAL"}]
    kinds = {(i.kind, i.properties) for i in parse_falkordb_indexes(rows)}
    assert kinds == {("RANGE", ("a",)), ("FULLTEXT", ("b",))}


def test_differences_name_the_side() -> None:
    blue = Schema(indexes=parse_neo4j_indexes(NEO4J_INDEXES))
    green = Schema(indexes=tuple(i for i in blue.indexes if i.name != "since"))
    (difference,) = diff_schema(blue, green)
    assert difference.where == "blue only" and "KNOWS" in difference.item
    changed = Catalogue(frozenset({"A"}), procedures={"db.labels": "() :: (label)"})
    other = Catalogue(frozenset({"B"}), procedures={"db.labels": "() :: (label :: STRING)"})
    found = {(d.area, d.item, d.where) for d in diff_catalogue(changed, other)}
    assert found == {("label", "A", "blue only"), ("label", "B", "green only"),
                     ("procedure", "db.labels", "differs")}  # fmt: skip


def test_schema_round_trips_through_the_export_manifest_form() -> None:
    schema = Schema(
        parse_neo4j_constraints(NEO4J_5_CONSTRAINTS), parse_neo4j_indexes(NEO4J_INDEXES)
    )
    assert Schema.from_dict(schema.to_dict()) == schema
