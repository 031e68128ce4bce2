"""The plain-value hash agrees with the tagged one, value for value (``contenthash``)."""

from __future__ import annotations

import asyncio
import math
import struct
from typing import Any, cast

import neo4j
from hypothesis import given
from hypothesis import strategies as st
from neo4j.spatial import CartesianPoint, WGS84Point
from neo4j.time import Date, DateTime, Duration, Time

from boltproxy.migrate import codec
from boltproxy.migrate.contenthash import digest, digest_plain
from boltproxy.migrate.ranges import IdRange
from boltproxy.migrate.reader import GraphReader

# NaNs of every payload: the codec makes them one value, so must the hash
_NAN_BITS = st.integers(1, (1 << 52) - 1).map(
    lambda mantissa: struct.unpack("<d", struct.pack("<Q", (0x7FF << 52) | mantissa))[0]
)
_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(1 << 63), (1 << 63) - 1),
    st.floats(allow_nan=True, allow_infinity=True),
    _NAN_BITS,
    st.text(max_size=8),
    st.binary(max_size=8),
    st.dates().map(Date.from_native),
    st.builds(Duration, months=st.integers(-50, 50), days=st.integers(-50, 50),
              seconds=st.integers(-5000, 5000)),
    st.builds(lambda x, y: CartesianPoint((x, y)), st.floats(-1e3, 1e3), st.floats(-1e3, 1e3)),
    st.builds(lambda x, y: WGS84Point((x, y)), st.floats(-90, 90), st.floats(-90, 90)),
    st.times().map(Time.from_native),
)
_values = st.recursive(
    _scalars,
    lambda inner: st.lists(inner, max_size=4)
    | st.dictionaries(st.text(max_size=4), inner, max_size=3),
    max_leaves=8,
)
_props = st.dictionaries(st.text(max_size=6), _values, max_size=6)


@given(_props)
def test_plain_values_hash_as_their_tagged_form(props: dict[str, Any]) -> None:
    assert digest_plain(("A",), props) == digest(("A",), codec.encode_properties(props))


@given(_props, st.text(max_size=6), _values, _values)
def test_a_changed_value_changes_the_hash_exactly_when_its_tagged_form_changes(
    props: dict[str, Any], key: str, before: Any, after: Any
) -> None:
    first, second = {**props, key: before}, {**props, key: after}
    # repr, not ==: the tagged forms of 0.0 and -0.0 are == but mean different values
    if repr(codec.encode(before)) == repr(codec.encode(after)):
        assert digest_plain("R", first) == digest_plain("R", second)
    else:
        assert digest_plain("R", first) != digest_plain("R", second)


def test_types_keys_signed_zero_and_nan_count() -> None:
    base = digest_plain(("A",), {"k": 1})
    others = [
        digest_plain(("A",), {"k": 1.0}),
        digest_plain(("A",), {"k": True}),
        digest_plain(("A",), {"k": "1"}),
        digest_plain(("A",), {"k": b"1"}),
        digest_plain(("A",), {"k": [1]}),
        digest_plain(("A",), {"k": None}),
        digest_plain(("A",), {"j": 1}),
        digest_plain(("B",), {"k": 1}),
        digest_plain(("A",), {"k": 0.0}),
        digest_plain(("A",), {"k": -0.0}),
        digest_plain(("A",), {"k": math.nan}),
        digest_plain(("A",), {"k": math.inf}),
        digest_plain(("A",), {"k": Date(1970, 1, 2)}),
        digest_plain(("A",), {"k": 1, "l": None}),
    ]
    assert base not in others
    assert len(set(others)) == len(others)


def test_order_and_a_datetime_do_not_need_the_tagged_form() -> None:
    moment = DateTime(2024, 5, 1, 12, 0, 0)
    assert digest_plain("R", {"a": 1, "b": moment}) == digest_plain("R", {"b": moment, "a": 1})
    assert digest_plain("R", {"a": 1, "b": moment}) == digest(
        "R", {"b": codec.encode(moment), "a": ["i", 1]}
    )


def test_content_range_keeps_neo4j_map_rows_plain_and_tags_the_others() -> None:
    reader = GraphReader(cast(neo4j.AsyncDriver, None), None, "neo4j")

    async def rows(query: str, params: dict[str, Any], what: str) -> list[list[Any]]:
        return [[1, "T", 5, 6, {"w": 2}], [2, "T", 6, 5, [["w", 3]], [["d", False, [["date", 4]]]]]]

    reader._rows = rows  # type: ignore[method-assign]
    got = asyncio.run(reader.content_range("relationships", IdRange(0, 3)))
    assert got == [
        (1, ("T", 5, 6), {"w": 2}, True),
        (2, ("T", 6, 5), {"w": ["i", 3], "d": ["date", 4]}, False),
    ]
