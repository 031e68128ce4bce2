"""The pipeline's pure parts: dataset, Cypher file splitting, reports, workloads, charts."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from boltproxy.pipeline import bench_report, dataset, report, svg
from boltproxy.pipeline.bench import BenchResult, ShapeStats, Side
from boltproxy.pipeline.model import Options, Server, StepResult
from boltproxy.pipeline.workload import DEFAULT, WorkloadError, load


@pytest.mark.parametrize("size", [3, 10, 1000, 10_001])
def test_plan_adds_up_to_the_size_asked(size: int) -> None:
    plan = dataset.Plan.for_size(size)
    assert plan.total == size
    assert plan.people >= 1 and plan.companies >= 1


def test_batches_are_deterministic_and_cover_the_plan() -> None:
    plan = dataset.Plan.for_size(500)
    first = list(dataset.batches(plan, seed=7, temporals=True, batch_size=64))
    again = list(dataset.batches(plan, seed=7, temporals=True, batch_size=64))
    assert first == again
    rows = {kind: sum(len(b.rows) for b in first if b.kind == kind)
            for kind in ("person", "company", "works_at", "knows")}  # fmt: skip
    assert rows == {"person": plan.people, "company": plan.companies,
                    "works_at": plan.works_at, "knows": plan.knows}  # fmt: skip
    # Nodes before relationships, so every MATCH of an endpoint finds it.
    kinds = [b.kind for b in first]
    assert kinds.index("works_at") > max(i for i, k in enumerate(kinds) if k == "person")


def test_falkordb_flavour_has_no_temporals_points_in_3d_or_quotes() -> None:
    plan = dataset.Plan.for_size(300)
    for batch in dataset.batches(plan, seed=1, temporals=False, batch_size=50):
        assert "date(" not in batch.query and "z: r.z" not in batch.query
        for row in batch.rows:
            assert "'" not in str(row.get("name", ""))
    full = next(dataset.batches(plan, seed=1, temporals=True, batch_size=50))
    assert "date(r.founded)" in full.query


def test_split_cypher_respects_strings_and_comments() -> None:
    text = """
    // a comment; with a semicolon
    CREATE (:A {s: 'a;b', t: "c\\";d"});
    /* block; comment */ CREATE (:`We;ird`)
    ;
    MATCH (n) RETURN n
    """
    assert dataset.split_cypher(text) == [
        "CREATE (:A {s: 'a;b', t: \"c\\\";d\"})",
        "CREATE (:`We;ird`)",
        "MATCH (n) RETURN n",
    ]


def _results() -> list[StepResult]:
    return [
        StepResult("start", "passed", "both <up>", 1.0),
        StepResult(
            "validate", "failed", "a | b", 2.0, ["detail <x>"],
            {"checks": [["check", "result"], ["nodes", "FAIL"]]},
        ),
        StepResult("cleanup", "passed", "done", 0.1),
    ]


def test_reports_escape_and_state_the_verdict() -> None:
    options = Options(work_dir=Path("/tmp/w"))
    md = report.markdown(_results(), options, "Migration test")
    assert md.startswith("# Migration test: FAILED")
    assert "| 2 | validate | failed | 2.0 | a \\| b |" in md
    page = report.html_report(_results(), options, "Migration test")
    assert "&lt;up&gt;" in page and "<up>" not in page
    assert "<script" not in page and "http" not in page.split("<body>")[1]
    assert report.verdict(_results()[:1]) == "PASSED"


def test_workload_file_round_trip_and_errors(tmp_path: Path) -> None:
    good = tmp_path / "w.toml"
    good.write_text(
        'setup = ["CREATE (:I {id: 1})"]\n[[query]]\nname = "q"\n'
        'cypher = "MATCH (i:I {id: $id}) RETURN i"\nparams = { id = "int:1:1" }\n'
    )
    loaded = load(good)
    assert loaded.shapes[0].draw(random.Random(0)) == {"id": 1}
    assert loaded.setup == ("CREATE (:I {id: 1})",)
    bad = tmp_path / "bad.toml"
    bad.write_text('[[query]]\nname = "q"\ncypher = "RETURN 1"\nparams = { x = "int:a:b" }\n')
    with pytest.raises(WorkloadError, match="int:LO:HI"):
        load(bad)
    empty = tmp_path / "empty.toml"
    empty.write_text("")
    with pytest.raises(WorkloadError, match="no \\[\\[query\\]\\]"):
        load(empty)
    kinds = {shape.kind for shape in DEFAULT.shapes}
    assert kinds == {"read", "write"} and len(DEFAULT.shapes) == 5


def test_percentiles_are_nearest_rank() -> None:
    stats = ShapeStats("q", "read", [i / 1000 for i in range(1, 101)], elapsed=2.0)
    assert stats.percentile(50) == pytest.approx(50.0)
    assert stats.percentile(99) == pytest.approx(99.0)
    assert stats.throughput == 50.0
    assert ShapeStats("q", "read").percentile(50) is None


def test_bench_report_has_ratio_memory_and_an_inline_chart() -> None:
    def side(name: str, scale: float) -> Side:
        stats = ShapeStats("lookup", "read", [0.001 * scale] * 10, elapsed=1.0 * scale)
        return Side(Server(name, f"bolt://{name}:7687", None, None, "v"), {"lookup": stats},
                    {"heap used": "10 MiB"})  # fmt: skip

    result = BenchResult(side("blue", 1.0), side("green", 2.0), duration=2.0)
    row = bench_report.rows(result)[0]
    assert row[-1] == "0.50"  # green does half the operations per second
    page = bench_report.html_report(result)
    assert page.count("<svg") == 3 and "heap used" in page
    assert "| lookup | read |" in bench_report.markdown(result)


def test_chart_scales_bars_to_the_largest_value() -> None:
    chart = svg.grouped_bars("t", "ms", [("a", {"blue": 1.0, "green": 2.0}), ("b", {"blue": None,
                                                                               "green": 0.5})])
    # The largest value spans the whole plot width (760 - 190 label - 90 margin).
    assert 'width="480.0"' in chart and 'width="240.0"' in chart and "n/a" in chart
