"""validate and schema-diff against two real FalkorDB servers."""

from __future__ import annotations

import json
from pathlib import Path

import neo4j
import pytest
from click.testing import CliRunner

from boltproxy.migrate.cli import migrate
from boltproxy.sandbox.falkordb import FalkorDBServer
from tests.support.falkordb import DRIVER_SETTINGS

GRAPH = [
    "UNWIND range(1, 60) AS i CREATE (:Person {uid: i, name: 'p' + toString(i), score: i / 7.0})",
    "UNWIND range(1, 20) AS i CREATE (:City:Place {cid: i, name: 'c' + toString(i)})",
    "CREATE (:Lonely)",
    "MATCH (a:Person), (b:Person) WHERE b.uid = a.uid % 60 + 1 CREATE (a)-[:KNOWS {w: a.uid}]->(b)",
    "MATCH (a:Person), (c:City) WHERE c.cid = a.uid % 20 + 1 CREATE (a)-[:LIVES_IN]->(c)",
    "CREATE INDEX FOR (n:Person) ON (n.uid)",
]


def run(server: FalkorDBServer, *queries: str) -> None:
    # In transactions: FalkorDB picks the graph from the request's shape.
    with neo4j.GraphDatabase.driver(server.bolt_uri, **DRIVER_SETTINGS) as driver:
        for query in queries:
            driver.execute_query(query)


def cli(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(migrate, list(args))
    return result.exit_code, result.output


@pytest.fixture
def pair(
    falkordb_pair: tuple[FalkorDBServer, FalkorDBServer], graph_name: str
) -> tuple[FalkorDBServer, FalkorDBServer]:
    blue, green = falkordb_pair
    run(blue, *GRAPH)
    run(green, *GRAPH)
    return blue, green


def validate(
    pair: tuple[FalkorDBServer, FalkorDBServer], tmp_path: Path
) -> tuple[int, dict[str, dict[str, object]]]:
    report = tmp_path / "report.json"
    code, _ = cli("validate", "--blue", pair[0].bolt_uri, "--green", pair[1].bolt_uri,
                  "--sample", "30", "--report", str(report))  # fmt: skip
    assert report.exists(), _
    checks = {c["check"]: c for c in json.loads(report.read_text())["checks"]}
    return code, checks


def failed(checks: dict[str, dict[str, object]]) -> set[str]:
    return {name for name, check in checks.items() if not check["passed"]}


def test_identical_graphs_pass(pair: tuple[FalkorDBServer, FalkorDBServer], tmp_path: Path) -> None:
    code, checks = validate(pair, tmp_path)
    assert code == 0, checks
    assert checks["nodes per label combination"]["blue"] == 81
    assert checks["relationships per type"]["blue"] == 120
    code, output = cli("schema-diff", "--blue", pair[0].bolt_uri, "--green", pair[1].bolt_uri)
    assert code == 0 and "identical" in output


def test_one_changed_property_is_found_and_its_value_not_shown(
    pair: tuple[FalkorDBServer, FalkorDBServer], tmp_path: Path
) -> None:
    run(pair[1], "MATCH (p:Person {uid: 17}) SET p.name = 'secret-value'")
    code, checks = validate(pair, tmp_path)
    assert code == 1
    assert "node property checksums" in failed(checks)
    assert "nodes per label combination" not in failed(checks)
    assert "secret-value" not in (tmp_path / "report.json").read_text()


def test_missing_relationship(pair: tuple[FalkorDBServer, FalkorDBServer], tmp_path: Path) -> None:
    run(pair[1], "MATCH (:Person {uid: 3})-[r:KNOWS]->() DELETE r")
    code, checks = validate(pair, tmp_path)
    assert code == 1
    assert "relationships per type" in failed(checks)
    assert "nodes per label combination" not in failed(checks)


def test_missing_node(pair: tuple[FalkorDBServer, FalkorDBServer], tmp_path: Path) -> None:
    run(pair[1], "MATCH (n:Lonely) DELETE n")
    code, checks = validate(pair, tmp_path)
    assert code == 1
    assert "nodes per label combination" in failed(checks)
    assert checks["nodes per label combination"]["green"] == 80


def test_rewired_relationship_keeps_counts_but_fails_endpoints(
    pair: tuple[FalkorDBServer, FalkorDBServer], tmp_path: Path
) -> None:
    run(pair[1], "MATCH (a:Person {uid: 5})-[r:LIVES_IN]->() DELETE r",
        "MATCH (a:Person {uid: 5}), (c:City {cid: 1}) CREATE (a)-[:LIVES_IN]->(c)")  # fmt: skip
    code, checks = validate(pair, tmp_path)
    assert code == 1
    assert "relationship endpoints" in failed(checks)
    assert "relationships per type" not in failed(checks)


def test_dropped_index(pair: tuple[FalkorDBServer, FalkorDBServer], tmp_path: Path) -> None:
    run(pair[1], "DROP INDEX ON :Person(uid)")
    code, output = cli(
        "schema-diff", "--blue", pair[0].bolt_uri, "--green", pair[1].bolt_uri, "--json"
    )
    assert code == 1
    differences = json.loads(output)["differences"]
    assert any(d["area"] == "index" and d["where"] == "blue only" for d in differences)
    code, checks = validate(pair, tmp_path)
    assert code == 1 and "indexes and constraints" in failed(checks)


def test_unreachable_server_exit_code(falkordb_pair: tuple[FalkorDBServer, FalkorDBServer]) -> None:
    code, output = cli(
        "validate", "--blue", falkordb_pair[0].bolt_uri, "--green", "bolt://127.0.0.1:1"
    )
    assert code == 3
    assert "127.0.0.1:1" in output


def test_export_import_then_validate(
    falkordb_pair: tuple[FalkorDBServer, FalkorDBServer], graph_name: str, tmp_path: Path
) -> None:
    blue, green = falkordb_pair
    run(blue, *GRAPH)
    out = tmp_path / "export"
    code, output = cli("export", "--source", blue.bolt_uri, "--out", str(out))
    assert code == 0, output
    code, output = cli("import", "--target", green.bolt_uri, str(out))
    assert code == 0, output
    code, checks = validate((blue, green), tmp_path)
    assert code == 0, failed(checks)


# --- identity beyond statistics (issue 12, finding 1) -------------------------------

TWINS = (
    "CREATE (p1:Person {name: 'John Smith'}), (p2:Person {name: 'John Smith'}),"
    " (a:Company {name: 'Acme'}), (g:Company {name: 'Globex'}), "
)


def _twin_pair(pair: tuple[FalkorDBServer, FalkorDBServer], blue_edges: str,
               green_edges: str) -> None:  # fmt: skip
    blue, green = pair
    run(blue, "MATCH (n) DETACH DELETE n", TWINS + blue_edges)
    run(green, "MATCH (n) DETACH DELETE n", TWINS + green_edges)


def test_relationship_moved_between_content_identical_nodes_fails(
    pair: tuple[FalkorDBServer, FalkorDBServer], tmp_path: Path
) -> None:
    # Blue: each John Smith works at one company. Green: one works at both.
    _twin_pair(
        pair,
        "(p1)-[:WORKS_AT]->(a), (p2)-[:WORKS_AT]->(g)",
        "(p1)-[:WORKS_AT]->(a), (p1)-[:WORKS_AT]->(g)",
    )
    code, checks = validate(pair, tmp_path)
    assert code == 1
    assert "relationship endpoints" in failed(checks)
    assert "relationships per type" not in failed(checks)
    assert "node property checksums" not in failed(checks)


def test_relationship_turned_into_self_loop_between_bare_nodes_fails(
    pair: tuple[FalkorDBServer, FalkorDBServer], tmp_path: Path
) -> None:
    blue, green = pair
    run(blue, "MATCH (n) DETACH DELETE n", "CREATE (:B)-[:R]->(:B)")
    run(green, "MATCH (n) DETACH DELETE n", "CREATE (b:B)-[:R]->(b), (:B)")
    code, checks = validate(pair, tmp_path)
    assert code == 1
    assert {"relationship endpoints", "nodes with their neighbourhoods"} <= failed(checks)


def test_symmetric_identical_graphs_pass(
    pair: tuple[FalkorDBServer, FalkorDBServer], tmp_path: Path
) -> None:
    # The same graph built in another order: ids differ, identity does not.
    _twin_pair(
        pair,
        "(p1)-[:WORKS_AT]->(a), (p2)-[:WORKS_AT]->(g)",
        "(p2)-[:WORKS_AT]->(a), (p1)-[:WORKS_AT]->(g)",
    )
    code, checks = validate(pair, tmp_path)
    assert code == 0, failed(checks)
