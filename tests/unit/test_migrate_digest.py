"""validate's per-entity hash: one value for one content, whatever objects carry it."""

from __future__ import annotations

import sys
from typing import Any, cast

import neo4j

from boltproxy.migrate import codec
from boltproxy.migrate.reader import GraphReader
from boltproxy.migrate.validate import digest


def tagged(props: dict[str, Any]) -> dict[str, codec.Tagged]:
    return codec.encode_properties(props)


def test_property_order_and_shared_or_interned_objects_do_not_matter() -> None:
    name = "".join(["person ", "1"])  # a fresh string object
    shared = sys.intern("person 1")
    first = tagged({"name": name, "tags": [name, "".join(["person ", "1"])]})
    second = tagged({"tags": [shared, shared], "name": shared})
    assert digest(("Person",), first) == digest(("Person",), second)


def test_map_entries_in_any_order_are_one_value() -> None:
    assert tagged({"m": {"a": 1, "b": 2}}) == tagged({"m": {"b": 2, "a": 1}})
    assert digest("R", tagged({"m": {"a": 1, "b": 2}})) == digest(
        "R", tagged({"m": {"b": 2, "a": 1}})
    )


def test_types_keys_values_and_labels_all_count() -> None:
    base = digest(("A",), tagged({"k": 1}))
    others = [
        digest(("A",), tagged({"k": 1.0})),
        digest(("A",), tagged({"k": True})),
        digest(("A",), tagged({"k": "1"})),
        digest(("A",), tagged({"k": [1]})),
        digest(("A",), tagged({"j": 1})),
        digest(("A",), tagged({"k": 2})),
        digest(("B",), tagged({"k": 1})),
        digest(("A",), tagged({"k": -0.0})) - digest(("A",), tagged({"k": 0.0})),
    ]
    assert base not in others and 0 not in others
    assert len(set(others)) == len(others)


def test_neo4j_plain_and_exact_rows_give_the_same_properties() -> None:
    # A page answers most entities as one map, the others as pairs plus exact temporals.
    reader = GraphReader(cast(neo4j.AsyncDriver, None), None, "neo4j")
    plain = reader._props([7, ["A"], {"b": [1, 2], "a": "x", "f": 0.5}], 2, "a page")
    pairs = reader._props([7, ["A"], [["a", "x"], ["f", 0.5], ["b", [1, 2]]], []], 2, "a page")
    assert plain == pairs
    assert digest(("A",), plain) == digest(("A",), pairs)
    exact = reader._props([7, ["A"], [["a", "x"]], [["d", False, [["date", 3]]]]], 2, "a page")
    assert exact == {"a": ["s", "x"], "d": ["date", 3]}
