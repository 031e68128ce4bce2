"""Tagged values rendered as Cypher literals, for servers whose parameters are unsafe.

FalkorDB 4.16's Bolt listener does not pass parameters to its engine: it prints
them into the query text (``CYPHER k=v ...``) with ``sprintf`` into a fixed
4096-byte stack buffer. Floats go through ``%f`` (1.5e-10 arrives as 0.0),
strings are not escaped (a quote breaks the query) and a parameter map larger than
the buffer crashes the server. Writing literals ourselves is the only exact and
safe way to send data there: floats as ``repr`` (shortest exact form), strings
escaped, points and vectors through their constructor functions.
"""

from __future__ import annotations

import math
import re
import sys
from collections.abc import Iterable
from typing import Any

from boltproxy.migrate.codec import Tagged, UnsupportedValue, type_name

_PLAIN_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
_INT64_MIN = -(2**63)


def name(identifier: str) -> str:
    """A label, type or property key, quoted when it is not a plain identifier."""
    if _PLAIN_NAME.match(identifier):
        return identifier
    if "`" in identifier:
        # FalkorDB's parser has no escape for a backtick inside a quoted name.
        raise UnsupportedValue("a name containing a backtick")
    return f"`{identifier}`"


def string(text: str) -> str:
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def value(tagged: Tagged) -> str:
    """The Cypher literal for one tagged value."""
    tag = tagged[0]
    if tag == "n":
        return "null"
    payload: Any = tagged[1]
    if tag == "b":
        return "true" if payload else "false"
    if tag == "i":
        # The literal 9223372036854775808 does not parse, so the minimum is a sum.
        return "(-9223372036854775807 - 1)" if payload == _INT64_MIN else str(payload)
    if tag == "f":
        return _float(payload)
    if tag == "s":
        return string(payload)
    if tag == "l":
        return "[" + ", ".join(value(item) for item in payload) + "]"
    if tag == "m":
        return properties(payload)
    if tag == "pt" and payload[0] == 4326 and len(payload) == 3:
        return f"point({{latitude: {payload[2]!r}, longitude: {payload[1]!r}}})"
    if tag == "vec" and payload[0] == "f32":
        return "vecf32([" + ", ".join(_float(x) for x in payload[1]) + "])"
    raise UnsupportedValue(f"FalkorDB cannot store a {type_name(tagged)}")


def is_constant(tagged: Tagged) -> bool:
    """Whether ``value`` renders ``tagged`` as a constant (not an expression or a call).

    Only constants may be query parameters in FalkorDB's ``CYPHER name=value`` prefix.
    """
    tag = tagged[0]
    if tag in ("n", "b", "s"):
        return True
    payload: Any = tagged[1]
    if tag == "i":
        return bool(payload != _INT64_MIN)
    if tag == "f":
        return not _float(payload).startswith("(")
    if tag == "l":
        return all(is_constant(item) for item in payload)
    if tag == "m":
        return all(is_constant(item) for item in payload.values())
    return False


_NON_FINITE = {"NaN": "(0.0 / 0.0)", "Infinity": "(1.0 / 0.0)", "-Infinity": "(-1.0 / 0.0)"}
_TWO_POW_100 = 2.0**100


def _float(payload: float | str) -> str:
    """An exact float literal FalkorDB parses: it has no NaN/Infinity literals, and its
    parser rejects denormal literals (strtod's range error), so those are expressions."""
    if isinstance(payload, str):
        return _NON_FINITE[payload]
    number = float(payload)
    if not math.isfinite(number):
        return _NON_FINITE["NaN" if math.isnan(number) else
                           ("Infinity" if number > 0 else "-Infinity")]  # fmt: skip
    if number != 0.0 and abs(number) < sys.float_info.min:
        # Scaling by a power of two is exact both ways for a denormal.
        return f"({number * _TWO_POW_100!r} * {1 / _TWO_POW_100!r})"
    return repr(number)


def properties(props: dict[str, Tagged]) -> str:
    """A map literal of tagged properties."""
    return "{" + ", ".join(f"{name(k)}: {value(v)}" for k, v in props.items()) + "}"


def rows(items: Iterable[dict[str, str]]) -> str:
    """A list of map literals whose values are already rendered Cypher."""
    return (
        "["
        + ", ".join("{" + ", ".join(f"{k}: {v}" for k, v in row.items()) + "}" for row in items)
        + "]"
    )
