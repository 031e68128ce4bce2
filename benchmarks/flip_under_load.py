"""A flip under load against real Neo4j: what clients feel, and how fast traffic follows.

Starts Neo4j 5.26 (blue) and 2026.x (green) from the sandbox's jars and one
proxy in front (admin API with a token). Sixteen sessions of the official
async driver run write transactions; halfway through, ``POST /flip`` makes green
the primary. Each transaction's backend is read back from the servers
themselves. Prints:

- client latency p50/p99 in steady state and in the two seconds around the flip,
  with their ratio (target: p99 during the flip ≤ 1.5 x steady state);
- switch time: from the flip's answer until the last transaction that still
  started on the old primary (target ≤ 100 ms);
- client errors (target: none).

    python benchmarks/flip_under_load.py [--seconds 20] [--sessions 16]
"""

from __future__ import annotations

import argparse
import asyncio
import secrets
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import aiohttp
import neo4j

from boltproxy.sandbox.manager import DEFAULT_VERSIONS
from boltproxy.sandbox.neo4j import Neo4jServer
from boltproxy.sandbox.ports import free_port

# The answer names the server that ran it: with dual writes the data is on both.
WRITE = (
    "CREATE (n:FlipBench {id: $id}) WITH n "
    "CALL dbms.components() YIELD name, versions WHERE name = 'Neo4j Kernel' "
    "RETURN versions[0] AS version"
)


@dataclass
class Tx:
    id: int
    started: float
    ended: float
    error: str | None = None
    version: str = ""


async def run(
    uri: str, auth: tuple[str, str], admin: str, token: str, seconds: float, sessions: int
) -> tuple[list[Tx], float, float]:
    txs: list[Tx] = []
    counter = iter(range(10**9))
    stop_at = time.perf_counter() + seconds
    flip_at = time.perf_counter() + seconds / 2
    flip_returned = 0.0
    flip_sent = 0.0

    async with neo4j.AsyncGraphDatabase.driver(uri, auth=auth) as driver:
        await driver.verify_connectivity()

        async def work(tx: neo4j.AsyncManagedTransaction, tx_id: int) -> str:
            record = await (await tx.run(WRITE, id=tx_id)).single(strict=True)
            return str(record["version"])

        async def session_loop() -> None:
            async with driver.session() as session:
                while time.perf_counter() < stop_at:
                    tx_id = next(counter)
                    started = time.perf_counter()
                    error, version = None, ""
                    try:
                        version = await session.execute_write(work, tx_id)
                    except neo4j.exceptions.Neo4jError as exc:
                        error = exc.code
                    except neo4j.exceptions.DriverError as exc:
                        error = type(exc).__name__
                    txs.append(Tx(tx_id, started, time.perf_counter(), error, version))

        async def flipper() -> None:
            nonlocal flip_returned, flip_sent
            await asyncio.sleep(max(0.0, flip_at - time.perf_counter()))
            headers = {"Authorization": f"Bearer {token}"}
            async with aiohttp.ClientSession() as http:
                flip_sent = time.perf_counter()
                async with http.post(f"{admin}/flip", headers=headers, json={}) as reply:
                    body = await reply.text()
                    flip_returned = time.perf_counter()
                    print(f"flip: HTTP {reply.status} {body.strip()[:120]}")

        await asyncio.gather(flipper(), *(session_loop() for _ in range(sessions)))
    return txs, flip_sent, flip_returned


def ids_on(server: Neo4jServer) -> set[int]:
    with neo4j.GraphDatabase.driver(server.uri, auth=server.auth) as driver:
        records = driver.execute_query("MATCH (n:FlipBench) RETURN n.id AS id").records
    return {record["id"] for record in records}


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--sessions", type=int, default=16)
    parser.add_argument(
        "--shadow",
        choices=("off", "reads", "all"),
        default="reads",
        help="shadow mode of the proxy (with shadowing, sessions already hold a logged-in "
        "link to green and the flip swaps roles)",
    )
    options = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="boltproxy-flip-bench-") as tmp:
        workdir = Path(tmp)
        password = secrets.token_hex(12)
        token = secrets.token_urlsafe(24)
        servers = [
            Neo4jServer(workdir / name, DEFAULT_VERSIONS[name], name=name, password=password)
            for name in ("blue", "green")
        ]
        proxy: subprocess.Popen[bytes] | None = None
        try:
            for server in servers:
                server.prepare()
                server.launch()
            for server in servers:
                print(f"{server.name}: Neo4j {server.finish().version}")
            blue, green = servers
            port, admin_port = free_port(), free_port()
            config = workdir / "proxy.toml"
            config.write_text(
                f'log_level = "WARNING"\n[listen]\nhost = "127.0.0.1"\nport = {port}\n'
                f'[admin]\nhost = "127.0.0.1"\nport = {admin_port}\ntoken = "{token}"\n'
                f'[backends.blue]\nuri = "{blue.uri}"\n[backends.green]\nuri = "{green.uri}"\n'
                f'[shadow]\nmode = "{options.shadow}"\n'
            )
            proxy = subprocess.Popen(
                [sys.executable, "-m", "boltproxy", "serve", "--config", str(config),
                 "--workers", "1"],
                stdout=subprocess.DEVNULL,
            )
            uri = f"bolt://127.0.0.1:{port}"
            deadline = time.monotonic() + 60
            while True:
                try:
                    with neo4j.GraphDatabase.driver(uri, auth=blue.auth) as driver:
                        driver.verify_connectivity()
                    break
                except (neo4j.exceptions.ServiceUnavailable, OSError):
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.2)
            txs, flip_sent, flip_returned = asyncio.run(
                run(
                    uri,
                    blue.auth,
                    f"http://127.0.0.1:{admin_port}",
                    token,
                    options.seconds,
                    options.sessions,
                )
            )
            report(txs, flip_sent, flip_returned, ids_on(blue), ids_on(green))
        finally:
            if proxy is not None:
                proxy.terminate()
                proxy.wait(30)
            for server in servers:
                server.stop()


def report(
    txs: list[Tx], flip_sent: float, flip_returned: float, on_blue: set[int], on_green: set[int]
) -> None:
    ok = [tx for tx in txs if tx.error is None]
    errors = [tx for tx in txs if tx.error is not None]
    around = [tx for tx in ok if abs(tx.started - flip_sent) <= 1.0]
    steady = [tx for tx in ok if abs(tx.started - flip_sent) > 2.0]
    # Answered by 5.26 although started after the flip had answered.
    late_on_blue = [tx.started - flip_returned for tx in ok
                    if tx.version.startswith("5.") and tx.started > flip_returned]  # fmt: skip
    both = on_blue & on_green

    def lat(group: list[Tx], q: float) -> float:
        return percentile([tx.ended - tx.started for tx in group], q) * 1e3

    answered_green = sum(1 for tx in ok if not tx.version.startswith("5."))
    print(f"\ntransactions: {len(txs)} ({len(errors)} client errors); answered by blue "
          f"{len(ok) - answered_green}, by green {answered_green}; data on blue {len(on_blue)}, "
          f"on green {len(on_green)}, on both {len(both)}")  # fmt: skip
    print(f"flip answered in {(flip_returned - flip_sent) * 1e3:.1f} ms")
    print(f"steady state:  p50 {lat(steady, 0.5):.2f} ms  p99 {lat(steady, 0.99):.2f} ms")
    print(f"around flip:   p50 {lat(around, 0.5):.2f} ms  p99 {lat(around, 0.99):.2f} ms "
          f"({lat(around, 0.99) / lat(steady, 0.99):.2f} x steady p99)")  # fmt: skip
    switch = max(late_on_blue, default=0.0) * 1e3
    print(f"switch time: {switch:.1f} ms after the flip returned "
          f"({len(late_on_blue)} transactions started on blue after it)")  # fmt: skip
    if errors:
        print("errors:", sorted({tx.error for tx in errors if tx.error}))


if __name__ == "__main__":
    main()
