"""Reading a query's text: writes, EXPLAIN form, nondeterminism and result ordering."""

from __future__ import annotations

import pytest

from boltproxy.shadow.classify import (
    classify,
    explain_form,
    is_write,
    nondeterminism,
    orders_results,
)


@pytest.mark.parametrize(
    "query",
    [
        "CREATE (n:P)",
        "MATCH (n) SET n.x = 1",
        "merge (n:P {id: 1})",
        "MATCH (n) DETACH DELETE n",
        "MATCH (n) REMOVE n:P",
        "UNWIND [1] AS x FOREACH (i IN [x] | CREATE (:Q))",
        "LOAD CSV FROM 'file:///x.csv' AS row RETURN row",
        "MATCH (n) CALL (n) { RETURN n.x AS x } IN TRANSACTIONS OF 10 ROWS RETURN x",
        "CALL db.create.setNodeVectorProperty(n, 'v', [1.0])",
        "CALL apoc.periodic.iterate('a', 'b', {})",
        "CALL dbms.setConfigValue('x', 'y')",
        "CREATE INDEX i FOR (n:P) ON (n.x)",
        "CREATE OR REPLACE DATABASE foo",
        "DROP CONSTRAINT c",
        "ALTER DATABASE neo4j SET DEFAULT LANGUAGE CYPHER 25",
        "GRANT ROLE r TO u",
        "CYPHER 25 USE neo4j CREATE (n)",
    ],
)
def test_writes(query: str) -> None:
    assert is_write(query), query


@pytest.mark.parametrize(
    "query",
    [
        "MATCH (n) RETURN n",
        "MATCH (n {set: 1, create: 2}) RETURN n.delete, n.merge",
        "MATCH (n:Create)-[:SET]->(m) RETURN m",
        "RETURN 'CREATE (n)' AS text // SET",
        "CALL dbms.components() YIELD name RETURN name",
        "CALL db.labels()",
        "SHOW INDEXES",
        "MATCH (n) RETURN n ORDER BY n.x",
    ],
)
def test_reads(query: str) -> None:
    assert not is_write(query), query


def test_schema_and_admin_commands_are_flagged_not_explainable() -> None:
    assert classify("CREATE INDEX i FOR (n:P) ON (n.x)").admin
    assert classify("DROP INDEX i").admin
    assert not classify("CREATE (n:P)").admin
    assert "LOAD CSV" in classify("LOAD CSV FROM 'x' AS r RETURN r").reasons


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("CREATE (n)", "EXPLAIN CREATE (n)"),
        ("  // note\nCREATE (n)", "EXPLAIN   // note\nCREATE (n)"),
        ("CYPHER 25 CREATE (n)", "CYPHER 25 EXPLAIN CREATE (n)"),
        ("cypher 5 runtime=slotted CREATE (n)", "cypher 5 runtime=slotted EXPLAIN CREATE (n)"),
        ("PROFILE CREATE (n)", "EXPLAIN CREATE (n)"),
        ("CYPHER 25 PROFILE CREATE (n)", "CYPHER 25 EXPLAIN CREATE (n)"),
        ("EXPLAIN CREATE (n)", "EXPLAIN CREATE (n)"),
    ],
)
def test_explain_form(query: str, expected: str) -> None:
    assert explain_form(query) == expected


def test_nondeterministic_functions() -> None:
    query = (
        "RETURN rand(), randomUUID(), timestamp(), datetime(), date('2020-01-01'),"
        " localtime.statement(), elementId(n), id(n), n.id"
    )
    assert nondeterminism(query) == (
        "rand()", "randomuuid()", "timestamp()", "datetime()", "localtime.statement()",
        "elementid()", "id()",
    )  # fmt: skip
    assert nondeterminism("RETURN date('2020-01-01'), 'rand()' AS s, n.rand") == ()


@pytest.mark.parametrize(
    ("query", "ordered"),
    [
        ("MATCH (n) RETURN n ORDER BY n.x", True),
        ("MATCH (n) RETURN n.x AS x ORDER BY x DESC LIMIT 5", True),
        ("MATCH (n) WITH n ORDER BY n.x RETURN n", False),
        ("MATCH (n) RETURN n", False),
        ("CALL { MATCH (n) RETURN n ORDER BY n.x } RETURN n", False),
        ("MATCH (n) RETURN n ORDER BY n.x UNION MATCH (n) RETURN n", False),
        ("MATCH (n) RETURN [x IN n.xs | x] AS xs ORDER BY xs", True),
        ("CREATE (n)", False),
    ],
)
def test_orders_results(query: str, ordered: bool) -> None:
    assert orders_results(query) is ordered
