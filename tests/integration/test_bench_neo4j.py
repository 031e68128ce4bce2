"""``boltproxy bench`` on real Neo4j 5.26 and 2026.x: figures per shape, memory, a chart."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.support.neo4j import Neo4jHandle


def test_bench_reports_every_shape_side_by_side_and_cleans_up(
    neo4j_pair: tuple[Neo4jHandle, Neo4jHandle], tmp_path: Path
) -> None:
    blue, green = neo4j_pair
    report = tmp_path / "bench.html"
    env = dict(os.environ, NEO4J_USER=blue.auth[0], NEO4J_PASSWORD=blue.auth[1], COLUMNS="250")
    result = subprocess.run(
        [sys.executable, "-m", "boltproxy", "bench", "--blue", blue.uri, "--green", green.uri,
         "--duration", "2", "--report", str(report)],
        env=env, capture_output=True, text=True, timeout=180, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert blue.auth[1] not in result.stdout + result.stderr
    markdown = report.with_suffix(".md").read_text()
    for shape in ("point lookup", "index range scan", "traversal 2 hops", "aggregation", "write"):
        row = next(line for line in markdown.splitlines() if line.startswith(f"| {shape} |"))
        cells = [c.strip() for c in row.strip("|").split("|")]
        assert all(c.endswith(" ms") for c in cells[2:8]), row  # p50/p95/p99 on both sides
        assert float(cells[10]) > 0, row  # the green/blue ratio
    assert "| heap used | " in markdown and "MiB" in markdown
    page = report.read_text()
    assert page.count("<svg") == 3 and blue.version in page and green.version in page
    for handle in neo4j_pair:  # the default workload removes what it wrote
        with handle.driver() as driver:
            records, _, _ = driver.execute_query(
                "MATCH (n) WHERE n:BpBenchPerson OR n:BpBenchEvent RETURN count(n) AS c"
            )
        assert records[0]["c"] == 0
