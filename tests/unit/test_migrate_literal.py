"""Cypher literals for FalkorDB, whose Bolt parameters are lossy."""

from __future__ import annotations

import pytest
from neo4j.time import DateTime

from boltproxy.migrate import literal
from boltproxy.migrate.codec import UnsupportedValue, encode


def test_strings_are_escaped_so_quotes_cannot_end_the_literal() -> None:
    assert literal.value(encode("it's a \\ path")) == "'it\\'s a \\\\ path'"


def test_floats_keep_every_digit() -> None:
    assert literal.value(encode(0.1 + 0.2)) == "0.30000000000000004"
    assert literal.value(encode(1.5e-10)) == "1.5e-10"
    assert literal.value(encode(2.0)) == "2.0"


def test_int64_minimum_is_written_as_an_expression_that_parses() -> None:
    assert literal.value(encode(-(2**63))) == "(-9223372036854775807 - 1)"


def test_nested_lists_and_maps() -> None:
    assert literal.value(encode([1, ["a", True], []])) == "[1, ['a', true], []]"
    assert literal.properties({"k y": encode(1), "ok": encode(None)}) == "{`k y`: 1, ok: null}"


def test_points_and_vectors_use_constructor_functions() -> None:
    assert literal.value(["pt", [4326, 2.5, 1.5]]) == "point({latitude: 1.5, longitude: 2.5})"
    assert literal.value(["vec", ["f32", [1.0, 2.5]]]) == "vecf32([1.0, 2.5])"


@pytest.mark.parametrize("tagged", [
    encode(DateTime(2024, 1, 1, 0, 0, 0)), encode(b"x"),
    ["pt", [7203, 1.0, 2.0]], ["vec", ["i8", [1]]],
], ids=["datetime", "bytes", "cartesian", "int-vector"])
def test_values_falkordb_cannot_store_are_refused_by_type(tagged: list[object]) -> None:
    with pytest.raises(UnsupportedValue, match=r"cannot store|non-finite"):
        literal.value(tagged)


def test_names_are_quoted_only_when_needed() -> None:
    assert literal.name("Person") == "Person"
    assert literal.name("has space") == "`has space`"
    with pytest.raises(UnsupportedValue):
        literal.name("back`tick")


def test_rows_renders_a_list_of_maps() -> None:
    assert literal.rows([{"id": "1", "props": "{a: 2}"}]) == "[{id: 1, props: {a: 2}}]"


@pytest.mark.parametrize(
    ("number", "text"),
    [(float("nan"), "(0.0 / 0.0)"), (float("inf"), "(1.0 / 0.0)"),
     (float("-inf"), "(-1.0 / 0.0)"), (-0.0, "-0.0")],
)  # fmt: skip
def test_non_finite_floats_become_expressions_falkordb_parses(number: float, text: str) -> None:
    assert literal.value(encode(number)) == text


def test_denormal_float_literal_is_exact_and_not_a_bare_denormal() -> None:
    for number in (5e-324, -1.5e-310, 2.2250738585072014e-308 / 3):
        text = literal.value(encode(number))
        assert "e-3" not in text.split("*")[0]  # FalkorDB's parser refuses denormal literals
        assert eval(text) == number


def test_constants_are_told_from_expressions() -> None:
    from boltproxy.migrate.literal import is_constant

    for tagged in (["n"], ["b", True], ["i", 3], ["f", 1.5], ["f", -0.0], ["s", "it's ("],
                   ["l", [["i", 1], ["s", "x"]]], ["m", {"k": ["f", 2.0]}]):  # fmt: skip
        assert is_constant(tagged), tagged
    for tagged in (["i", -(2**63)], ["f", "NaN"], ["f", "Infinity"], ["f", 5e-324],
                   ["l", [["i", 1], ["f", "NaN"]]], ["m", {"k": ["f", "-Infinity"]}],
                   ["pt", [4326, 1.0, 2.0]], ["vec", ["f32", [1.0]]]):  # fmt: skip
        assert not is_constant(tagged), tagged
