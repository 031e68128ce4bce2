"""A source that stops answering mid-read: the migrator times out and names the batch.

Played by the scripted fake Neo4j, which answers the introspection queries at once
and holds back the records of one page of nodes (as a server that cannot send a
record too large for it would).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from boltproxy.migrate.cli import migrate
from tests.support.fakeneo import NEO4J_5_26, FakeNeo4j, Result, run_in_thread

STALL = 60.0  # far longer than any --read-timeout below: only the timeout ends the wait


@pytest.fixture(scope="module")
def stalling() -> Iterator[FakeNeo4j]:
    server = FakeNeo4j(profile=NEO4J_5_26)
    script = server.script
    script.returns(re.compile(r"CALL dbms\.components\(\)"), ["name", "versions"],
                   [["Neo4j Kernel", ["5.26.0"]]])  # fmt: skip
    script.returns(re.compile(r"CALL db\.info\(\)"), ["id", "name"], [["db-id", "neo4j"]])
    script.returns(re.compile(r"^SHOW (INDEXES|CONSTRAINTS)"), ["name"], [])
    script.returns(re.compile(r"RETURN count\(n\) AS c"), ["c"], [[3]])
    script.returns(re.compile(r"RETURN min\(id\(n\)\), max\(id\(n\)\), count\(n\)"),
                   ["lo", "hi", "c"], [[0, 2, 3]])
    script.on(re.compile(r"^UNWIND range\(\$lo, \$hi - 1\) AS i MATCH \(n\)"),
              Result(["id", "labels", "props", "exact"], [[1, ["A"], [], []]], delay=STALL))
    with run_in_thread(server) as running:
        yield running


def test_stalled_export_times_out_naming_the_batch(stalling: FakeNeo4j, tmp_path: Path) -> None:
    result = CliRunner().invoke(migrate, [
        "export", "--source", stalling.uri, "--out", str(tmp_path / "x"), "--user", "neo4j",
        "--password", "password", "--batch-size", "500", "--read-timeout", "0.5",
        "--json"])  # fmt: skip

    assert result.exit_code == 3, result.output
    error = json.loads(result.stdout)["error"]
    assert error.startswith(
        "source: reading the nodes with ids 0 to 2 got no complete answer within 0.5 s"
    )
    assert "--read-timeout" in error and "password" not in result.output


def test_stalled_validate_names_the_side(stalling: FakeNeo4j) -> None:
    result = CliRunner().invoke(migrate, [
        "validate", "--blue", stalling.uri, "--green", stalling.uri, "--user", "neo4j",
        "--password", "password", "--read-timeout", "0.5", "--json"])  # fmt: skip

    assert result.exit_code == 3, result.output
    error = json.loads(result.stdout)["error"]
    assert re.match(r"(blue|green): reading the nodes with ids 0 to 2 got no complete", error)
