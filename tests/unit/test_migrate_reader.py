"""FalkorDB's property triples become the same tagged values as Neo4j's properties."""

from __future__ import annotations

import pytest

from boltproxy.migrate.codec import UnsupportedValue
from boltproxy.migrate.reader import falkordb_properties


def test_triples_and_points_become_tagged_values() -> None:
    props = falkordb_properties(
        [["i", "Integer", 3], ["f", "Float", 2.0], ["s", "String", "x"],
         ["b", "Boolean", False], ["l", "List", [1, "a"]], ["v", "Vectorf32", [1.5, 2.0]]],
        [["p", [55.25], [12.5]]],
    )
    assert props == {
        "i": ["i", 3], "f": ["f", 2.0], "s": ["s", "x"], "b": ["b", False],
        "l": ["l", [["i", 1], ["s", "a"]]], "v": ["vec", ["f32", [1.5, 2.0]]],
        "p": ["pt", [4326, 12.5, 55.25]],
    }


def test_an_integral_float_stays_a_float() -> None:
    assert falkordb_properties([["f", "Float", 2]], []) == {"f": ["f", 2.0]}


def test_unknown_falkordb_type_is_refused() -> None:
    with pytest.raises(UnsupportedValue, match="Edge"):
        falkordb_properties([["e", "Edge", None]], [])


def test_neo4j_exact_column_becomes_tagged_temporals() -> None:
    from boltproxy.migrate.reader import exact_temporals

    props = exact_temporals([
        ["dt", False, [["dt", 1577836800, 5, 1234, "+00:20:34"]]],
        ["dtz", False, [["dt", 0, 0, 3600, "Europe/Paris"]]],
        ["d", False, [["date", -721354]]],
        ["ldt", False, [["ldt", -300000000000, 7]]],
        ["ts", True, [["time", 36000, 0, -1234], ["time", 60, 1, -1234]]],
    ])  # fmt: skip
    assert props == {
        "dt": ["dt", [1577836800, 5, 1234]],
        "dtz": ["dtz", [0, 0, "Europe/Paris"]],
        "d": ["date", -721354],
        "ldt": ["ldt", [-300000000000, 7]],
        "ts": ["l", [["time", [36000 * 10**9, -1234]], ["time", [60 * 10**9 + 1, -1234]]]],
    }
