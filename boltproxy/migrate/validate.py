"""Prove that two servers hold the same graph, and say what is not proven.

Checks (each compares aggregates that depend neither on read order nor on ids):

- node counts per label combination, relationship counts per type;
- a property checksum per label combination and per relationship type: the sum
  (mod 2**128) of a 128-bit hash of each entity's canonical, type-tagged
  properties, so one changed value, type or key changes it;
- structure: every node's and relationship's colour after neighbourhood
  refinement (``identity``), compared as exact multisets, so a relationship
  rewired between content-identical nodes is found (within the bound stated
  in ``identity``);
- a seeded sample of nodes re-read as text printed by the servers (``rendered``),
  independent of the Python driver's decoding of values;
- the schema diff, and the labels, types and property keys in use.

Both servers are read concurrently, page by page. Per-entity data goes to a
temporary SQLite file per side, never into Python objects: memory does not
grow with the graph.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

import neo4j
from neo4j.exceptions import DriverError, Neo4jError

from boltproxy.migrate import scanproc
from boltproxy.migrate.connect import Endpoint, Flavor, OnSide, open_driver, server_info
from boltproxy.migrate.contenthash import digest, digest_plain
from boltproxy.migrate.dialect import detect_dialect
from boltproxy.migrate.format import Kind
from boltproxy.migrate.identity import (
    GraphFingerprint,
    colour_surplus,
    h64,
    refine_store,
    signed,
)
from boltproxy.migrate.ranges import IdRange, RangeCursor, scan_ranges
from boltproxy.migrate.reader import DEFAULT_READ_TIMEOUT, GraphReader
from boltproxy.migrate.rendered import render_nodes
from boltproxy.migrate.scanproc import ScanJob
from boltproxy.migrate.schemadiff import Difference, diff_schema

T = TypeVar("T")

MOD = 1 << 128
MAX_EXAMPLES = 5
DEFAULT_ROUNDS = 8


async def on_side(side: str, work: Awaitable[T]) -> T:
    """``work``'s result; a server's failure is marked with the side that failed."""
    try:
        return await work
    except (Neo4jError, DriverError, ConnectionError) as exc:
        raise OnSide(side, exc) from exc


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
    """Aggregates of one server's graph; per-entity data lives in ``fingerprint`` (on disk)."""

    fingerprint: GraphFingerprint
    node_counts: Counter[tuple[str, ...]] = field(default_factory=Counter)
    node_sums: Counter[tuple[str, ...]] = field(default_factory=Counter)
    rel_counts: Counter[str] = field(default_factory=Counter)
    rel_sums: Counter[str] = field(default_factory=Counter)
    groups: dict[int, str] = field(default_factory=dict)  # group hash → name (per label set)
    group_keys: dict[str, int] = field(default_factory=dict)  # and back
    labels: set[str] = field(default_factory=set)  # names in use, not merely known
    types: set[str] = field(default_factory=set)
    keys: set[str] = field(default_factory=set)
    entities: int = 0
    colours: int = 0  # distinct node colours once sealed


def _group(side: SideScan, name: str) -> int:
    key = side.group_keys.get(name)
    if key is None:  # once per label set or type, not per entity
        key = side.group_keys[name] = h64(name.encode("utf-8"))
        side.groups[key] = name
    return key


class _PageTally:
    """One page's counts and checksum sums per group, folded into the side's once per page
    (fewer dictionary updates and no modulo per entity)."""

    def __init__(self) -> None:
        self.counts: dict[Any, int] = {}
        self.sums: dict[Any, int] = {}

    def fold_into(self, counts: Counter[Any], sums: Counter[Any]) -> None:
        counts.update(self.counts)
        for group, total in self.sums.items():
            sums[group] = (sums[group] + total) % MOD


async def scan(
    reader: GraphReader, page: int, fingerprint: GraphFingerprint, workers: int = 2
) -> SideScan:
    """Read every node and relationship once, by id ranges, into aggregates and the store."""
    side = SideScan(fingerprint)
    keys = side.keys

    async def nodes(span: IdRange) -> int:
        rows = await reader.content_range("nodes", span)
        tally = _PageTally()
        counts, sums = tally.counts, tally.sums  # local names: the loop runs per entity
        batch = []
        for node_id, labels, props, plain in rows:
            content = digest_plain(labels, props) if plain else digest(labels, props)
            counts[labels] = counts.get(labels, 0) + 1
            sums[labels] = sums.get(labels, 0) + content
            keys.update(props)
            batch.append((node_id, labels, signed(content)))
        group = {labels: _group(side, _label_name(labels)) for labels in tally.counts}
        fingerprint.add_nodes([(i, group[labels], c) for i, labels, c in batch])
        tally.fold_into(side.node_counts, side.node_sums)
        for labels in tally.counts:
            side.labels.update(labels)
        side.entities += len(rows)
        return len(rows)

    async def relationships(span: IdRange) -> int:
        rows = await reader.content_range("relationships", span)
        tally = _PageTally()
        counts, sums = tally.counts, tally.sums  # local names: the loop runs per entity
        batch = []
        for rel_id, (rel_type, start, end), props, plain in rows:
            content = digest_plain(rel_type, props) if plain else digest(rel_type, props)
            counts[rel_type] = counts.get(rel_type, 0) + 1
            sums[rel_type] = sums.get(rel_type, 0) + content
            keys.update(props)
            batch.append((rel_id, rel_type, signed(content), start, end))
        group = {rel_type: _group(side, f":{rel_type}") for rel_type in tally.counts}
        fingerprint.add_relationships([(i, group[t], c, a, b) for i, t, c, a, b in batch])
        tally.fold_into(side.rel_counts, side.rel_sums)
        side.types.update(tally.counts)
        side.entities += len(rows)
        return len(rows)

    await _scan_kind(reader, "nodes", nodes, page, workers)
    await _scan_kind(reader, "relationships", relationships, page, workers)
    fingerprint.seal()
    side.colours = fingerprint.distinct
    return side


async def _scan_kind(
    reader: GraphReader,
    kind: Kind,
    read: Callable[[IdRange], Awaitable[int]],
    page: int,
    workers: int,
) -> None:
    bounds = await reader.bounds(kind)
    cursor = RangeCursor(bounds, reader.range_width(kind, bounds, page))
    await scan_ranges(cursor, read, partial(reader.next_id, kind), workers)


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


def structure_check(
    name: str, surplus: list[tuple[int, int, int]], groups: dict[int, str], what: str
) -> Check:
    """Two multisets of final colours compared (``colour_surplus``): per group, how many
    have no twin."""
    per_group: Counter[int] = Counter()
    missing_blue = missing_green = 0
    for group, blue_extra, green_extra in surplus:
        per_group[group] += blue_extra + green_extra
        missing_green += blue_extra
        missing_blue += green_extra
    examples = [
        f"{groups.get(group, '?')}: {count} {what} without an identical counterpart"
        for group, count in per_group.most_common(MAX_EXAMPLES)
    ]
    detail = (
        f"{missing_green} {what} of blue and {missing_blue} of green have no counterpart"
        if per_group
        else f"every {what[:-1] if what.endswith('s') else what} has an identical counterpart"
    )
    return Check(name, not per_group, None, None, detail, examples)


async def rendered_check(blue: SideRead, green: SideRead, size: int, seed: int) -> Check:
    """Sampled nodes re-read as server-printed text on both sides and compared.

    Independent of the driver's value decoding: a value the driver changes the
    same way on both sides (an offset rounded to minutes) differs here.
    """
    name = "sampled values as the servers print them"
    if blue.flavor != green.flavor:
        return Check(name, True, 0, 0, "skipped: servers of different kinds print differently")
    sample = blue.scan.fingerprint.sample_nodes(size, seed)
    twins_by_colour = green.scan.fingerprint.nodes_with_colours([c for _, c in sample], 5)
    candidates = {node_id: twins_by_colour[colour] for node_id, colour in sample}
    twins = sorted({i for ids in candidates.values() for i in ids})
    blue_text = await on_side(
        "blue",
        render_nodes(blue.driver, blue.database, blue.flavor, [node_id for node_id, _ in sample]),
    )
    green_text = await on_side("green", render_nodes(green.driver, green.database, green.flavor,
                                                     twins))  # fmt: skip
    differing = []
    compared = 0
    for node_id, twins in candidates.items():
        if not twins:
            continue  # already counted by the structural checks
        compared += 1
        mine = blue_text.get(node_id)
        if not any(green_text.get(twin) == mine for twin in twins):
            keys = sorted({k for k, *_ in mine or ()})
            differing.append(f"a node with keys {keys} prints differently on green")
    detail = f"{len(differing)} of {compared} sampled nodes differ in printed form (seed {seed})"
    return Check(name, not differing, compared, compared - len(differing), detail,
                 differing[:MAX_EXAMPLES])  # fmt: skip


def token_check(blue: SideScan, green: SideScan) -> Check:
    """Labels, types and keys in use on each side (not every name a server remembers)."""
    differences = [
        Difference(area, item, where)
        for area, b, g in (("label", blue.labels, green.labels),
                           ("relationship type", blue.types, green.types),
                           ("property key", blue.keys, green.keys))
        for item, where in [*((i, "blue only") for i in sorted(b - g)),
                            *((i, "green only") for i in sorted(g - b))]
    ]  # fmt: skip
    return schema_check(differences, "labels, types and property keys in use")


def schema_check(differences: list[Difference], name: str = "schema") -> Check:
    examples = [f"{d.area} {d.item}: {d.where}" + (f" ({d.detail})" if d.detail else "")
                for d in differences[:MAX_EXAMPLES]]  # fmt: skip
    detail = f"{len(differences)} difference(s)" if differences else "identical"
    return Check(name, not differences, None, None, detail, examples)


@dataclass
class SideRead:
    driver: neo4j.AsyncDriver
    database: str | None
    flavor: Flavor
    scan: SideScan


# Runs a blocking function of plain, picklable arguments in a process of the scanning pool:
# the two sides' work then uses both cores (SQLite calls back into Python per row).
Offload = Callable[..., Awaitable[Any]]


async def refine_together(
    blue: GraphFingerprint, green: GraphFingerprint, cap: int, offload: Offload
) -> Check:
    """Colour refinement on both sides in lockstep until neither partition gets finer.

    Each round runs on both sides at once, each on its own connection to its store.
    """
    stable = False
    for _ in range(cap):
        counts = await asyncio.gather(*(offload(refine_store, side.path) for side in (blue, green)))
        finer = [
            side.record_round(count) for side, count in zip((blue, green), counts, strict=True)
        ]
        if not any(finer):
            stable = True
            break
    state = "partition stable" if stable else f"not stable after the cap of {cap} rounds"
    detail = f"{blue.rounds} round(s); {blue.distinct} and {green.distinct} colours; {state}"
    return Check("neighbourhood refinement", True, blue.distinct, green.distinct, detail)


async def structure_checks(
    blue: GraphFingerprint, green: GraphFingerprint, groups: dict[int, str], offload: Offload
) -> list[Check]:
    """Final node colours, and relationships with their endpoints' colours, compared.

    Relationships, usually the most, are compared in two halves: with the nodes, three
    sorts of about equal size for the pool's two processes.
    """
    nodes, *halves = await asyncio.gather(
        offload(colour_surplus, blue.path, green.path, "nodes"),
        *(offload(colour_surplus, blue.path, green.path, "relationships", part, 2)
          for part in range(2)),
    )  # fmt: skip
    return [
        structure_check("nodes with their neighbourhoods", nodes, groups, "nodes"),
        structure_check("relationship endpoints", [row for half in halves for row in half],
                        groups, "relationships"),
    ]  # fmt: skip


async def validate_graphs(
    blue: neo4j.AsyncDriver,
    green: neo4j.AsyncDriver,
    *,
    blue_database: str | None = None,
    green_database: str | None = None,
    sample: int = 100,
    seed: int = 0,
    page: int = 10_000,
    rounds: int = DEFAULT_ROUNDS,
    temp_dir: Path | None = None,
    read_timeout: float = DEFAULT_READ_TIMEOUT,
    workers: int = 2,
    blue_endpoint: Endpoint | None = None,
    green_endpoint: Endpoint | None = None,
) -> Report:
    """Compare blue with green. With both endpoints, each side is scanned by a process of
    its own, connected anew (``workers`` concurrent ranges each)."""
    started = time.perf_counter()
    blue_info, green_info = await asyncio.gather(
        on_side("blue", server_info(blue, blue_database)),
        on_side("green", server_info(green, green_database)),
    )
    blue_dialect, green_dialect = await asyncio.gather(
        on_side("blue", detect_dialect(blue, blue_database)),
        on_side("green", detect_dialect(green, green_database)),
    )
    blue_schema, green_schema = await asyncio.gather(
        on_side("blue", blue_dialect.fetch_schema(blue, blue_database)),
        on_side("green", green_dialect.fetch_schema(green, green_database)),
    )
    with (
        GraphFingerprint(temp_dir) as blue_print,
        GraphFingerprint(temp_dir) as green_print,
        scanproc.executor() as pool,
    ):
        if blue_endpoint is not None and green_endpoint is not None:
            # One process per side: the scans are CPU-bound in Python (see ``scanproc``).
            jobs = [ScanJob(replace(endpoint, side=name), info.flavor, page, workers,
                            read_timeout, fingerprint.path)
                    for endpoint, name, info, fingerprint in (
                        (blue_endpoint, "blue", blue_info, blue_print),
                        (green_endpoint, "green", green_info, green_print))]  # fmt: skip
            blue_scan, green_scan = await asyncio.gather(
                scanproc.scan_in(pool, jobs[0], blue_print),
                scanproc.scan_in(pool, jobs[1], green_print),
            )
        else:
            blue_scan, green_scan = await asyncio.gather(
                scan(GraphReader(blue, blue_database, blue_info.flavor, side="blue",
                                 timeout=read_timeout), page, blue_print, workers),
                scan(GraphReader(green, green_database, green_info.flavor, side="green",
                                 timeout=read_timeout), page, green_print, workers),
            )  # fmt: skip
        offload = partial(scanproc.call_in, pool)
        refinement = await refine_together(blue_print, green_print, rounds, offload)
        groups = {**blue_scan.groups, **green_scan.groups}
        # The servers print the sample while the pool compares the colours.
        structure, rendered = await asyncio.gather(
            structure_checks(blue_print, green_print, groups, offload),
            rendered_check(SideRead(blue, blue_database, blue_info.flavor, blue_scan),
                           SideRead(green, green_database, green_info.flavor, green_scan),
                           sample, seed),
        )  # fmt: skip
        checks = [
            compare_groups("nodes per label combination", blue_scan.node_counts,
                           green_scan.node_counts, _label_name),
            compare_groups("relationships per type", blue_scan.rel_counts, green_scan.rel_counts,
                           lambda t: f":{t}"),
            compare_groups("node property checksums", blue_scan.node_sums, green_scan.node_sums,
                           _label_name, sums=True),
            compare_groups("relationship property checksums", blue_scan.rel_sums,
                           green_scan.rel_sums, lambda t: f":{t}", sums=True),
            refinement,
            *structure,
            rendered,
            schema_check(diff_schema(blue_schema, green_schema), "indexes and constraints"),
            token_check(blue_scan, green_scan),
        ]  # fmt: skip
    return Report(checks, blue_scan.entities + green_scan.entities, time.perf_counter() - started)


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
                blue_endpoint=blue, green_endpoint=green,
            )  # fmt: skip
        finally:
            await green_driver.close()
    finally:
        await blue_driver.close()
