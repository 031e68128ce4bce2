"""The schema model the migrator moves and compares: indexes, constraints, catalogue.

Definitions are compared by what they do (kind, entity, labels or types,
properties, options), not by name: two servers may name the same index
differently, and a renamed index is not a migration failure.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any


def _frozen_options(options: Any) -> tuple[tuple[str, str], ...]:
    """Options as sorted (key, canonical JSON) pairs: hashable and order-free."""
    if not isinstance(options, dict):
        return ()
    return tuple(
        sorted((str(k), json.dumps(v, sort_keys=True, default=str)) for k, v in options.items())
    )


@dataclass(frozen=True)
class IndexDef:
    name: str
    kind: str  # RANGE, TEXT, POINT, FULLTEXT, VECTOR, LOOKUP
    entity: str  # NODE or RELATIONSHIP
    labels_or_types: tuple[str, ...]
    properties: tuple[str, ...]
    options: tuple[tuple[str, str], ...] = ()

    @property
    def identity(self) -> tuple[str, str, tuple[str, ...], tuple[str, ...]]:
        return (self.kind, self.entity, self.labels_or_types, self.properties)

    def describe(self) -> str:
        target = "|".join(self.labels_or_types) or "*"
        return f"{self.kind} index on {self.entity.lower()} {target}({', '.join(self.properties)})"

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "kind": self.kind,
            "entity": self.entity,
            "labels_or_types": list(self.labels_or_types),
            "properties": list(self.properties),
            "options": {key: json.loads(value) for key, value in self.options},
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> IndexDef:
        return cls(
            name=str(data["name"]),
            kind=str(data["kind"]),
            entity=str(data["entity"]),
            labels_or_types=tuple(data.get("labels_or_types") or ()),
            properties=tuple(data.get("properties") or ()),
            options=_frozen_options(data.get("options") or {}),
        )


@dataclass(frozen=True)
class ConstraintDef:
    name: str
    kind: str  # UNIQUENESS, NODE_KEY, RELATIONSHIP_KEY, NOT_NULL, PROPERTY_TYPE, ...
    entity: str
    labels_or_types: tuple[str, ...]
    properties: tuple[str, ...]
    property_type: str | None = None

    @property
    def identity(self) -> tuple[str, str, tuple[str, ...], tuple[str, ...], str | None]:
        return (self.kind, self.entity, self.labels_or_types, self.properties, self.property_type)

    def describe(self) -> str:
        target = "|".join(self.labels_or_types)
        typed = f" :: {self.property_type}" if self.property_type else ""
        props = ", ".join(self.properties)
        return f"{self.kind} constraint on {self.entity.lower()} {target}({props}){typed}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "kind": self.kind,
            "entity": self.entity,
            "labels_or_types": list(self.labels_or_types),
            "properties": list(self.properties),
            "property_type": self.property_type,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ConstraintDef:
        return cls(
            name=str(data["name"]),
            kind=str(data["kind"]),
            entity=str(data["entity"]),
            labels_or_types=tuple(data.get("labels_or_types") or ()),
            properties=tuple(data.get("properties") or ()),
            property_type=data.get("property_type"),
        )


@dataclass(frozen=True)
class Schema:
    constraints: tuple[ConstraintDef, ...] = ()
    indexes: tuple[IndexDef, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "constraints": [c.to_dict() for c in self.constraints],
            "indexes": [i.to_dict() for i in self.indexes],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Schema:
        return cls(
            tuple(ConstraintDef.from_dict(c) for c in data.get("constraints", [])),
            tuple(IndexDef.from_dict(i) for i in data.get("indexes", [])),
        )

    def unique_keys(self) -> dict[str, tuple[str, ...]]:
        """Label → properties of a node uniqueness or key constraint (one per label)."""
        keys: dict[str, tuple[str, ...]] = {}
        for constraint in self.constraints:
            if constraint.entity == "NODE" and constraint.kind in ("UNIQUENESS", "NODE_KEY"):
                for label in constraint.labels_or_types:
                    keys.setdefault(label, constraint.properties)
        return keys


@dataclass(frozen=True)
class Catalogue:
    """Names a server knows, and what it offers to call."""

    labels: frozenset[str] = frozenset()
    relationship_types: frozenset[str] = frozenset()
    property_keys: frozenset[str] = frozenset()
    procedures: dict[str, str] = field(default_factory=dict)  # name → signature
    functions: dict[str, str] = field(default_factory=dict)
