"""Exact round trips of driver values through the export encoding (JSON and back)."""

from __future__ import annotations

import json
import math
import zoneinfo
from typing import Any

import pytest
import pytz
from hypothesis import given
from hypothesis import strategies as st
from neo4j.spatial import CartesianPoint, Point, WGS84Point
from neo4j.time import Date, DateTime, Duration, Time
from neo4j.vector import Vector

from boltproxy.migrate.codec import UnsupportedValue, decode, encode


def through_json(value: Any) -> Any:
    """What an import gets back for ``value`` after an export wrote it to disk."""
    return decode(json.loads(json.dumps(encode(value))))


BERLIN = pytz.timezone("Europe/Berlin")
NEW_YORK = pytz.timezone("America/New_York")

EXACT_VALUES = [
    pytest.param(True, id="bool"),
    pytest.param(-(2**63), id="int64-min"),
    pytest.param(2**63 - 1, id="int64-max"),
    pytest.param(0.1 + 0.2, id="float-inexact"),
    pytest.param(5e-324, id="float-denormal"),
    pytest.param(1.0, id="float-integral"),
    pytest.param("it's \\ \n ☃ 𝄞", id="string"),
    pytest.param(b"\x00\xff\x10", id="bytes"),
    pytest.param([1, [2.5, ["x", True]], []], id="nested-list"),
    pytest.param({"a": [1, {"b": None}]}, id="map"),
    pytest.param(Date(1, 1, 1), id="date-min"),
    pytest.param(Date(9999, 12, 31), id="date-max"),
    pytest.param(Time(23, 59, 59, 999_999_999), id="local-time"),
    pytest.param(Time(1, 2, 3, 4, tzinfo=pytz.FixedOffset(-330)), id="time-offset"),
    pytest.param(DateTime(1900, 1, 1, 0, 0, 0, 1), id="local-datetime-ns"),
    pytest.param(DateTime(2024, 10, 27, 2, 30, 0, 5, tzinfo=pytz.FixedOffset(90)),
                 id="datetime-offset"),
    pytest.param(BERLIN.localize(DateTime(2024, 3, 31, 1, 59, 59, 123_456_789)),
                 id="datetime-zone-before-dst"),
    pytest.param(NEW_YORK.localize(DateTime(2024, 11, 3, 1, 30, 0, 999_999_999), is_dst=False),
                 id="datetime-zone-ambiguous-hour"),
    pytest.param(Duration(months=14, days=-3, seconds=5, nanoseconds=7), id="duration"),
    pytest.param(CartesianPoint((1.5, -2.5)), id="cartesian-2d"),
    pytest.param(CartesianPoint((1.5, 2.5, 3.5)), id="cartesian-3d"),
    pytest.param(WGS84Point((12.5, 55.25)), id="wgs84-2d"),
    pytest.param(WGS84Point((12.5, 55.25, 100.0)), id="wgs84-3d"),
]


@pytest.mark.parametrize("value", EXACT_VALUES)
def test_value_survives_export_and_import_unchanged(value: Any) -> None:
    back = through_json(value)
    assert back == value
    assert type(back) is type(value)


@pytest.mark.parametrize("value", [p.values[0] for p in EXACT_VALUES
                                   if isinstance(p.values[0], DateTime | Time)])
def test_temporal_keeps_its_zone_and_offset(value: DateTime | Time) -> None:
    back = through_json(value)
    assert back.utcoffset() == value.utcoffset()
    assert str(back.tzinfo) == str(value.tzinfo)


def test_zoneinfo_zone_round_trips_as_the_same_instant_and_zone() -> None:
    value = DateTime(2024, 7, 1, 12, 0, 0, 42, tzinfo=zoneinfo.ZoneInfo("Asia/Tokyo"))
    back = through_json(value)
    # Not value.iso_format(): the driver's utc_offset() on a zoneinfo zone can
    # overflow the C stack (a segfault), which is why the codec avoids it.
    fields = (back.year, back.month, back.day, back.hour, back.minute, back.second, back.nanosecond)
    assert fields == (2024, 7, 1, 12, 0, 0, 42)
    assert back.tzinfo.zone == "Asia/Tokyo"


def test_point_keeps_its_srid() -> None:
    point = Point((1.0, 2.0))
    point.srid = 1234
    back = through_json(point)
    assert back.srid == 1234
    assert tuple(back) == (1.0, 2.0)
    assert encode(WGS84Point((1.0, 2.0)))[1][0] == 4326
    assert encode(CartesianPoint((1.0, 2.0, 3.0)))[1][0] == 9157


@pytest.mark.parametrize(("values", "dtype"), [
    ([1.5, -2.25, 3.0], "f32"), ([0.1, 1e300], "f64"), ([1, -128, 127], "i8"),
    ([2**62, -(2**63)], "i64"),
])
def test_vector_keeps_dtype_and_exact_values(values: list[Any], dtype: str) -> None:
    vector = Vector(values, dtype)
    back = through_json(vector)
    assert isinstance(back, Vector)
    assert back.dtype == vector.dtype
    assert back.raw() == vector.raw()


def test_non_finite_floats_survive_json() -> None:
    assert math.isnan(through_json(math.nan))
    assert through_json(math.inf) == math.inf
    assert through_json(-math.inf) == -math.inf
    assert math.copysign(1.0, through_json(-0.0)) == -1.0


def test_every_value_is_tagged_so_lookalikes_stay_distinct() -> None:
    encoded = [encode(v) for v in (1, 1.0, True, "1", b"1", [1], Date(1970, 1, 2))]
    assert len({json.dumps(e) for e in encoded}) == len(encoded)
    assert [e[0] for e in encoded] == ["i", "f", "b", "s", "y", "l", "date"]


def test_unknown_type_is_refused_without_showing_the_value() -> None:
    class Secret:
        def __repr__(self) -> str:
            return "hunter2"

    with pytest.raises(UnsupportedValue) as caught:
        encode(Secret())
    assert "hunter2" not in str(caught.value)
    assert "Secret" in str(caught.value)


json_scalars = (st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1)
                | st.floats(allow_nan=False) | st.text() | st.binary())


@given(st.recursive(json_scalars, lambda inner: st.lists(inner, max_size=4), max_leaves=20))
def test_scalars_and_lists_round_trip(value: Any) -> None:
    back = through_json(value)
    assert back == value
    assert json.dumps(encode(back)) == json.dumps(encode(value))
