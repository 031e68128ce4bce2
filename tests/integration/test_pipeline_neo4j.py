"""The pipeline end to end on real Neo4j 5.26 (blue) and 2026.x (green).

Community has one database, shared with the other tests of the session: each
test empties both servers (data, indexes, constraints) before and after.
"""

from __future__ import annotations

import io
import json
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from rich.console import Console

from boltproxy.pipeline import cli
from boltproxy.pipeline.model import Options, Server, Servers, StepResult
from tests.support.neo4j import Neo4jHandle

APP_TEST = (
    f"{sys.executable} -c \"import os, neo4j; "
    "d = neo4j.GraphDatabase.driver(os.environ['BOLTPROXY_URI'], "
    "auth=(os.environ['NEO4J_USER'], os.environ['NEO4J_PASSWORD'])); "
    "r, s, _ = d.execute_query('MATCH (p:Person) RETURN count(p) AS c'); "
    "assert r[0]['c'] > 0 and s.server.agent.startswith('Neo4j/2026'), s.server.agent\""
)


def empty(handle: Neo4jHandle) -> None:
    with handle.driver() as driver:
        with driver.session() as session:
            session.run("MATCH (n) CALL { WITH n DETACH DELETE n } IN TRANSACTIONS").consume()
        for kind in ("CONSTRAINTS", "INDEXES"):
            records, _, _ = driver.execute_query(f"SHOW {kind} YIELD name, type RETURN name, type")
            for record in records:
                if record["type"] != "LOOKUP":
                    driver.execute_query(f"DROP {kind[:-1] if kind == 'CONSTRAINTS' else 'INDEX'} "
                                         f"`{record['name']}` IF EXISTS")  # fmt: skip


@pytest.fixture
def pair(neo4j_pair: tuple[Neo4jHandle, Neo4jHandle]) -> Iterator[tuple[Neo4jHandle, Neo4jHandle]]:
    for handle in neo4j_pair:
        empty(handle)
    yield neo4j_pair
    for handle in neo4j_pair:
        empty(handle)


def options(pair: tuple[Neo4jHandle, Neo4jHandle], work: Path, **more: object) -> Options:
    blue, green = pair
    return Options(mode="external", work_dir=work, blue_uri=blue.uri, green_uri=green.uri,
                   user=blue.auth[0], password=blue.auth[1], size=300, sample=20,
                   **more)  # type: ignore[arg-type]  # fmt: skip


def run(opts: Options, **kwargs: object) -> tuple[int, dict[str, StepResult], str]:
    out = io.StringIO()
    code, results = cli.run(opts, Console(file=out, width=200), **kwargs)  # type: ignore[arg-type]
    return code, {r.name: r for r in results}, out.getvalue()


def capture(path: Path, *queries: str) -> Path:
    path.write_text("".join(
        json.dumps({"session": "s1", "query": q, "parameters": {}, "access_mode": "r",
                    "started_at": 1700000000.0 + i, "duration": 0.001}) + "\n"
        for i, q in enumerate(queries)))  # fmt: skip
    return path


def test_pipeline_passes_and_reports_every_step(
    pair: tuple[Neo4jHandle, Neo4jHandle], tmp_path: Path
) -> None:
    replay = capture(
        tmp_path / "same.jsonl",
        "MATCH (p:Person) RETURN count(p) AS people",
        "MATCH (c:Company) RETURN c.sector AS s, count(*) AS n ORDER BY s",
    )
    code, steps, printed = run(options(pair, tmp_path / "w", app_tests=APP_TEST, replay=replay))
    assert code == 0, printed
    assert [s.status for s in steps.values()] == ["passed"] * 8
    assert "300 entities" in steps["populate"].summary
    assert "10/10 validation checks passed" in steps["validate"].summary
    assert any("app tests passed" in d for d in steps["compatibility"].details)
    assert any("0 with differences" in d for d in steps["compatibility"].details)
    assert pair[1].auth[1] not in printed  # credentials are never printed
    md = (tmp_path / "w" / "report.md").read_text()
    assert md.startswith("# Migration test: PASSED") and "| 7 | compatibility | passed |" in md
    assert (tmp_path / "w" / "report.html").read_text().startswith("<!doctype html>")
    assert (tmp_path / "w" / "snapshot-green" / "manifest.json").is_file()
    assert not (tmp_path / "w" / "export").exists()  # removed by the clean-up
    with pair[1].driver() as green:
        records, _, _ = green.execute_query(
            "MATCH (p:Person) WHERE p.created IS NOT NULL AND p.home IS NOT NULL "
            "RETURN count(p) AS c, min(p.tenure) IS NOT NULL AS d"
        )
    assert records[0]["c"] > 0  # temporals and points arrived


def test_validation_fails_when_green_is_tampered_with_before_it(
    pair: tuple[Neo4jHandle, Neo4jHandle], tmp_path: Path
) -> None:
    def corrupt(step: str, servers: Servers | None) -> None:
        if step == "validate":
            assert servers is not None and isinstance(servers.green, Server)
            with pair[1].driver() as green:
                green.execute_query("MATCH (p:Person {uid: 3}) SET p.age = p.age + 1")

    code, steps, printed = run(options(pair, tmp_path / "w"), before_step=corrupt)
    assert code == 1
    assert steps["validate"].status == "failed"
    assert "does not hold the same graph" in steps["validate"].summary
    assert "checksum" in steps["validate"].summary
    assert steps["compatibility"].status == "skipped"
    assert steps["cleanup"].status == "passed"
    assert "validate failed: the pipeline stops here" in printed
    assert "| 6 | validate | failed |" in (tmp_path / "w" / "report.md").read_text()


def test_replay_reports_a_compatibility_difference(
    pair: tuple[Neo4jHandle, Neo4jHandle], tmp_path: Path
) -> None:
    dataset = tmp_path / "graph.cypher"
    dataset.write_text(
        "CREATE CONSTRAINT p_uid FOR (p:Person) REQUIRE p.uid IS UNIQUE;\n"
        "UNWIND range(1, 20) AS i CREATE (:Person {uid: i, name: 'P;' + i});\n"
        "MATCH (a:Person {uid: 1}), (b:Person {uid: 2}) CREATE (a)-[:KNOWS]->(b)\n"
    )
    replay = capture(tmp_path / "diff.jsonl", "MATCH (p:Person) RETURN count(p) AS people",
                     "CYPHER 25 RETURN 1 AS one")  # fmt: skip
    code, steps, _ = run(options(pair, tmp_path / "w", dataset=dataset, replay=replay))
    assert code == 1
    assert "3 statements of graph.cypher" in steps["populate"].summary
    assert steps["validate"].status == "passed"
    failed = steps["compatibility"]
    assert failed.status == "failed"
    assert "compatibility differences" in failed.summary and "1 with differences" in failed.summary
    assert "CYPHER 25" in (tmp_path / "w" / "replay.md").read_text()
