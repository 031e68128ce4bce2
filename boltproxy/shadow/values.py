"""Record values made comparable across servers.

Element ids and ids are assigned by each server and mean nothing to the other,
so graph entities become their labels or type and properties. Floats compare
within a tolerance; temporal and spatial values stay exact dataclasses.
"""

from __future__ import annotations

import math
from typing import Any

from boltproxy.bolt import messages, values
from boltproxy.bolt.messages import Tag
from boltproxy.shadow.exchange import Answer


class UndecodableRecord(ValueError):
    """A RECORD payload that is not a well-formed RECORD for its Bolt version."""


def decode_records(answer: Answer) -> list[list[Any]]:
    """The answer's kept records as hydrated values (in the worker, never on the loop)."""
    rows = []
    for payload in answer.records:
        try:
            tag, fields = messages.decode(payload)
            if tag != Tag.RECORD or len(fields) != 1 or not isinstance(fields[0], list):
                raise UndecodableRecord(f"message 0x{tag:02X} is not a RECORD")
            rows.append(values.hydrate(fields[0], answer.version, utc_patch=answer.utc_patch))
        except (messages.MessageError, values.ValueShapeError) as exc:
            raise UndecodableRecord(str(exc)) from None
    return rows


def canonical(value: Any) -> Any:
    """``value`` with server-assigned identities removed, as nested tuples."""
    if isinstance(value, values.Node):
        return ("node", tuple(sorted(value.labels)), canonical(value.properties))
    if isinstance(value, values.Relationship | values.UnboundRelationship):
        return ("relationship", value.type, canonical(value.properties))
    if isinstance(value, values.Path):
        nodes = tuple(canonical(node) for node in value.nodes)
        rels = tuple(canonical(rel) for rel in value.rels)
        return ("path", nodes, rels, value.indices)
    if isinstance(value, dict):
        return ("map", tuple(sorted((key, canonical(item)) for key, item in value.items())))
    if isinstance(value, list | tuple):
        return ("list", tuple(canonical(item) for item in value))
    return value


_TYPE_NAMES: dict[type, str] = {
    bool: "BOOLEAN",
    int: "INTEGER",
    float: "FLOAT",
    str: "STRING",
    bytes: "BYTES",
    type(None): "NULL",
    values.Date: "DATE",
    values.Time: "ZONED TIME",
    values.LocalTime: "LOCAL TIME",
    values.DateTime: "ZONED DATETIME",
    values.DateTimeZoneId: "ZONED DATETIME",
    values.LocalDateTime: "LOCAL DATETIME",
    values.Duration: "DURATION",
    values.Point2D: "POINT",
    values.Point3D: "POINT",
    values.Vector: "VECTOR",
    values.UnsupportedType: "UNSUPPORTED",
}
_TUPLE_TYPES = {"node": "NODE", "relationship": "RELATIONSHIP", "path": "PATH"}
_TUPLE_TYPES |= {"map": "MAP", "list": "LIST"}


def type_name(value: Any) -> str:
    """The Cypher type of a canonical value."""
    if isinstance(value, tuple) and value and isinstance(value[0], str):
        return _TUPLE_TYPES.get(value[0], "LIST")
    return _TYPE_NAMES.get(type(value), type(value).__name__)


def floats_equal(a: float, b: float, tolerance: float) -> bool:
    if math.isnan(a) or math.isnan(b):
        return math.isnan(a) and math.isnan(b)
    if a == b:
        return True
    return abs(a - b) <= tolerance * max(1.0, abs(a), abs(b))


def sort_key(value: Any) -> str:
    """A total order over canonical values; floats rounded so near-equal ones sort together."""
    if isinstance(value, float):
        return f"F{value:.9g}"
    if isinstance(value, tuple):
        return "(" + ",".join(sort_key(item) for item in value) + ")"
    return f"{type_name(value)[:2]}{value!r}"


def render(value: Any, limit: int = 160) -> str:
    """A short human-readable form of a canonical value, for diff examples."""
    text = _render(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _render(value: Any) -> str:
    if isinstance(value, tuple) and value and isinstance(value[0], str):
        tag = value[0]
        if tag == "map":
            return "{" + ", ".join(f"{k}: {_render(v)}" for k, v in value[1]) + "}"
        if tag == "list":
            return "[" + ", ".join(_render(v) for v in value[1]) + "]"
        if tag == "node":
            return "(" + "".join(f":{label}" for label in value[1]) + " " + _render(value[2]) + ")"
        if tag == "relationship":
            return f"[:{value[1]} {_render(value[2])}]"
        if tag == "path":
            return f"<path of {len(value[2])} relationships>"
    if isinstance(value, str):
        return repr(value)
    return repr(value)
