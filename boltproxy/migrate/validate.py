"""Prove that two servers hold the same graph.

Every check compares aggregates that depend neither on the order entities are
read in nor on internal ids:

- node counts per label combination, relationship counts per type;
- a property checksum per label combination and per relationship type: the sum
  (mod 2**128) of a 128-bit hash of each entity's canonical, type-tagged
  properties, so one changed value, type or key changes it;
- relationship endpoints through a key: each relationship is hashed with its
  endpoints' keys (a uniquely constrained property where the schema has one,
  else the endpoint node's own content hash);
- a seeded random sample of nodes and relationships looked up one by one;
- the schema diff.

Both servers are read concurrently, page by page. What is kept per entity is an
8-byte digest (for endpoint keys and the sample), never the properties.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import random
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import neo4j

from boltproxy.migrate.connect import Endpoint, open_driver, server_info
from boltproxy.migrate.dialect import detect_dialect
from boltproxy.migrate.reader import GraphReader
from boltproxy.migrate.schema import Schema
from boltproxy.migrate.schemadiff import Difference, diff_catalogue, diff_schema
from boltproxy.migrate.writer import IMPORT_KEY, IMPORT_LABEL

MOD = 1 << 128
MAX_EXAMPLES = 5


def digest(value: Any) -> int:
    """A 128-bit hash of a JSON-able value in canonical form."""
    encoded = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return int.from_bytes(hashlib.blake2b(encoded.encode(), digest_size=16).digest(), "big")


@dataclass
class Check:
    name: str
    passed: bool
    blue: Any = None
    green: Any = None
    detail: str = ""
    examples: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "check": self.name,
            "passed": self.passed,
            "blue": self.blue,
            "green": self.green,
            "detail": self.detail,
            "examples": self.examples,
        }


@dataclass
class Report:
    checks: list[Check]
    entities: int
    seconds: float

    @property
    def passed(self) -> bool:
        return all(check.passed for check in self.checks)

    @property
    def rate(self) -> float:
        return self.entities / self.seconds if self.seconds else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "passed": self.passed,
            "entities_read": self.entities,
            "seconds": round(self.seconds, 3),
            "entities_per_second": round(self.rate),
            "checks": [check.to_dict() for check in self.checks],
        }

    def to_markdown(self) -> str:
        lines = [
            f"# Validation: {'PASS' if self.passed else 'FAIL'}",
            "",
            f"{self.entities} entities read in {self.seconds:.1f} s.",
            "",
            "| check | result | blue | green | detail |",
            "|---|---|---|---|---|",
        ]
        for check in self.checks:
            result = "pass" if check.passed else "**FAIL**"
            detail = check.detail.replace("|", "\\|")
            lines.append(f"| {check.name} | {result} | {check.blue} | {check.green} | {detail} |")
            lines += [f"|  |  |  |  | {example} |" for example in check.examples]
        return "\n".join(lines) + "\n"


@dataclass
class SideScan:
    """Aggregates of one server's graph."""

    node_counts: Counter[tuple[str, ...]] = field(default_factory=Counter)
    node_sums: Counter[tuple[str, ...]] = field(default_factory=Counter)
    rel_counts: Counter[str] = field(default_factory=Counter)
    rel_sums: Counter[str] = field(default_factory=Counter)
    endpoint_sums: Counter[str] = field(default_factory=Counter)
    node_keys: dict[int, int] = field(default_factory=dict)  # id → 64-bit endpoint key
    node_digests: dict[int, int] = field(default_factory=dict)  # id → 64-bit content digest
    node_shape: dict[int, tuple[tuple[str, ...], tuple[str, ...]]] = field(default_factory=dict)
    rel_digests: dict[int, int] = field(default_factory=dict)  # id → 64-bit digest with endpoints
    rel_shape: dict[int, tuple[str, tuple[str, ...]]] = field(default_factory=dict)
    entities: int = 0


def _node_key(labels: tuple[str, ...], props: dict[str, Any], keys: dict[str, tuple[str, ...]],
              content: int) -> int:  # fmt: skip
    for label in labels:
        key = keys.get(label)
        if key and all(p in props for p in key):
            return digest(["key", label, [props[p] for p in key]])
    return content


async def scan(reader: GraphReader, unique_keys: dict[str, tuple[str, ...]], page: int) -> SideScan:
    side = SideScan()
    after = -1
    while True:
        rows = await reader.page("nodes", after, page)
        if not rows:
            break
        for row in rows:
            labels = tuple(sorted(row["labels"]))  # type: ignore[typeddict-item]
            props = row["props"]
            content = digest([list(labels), props])
            side.node_counts[labels] += 1
            side.node_sums[labels] = (side.node_sums[labels] + content) % MOD
            side.node_keys[row["id"]] = _node_key(labels, props, unique_keys, content) >> 64
            side.node_digests[row["id"]] = content >> 64
            side.node_shape[row["id"]] = (labels, tuple(sorted(props)))
        side.entities += len(rows)
        after = rows[-1]["id"]
    after = -1
    while True:
        rows = await reader.page("relationships", after, page)
        if not rows:
            break
        for row in rows:
            rel_type = row["type"]  # type: ignore[typeddict-item]
            props = row["props"]
            content = digest([rel_type, props])
            start = side.node_keys.get(row["start"])  # type: ignore[typeddict-item]
            end = side.node_keys.get(row["end"])  # type: ignore[typeddict-item]
            with_ends = digest([rel_type, props, start, end])
            side.rel_counts[rel_type] += 1
            side.rel_sums[rel_type] = (side.rel_sums[rel_type] + content) % MOD
            side.endpoint_sums[rel_type] = (side.endpoint_sums[rel_type] + with_ends) % MOD
            side.rel_digests[row["id"]] = with_ends >> 64
            side.rel_shape[row["id"]] = (rel_type, tuple(sorted(props)))
        side.entities += len(rows)
        after = rows[-1]["id"]
    return side


def _label_name(labels: tuple[str, ...]) -> str:
    return ":" + ":".join(labels) if labels else "(no label)"


def compare_groups(
    name: str, blue: Counter[Any], green: Counter[Any], show: Any, *, sums: bool = False
) -> Check:
    """One check over per-group counts or checksums."""
    keys = sorted(blue.keys() | green.keys(), key=repr)
    wrong = [k for k in keys if blue.get(k, 0) != green.get(k, 0)]
    examples = []
    for key in wrong[:MAX_EXAMPLES]:
        if sums:
            examples.append(f"{show(key)}: checksums differ")
        else:
            examples.append(
                f"{show(key)}: {blue.get(key, 0)} on blue, {green.get(key, 0)} on green"
            )
    groups = f"{len(keys)} group{'s' if len(keys) != 1 else ''}"
    detail = f"{len(wrong)} of {groups} differ" if wrong else f"{groups} match"
    blue_total = sum(blue.values()) if not sums else len(blue)
    green_total = sum(green.values()) if not sums else len(green)
    return Check(name, not wrong, blue_total, green_total, detail, examples)


def sample_check(blue: SideScan, green: SideScan, size: int, seed: int) -> Check:
    """Seeded random entities of blue, each looked up on green by its content."""
    rng = random.Random(seed)
    node_ids = sorted(blue.node_digests)
    rel_ids = sorted(blue.rel_digests)
    nodes = rng.sample(node_ids, min(size, len(node_ids)))
    rels = rng.sample(rel_ids, min(size, len(rel_ids)))
    green_nodes = Counter(green.node_digests.values())
    green_rels = Counter(green.rel_digests.values())
    missing: list[str] = []
    for node_id in nodes:
        if green_nodes[blue.node_digests[node_id]] == 0:
            labels, keys = blue.node_shape[node_id]
            missing.append(f"node {_label_name(labels)} with keys {list(keys)} has no match")
    for rel_id in rels:
        if green_rels[blue.rel_digests[rel_id]] == 0:
            rel_type, keys = blue.rel_shape[rel_id]
            missing.append(f"relationship :{rel_type} with keys {list(keys)} has no match")
    checked = len(nodes) + len(rels)
    detail = f"{len(missing)} of {checked} sampled entities missing on green (seed {seed})"
    return Check("random sample", not missing, checked, checked - len(missing), detail,
                 missing[:MAX_EXAMPLES])  # fmt: skip


def schema_check(differences: list[Difference], name: str = "schema") -> Check:
    examples = [f"{d.area} {d.item}: {d.where}" + (f" ({d.detail})" if d.detail else "")
                for d in differences[:MAX_EXAMPLES]]  # fmt: skip
    detail = f"{len(differences)} difference(s)" if differences else "identical"
    return Check(name, not differences, None, None, detail, examples)


async def validate_graphs(
    blue: neo4j.AsyncDriver,
    green: neo4j.AsyncDriver,
    *,
    blue_database: str | None = None,
    green_database: str | None = None,
    sample: int = 100,
    seed: int = 0,
    page: int = 10_000,
) -> Report:
    started = time.perf_counter()
    blue_info, green_info = await asyncio.gather(
        server_info(blue, blue_database), server_info(green, green_database)
    )
    blue_dialect, green_dialect = await asyncio.gather(
        detect_dialect(blue, blue_database), detect_dialect(green, green_database)
    )
    blue_schema, green_schema = await asyncio.gather(
        blue_dialect.fetch_schema(blue, blue_database),
        green_dialect.fetch_schema(green, green_database),
    )
    keys = _shared_keys(blue_schema, green_schema)
    blue_scan, green_scan = await asyncio.gather(
        scan(GraphReader(blue, blue_database, blue_info.flavor), keys, page),
        scan(GraphReader(green, green_database, green_info.flavor), keys, page),
    )
    blue_catalogue, green_catalogue = await asyncio.gather(
        blue_dialect.fetch_catalogue(blue, blue_database),
        green_dialect.fetch_catalogue(green, green_database),
    )
    # Token names are compared, except the importer's own temporary ones: some
    # engines (FalkorDB) keep a label or key name after its last use is removed.
    names = [d for d in diff_catalogue(blue_catalogue, green_catalogue)
             if d.area in ("label", "relationship type", "property key")
             and d.item not in (IMPORT_LABEL, IMPORT_KEY)]  # fmt: skip
    checks = [
        compare_groups("nodes per label combination", blue_scan.node_counts,
                       green_scan.node_counts, _label_name),
        compare_groups("relationships per type", blue_scan.rel_counts, green_scan.rel_counts,
                       lambda t: f":{t}"),
        compare_groups("node property checksums", blue_scan.node_sums, green_scan.node_sums,
                       _label_name, sums=True),
        compare_groups("relationship property checksums", blue_scan.rel_sums,
                       green_scan.rel_sums, lambda t: f":{t}", sums=True),
        compare_groups("relationship endpoints", blue_scan.endpoint_sums,
                       green_scan.endpoint_sums, lambda t: f":{t}", sums=True),
        sample_check(blue_scan, green_scan, sample, seed),
        schema_check(diff_schema(blue_schema, green_schema), "indexes and constraints"),
        schema_check(names, "labels, types and property keys"),
    ]  # fmt: skip
    return Report(checks, blue_scan.entities + green_scan.entities, time.perf_counter() - started)


def _shared_keys(blue: Schema, green: Schema) -> dict[str, tuple[str, ...]]:
    """Endpoint keys both sides can use: a unique key only where both have it."""
    green_keys = green.unique_keys()
    return {
        label: props
        for label, props in blue.unique_keys().items()
        if green_keys.get(label) == props
    }


async def run_validation(
    blue_uri: str | Endpoint, green_uri: str | Endpoint, *, sample: int = 100, seed: int = 0
) -> Report:
    """Open both servers, validate, close them (the benchmark's entry point)."""
    blue = blue_uri if isinstance(blue_uri, Endpoint) else Endpoint(blue_uri)
    green = green_uri if isinstance(green_uri, Endpoint) else Endpoint(green_uri)
    blue_driver = await open_driver(blue)
    try:
        green_driver = await open_driver(green)
        try:
            return await validate_graphs(
                blue_driver, green_driver, blue_database=blue.database,
                green_database=green.database, sample=sample, seed=seed,
            )  # fmt: skip
        finally:
            await green_driver.close()
    finally:
        await blue_driver.close()
