"""The pipeline end to end on FalkorDB, the backend of machines without Java.

FalkorDB has no authentication, no temporal values the migrator can read back,
and no Cypher constraints: the pipeline picks the dataset flavour it can hold.
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import neo4j
import pytest
from rich.console import Console

from boltproxy.pipeline import cli
from boltproxy.pipeline.model import Options, Servers, StepResult
from boltproxy.sandbox.falkordb import FalkorDBServer
from tests.support.falkordb import DRIVER_SETTINGS

pytestmark = pytest.mark.falkordb


def run_pipeline(
    pair: tuple[FalkorDBServer, FalkorDBServer],
    work: Path,
    before_step: Callable[[str, Servers | None], None] | None = None,
    **more: Any,
) -> tuple[int, dict[str, StepResult]]:
    """The pipeline on the two (emptied) servers, with a small generated dataset."""
    blue, green = pair
    for server in pair:
        server.delete_all_graphs()
    options = Options(
        mode="external", work_dir=work, blue_uri=blue.bolt_uri, green_uri=green.bolt_uri,
        size=30, sample=5, **more,
    )  # fmt: skip
    code, results = cli.run(options, Console(file=io.StringIO(), width=200), before_step)
    return code, {s.name: s for s in results}


def _tamper(uri: str, query: str) -> None:
    """Change the target behind the pipeline's back (FalkorDB: no authentication)."""
    # A managed transaction: it lands in the graph the pipeline wrote, and retries
    # a handshake FalkorDB leaves unanswered after connection churn.
    with neo4j.GraphDatabase.driver(uri, **DRIVER_SETTINGS) as driver:
        driver.execute_query(query)


def test_pipeline_on_falkordb_passes(
    falkordb_pair: tuple[FalkorDBServer, FalkorDBServer], tmp_path: Path
) -> None:
    code, steps = run_pipeline(falkordb_pair, tmp_path / "w")
    assert code == 0, {n: s.summary for n, s in steps.items()}
    assert "FalkorDB" in steps["start"].summary
    assert "30 entities" in steps["populate"].summary
    assert "10/10 validation checks passed" in steps["validate"].summary
    assert "read through the proxy" in steps["compatibility"].details[0]


def test_pipeline_on_falkordb_fails_validation_of_a_tampered_target(
    falkordb_pair: tuple[FalkorDBServer, FalkorDBServer], tmp_path: Path
) -> None:
    green = falkordb_pair[1]

    def corrupt(step: str, servers: Servers | None) -> None:
        if step == "validate":
            _tamper(green.bolt_uri, "MATCH (p:Person {uid: 3}) SET p.age = p.age + 1")

    code, steps = run_pipeline(falkordb_pair, tmp_path / "w", corrupt)
    assert code == 1
    assert steps["validate"].status == "failed"
    assert "checksum" in steps["validate"].summary
    assert steps["compatibility"].status == "skipped"


def test_pipeline_on_falkordb_reports_a_difference_found_by_replay(
    falkordb_pair: tuple[FalkorDBServer, FalkorDBServer], tmp_path: Path
) -> None:
    # Both servers run the same FalkorDB build, so the difference is in the data:
    # green is changed after it was validated, and the replayed read sees it.
    green = falkordb_pair[1]

    def diverge(step: str, servers: Servers | None) -> None:
        if step == "compatibility":
            _tamper(green.bolt_uri, "MATCH (p:Person {uid: 3}) SET p.name = 'changed'")

    # No access mode: FalkorDB takes the first key of a RUN's extra map as the
    # graph's name, so {"mode": "r"} would read an empty graph called "mode".
    replay = tmp_path / "capture.jsonl"
    replay.write_text(json.dumps({
        "session": "s1", "query": "MATCH (p:Person {uid: 3}) RETURN p.name AS name",
        "parameters": {}, "started_at": 1700000000.0, "duration": 0.001,
    }) + "\n")  # fmt: skip
    code, steps = run_pipeline(falkordb_pair, tmp_path / "w", diverge, replay=replay)
    assert code == 1
    assert steps["validate"].status == "passed"
    failed = steps["compatibility"]
    assert failed.status == "failed" and "1 with differences" in failed.summary
    assert "MATCH (p:Person {uid: 3})" in (tmp_path / "w" / "replay.md").read_text()
