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
