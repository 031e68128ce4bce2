"""Typed values round-trip through their wire forms, per version."""

from __future__ import annotations

from typing import Any

import pytest

from boltproxy.bolt.packstream import Structure, pack, unpack_all
from boltproxy.bolt.values import (
    Date,
    DateTime,
    DateTimeZoneId,
    Duration,
    LocalDateTime,
    LocalTime,
    Node,
    Path,
    Point2D,
    Point3D,
    Relationship,
    Time,
    UnboundRelationship,
    UnsupportedType,
    Vector,
    dehydrate,
    hydrate,
)

COMMON: list[Any] = [
    Date(19000),
    Time(3_600_000_000_123, 3600),
    LocalTime(86_399_999_999_999),
    DateTime(1_700_000_000, 5, -18000),
    DateTimeZoneId(1_700_000_000, 999_999_999, "Europe/Berlin"),
    LocalDateTime(-1, 1),
    Duration(14, 3, 7200, 1),
    Point2D(7203, 1.5, -2.0),
    Point3D(4979, 13.4, 52.5, 34.0),
]


@pytest.mark.parametrize("version", [(4, 4), (5, 0), (5, 8), (6, 0)])
@pytest.mark.parametrize("value", COMMON)
def test_round_trip_through_bytes(version: tuple[int, int], value: Any) -> None:
    wire = unpack_all(pack(dehydrate({"v": [value]}, version)))
    assert hydrate(wire, version) == {"v": [value]}


def test_graph_entities_with_and_without_element_ids() -> None:
    node = Node(1, ("A", "B"), {"x": Date(3)}, "4:x:1")
    rel = Relationship(2, 1, 3, "R", {}, "5:x:2", "4:x:1", "4:x:3")
    path = Path((node,), (UnboundRelationship(2, "R", {}, "5:x:2"),), (1, 1))
    for value in (node, rel, path):
        assert hydrate(dehydrate(value, (5, 8)), (5, 8)) == value
    legacy = dehydrate(node, (4, 4))
    assert isinstance(legacy, Structure) and len(legacy.fields) == 3
    assert hydrate(legacy, (4, 4)) == Node(1, ("A", "B"), {"x": Date(3)})


def test_utc_and_legacy_datetime_forms() -> None:
    value = DateTime(1_700_000_000, 0, 3600)  # 2023-11-14T22:13:20Z at +01:00
    assert dehydrate(value, (5, 0)) == Structure(0x49, [1_700_000_000, 0, 3600])
    assert dehydrate(value, (4, 4)) == Structure(0x46, [1_700_003_600, 0, 3600])
    assert dehydrate(value, (4, 4), utc_patch=True).tag == 0x49
    zoned = DateTimeZoneId(1_700_000_000, 0, "America/New_York")  # EST, -5 h
    assert dehydrate(zoned, (4, 4)) == Structure(
        0x66, [1_700_000_000 - 18000, 0, "America/New_York"]
    )


def test_bolt_6_structures() -> None:
    for vector in (
        Vector("float32", (1.5, -2.0)),
        Vector("int8", (1, -128)),
        Vector("float64", ()),
    ):
        assert hydrate(unpack_all(pack(dehydrate(vector, (6, 0)))), (6, 0)) == vector
    unsupported = UnsupportedType("NewThing", (6, 1), "upgrade the driver")
    assert hydrate(dehydrate(unsupported, (6, 0)), (6, 0)) == unsupported
    with pytest.raises(ValueError):
        dehydrate(Vector("int8", (1,)), (5, 8))
