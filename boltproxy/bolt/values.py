"""Typed Bolt values, and their conversion to and from PackStream structures.

The relay never needs these: it forwards bytes. Diffing, the fake server and
tools that look inside results do. The wire forms depend on the version:
before 5.0 graph entities carry no element ids and zoned date-times use the
legacy tags with local wall-clock seconds (unless the ``utc`` patch was
negotiated); from 5.0 they use UTC seconds. Vector and UnsupportedType arrived
with 6.0.
"""

from __future__ import annotations

import datetime as _dt
import struct
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from boltproxy.bolt.messages import Version
from boltproxy.bolt.packstream import Structure


class ValueShapeError(ValueError):
    """A structure that does not have the shape its tag requires."""


@dataclass(frozen=True)
class Node:
    id: int
    labels: tuple[str, ...]
    properties: dict[str, Any] = field(hash=False)
    element_id: str | None = None


@dataclass(frozen=True)
class Relationship:
    id: int
    start: int
    end: int
    type: str
    properties: dict[str, Any] = field(hash=False)
    element_id: str | None = None
    start_element_id: str | None = None
    end_element_id: str | None = None


@dataclass(frozen=True)
class UnboundRelationship:
    id: int
    type: str
    properties: dict[str, Any] = field(hash=False)
    element_id: str | None = None


@dataclass(frozen=True)
class Path:
    nodes: tuple[Node, ...]
    rels: tuple[UnboundRelationship, ...]
    indices: tuple[int, ...]


@dataclass(frozen=True)
class Date:
    days: int  # since 1970-01-01


@dataclass(frozen=True)
class Time:
    nanoseconds: int  # since midnight
    tz_offset_seconds: int


@dataclass(frozen=True)
class LocalTime:
    nanoseconds: int


@dataclass(frozen=True)
class DateTime:
    seconds: int  # UTC epoch seconds
    nanoseconds: int
    tz_offset_seconds: int


@dataclass(frozen=True)
class DateTimeZoneId:
    seconds: int  # UTC epoch seconds
    nanoseconds: int
    tz_id: str


@dataclass(frozen=True)
class LocalDateTime:
    seconds: int  # epoch seconds of the wall-clock time read as UTC
    nanoseconds: int


@dataclass(frozen=True)
class Duration:
    months: int
    days: int
    seconds: int
    nanoseconds: int


@dataclass(frozen=True)
class Point2D:
    srid: int
    x: float
    y: float


@dataclass(frozen=True)
class Point3D:
    srid: int
    x: float
    y: float
    z: float


# Vector element types: the PackStream marker of the element type, and its struct code.
VECTOR_TYPES: dict[str, tuple[int, str]] = {
    "int8": (0xC8, "b"),
    "int16": (0xC9, "h"),
    "int32": (0xCA, "i"),
    "int64": (0xCB, "q"),
    "float32": (0xC6, "f"),
    "float64": (0xC1, "d"),
}
_VECTOR_BY_MARKER = {marker: (name, code) for name, (marker, code) in VECTOR_TYPES.items()}


@dataclass(frozen=True)
class Vector:
    dtype: str
    values: tuple[int | float, ...]


@dataclass(frozen=True)
class UnsupportedType:
    name: str
    minimum_protocol: Version
    message: str | None = None


# --- legacy wall-clock conversions -------------------------------------------------


def _zone(tz_id: str) -> ZoneInfo:
    try:
        return ZoneInfo(tz_id)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueShapeError(f"unknown time zone {tz_id!r}") from None


def _zone_offset_at_utc(tz_id: str, seconds: int) -> int:
    instant = _dt.datetime.fromtimestamp(seconds, _dt.UTC)
    offset = instant.astimezone(_zone(tz_id)).utcoffset()
    return int(offset.total_seconds()) if offset else 0


def _zone_offset_at_local(tz_id: str, local_seconds: int) -> int:
    naive = _dt.datetime(1970, 1, 1) + _dt.timedelta(seconds=local_seconds)
    offset = naive.replace(tzinfo=_zone(tz_id)).utcoffset()
    return int(offset.total_seconds()) if offset else 0


# --- hydration ------------------------------------------------------------------------


def _utc_forms(version: Version, utc_patch: bool) -> bool:
    return version >= (5, 0) or utc_patch


def hydrate(value: Any, version: Version, *, utc_patch: bool = False) -> Any:
    """Structures → typed values, through lists and maps."""
    if isinstance(value, list):
        return [hydrate(item, version, utc_patch=utc_patch) for item in value]
    if isinstance(value, dict):
        return {key: hydrate(item, version, utc_patch=utc_patch) for key, item in value.items()}
    if not isinstance(value, Structure):
        return value
    fields = [hydrate(item, version, utc_patch=utc_patch) for item in value.fields]
    try:
        return _hydrate_structure(value.tag, fields, version, _utc_forms(version, utc_patch))
    except (TypeError, IndexError, struct.error) as exc:
        raise ValueShapeError(f"malformed structure 0x{value.tag:02X}: {exc}") from None


def _hydrate_structure(tag: int, f: list[Any], version: Version, utc: bool) -> Any:
    modern = version >= (5, 0)
    if tag == 0x4E:
        return Node(f[0], tuple(f[1]), f[2], f[3] if modern else None)
    if tag == 0x52:
        if modern:
            return Relationship(f[0], f[1], f[2], f[3], f[4], f[5], f[6], f[7])
        return Relationship(f[0], f[1], f[2], f[3], f[4])
    if tag == 0x72:
        return UnboundRelationship(f[0], f[1], f[2], f[3] if modern else None)
    if tag == 0x50:
        return Path(tuple(f[0]), tuple(f[1]), tuple(f[2]))
    if tag == 0x44:
        return Date(f[0])
    if tag == 0x54:
        return Time(f[0], f[1])
    if tag == 0x74:
        return LocalTime(f[0])
    if tag == 0x49 and utc:
        return DateTime(f[0], f[1], f[2])
    if tag == 0x46 and not utc:
        return DateTime(f[0] - f[2], f[1], f[2])
    if tag == 0x69 and utc:
        return DateTimeZoneId(f[0], f[1], f[2])
    if tag == 0x66 and not utc:
        return DateTimeZoneId(f[0] - _zone_offset_at_local(f[2], f[0]), f[1], f[2])
    if tag == 0x64:
        return LocalDateTime(f[0], f[1])
    if tag == 0x45:
        return Duration(f[0], f[1], f[2], f[3])
    if tag == 0x58:
        return Point2D(f[0], f[1], f[2])
    if tag == 0x59:
        return Point3D(f[0], f[1], f[2], f[3])
    if tag == 0x56 and version >= (6, 0):
        name, code = _VECTOR_BY_MARKER[f[0][0]]
        count = len(f[1]) // struct.calcsize(code)
        return Vector(name, struct.unpack(f">{count}{code}", f[1]))
    if tag == 0x3F and version >= (6, 0):
        extra = f[3] if len(f) > 3 and isinstance(f[3], dict) else {}
        return UnsupportedType(f[0], (f[1], f[2]), extra.get("message"))
    raise ValueShapeError(f"no value structure 0x{tag:02X} in Bolt {version[0]}.{version[1]}")


# --- dehydration ----------------------------------------------------------------------


def dehydrate(value: Any, version: Version, *, utc_patch: bool = False) -> Any:
    """Typed values → structures, through lists, tuples and maps."""
    if isinstance(value, list | tuple) and not _is_typed(value):
        return [dehydrate(item, version, utc_patch=utc_patch) for item in value]
    if isinstance(value, dict):
        return {key: dehydrate(item, version, utc_patch=utc_patch) for key, item in value.items()}
    if not _is_typed(value):
        return value
    utc = _utc_forms(version, utc_patch)
    modern = version >= (5, 0)

    def d(item: Any) -> Any:
        return dehydrate(item, version, utc_patch=utc_patch)

    if isinstance(value, Node):
        fields = [value.id, list(value.labels), d(value.properties)]
        return Structure(0x4E, [*fields, value.element_id] if modern else fields)
    if isinstance(value, Relationship):
        fields = [value.id, value.start, value.end, value.type, d(value.properties)]
        if modern:
            fields += [value.element_id, value.start_element_id, value.end_element_id]
        return Structure(0x52, fields)
    if isinstance(value, UnboundRelationship):
        fields = [value.id, value.type, d(value.properties)]
        return Structure(0x72, [*fields, value.element_id] if modern else fields)
    if isinstance(value, Path):
        return Structure(0x50, [d(list(value.nodes)), d(list(value.rels)), list(value.indices)])
    if isinstance(value, Date):
        return Structure(0x44, [value.days])
    if isinstance(value, Time):
        return Structure(0x54, [value.nanoseconds, value.tz_offset_seconds])
    if isinstance(value, LocalTime):
        return Structure(0x74, [value.nanoseconds])
    if isinstance(value, DateTime):
        if utc:
            return Structure(0x49, [value.seconds, value.nanoseconds, value.tz_offset_seconds])
        local = value.seconds + value.tz_offset_seconds
        return Structure(0x46, [local, value.nanoseconds, value.tz_offset_seconds])
    if isinstance(value, DateTimeZoneId):
        if utc:
            return Structure(0x69, [value.seconds, value.nanoseconds, value.tz_id])
        local = value.seconds + _zone_offset_at_utc(value.tz_id, value.seconds)
        return Structure(0x66, [local, value.nanoseconds, value.tz_id])
    if isinstance(value, LocalDateTime):
        return Structure(0x64, [value.seconds, value.nanoseconds])
    if isinstance(value, Duration):
        return Structure(0x45, [value.months, value.days, value.seconds, value.nanoseconds])
    if isinstance(value, Point2D):
        return Structure(0x58, [value.srid, value.x, value.y])
    if isinstance(value, Point3D):
        return Structure(0x59, [value.srid, value.x, value.y, value.z])
    if isinstance(value, Vector):
        if version < (6, 0):
            raise ValueShapeError("vectors need Bolt 6.0")
        marker, code = VECTOR_TYPES[value.dtype]
        data = struct.pack(f">{len(value.values)}{code}", *value.values)
        return Structure(0x56, [bytes([marker]), data])
    if isinstance(value, UnsupportedType):
        extra = {"message": value.message} if value.message is not None else {}
        major, minor = value.minimum_protocol
        return Structure(0x3F, [value.name, major, minor, extra])
    raise ValueShapeError(f"cannot dehydrate {type(value).__name__}")


_TYPED = (
    Node, Relationship, UnboundRelationship, Path, Date, Time, LocalTime, DateTime,
    DateTimeZoneId, LocalDateTime, Duration, Point2D, Point3D, Vector, UnsupportedType,
)  # fmt: skip


def _is_typed(value: Any) -> bool:
    return isinstance(value, _TYPED)
