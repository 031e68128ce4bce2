"""``boltproxy bench``: the same workload against both versions, side by side.

Shapes run one after the other, and for each shape the two servers take turns
(blue, green, blue, green): on a shared, noisy machine drift then hits both
sides alike, and the ratio is what the figures are for. One client at a time,
so a figure is the server's latency plus one driver's overhead, equal on both.
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import neo4j

from boltproxy.pipeline.connect import open_driver
from boltproxy.pipeline.model import Server
from boltproxy.pipeline.workload import Shape, Workload

ROUNDS = 2  # turns per server and shape
WARMUP_RUNS = 10  # per shape and server: plans compiled and caches warm before timing


@dataclass
class ShapeStats:
    name: str
    kind: str
    latencies: list[float] = field(default_factory=list)  # seconds
    elapsed: float = 0.0
    errors: int = 0
    last_error: str = ""

    def percentile(self, p: float) -> float | None:
        """Nearest-rank percentile in milliseconds."""
        if not self.latencies:
            return None
        ordered = sorted(self.latencies)
        rank = max(0, min(len(ordered) - 1, math.ceil(p / 100 * len(ordered)) - 1))
        return ordered[rank] * 1000

    @property
    def throughput(self) -> float:
        return len(self.latencies) / self.elapsed if self.elapsed else 0.0


@dataclass
class Side:
    server: Server
    shapes: dict[str, ShapeStats]
    memory: dict[str, str] = field(default_factory=dict)


@dataclass
class BenchResult:
    blue: Side
    green: Side
    duration: float
    seconds: float = 0.0


def _run_statements(driver: neo4j.Driver, statements: tuple[str, ...], *, strict: bool) -> None:
    for statement in statements:
        try:
            with driver.session() as session:
                session.run(statement).consume()
        except neo4j.exceptions.Neo4jError:
            if strict:
                raise


def _once(driver: neo4j.Driver, shape: Shape, params: dict[str, Any]) -> None:
    routing = neo4j.RoutingControl.WRITE if shape.kind == "write" else neo4j.RoutingControl.READ
    driver.execute_query(shape.cypher, params, routing_=routing)


def _measure(
    driver: neo4j.Driver, shape: Shape, stats: ShapeStats, seconds: float, rng: random.Random
) -> None:
    began = time.perf_counter()
    deadline = began + seconds
    while True:
        params = shape.draw(rng)
        start = time.perf_counter()
        try:
            _once(driver, shape, params)
        except neo4j.exceptions.Neo4jError as exc:
            stats.errors += 1
            stats.last_error = f"{exc.code}: {exc.message}"
        else:
            stats.latencies.append(time.perf_counter() - start)
        if start >= deadline:
            break
    stats.elapsed += time.perf_counter() - began


def memory(driver: neo4j.Driver) -> dict[str, str]:
    """The JVM's heap and non-heap use through JMX (Community has dbms.queryJmx), else n/a."""
    try:
        records, _, _ = driver.execute_query(
            "CALL dbms.queryJmx('java.lang:type=Memory') YIELD attributes RETURN attributes"
        )
        attributes = records[0]["attributes"]
        out = {}
        for key, label in (("HeapMemoryUsage", "heap"), ("NonHeapMemoryUsage", "non-heap")):
            usage = attributes[key]["value"]["properties"]
            out[f"{label} used"] = _mib(usage["used"])
            out[f"{label} committed"] = _mib(usage["committed"])
        return out
    except (neo4j.exceptions.Neo4jError, KeyError, IndexError, TypeError):
        return {"heap used": "n/a", "heap committed": "n/a"}


def _mib(value: Any) -> str:
    return f"{int(value) / 2**20:,.0f} MiB"


def run(
    blue: Server,
    green: Server,
    workload: Workload,
    duration: float,
    *,
    seed: int = 0,
    keep_data: bool = False,
    on_shape: Callable[[str], None] | None = None,
) -> BenchResult:
    """``duration`` seconds of measurement in all, shared out evenly over shapes and sides."""
    began = time.monotonic()
    sides = [
        Side(server, {s.name: ShapeStats(s.name, s.kind) for s in workload.shapes})
        for server in (blue, green)
    ]
    drivers = [open_driver(side.server, max_connection_pool_size=2) for side in sides]
    try:
        for driver in drivers:
            _run_statements(driver, workload.teardown, strict=False)  # leftovers of a past run
            _run_statements(driver, workload.setup, strict=True)
        turn = duration / (len(workload.shapes) * 2 * ROUNDS)
        for shape in workload.shapes:
            if on_shape is not None:
                on_shape(shape.name)
            rngs = [random.Random(seed), random.Random(seed)]  # the same parameters per side
            for driver, rng in zip(drivers, rngs, strict=True):
                for _ in range(WARMUP_RUNS):
                    _once(driver, shape, shape.draw(rng))
            for _ in range(ROUNDS):
                for side, driver, rng in zip(sides, drivers, rngs, strict=True):
                    _measure(driver, shape, side.shapes[shape.name], turn, rng)
        for side, driver in zip(sides, drivers, strict=True):
            side.memory = memory(driver)
    finally:
        for driver in drivers:
            if not keep_data:
                _run_statements(driver, workload.teardown, strict=False)
            driver.close()
    return BenchResult(sides[0], sides[1], duration, time.monotonic() - began)
