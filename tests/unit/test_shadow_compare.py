"""Primary vs candidate: each kind of difference reported as itself, identical answers match."""

from __future__ import annotations

from typing import Any

import pytest

from boltproxy.bolt import values
from boltproxy.shadow.compare import CompareOptions, OutcomeKind, compare
from boltproxy.shadow.exchange import DROPPED, TIMEOUT, Answer, AnswerBuilder
from tests.support.shadow_answers import answer, exchange, gql_failure, status

COLS = ["name", "age"]
ROWS: list[list[Any]] = [["ann", 31], ["bob", 42], ["cy", 7]]


def run(primary: Answer, candidate: Answer | None, **options: Any) -> Any:
    return compare(exchange("MATCH (n) RETURN n", primary, candidate), CompareOptions(**options))


def test_identical_answers_match() -> None:
    outcome = run(answer(COLS, ROWS), answer(COLS, ROWS))
    assert outcome.kind is OutcomeKind.MATCH and not outcome.is_difference


def test_missing_and_extra_rows_are_a_row_count_mismatch() -> None:
    outcome = run(answer(COLS, ROWS), answer(COLS, ROWS[:2]))
    assert (outcome.kind, outcome.detail) == (OutcomeKind.MISMATCH, "row_count")
    assert [d.path for d in outcome.differences] == ["row_count", "rows.missing"]
    outcome = run(answer(COLS, ROWS), answer(COLS, [*ROWS, ["dee", 1]]))
    assert outcome.differences[-1].path == "rows.extra"
    assert "dee" in outcome.differences[-1].candidate


def test_changed_value_names_the_cell() -> None:
    outcome = run(answer(COLS, ROWS), answer(COLS, [["ann", 31], ["bob", 43], ["cy", 7]]))
    assert (outcome.kind, outcome.detail) == (OutcomeKind.MISMATCH, "value")
    (difference,) = outcome.differences
    assert difference.path.endswith(".age")
    assert (difference.primary, difference.candidate) == ("42", "43")


def test_changed_type_is_a_type_mismatch() -> None:
    outcome = run(answer(COLS, ROWS), answer(COLS, [["ann", 31.0], ["bob", 42], ["cy", 7]]))
    assert (outcome.kind, outcome.detail) == (OutcomeKind.MISMATCH, "type")


def test_columns_differ() -> None:
    outcome = run(answer(COLS, ROWS), answer(["name", "years"], ROWS))
    assert (outcome.kind, outcome.detail) == (OutcomeKind.MISMATCH, "columns")


def test_reordered_rows_match_without_order_by_and_mismatch_with_it() -> None:
    shuffled = [ROWS[2], ROWS[0], ROWS[1]]
    assert run(answer(COLS, ROWS), answer(COLS, shuffled)).kind is OutcomeKind.MATCH
    ordered = run(answer(COLS, ROWS), answer(COLS, shuffled), ordered=True)
    assert (ordered.kind, ordered.detail) == (OutcomeKind.MISMATCH, "order")
    changed = run(answer(COLS, ROWS), answer(COLS, [*ROWS[:2], ["cy", 8]]), ordered=True)
    assert changed.detail == "value"


def test_floats_within_tolerance_match() -> None:
    p = answer(["x"], [[0.1 + 0.2], [1e20]])
    c = answer(["x"], [[0.3], [1e20 * (1 + 1e-12)]])
    assert run(p, c).kind is OutcomeKind.MATCH
    assert run(p, c, float_tolerance=0.0).kind is OutcomeKind.MISMATCH
    assert run(answer(["x"], [[float("nan")]]), answer(["x"], [[float("nan")]])).kind == "match"


def test_graph_entities_compare_by_labels_type_and_properties_not_ids() -> None:
    def graph(node_id: int, element: str, labels: tuple[str, ...], since: int) -> list[Any]:
        node = values.Node(node_id, labels, {"name": "ann"}, element)
        rel = values.Relationship(node_id + 1, node_id, node_id, "KNOWS", {"since": since},
                                  f"{element}:r", element, element)  # fmt: skip
        return [node, rel]

    p = answer(["n", "r"], [graph(1, "4:a:1", ("A", "B"), 2020)])
    same = answer(["n", "r"], [graph(99, "4:z:99", ("B", "A"), 2020)])
    assert run(p, same).kind is OutcomeKind.MATCH
    relabelled = run(p, answer(["n", "r"], [graph(1, "4:a:1", ("A",), 2020)]))
    assert relabelled.differences[0].path == "rows[0].n.labels"
    changed = run(p, answer(["n", "r"], [graph(1, "4:a:1", ("A", "B"), 2021)]))
    assert changed.differences[0].path == "rows[0].r.properties.since"


def test_temporal_values_compare_exactly() -> None:
    p = answer(["t"], [[values.DateTime(1_700_000_000, 0, 3600)]])
    c = answer(["t"], [[values.DateTime(1_700_000_000, 0, 3540)]])
    assert run(p, c).detail == "value"
    assert run(p, p).kind is OutcomeKind.MATCH


def test_counters_compared() -> None:
    p = answer([], [], stats={"nodes-created": 1})
    c = answer([], [], stats={"nodes-created": 2})
    outcome = run(p, c)
    assert (outcome.kind, outcome.detail) == (OutcomeKind.MISMATCH, "counters")
    assert outcome.differences[0].path == "stats.nodes-created"


def test_failures() -> None:
    ok = answer(COLS, ROWS)
    syntax5 = answer([], [], failure=gql_failure("Neo.ClientError.Statement.SyntaxError", "50N42"))
    syntax25 = answer([], [], failure=gql_failure("Neo.ClientError.Statement.SyntaxError", "42001"))
    assert run(ok, syntax25).kind is OutcomeKind.CANDIDATE_ERROR
    assert run(syntax5, ok).kind is OutcomeKind.PRIMARY_ERROR
    assert run(syntax5, syntax5).kind is OutcomeKind.BOTH_FAILED_ALIKE
    different = run(syntax5, syntax25)
    assert different.kind is OutcomeKind.BOTH_FAILED_DIFFERENTLY
    assert "50N42" in different.differences[0].primary
    assert "42001" in different.differences[0].candidate
    legacy = answer([], [], failure={"code": "Neo.ClientError.Statement.SyntaxError"})
    assert run(legacy, syntax25).kind is OutcomeKind.BOTH_FAILED_ALIKE


def test_new_statuses_and_deprecations() -> None:
    deprecated = "DEPRECATION"
    p = answer(["x"], [[1]], statuses=[status("00000"), status("01N02", classification=deprecated)])
    c = answer(["x"], [[1]], statuses=[status("00000"), status("01N01", classification=deprecated)])
    outcome = run(p, c)
    assert outcome.kind is OutcomeKind.NEW_STATUS and outcome.is_difference
    assert [s.gql_status for s in outcome.deprecations] == ["01N01"]
    same = run(p, answer(["x"], [[1]], statuses=[status("01N02")]))
    assert same.kind is OutcomeKind.MATCH
    notifications = answer(["x"], [[1]])
    assert notifications.summary is not None
    notifications.summary["notifications"] = [
        {"code": "Neo.ClientNotification.Statement.FeatureDeprecationWarning", "title": "t",
         "category": "DEPRECATION"}
    ]  # fmt: skip
    legacy = run(answer(["x"], [[1]]), notifications)
    assert legacy.kind is OutcomeKind.NEW_STATUS and legacy.deprecations


def test_slower_candidate() -> None:
    fast, slow = answer(["x"], [[1]], latency=0.010), answer(["x"], [[1]], latency=0.100)
    assert run(fast, slow).kind is OutcomeKind.SLOWER
    assert run(fast, slow, latency_flag_multiple=20).kind is OutcomeKind.MATCH
    tiny = answer(["x"], [[1]], latency=0.0001), answer(["x"], [[1]], latency=0.001)
    assert run(*tiny).kind is OutcomeKind.MATCH  # under the floor: noise


def test_missing_candidate() -> None:
    ok = answer(COLS, ROWS)
    timed_out = compare(exchange("RETURN 1", ok, None, candidate_missing=TIMEOUT))
    assert timed_out.kind is OutcomeKind.TIMEOUT and not timed_out.is_difference
    dropped = compare(exchange("RETURN 1", ok, None, candidate_missing=DROPPED))
    assert dropped.kind is OutcomeKind.DROPPED


def test_explained_candidate_compares_only_failures_and_statuses() -> None:
    p = answer([], [], stats={"nodes-created": 1})
    c = answer([], [])
    explained = compare(exchange("CREATE (n)", p, c, candidate_explained=True))
    assert explained.kind is OutcomeKind.MATCH
    code = "Neo.ClientError.Schema.ConstraintValidationFailed"
    constraint = answer([], [], failure=gql_failure(code, "22N41"))
    assert compare(exchange("CREATE (n)", constraint, c, candidate_explained=True)).kind == "match"
    failed = answer([], [], failure=gql_failure("Neo.ClientError.Statement.SyntaxError", "42001"))
    assert compare(exchange("CREATE (n)", p, failed, candidate_explained=True)).kind == (
        "candidate_error"
    )


def test_ignore_rules_drop_paths() -> None:
    p = answer([], [], stats={"nodes-created": 1})
    c = answer([], [], stats={"nodes-created": 2})
    assert run(p, c, ignore=("stats.*",)).kind is OutcomeKind.MATCH
    changed = run(answer(COLS, ROWS), answer(COLS, [["ann", 31], ["bob", 43], ["cy", 7]]),
                  ignore=("rows[*].age",))  # fmt: skip
    assert changed.kind is OutcomeKind.MATCH


def test_nondeterministic_value_mismatch_is_marked_not_counted() -> None:
    outcome = run(answer(["r"], [[0.1]]), answer(["r"], [[0.7]]), nondeterministic=("rand()",))
    assert outcome.kind is OutcomeKind.MISMATCH and outcome.nondeterministic == ("rand()",)
    assert not outcome.is_difference


@pytest.mark.parametrize("cap", [1, 2])
def test_truncated_answers_compare_their_counts(cap: int) -> None:
    def capped(rows: list[list[Any]]) -> Answer:
        full = answer(COLS, rows)
        builder = AnswerBuilder((5, 8), max_records=cap)
        assert full.run_metadata is not None and full.summary is not None
        builder.run_succeeded(full.run_metadata)
        for record in full.records:
            builder.record(record)
        return builder.finished(full.summary)

    assert capped(ROWS).truncated
    assert run(capped(ROWS), capped(ROWS)).kind is OutcomeKind.MATCH
    assert run(capped(ROWS), capped(ROWS[:2])).detail == "row_count"


def test_undecodable_records_are_reported_not_raised() -> None:
    broken = answer(COLS, ROWS)
    broken.records[0] = b"\xb1\x71\xff"
    outcome = run(answer(COLS, ROWS), broken)
    assert outcome.kind is OutcomeKind.MISMATCH
    assert outcome.differences[0].path == "records"
