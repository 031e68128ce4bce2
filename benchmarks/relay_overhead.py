"""Relay overhead, measured side by side: direct vs HAProxy (TCP) vs boltproxy.

Starts a backend (real Neo4j 5.26 from the sandbox's jars, with authentication on;
FalkorDB; or the scripted fake), boltproxy (its own process, as deployed) and, when
``haproxy`` is installed, HAProxy in TCP mode; then runs the same load against
each, interleaving the targets round by round so that drift on a shared machine
hits them alike. Load comes from several processes, each running pipelined
connections of a lean Bolt client (``boltclient.py``), so that the generator is
not the bottleneck. Prints p50/p99 latency, queries per second, the CPU time the
proxy's processes (HAProxy's or boltproxy's, workers included) spent per query,
and the ratio of each figure to direct and to HAProxy.

    python benchmarks/relay_overhead.py [--backend neo4j|falkordb|fake] [--duration 5]
        [--rounds 3] [--rows 200000] [--workers 1]
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from boltclient import BoltClient

from boltproxy.sandbox.falkordb import FalkorDBServer
from boltproxy.sandbox.manager import DEFAULT_VERSIONS
from boltproxy.sandbox.neo4j import Neo4jServer
from boltproxy.sandbox.ports import free_port

NO_AUTH: dict[str, Any] = {"scheme": "none"}
SINGLE_ROW = "RETURN 1 AS x"


_TICK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def cpu_seconds(pid: int) -> float:
    """User + system CPU of ``pid`` and its live descendants (Linux /proc; 0 elsewhere)."""
    total = 0.0
    pending = [pid]
    while pending:
        current = pending.pop()
        try:
            fields = Path(f"/proc/{current}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / _TICK
            for task in Path(f"/proc/{current}/task").iterdir():
                pending += [int(c) for c in (task / "children").read_text().split()]
        except (OSError, IndexError, ValueError):
            continue
    return total


@dataclass
class Figures:
    latencies: list[float]
    seconds: float
    errors: int = 0
    cpu: float | None = None  # CPU seconds the proxy's processes spent over the run

    @property
    def cpu_per_query_us(self) -> float | None:
        if self.cpu is None or not self.latencies:
            return None
        return self.cpu / len(self.latencies) * 1e6

    @property
    def qps(self) -> float:
        return len(self.latencies) / self.seconds if self.seconds else 0.0

    def percentile(self, q: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


async def _worker_load(
    port: int, connections: int, duration: float, auth: dict[str, Any]
) -> tuple[list[float], int]:
    clients = [await BoltClient.connect("127.0.0.1", port, auth) for _ in range(connections)]
    deadline = time.perf_counter() + duration
    latencies: list[float] = []
    errors = 0

    async def loop(client: BoltClient) -> None:
        nonlocal errors
        while time.perf_counter() < deadline:
            try:
                seconds, _ = await client.query(SINGLE_ROW)
            except (ConnectionError, RuntimeError):
                # Counted and reported: a dropped connection must not hide in the figures.
                errors += 1
                client = await BoltClient.connect("127.0.0.1", port, auth)
                continue
            latencies.append(seconds)
        await client.close()

    await asyncio.gather(*(loop(c) for c in clients))
    return latencies, errors


def _worker(args: tuple[int, int, float, dict[str, Any]]) -> tuple[list[float], int]:
    return asyncio.run(_worker_load(*args))


def run_load(
    pool: multiprocessing.pool.Pool,
    port: int,
    concurrency: int,
    duration: float,
    auth: dict[str, Any] = NO_AUTH,
    pid: int | None = None,
) -> Figures:
    processes = min(concurrency, pool._processes)  # type: ignore[attr-defined]
    shares = [
        concurrency // processes + (1 if i < concurrency % processes else 0)
        for i in range(processes)
    ]
    # The credentials travel to the worker processes with their share of the load.
    cpu_before = cpu_seconds(pid) if pid is not None else 0.0
    results = pool.map(_worker, [(port, share, duration, auth) for share in shares])
    cpu = cpu_seconds(pid) - cpu_before if pid is not None else None
    # Throughput over the measuring window only (connection set-up excluded).
    elapsed = duration
    latencies = [x for part, _ in results for x in part]
    return Figures(latencies, elapsed, sum(errors for _, errors in results), cpu)


async def _stream(port: int, rows: int, auth: dict[str, Any]) -> float:
    client = await BoltClient.connect("127.0.0.1", port, auth, attempts=30)
    seconds, records = await client.query(f"UNWIND range(1, {rows}) AS i RETURN i")
    await client.close()
    if records != rows:
        raise RuntimeError(f"expected {rows} records, got {records}")
    return seconds


def start_proxy(
    backend_uri: str, workdir: Path, workers: int = 1
) -> tuple[subprocess.Popen[bytes], int]:
    port = free_port()
    config = workdir / "boltproxy.toml"
    config.write_text(
        f'log_level = "WARNING"\n[listen]\nhost = "127.0.0.1"\nport = {port}\n'
        f'[admin]\nenabled = false\n[backends.blue]\nuri = "{backend_uri}"\n'
    )
    process = subprocess.Popen(
        [sys.executable, "-m", "boltproxy", "serve", "--config", str(config),
         "--workers", str(workers)],
        stdout=subprocess.DEVNULL,
    )
    _wait_port(port)
    return process, port


def start_haproxy(backend_port: int, workdir: Path) -> tuple[subprocess.Popen[bytes], int] | None:
    binary = shutil.which("haproxy")
    if binary is None:
        return None
    port = free_port()
    config = workdir / "haproxy.cfg"
    config.write_text(
        "global\n  maxconn 4096\n"
        "defaults\n  mode tcp\n  timeout connect 5s\n  timeout client 5m\n  timeout server 5m\n"
        f"frontend bolt\n  bind 127.0.0.1:{port}\n  default_backend neo\n"
        f"backend neo\n  server db 127.0.0.1:{backend_port}\n"
    )
    process = subprocess.Popen([binary, "-f", str(config), "-db"], stdout=subprocess.DEVNULL)
    _wait_port(port)
    return process, port


def _wait_port(port: int, timeout: float = 30.0) -> None:
    import socket

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"nothing listens on port {port}")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--duration", type=float, default=5.0, help="seconds per load run")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds per target")
    parser.add_argument("--rows", type=int, default=200_000, help="rows in the streamed result")
    parser.add_argument("--processes", type=int, default=max(2, os.cpu_count() or 2))
    parser.add_argument(
        "--backend",
        choices=("neo4j", "falkordb", "fake"),
        default="falkordb",
        help="real Neo4j (the sandbox's blue version, authentication on: the figure users "
        "care about), FalkorDB (a real engine, very fast, crashes under concurrency 16) or "
        "the scripted fake Neo4j in its own process (stable, slower per query)",
    )
    parser.add_argument("--neo4j-version", default=DEFAULT_VERSIONS["blue"],
                        help="Neo4j version for --backend neo4j")
    parser.add_argument("--warmup", type=float, default=None,
                        help="seconds of load on every target before measuring "
                        "(default: 5 for neo4j, whose JIT needs it; 0 otherwise)")
    parser.add_argument(
        "--concurrency",
        default="1,16",
        help="comma-separated client concurrencies for the single-row runs",
    )
    parser.add_argument("--workers", type=int, default=1,
                        help="boltproxy serve --workers (processes on one port)")
    options = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="boltproxy-bench-") as tmp:
        workdir = Path(tmp)
        children: list[subprocess.Popen[bytes]] = []
        auth = NO_AUTH
        backend: FalkorDBServer | Neo4jServer | None
        if options.backend == "neo4j":
            password = secrets.token_hex(12)
            backend = Neo4jServer(workdir / "neo4j", options.neo4j_version, name="bench",
                                  password=password)
            started = time.perf_counter()
            info = backend.start()
            print(f"Neo4j {info.version} answered in {time.perf_counter() - started:.1f} s "
                  f"(Bolt {'.'.join(map(str, info.bolt_version))}, authentication on)")
            backend_port = backend.bolt_port
            auth = {"scheme": "basic", "principal": backend.user, "credentials": password}
        elif options.backend == "falkordb":
            backend = FalkorDBServer(workdir / "falkordb", name="bench")
            backend.start()
            backend_port = backend.bolt_port
        else:
            backend = None
            backend_port = free_port()
            script = Path(__file__).resolve().parent / "fake_backend.py"
            children.append(subprocess.Popen([sys.executable, str(script), str(backend_port)]))
            _wait_port(backend_port)
        try:
            targets = {"direct": backend_port}
            pids: dict[str, int] = {}
            haproxy = start_haproxy(backend_port, workdir)
            if haproxy is not None:
                children.append(haproxy[0])
                targets["haproxy"] = haproxy[1]
                pids["haproxy"] = haproxy[0].pid
            else:
                print("haproxy is not installed (Debian package haproxy): its column is skipped")
            proxy, proxy_port = start_proxy(
                f"bolt://127.0.0.1:{backend_port}", workdir, options.workers
            )
            children.append(proxy)
            targets["boltproxy"] = proxy_port
            pids["boltproxy"] = proxy.pid
            try:
                report(targets, options, auth, pids)
            except Exception:
                if backend is None:
                    raise
                if isinstance(backend, Neo4jServer):
                    print(f"benchmark aborted; Neo4j running: {backend.running()}; its log ends:")
                    print(backend.log_tail(30))
                    raise
                alive = backend._process is not None and backend._process.poll() is None
                print(f"benchmark aborted; FalkorDB alive: {alive}; its log ends:")
                wanted = ("crashed", "ssert", "signal", "bolt")
                tail = backend.log_tail(400).splitlines()
                print("\n".join(line for line in tail if any(w in line.lower() for w in wanted)))
                raise
        finally:
            for child in children:
                child.terminate()
                child.wait(10)
            if backend is not None:
                backend.stop()


def report(
    targets: dict[str, int],
    options: argparse.Namespace,
    auth: dict[str, Any],
    pids: dict[str, int] | None = None,
) -> None:
    pids = pids or {}
    warmup = options.warmup
    if warmup is None:
        warmup = 5.0 if options.backend == "neo4j" else 0.0
    print(
        f"backend: {options.backend}; machine: {os.cpu_count()} cores; "
        f"{options.rounds} interleaved rounds of "
        f"{options.duration:g} s per target and concurrency"
        + (f"; {warmup:g} s warm-up per target" if warmup else "")
        + f"; boltproxy --workers {options.workers}"
        + f" ({'compiled' if _compiled() else 'pure Python'} core)"
        # A shared machine's other work shows in every column; the ratios hold better.
        + "; load average {:.2f} {:.2f} {:.2f}".format(*os.getloadavg())
    )
    concurrencies = [int(c) for c in options.concurrency.split(",")]
    with multiprocessing.get_context("spawn").Pool(options.processes) as pool:
        if warmup:
            for port in targets.values():
                run_load(pool, port, max(concurrencies), warmup, auth)
        for concurrency in concurrencies:
            collected: dict[str, list[Figures]] = {name: [] for name in targets}
            for _ in range(options.rounds):
                for name, port in targets.items():
                    collected[name].append(
                        run_load(pool, port, concurrency, options.duration, auth, pids.get(name))
                    )
            print_table(concurrency, {name: merged(runs) for name, runs in collected.items()})
    streams: dict[str, list[float]] = {name: [] for name in targets}
    for _ in range(options.rounds):
        for name, port in targets.items():
            streams[name].append(asyncio.run(_stream(port, options.rows, auth)))
    print(f"\n{options.rows}-row stream (median of {options.rounds})")
    base_stream = statistics.median(streams["direct"])
    for name, times in streams.items():
        median = statistics.median(times)
        rate = options.rows / median
        print(f"{name:<10} {median:8.3f} s  {rate:10.0f} rows/s  {median / base_stream:6.2f} x")


def _compiled() -> bool:
    """Is the relay's session the mypyc-compiled module (python -m boltproxy.bolt.compile)?"""
    from boltproxy.proxy import session

    return not (session.__file__ or "").endswith(".py")


def print_table(concurrency: int, figures: dict[str, Figures]) -> None:
    """One row per target: figures, ratios to direct, and to HAProxy when it ran."""
    print(f"\nsingle-row queries, concurrency {concurrency}")
    heading = ("target", "p50 ms", "p99 ms", "qps", "cpu us/q", "p50 x", "p99 x", "qps x")
    line = "{:<10} {:>8} {:>8} {:>8} {:>8}  {:>6} {:>6} {:>6}"
    haproxy = figures.get("haproxy")
    if haproxy is not None:
        heading += ("p50 xH", "p99 xH", "qps xH", "cpu xH")
        line += "  {:>6} {:>6} {:>6} {:>6}"
    print(line.format(*heading))
    base = figures["direct"]
    for name, fig in figures.items():
        p50, p99 = fig.percentile(0.5), fig.percentile(0.99)
        cpu = fig.cpu_per_query_us
        row: list[str] = [
            name, f"{p50 * 1e3:.3f}", f"{p99 * 1e3:.3f}", f"{fig.qps:.0f}",
            "-" if cpu is None else f"{cpu:.1f}",
            f"{p50 / base.percentile(0.5):.2f}", f"{p99 / base.percentile(0.99):.2f}",
            f"{fig.qps / base.qps:.2f}",
        ]  # fmt: skip
        if haproxy is not None:
            h_cpu = haproxy.cpu_per_query_us
            row += [
                f"{p50 / haproxy.percentile(0.5):.2f}", f"{p99 / haproxy.percentile(0.99):.2f}",
                f"{fig.qps / haproxy.qps:.2f}",
                "-" if cpu is None or not h_cpu else f"{cpu / h_cpu:.2f}",
            ]  # fmt: skip
        print(line.format(*row) + (f"  ({fig.errors} dropped)" if fig.errors else ""))


def merged(runs: list[Figures]) -> Figures:
    cpus = [run.cpu for run in runs]
    return Figures(
        [x for run in runs for x in run.latencies],
        sum(run.seconds for run in runs),
        sum(run.errors for run in runs),
        None if any(c is None for c in cpus) else sum(c for c in cpus if c is not None),
    )


if __name__ == "__main__":
    main()
