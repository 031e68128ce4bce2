"""Which values the writer sends as parameters and which the server builds from numbers."""

from __future__ import annotations

from boltproxy.migrate.schemadiff import options_differ
from boltproxy.migrate.writer import split_exact


def test_values_the_driver_carries_stay_parameters() -> None:
    props = {"d": ["date", 0], "ldt": ["ldt", [0, 1]], "dt": ["dt", [0, 0, 3600]],
             "t": ["time", [0, 60]], "i": ["i", 1]}  # fmt: skip
    assert split_exact(props) == (props, [])


def test_offsets_with_seconds_and_years_beyond_9999_are_built_by_the_server() -> None:
    plain, exact = split_exact({
        "dt": ["dt", [1577836800, 5, -1234]],
        "t": ["time", [36000 * 10**9, 1234]],
        "old": ["date", -721354],  # year -5
        "far": ["ldt", [400_000_000_000, 7]],  # year 14645
        "bigdt": ["dt", [400_000_000_000, 0, 0]],
        "zone": ["dtz", [0, 0, "Europe/Paris"]],
        "dates": ["l", [["date", 0], ["date", -721354]]],
    })  # fmt: skip
    assert plain == {}
    by_key = {item["k"]: item for item in exact}
    assert by_key["dt"]["items"] == [{"kind": "dt", "s": 1577836800, "ns": 5, "tz": "-00:20:34"}]
    assert by_key["t"]["items"] == [{"kind": "time", "s": 36000, "ns": 0, "tz": "+00:20:34"}]
    assert by_key["old"]["items"] == [{"kind": "date", "s": -721354, "ns": 0, "tz": ""}]
    assert by_key["far"]["items"][0]["kind"] == "ldt"
    assert by_key["bigdt"]["items"][0]["tz"] == "+00:00:00"
    assert by_key["zone"]["items"][0]["tz"] == "Europe/Paris"
    # One item of a list needs it: the whole list is built by the server.
    assert by_key["dates"]["list"] and [i["s"] for i in by_key["dates"]["items"]] == [0, -721354]


def test_vector_index_options_compare_across_versions() -> None:
    five = {"vector.dimensions": "3", "vector.quantization.enabled": "true",
            "vector.similarity_function": '"COSINE"'}  # fmt: skip
    calendar = {"vector.dimensions": "3", "vector.quantization.type": '"BINARY"',
                "vector.default_search_expansion_factor": "3.0",
                "vector.similarity_function": '"COSINE"'}  # fmt: skip
    assert options_differ(five, calendar) == []
    assert options_differ(calendar, five) == []
    off = {**calendar, "vector.quantization.type": '"NONE"'}
    assert options_differ(five, off) == [("vector.quantization.type", "enabled", '"NONE"')]
    assert options_differ(five, {**calendar, "vector.dimensions": "4"}) == [
        ("vector.dimensions", "3", "4")]  # fmt: skip
