"""Driver values ⇄ an exact, self-describing, JSON-safe form.

Every value becomes ``[tag, payload]`` so a reader never has to guess a type from
JSON (an integer-valued float, a byte string, a date and a string that looks like
one all stay distinct). The temporal, spatial and vector payloads mirror the
fields of the Bolt structures (UTC seconds + nanoseconds + zone, months/days/
seconds/nanoseconds, SRID + coordinates) because that is the most exact form the
server itself knows; converting through ISO strings or Python ``datetime`` would
lose nanoseconds or zone rules.

Tags: ``n`` null, ``b`` bool, ``i`` int, ``f`` float, ``s`` string, ``y`` bytes
(base64), ``l`` list, ``m`` map, ``date`` days since 1970-01-01, ``ltime``
nanoseconds of day, ``time`` [nanoseconds of day, UTC offset s], ``ldt`` [local
epoch s, ns], ``dt`` [UTC epoch s, ns, offset s], ``dtz`` [UTC epoch s, ns, zone
id], ``dur`` [months, days, s, ns], ``pt`` [srid, x, y(, z)], ``vec`` [dtype,
values].
"""

from __future__ import annotations

import base64
import datetime as _dt
import math
import sys
from typing import Any

import pytz  # type: ignore[import-untyped]  # no stubs; the driver depends on it
from neo4j.spatial import CartesianPoint, Point, WGS84Point
from neo4j.time import Date, DateTime, Duration, Time

Tagged = list[Any]

_NANOS_PER_SECOND = 1_000_000_000
_SECONDS_PER_DAY = 86_400
_EPOCH_ORDINAL = Date(1970, 1, 1).to_ordinal()
_MAX_FLOAT = sys.float_info.max  # NaN and ±Infinity fail a range test
_NON_FINITE = {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}

try:  # driver 6.x; 5.x has no vector type
    from neo4j.vector import Vector, VectorDType
except ImportError:  # pragma: no cover - exercised only with driver 5.x
    Vector = None  # type: ignore[assignment,misc]
    VectorDType = None  # type: ignore[assignment,misc]


class UnsupportedValue(ValueError):
    """A value the export format cannot carry exactly (the message names its type only)."""


def encode(value: Any) -> Tagged:
    """The tagged form of a value as the driver returned it."""
    # Exact types first, by identity: every entity's every value passes here, and the
    # common ones then cost one comparison instead of a chain of isinstance calls.
    kind = type(value)
    if kind is str:
        return ["s", value]
    if kind is int:
        return ["i", value]
    if kind is float:
        return ["f", value if -_MAX_FLOAT <= value <= _MAX_FLOAT else _float_payload(value)]
    if kind is list:
        return ["l", [encode(item) for item in value]]
    # bool before int: bool is a subclass of int.
    if value is None:
        return ["n"]
    if isinstance(value, bool):
        return ["b", value]
    if isinstance(value, int):
        return ["i", value]
    if isinstance(value, float):
        return ["f", _float_payload(value)]
    if isinstance(value, str):
        return ["s", value]
    if isinstance(value, bytes | bytearray):
        return ["y", base64.b64encode(bytes(value)).decode("ascii")]
    # Points and durations are tuples: test them before plain lists.
    if isinstance(value, Point):
        return ["pt", [int(value.srid or 0), *(float(c) for c in value)]]
    if isinstance(value, Duration):
        return ["dur", [value.months, value.days, value.seconds, value.nanoseconds]]
    if isinstance(value, list | tuple):
        return ["l", [encode(item) for item in value]]
    if isinstance(value, dict):
        # Keys in order: a map's tagged form is then one value whatever order the server
        # sent its entries in (validate hashes it as it stands).
        return ["m", {str(k): encode(v) for k, v in sorted(value.items(), key=_key_text)}]
    if Vector is not None and isinstance(value, Vector):
        return ["vec", [value.dtype.value, [_float_payload(x) if isinstance(x, float) else x
                                            for x in value.to_native()]]]  # fmt: skip
    return _encode_temporal(value)


def _key_text(item: tuple[Any, Any]) -> str:
    return str(item[0])


def decode(tagged: Tagged) -> Any:
    """The driver parameter form of a tagged value (what the driver sends back as-is)."""
    tag = tagged[0]
    if tag == "n":
        return None
    payload = tagged[1]
    if tag in ("b", "i", "s"):
        return payload
    if tag == "f":
        return _NON_FINITE[payload] if isinstance(payload, str) else float(payload)
    if tag == "y":
        return base64.b64decode(payload)
    if tag == "l":
        return [decode(item) for item in payload]
    if tag == "m":
        return {k: decode(v) for k, v in payload.items()}
    if tag == "pt":
        return make_point(payload[0], payload[1:])
    if tag == "vec":
        if Vector is None:
            raise UnsupportedValue("vector values need neo4j driver 6.x")
        items = [_NON_FINITE[x] if isinstance(x, str) else x for x in payload[1]]
        return Vector(items, payload[0])
    return _decode_temporal(tag, payload)


def encode_properties(props: dict[str, Any]) -> dict[str, Tagged]:
    return {key: encode(value) for key, value in props.items()}


def decode_properties(props: dict[str, Tagged]) -> dict[str, Any]:
    return {key: decode(value) for key, value in props.items()}


def type_name(tagged: Tagged) -> str:
    """A human name for a tagged value's type, for messages that must not show values."""
    tag = str(tagged[0])
    return _TYPE_NAMES.get(tag, tag)


_TYPE_NAMES = {
    "n": "null",
    "b": "boolean",
    "i": "integer",
    "f": "float",
    "s": "string",
    "y": "bytes",
    "l": "list",
    "m": "map",
    "date": "date",
    "ltime": "local time",
    "time": "time",
    "ldt": "local datetime",
    "dt": "datetime with offset",
    "dtz": "datetime with zone",
    "dur": "duration",
    "pt": "point",
    "vec": "vector",
}


def make_point(srid: int, coords: list[float]) -> Point:
    """The driver's point class for an SRID, so a round trip gives an equal object."""
    if srid in (4326, 4979):
        point: Point = WGS84Point(coords)
    elif srid in (7203, 9157):
        point = CartesianPoint(coords)
    else:
        point = Point(coords)
        point.srid = srid
    return point


def _float_payload(value: float) -> float | str:
    if math.isfinite(value):
        return value
    if math.isnan(value):
        return "NaN"
    return "Infinity" if value > 0 else "-Infinity"


# --- temporal -------------------------------------------------------------------


def _encode_temporal(value: Any) -> Tagged:
    # Python's own types are accepted too: they are what a user would pass.
    if isinstance(value, _dt.datetime):
        value = DateTime.from_native(value)
    elif isinstance(value, _dt.date):
        value = Date.from_native(value)
    elif isinstance(value, _dt.time):
        value = Time.from_native(value)
    elif isinstance(value, _dt.timedelta):
        value = Duration(days=value.days, seconds=value.seconds, microseconds=value.microseconds)

    if isinstance(value, DateTime):
        return _encode_datetime(value)
    if isinstance(value, Date):
        return ["date", value.to_ordinal() - _EPOCH_ORDINAL]
    if isinstance(value, Time):
        if value.tzinfo is None:
            return ["ltime", value.ticks]
        offset = value.utc_offset()
        return ["time", [value.ticks, _whole_seconds(offset)]]
    if isinstance(value, Duration):
        return ["dur", [value.months, value.days, value.seconds, value.nanoseconds]]
    raise UnsupportedValue(f"cannot export a value of type {type(value).__name__}")


def _epoch_seconds_and_nanos(value: DateTime) -> tuple[int, int]:
    days = value.date().to_ordinal() - _EPOCH_ORDINAL
    ticks = value.time().ticks
    seconds, nanos = divmod(ticks, _NANOS_PER_SECOND)
    return days * _SECONDS_PER_DAY + seconds, nanos


def _encode_datetime(value: DateTime) -> Tagged:
    local_seconds, nanos = _epoch_seconds_and_nanos(value)
    tz = value.tzinfo
    if tz is None:
        return ["ldt", [local_seconds, nanos]]
    # The offset comes from the native datetime: neo4j's own astimezone/utc_offset
    # recurse without end (and crash the interpreter) for zoneinfo zones.
    offset = _whole_seconds(value.to_native().utcoffset())
    seconds = local_seconds - offset
    zone = _zone_id(tz)
    if zone is not None:
        return ["dtz", [seconds, nanos, zone]]
    return ["dt", [seconds, nanos, offset]]


def _zone_id(tz: _dt.tzinfo) -> str | None:
    # pytz zones carry ``zone``, zoneinfo zones ``key``; fixed offsets carry neither
    # (pytz.FixedOffset has zone=None), which is exactly Bolt's split.
    for attribute in ("zone", "key"):
        name = getattr(tz, attribute, None)
        if isinstance(name, str) and name:
            return name
    return None


def _whole_seconds(offset: _dt.timedelta | None) -> int:
    if offset is None:
        raise UnsupportedValue("a time zone without a UTC offset")
    if offset.microseconds:
        raise UnsupportedValue("a UTC offset with fractions of a second")
    return offset.days * _SECONDS_PER_DAY + offset.seconds


def fixed_offset(seconds: int) -> _dt.tzinfo:
    """The driver's usual zone for whole minutes; an exact one otherwise.

    The driver's own temporal types refuse offsets with seconds, so the writer
    never sends those through here (see ``writer.split_exact``).
    """
    return pytz.FixedOffset(seconds // 60) if seconds % 60 == 0 else ExactOffset(seconds)


class ExactOffset(_dt.tzinfo):
    """A fixed UTC offset in whole seconds.

    ``pytz.FixedOffset`` holds minutes only (an offset of +00:20:34 would be sent
    as +00:20), and the stdlib ``timezone`` refuses the driver's own ``Time`` in
    ``utcoffset``; the driver sends ``utcoffset()`` of this one exactly.
    """

    def __init__(self, seconds: int) -> None:
        self.seconds = int(seconds)

    def utcoffset(self, dt: Any) -> _dt.timedelta:
        return _dt.timedelta(seconds=self.seconds)

    def dst(self, dt: Any) -> _dt.timedelta:
        return _dt.timedelta(0)

    def tzname(self, dt: Any) -> str:
        sign, rest = ("-", -self.seconds) if self.seconds < 0 else ("+", self.seconds)
        hours, rest = divmod(rest, 3600)
        minutes, seconds = divmod(rest, 60)
        return f"{sign}{hours:02d}:{minutes:02d}:{seconds:02d}"

    def __repr__(self) -> str:
        return f"ExactOffset({self.seconds})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ExactOffset) and other.seconds == self.seconds

    def __hash__(self) -> int:
        return hash(self.seconds)


def _local_datetime(seconds: int, nanos: int) -> DateTime:
    days, second_of_day = divmod(seconds, _SECONDS_PER_DAY)
    return DateTime.combine(
        Date.from_ordinal(_EPOCH_ORDINAL + days),
        Time.from_ticks(second_of_day * _NANOS_PER_SECOND + nanos),
    )


def _decode_temporal(tag: str, payload: Any) -> Any:
    if tag == "date":
        return Date.from_ordinal(_EPOCH_ORDINAL + payload)
    if tag == "ltime":
        return Time.from_ticks(payload)
    if tag == "time":
        ticks, offset = payload
        return Time.from_ticks(ticks, tz=fixed_offset(offset))
    if tag == "ldt":
        return _local_datetime(*payload)
    if tag in ("dt", "dtz"):
        seconds, nanos, zone = payload
        utc = _local_datetime(seconds, nanos).replace(tzinfo=pytz.UTC)
        target = fixed_offset(zone) if tag == "dt" else pytz.timezone(zone)
        return utc.as_timezone(target)
    if tag == "dur":
        months, days, seconds, nanos = payload
        return Duration(months=months, days=days, seconds=seconds, nanoseconds=nanos)
    raise UnsupportedValue(f"unknown value tag {tag!r}")
