"""Replay against real Neo4j 5.26 (blue) and 2026.x (green): real differences, real matches.

The corpus holds queries whose answers the two versions really disagree on
(see docs/versions.md) and queries that must match; the report must name each
differing shape with the right kind and leave the others as matches.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from boltproxy.cli import main
from boltproxy.shadow.fingerprint import fingerprint
from boltproxy.shadow.store import load
from tests.support.neo4j import Neo4jHandle

pytestmark = pytest.mark.e2e

# query → the kind the report must give its shape.
DIFFERING = {
    "RETURN 1 +": "both_failed_differently",  # GQL 50N42 on 5.26, 42001 on 2026.x
    "RETURN noSuchFunction(1)": "both_failed_differently",
    "MATCH (n:{label}) RETURN count(id(n)) AS c": "new_status",  # 01N02 vs 01N01
    "CYPHER 25 RETURN 1 AS one": "primary_error",  # 5.26 knows no Cypher 25
}
MATCHING = [
    "UNWIND range(1, 5) AS x RETURN x, x * 2.5 AS y",
    "MATCH (n:{label}) RETURN n ORDER BY n.i",
    "MATCH (a:{label})-[r:NEXT]->(b) RETURN a, r, b",
    "MATCH (n:{label}) WHERE n.i > $min RETURN n.name AS name",
    "RETURN date('2020-01-02') AS d, datetime('2020-01-02T03:04:05.123456789+01:30') AS t,"
    " datetime('2020-06-01T12:00:00[Europe/Paris]') AS z, duration('P1Y2M3DT4H') AS du,"
    " point({x: 1.5, y: 2.5}) AS p",
    "MATCH (n:{label}) RETURN collect(n.name) AS names",
    "RETURN $when AS when",
]


def _setup(handle: Neo4jHandle, label: str) -> None:
    with handle.driver() as driver:
        driver.execute_query(
            f"UNWIND range(1, 6) AS i CREATE (:{label} {{i: i, name: 'n' + i, score: i / 3.0}})"
        )
        driver.execute_query(
            f"MATCH (a:{label}), (b:{label}) WHERE b.i = a.i + 1 CREATE (a)-[:NEXT {{w: a.i}}]->(b)"
        )


def _line(query: str, session: str, parameters: dict[str, Any] | None = None) -> str:
    return json.dumps({"session": session, "query": query, "parameters": parameters or {}})


def test_replay_reports_real_differences(
    neo4j_pair: tuple[Neo4jHandle, Neo4jHandle], neo4j_label: str, tmp_path: Path
) -> None:
    blue, green = neo4j_pair
    for handle in (blue, green):
        _setup(handle, neo4j_label)
    lines = []
    for index, query in enumerate([*DIFFERING, *MATCHING]):
        text = query.replace("{label}", neo4j_label)
        lines.append(_line(text, f"s{index % 3}", {"min": 2, "when": "2020-01-01"}))
    # As two proxy workers capture: each its own file, with session ids of its own.
    capture = tmp_path / "capture.jsonl"
    for worker in (0, 1):
        (tmp_path / f"capture.worker-{worker}.jsonl").write_text("\n".join(lines) + "\n")
    store = tmp_path / "replay.db"
    user, password = blue.auth
    args = ["replay", str(capture), "--blue", blue.uri, "--green", green.uri, "--user", user,
            "--password", password, "--store", str(store), "--format", "json"]  # fmt: skip
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 4, result.output
    shapes = load([store])
    for query, kind in DIFFERING.items():
        shape = shapes[fingerprint(query.replace("{label}", neo4j_label)).id]
        assert {k for k, _ in shape.counts} == {kind}, (query, shape.counts, shape.examples)
        assert shape.counted == 2
    for query in MATCHING:
        shape = shapes[fingerprint(query.replace("{label}", neo4j_label)).id]
        # A cold plan cache may make one answer slow; that is reported, not a difference.
        assert {k for k, _ in shape.counts} <= {"match", "slower"}, (query, shape.counts)
        assert shape.counted == 0, (query, shape.counts, shape.examples)
    deprecated = shapes[fingerprint(f"MATCH (n:{neo4j_label}) RETURN count(id(n)) AS c").id]
    assert deprecated.statuses["01N01"][1] is True  # an early warning of a deprecation
    report = json.loads(result.output)
    assert report["differences"] == len(DIFFERING)
    # The two files' sessions "s0" are two sessions, not one.
    sessions = {e.session for shape in shapes.values() for e in shape.examples}
    assert {session.split(":")[0] for session in sessions} == {"0", "1"}


def test_replay_in_reads_mode_compiles_writes_on_green(
    neo4j_pair: tuple[Neo4jHandle, Neo4jHandle], neo4j_label: str, tmp_path: Path
) -> None:
    blue, green = neo4j_pair
    capture = tmp_path / "capture.jsonl"
    create = f"CREATE (n:{neo4j_label} {{i: $i}}) RETURN id(n) AS x"
    capture.write_text(_line(create, "w", {"i": 1}) + "\n")
    user, password = blue.auth
    args = ["replay", str(capture), "--blue", blue.uri, "--green", green.uri, "--user", user,
            "--password", password, "--mode", "reads", "--store", f"{tmp_path}/r.db"]  # fmt: skip
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 4, result.output  # id() is deprecated differently
    shape = load([tmp_path / "r.db"])[fingerprint(create).id]
    assert {k for k, _ in shape.counts} == {"new_status"}
    with green.driver() as driver:
        records, _, _ = driver.execute_query(f"MATCH (n:{neo4j_label}) RETURN count(n) AS c")
    assert records[0]["c"] == 0  # compiled, never run
    with blue.driver() as driver:
        records, _, _ = driver.execute_query(f"MATCH (n:{neo4j_label}) RETURN count(n) AS c")
    assert records[0]["c"] == 1
