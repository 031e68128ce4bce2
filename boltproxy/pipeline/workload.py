"""Benchmark workloads: query shapes with parameter generators, from TOML or the default.

A workload file::

    setup = ["CREATE INDEX …", "UNWIND range(0, 999) AS i CREATE (:Item {id: i})"]
    teardown = ["MATCH (n:Item) DETACH DELETE n"]

    [[query]]
    name = "lookup"
    kind = "read"                      # or "write"
    cypher = "MATCH (i:Item {id: $id}) RETURN i"
    params = { id = "int:0:999" }      # int:LO:HI, float:LO:HI, choice:a|b|c, or a literal
"""

from __future__ import annotations

import random
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


class WorkloadError(ValueError):
    """The workload file is unusable; the message names the entry."""


@dataclass(frozen=True)
class Shape:
    name: str
    kind: str  # read or write
    cypher: str
    params: dict[str, Any] = field(default_factory=dict)

    def draw(self, rng: random.Random) -> dict[str, Any]:
        return {key: _draw(spec, rng) for key, spec in self.params.items()}


@dataclass(frozen=True)
class Workload:
    shapes: tuple[Shape, ...]
    setup: tuple[str, ...] = ()
    teardown: tuple[str, ...] = ()


def _draw(spec: Any, rng: random.Random) -> Any:
    if not isinstance(spec, str) or ":" not in spec:
        return spec
    kind, _, rest = spec.partition(":")
    if kind == "int":
        low, high = rest.split(":")
        return rng.randint(int(low), int(high))
    if kind == "float":
        low, high = rest.split(":")
        return rng.uniform(float(low), float(high))
    if kind == "choice":
        return rng.choice(rest.split("|"))
    return spec


def _check_spec(name: str, key: str, spec: Any) -> None:
    if not isinstance(spec, str) or ":" not in spec:
        return
    kind, _, rest = spec.partition(":")
    try:
        if kind in ("int", "float"):
            low, high = rest.split(":")
            (int if kind == "int" else float)(low), (int if kind == "int" else float)(high)
    except ValueError:
        raise WorkloadError(
            f"query {name!r}: parameter {key} = {spec!r} is not {kind}:LO:HI"
        ) from None


def load(path: Path) -> Workload:
    try:
        raw = tomllib.loads(path.read_text())
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise WorkloadError(f"{path}: {exc}") from None
    shapes = []
    for index, entry in enumerate(raw.get("query", [])):
        name = str(entry.get("name") or f"query {index + 1}")
        if not isinstance(entry.get("cypher"), str):
            raise WorkloadError(f"{path}: query {name!r} has no cypher text")
        kind = str(entry.get("kind", "read"))
        if kind not in ("read", "write"):
            raise WorkloadError(f"{path}: query {name!r}: kind must be read or write")
        params = dict(entry.get("params", {}))
        for key, spec in params.items():
            _check_spec(name, key, spec)
        shapes.append(Shape(name, kind, entry["cypher"], params))
    if not shapes:
        raise WorkloadError(f"{path}: no [[query]] entries")
    return Workload(tuple(shapes), tuple(raw.get("setup", ())), tuple(raw.get("teardown", ())))


# The default workload brings its own data under labels no application uses, and
# removes it afterwards; sizes keep the setup to a few seconds on either version.
PEOPLE = 5000
COMPANIES = 100
DEFAULT = Workload(
    shapes=(
        Shape("point lookup", "read",
              "MATCH (p:BpBenchPerson {uid: $uid}) RETURN p.name AS name, p.age AS age",
              {"uid": f"int:0:{PEOPLE - 1}"}),
        Shape("index range scan", "read",
              "MATCH (p:BpBenchPerson) WHERE p.age >= $age AND p.age < $age + 2 "
              "RETURN count(p) AS c", {"age": "int:18:78"}),
        Shape("traversal 2 hops", "read",
              "MATCH (p:BpBenchPerson {uid: $uid})-[:BP_KNOWS*1..2]->(f) "
              "RETURN count(DISTINCT f) AS friends", {"uid": f"int:0:{PEOPLE - 1}"}),
        Shape("aggregation", "read",
              "MATCH (p:BpBenchPerson)-[:BP_WORKS_AT]->(c:BpBenchCompany {sector: $sector}) "
              "RETURN c.name AS company, count(p) AS staff, avg(p.age) AS age "
              "ORDER BY staff DESC LIMIT 5",
              {"sector": "choice:software|energy|retail|finance|health"}),
        Shape("write", "write",
              "MATCH (p:BpBenchPerson {uid: $uid}) "
              "CREATE (p)-[:BP_DID]->(:BpBenchEvent {at: $at, score: $score})",
              {"uid": f"int:0:{PEOPLE - 1}", "at": "int:0:1000000", "score": "float:0:1"}),
    ),
    setup=(
        "CREATE INDEX bp_bench_uid IF NOT EXISTS FOR (p:BpBenchPerson) ON (p.uid)",
        "CREATE INDEX bp_bench_age IF NOT EXISTS FOR (p:BpBenchPerson) ON (p.age)",
        "CREATE INDEX bp_bench_sector IF NOT EXISTS FOR (c:BpBenchCompany) ON (c.sector)",
        f"UNWIND range(0, {COMPANIES - 1}) AS i CREATE (:BpBenchCompany {{cid: i, "
        "name: 'Company ' + i, sector: ['software', 'energy', 'retail', 'finance', "
        "'health'][i % 5]})",
        f"UNWIND range(0, {PEOPLE - 1}) AS i CREATE (:BpBenchPerson {{uid: i, "
        "name: 'Person ' + i, age: 18 + (i * 7919) % 62})",
        f"MATCH (p:BpBenchPerson) MATCH (c:BpBenchCompany {{cid: p.uid % {COMPANIES}}}) "
        "CREATE (p)-[:BP_WORKS_AT]->(c)",
        f"MATCH (p:BpBenchPerson) UNWIND [1, 7, 31] AS step "
        f"MATCH (q:BpBenchPerson {{uid: (p.uid + step) % {PEOPLE}}}) CREATE (p)-[:BP_KNOWS]->(q)",
    ),
    teardown=(
        "MATCH (n:BpBenchEvent) DETACH DELETE n",
        "MATCH (n:BpBenchPerson) DETACH DELETE n",
        "MATCH (n:BpBenchCompany) DETACH DELETE n",
        "DROP INDEX bp_bench_uid IF EXISTS",
        "DROP INDEX bp_bench_age IF EXISTS",
        "DROP INDEX bp_bench_sector IF EXISTS",
    ),
)
