"""Compare two servers' schema and catalogue: what is on one side only, what differs."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from boltproxy.migrate.schema import Catalogue, ConstraintDef, IndexDef, Schema


@dataclass(frozen=True)
class Difference:
    area: str  # index, constraint, label, relationship type, property key, procedure, function
    item: str
    where: str  # "blue only", "green only", or "differs"
    detail: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"area": self.area, "item": self.item, "where": self.where, "detail": self.detail}


def _definitions(
    area: str, blue: tuple[IndexDef, ...] | tuple[ConstraintDef, ...],
    green: tuple[IndexDef, ...] | tuple[ConstraintDef, ...],
) -> list[Difference]:  # fmt: skip
    blue_by = {d.identity: d for d in blue}
    green_by = {d.identity: d for d in green}
    out = []
    for identity in sorted(blue_by.keys() | green_by.keys(), key=repr):
        b, g = blue_by.get(identity), green_by.get(identity)
        if b is None and g is not None:
            out.append(Difference(area, g.describe(), "green only"))
        elif g is None and b is not None:
            out.append(Difference(area, b.describe(), "blue only"))
        elif isinstance(b, IndexDef) and isinstance(g, IndexDef):
            differing = options_differ(dict(b.options), dict(g.options))
            if differing:
                detail = "; ".join(f"{key}: {bv} vs {gv}" for key, bv, gv in differing)
                out.append(Difference(area, b.describe(), "differs", f"options {detail}"))
    return out


_QUANTIZATION_ENABLED = "vector.quantization.enabled"
_QUANTIZATION_TYPE = "vector.quantization.type"


def options_differ(blue: dict[str, str], green: dict[str, str]) -> list[tuple[str, str, str]]:
    """Index options (canonical JSON texts) that both servers report and that differ.

    A setting only one side reports is one the other version does not have (2026.x
    adds ``vector.default_search_expansion_factor``), not a difference. 5.26's
    ``vector.quantization.enabled: true/false`` is 2026.x's ``vector.quantization.type``
    other than / equal to ``"NONE"``.
    """
    blue, green = _quantization(blue, green), _quantization(green, blue)
    return [(key, blue[key], green[key]) for key in sorted(blue.keys() & green.keys())
            if blue[key] != green[key]]  # fmt: skip


def _quantization(mine: dict[str, str], other: dict[str, str]) -> dict[str, str]:
    if _QUANTIZATION_ENABLED in mine and _QUANTIZATION_TYPE in other:
        mine = dict(mine)
        enabled = mine.pop(_QUANTIZATION_ENABLED) == "true"
        kind = other[_QUANTIZATION_TYPE]
        # Enabled matches any quantization type but NONE: state it as the other's type.
        mine[_QUANTIZATION_TYPE] = kind if enabled == (kind != '"NONE"') else (
            '"NONE"' if not enabled else "enabled")
    return mine


def _names(
    area: str, blue: set[str] | frozenset[str], green: set[str] | frozenset[str]
) -> list[Difference]:
    return [Difference(area, n, "blue only") for n in sorted(blue - green)] + [
        Difference(area, n, "green only") for n in sorted(green - blue)
    ]


def _callables(area: str, blue: dict[str, str], green: dict[str, str]) -> list[Difference]:
    out = _names(area, set(blue), set(green))
    for name in sorted(blue.keys() & green.keys()):
        if blue[name] != green[name]:
            out.append(Difference(area, name, "differs", f"{blue[name]} vs {green[name]}"))
    return out


def diff_schema(blue: Schema, green: Schema) -> list[Difference]:
    return _definitions("constraint", blue.constraints, green.constraints) + _definitions(
        "index", blue.indexes, green.indexes
    )


def diff_catalogue(blue: Catalogue, green: Catalogue) -> list[Difference]:
    return (
        _names("label", blue.labels, green.labels)
        + _names("relationship type", blue.relationship_types, green.relationship_types)
        + _names("property key", blue.property_keys, green.property_keys)
        + _callables("procedure", blue.procedures, green.procedures)
        + _callables("function", blue.functions, green.functions)
    )
