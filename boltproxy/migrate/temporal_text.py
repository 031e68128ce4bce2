"""Temporal values from the ISO text a server prints, into the tagged form (``codec``).

FalkorDB aborts when it has to send a temporal value over Bolt, but prints
them with ``toString``: local datetimes, dates, local times and durations (it
has no zones). Parsing that text is how they are exported without crashing it.
"""

from __future__ import annotations

import re
from decimal import Decimal

from boltproxy.migrate.codec import Tagged, UnsupportedValue

_NANOS = 1_000_000_000
_DATE = re.compile(r"([+-]?\d{4,9})-(\d{2})-(\d{2})\Z")
_TIME = re.compile(r"(\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?\Z")
_DURATION = re.compile(
    r"(-)?P(?:(-?\d+)Y)?(?:(-?\d+)M)?(?:(-?\d+)W)?(?:(-?\d+)D)?"
    r"(?:T(?:(-?\d+)H)?(?:(-?\d+)M)?(?:(-?\d+(?:\.\d+)?)S)?)?\Z"
)


def _days_from_civil(year: int, month: int, day: int) -> int:
    """Days since 1970-01-01 in the proleptic Gregorian calendar (any year)."""
    year -= month <= 2
    era = year // 400
    yoe = year - era * 400
    doy = (153 * (month + (-3 if month > 2 else 9)) + 2) // 5 + day - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    return era * 146097 + doe - 719468


def _date(text: str) -> int:
    match = _DATE.match(text)
    if not match:
        raise UnsupportedValue("a date in a form this tool does not read")
    return _days_from_civil(*(int(part) for part in match.groups()))


def _time(text: str) -> int:
    match = _TIME.match(text)
    if not match:
        raise UnsupportedValue("a time in a form this tool does not read")
    hours, minutes, seconds, fraction = match.groups()
    nanos = int((fraction or "").ljust(9, "0"))
    return ((int(hours) * 60 + int(minutes)) * 60 + int(seconds or 0)) * _NANOS + nanos


def _duration(text: str) -> Tagged:
    match = _DURATION.match(text)
    if not match or text in ("P", "-P"):
        raise UnsupportedValue("a duration in a form this tool does not read")
    sign, years, months, weeks, days, hours, minutes, seconds = match.groups()
    factor = -1 if sign else 1
    total_months = int(years or 0) * 12 + int(months or 0)
    total_days = int(weeks or 0) * 7 + int(days or 0)
    exact = Decimal(seconds or 0) + int(hours or 0) * 3600 + int(minutes or 0) * 60
    seconds_part, nanos = divmod(factor * int(exact * _NANOS), _NANOS)
    return ["dur", [factor * total_months, factor * total_days, seconds_part, nanos]]


def parse(type_name: str, text: str) -> Tagged:
    """The tagged value for FalkorDB's ``typeOf`` name and ``toString`` text."""
    if type_name == "Date":
        return ["date", _date(text)]
    if type_name == "Time":
        return ["ltime", _time(text)]
    if type_name == "Datetime":
        date_text, _, time_text = text.partition("T")
        ticks = _time(time_text)
        seconds, nanos = divmod(ticks, _NANOS)
        return ["ldt", [_date(date_text) * 86_400 + seconds, nanos]]
    if type_name == "Duration":
        return _duration(text)
    raise UnsupportedValue(f"a temporal value of type {type_name}")
