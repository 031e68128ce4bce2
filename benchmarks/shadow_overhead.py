"""What shadowing costs the client, measured side by side against real Neo4j.

Starts Neo4j 5.26 (blue, the primary) and 2026.x (green, the candidate) from the
sandbox's jars and three proxies in front of them: relay only (``shadow.mode =
"off"``), every read mirrored (``reads``, writes compiled with EXPLAIN) and
everything mirrored (``all``, dual writes). The same load, from the official
async driver in separate processes, runs against each, round by round
interleaved so that drift on a shared machine hits them alike. Prints client
p50/p99 latency and queries per second with their ratios to relay-only, each
proxy's resident memory (its own and its comparison worker's), the CPU each
process spent per query, and how much of the traffic the candidate saw (mirrored,
or shed at ``shadow.max_concurrent``).

    python benchmarks/shadow_overhead.py [--duration 5] [--rounds 3] [--sessions 8]
                                         [--rate 0] [--max-concurrent 16]

Closed loop (the default) saturates the machine: with the candidate on the same
cores every mirrored query is a second execution there, and throughput falls
with the candidate's CPU per query. ``--rate`` paces the load instead (say half
of what relay-only sustains), which is how a proxy in production runs.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import random
import secrets
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import neo4j
from prometheus_client.parser import text_string_to_metric_families

from boltproxy.sandbox.manager import DEFAULT_VERSIONS
from boltproxy.sandbox.neo4j import Neo4jServer
from boltproxy.sandbox.ports import free_port

READ = "MATCH (n:Bench {id: $id}) RETURN n.id AS id, n.v AS v"
WRITE = "MATCH (n:Bench {id: $id}) SET n.v = $v RETURN n.v AS v"
NODES = 1000
MODES = ("off", "reads", "all")


async def _load(uri: str, auth: tuple[str, str], sessions: int, seconds: float, writes: float,
                rate: float) -> list[float]:  # fmt: skip
    """Queries as fast as answered (rate 0) or paced at ``rate`` per second in all.

    Paced latency counts from when a query was due, not when it was sent, so a
    proxy that falls behind is charged for the wait (no coordinated omission).
    """
    latencies: list[float] = []
    async with neo4j.AsyncGraphDatabase.driver(uri, auth=auth) as driver:
        await driver.verify_connectivity()
        begin = time.perf_counter()
        deadline = begin + seconds
        interval = sessions / rate if rate > 0 else 0.0

        async def one_session(index: int) -> None:
            rng = random.Random()
            due = begin + index * interval / sessions
            async with driver.session() as session:
                while time.perf_counter() < deadline:
                    if interval:
                        await asyncio.sleep(max(0.0, due - time.perf_counter()))
                    query = WRITE if rng.random() < writes else READ
                    started = due if interval else time.perf_counter()
                    result = await session.run(query, id=rng.randrange(NODES), v=rng.random())
                    await result.consume()
                    latencies.append(time.perf_counter() - started)
                    due += interval

        await asyncio.gather(*(one_session(i) for i in range(sessions)))
    return latencies


def _worker(args: tuple[str, tuple[str, str], int, float, float, float]) -> list[float]:
    return asyncio.run(_load(*args))


def rss_mib(pid: int) -> float:
    """Resident memory of a process and its children (the comparison worker)."""
    total = 0
    for candidate in [pid, *_children(pid)]:
        try:
            for line in Path(f"/proc/{candidate}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            continue
    return total / 1024


def cpu_seconds(pid: int, *, children: bool = True) -> float:
    """CPU time (user and system) spent so far by a process (and its children)."""
    total = 0
    for candidate in [pid, *(_children(pid) if children else [])]:
        try:
            fields = Path(f"/proc/{candidate}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime (clock ticks)
    return total / os.sysconf("SC_CLK_TCK")


def _children(pid: int) -> list[int]:
    """Child processes started by any thread (the comparison worker is started from one)."""
    children: list[int] = []
    try:
        for task in Path(f"/proc/{pid}/task").iterdir():
            children += [int(c) for c in (task / "children").read_text().split()]
    except OSError:
        return children
    return children


def start_proxy(mode: str, blue: Neo4jServer, green: Neo4jServer, workdir: Path,
                max_concurrent: int) -> tuple[subprocess.Popen[bytes], int, int]:  # fmt: skip
    port, admin = free_port(), free_port()
    config = workdir / f"proxy-{mode}.toml"
    config.write_text(
        f'log_level = "WARNING"\n[listen]\nhost = "127.0.0.1"\nport = {port}\n'
        f'[admin]\nhost = "127.0.0.1"\nport = {admin}\n'
        f'[backends.blue]\nuri = "{blue.uri}"\n[backends.green]\nuri = "{green.uri}"\n'
        f'[shadow]\nmode = "{mode}"\nstore = "{workdir / f"shadow-{mode}.sqlite"}"\n'
        f"max_concurrent = {max_concurrent}\n"
    )
    process = subprocess.Popen(
        [sys.executable, "-m", "boltproxy", "serve", "--config", str(config), "--workers", "1"],
        stdout=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 60
    while True:
        try:
            with neo4j.GraphDatabase.driver(f"bolt://127.0.0.1:{port}", auth=blue.auth) as d:
                d.verify_connectivity()
            return process, port, admin
        except (neo4j.exceptions.ServiceUnavailable, OSError):
            if time.monotonic() > deadline or process.poll() is not None:
                raise RuntimeError(f"the {mode} proxy did not start") from None
            time.sleep(0.2)


def shadow_counts(admin: int) -> dict[str, float]:
    """Outcomes by kind, and units shed at the cap, from the proxy's /metrics."""
    text = urllib.request.urlopen(f"http://127.0.0.1:{admin}/metrics", timeout=10).read().decode()
    counts: dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == "boltproxy_shadow_outcomes_total":
                counts[sample.labels["kind"]] = sample.value
            elif sample.name == "boltproxy_shadow_shed_total":
                counts["shed"] = sample.value
    return counts


def renice(pid: int, niceness: int, *, idle: bool = False) -> None:
    """Lower the priority of every thread of a process (threads it starts later inherit it)."""
    for task in Path(f"/proc/{pid}/task").iterdir():
        os.setpriority(os.PRIO_PROCESS, int(task.name), niceness)
        if idle:
            os.sched_setscheduler(int(task.name), os.SCHED_IDLE, os.sched_param(0))


def seed(server: Neo4jServer) -> None:
    with neo4j.GraphDatabase.driver(server.uri, auth=server.auth) as driver:
        driver.execute_query("MATCH (n:Bench) DETACH DELETE n")
        driver.execute_query("CREATE INDEX bench_id IF NOT EXISTS FOR (n:Bench) ON (n.id)")
        driver.execute_query(
            "UNWIND range(0, $n - 1) AS i CREATE (:Bench {id: i, v: 0.0})", n=NODES
        )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--duration", type=float, default=5.0, help="seconds per load run")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds per proxy")
    parser.add_argument("--sessions", type=int, default=8, help="concurrent client sessions")
    parser.add_argument("--writes", type=float, default=0.1, help="share of write queries")
    parser.add_argument("--processes", type=int, default=2, help="load generator processes")
    parser.add_argument("--warmup", type=float, default=20.0,
                        help="seconds of load per proxy first: a cold JVM compiles for a minute")
    parser.add_argument("--modes", default=",".join(MODES),
                        help="proxies to compare, the first being the base of the ratios")
    parser.add_argument("--rate", type=float, default=0.0,
                        help="queries/s in all, paced (0: as fast as answered, closed loop)")
    parser.add_argument("--max-concurrent", type=int, default=16,
                        help="shadow.max_concurrent: sessions the candidate works for at once")
    parser.add_argument("--candidate-nice", type=int, default=0,
                        help="run the candidate server at this niceness (0-19): a candidate "
                             "sharing the primary's cores then takes mostly what they leave")
    parser.add_argument("--candidate-idle", action="store_true",
                        help="run the candidate server under SCHED_IDLE: only on idle cores")
    options = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="boltproxy-shadow-bench-") as tmp:
        workdir = Path(tmp)
        password = secrets.token_hex(12)
        blue = Neo4jServer(workdir / "blue", DEFAULT_VERSIONS["blue"], name="blue",
                           password=password)  # fmt: skip
        green = Neo4jServer(workdir / "green", DEFAULT_VERSIONS["green"], name="green",
                            password=password)  # fmt: skip
        proxies: dict[str, tuple[subprocess.Popen[bytes], int, int]] = {}
        try:
            for server in (blue, green):
                server.prepare()
                server.launch()
            for server in (blue, green):
                info = server.finish()
                print(f"{server.name}: Neo4j {info.version}")
                seed(server)
            if options.candidate_nice or options.candidate_idle:
                assert green.pid is not None
                renice(green.pid, options.candidate_nice, idle=options.candidate_idle)
            for mode in options.modes.split(","):
                proxies[mode] = start_proxy(mode, blue, green, workdir, options.max_concurrent)
            assert blue.pid is not None and green.pid is not None
            report(proxies, blue.auth, options, {"blue": blue.pid, "green": green.pid})
        finally:
            for process, _, _ in proxies.values():
                process.terminate()
                process.wait(30)
            for server in (blue, green):
                server.stop()


def report(proxies: dict[str, tuple[subprocess.Popen[bytes], int, int]], auth: tuple[str, str],
           options: argparse.Namespace, servers: dict[str, int]) -> None:  # fmt: skip
    per_process = max(1, options.sessions // options.processes)
    collected: dict[str, list[float]] = {mode: [] for mode in proxies}
    seconds: dict[str, float] = dict.fromkeys(proxies, 0.0)
    # CPU seconds per mode: the proxy (with its comparison worker) and each server.
    # The relay's own process apart from its children (the comparison worker).
    cpu: dict[str, dict[str, float]] = {mode: {"relay": 0.0, "worker": 0.0,
                                               **dict.fromkeys(servers, 0.0)}
                                        for mode in proxies}  # fmt: skip
    with multiprocessing.get_context("spawn").Pool(options.processes) as pool:
        for _process, port, _admin in proxies.values():  # warm-up: JIT and query caches
            uri = f"bolt://127.0.0.1:{port}"
            rate = options.rate / options.processes
            warm = (uri, auth, per_process, options.warmup, options.writes, rate)
            pool.map(_worker, [warm] * options.processes)
        for index in range(options.rounds):
            if index:  # memory over a long run: it must stay within the configured bounds
                sizes = [f"{mode} {rss_mib(p.pid):.0f}" for mode, (p, _, _) in proxies.items()]
                print(f"after round {index}: RSS MiB " + ", ".join(sizes), flush=True)
            for mode, (_, port, _admin) in proxies.items():
                uri = f"bolt://127.0.0.1:{port}"
                rate = options.rate / options.processes
                job = (uri, auth, per_process, options.duration, options.writes, rate)
                proxy = proxies[mode][0].pid
                pids = {"proxy": proxy, **servers}
                before = {name: cpu_seconds(pid) for name, pid in pids.items()}
                relay_before = cpu_seconds(proxy, children=False)
                for part in pool.map(_worker, [job] * options.processes):
                    collected[mode] += part
                seconds[mode] += options.duration
                used = {name: cpu_seconds(pid) - before[name] for name, pid in pids.items()}
                relay = cpu_seconds(proxy, children=False) - relay_before
                cpu[mode]["relay"] += relay
                cpu[mode]["worker"] += used.pop("proxy") - relay
                for name, spent_seconds in used.items():
                    cpu[mode][name] += spent_seconds
    pace = f"paced at {options.rate:g} queries/s" if options.rate else "closed loop"
    print(
        f"\n{os.cpu_count()} cores; {options.sessions} sessions ({pace}), "
        f"{options.writes:.0%} writes; "
        f"{options.rounds} interleaved rounds of {options.duration:g} s per proxy; "
        f"candidate at niceness {options.candidate_nice}"
        f"{' under SCHED_IDLE' if options.candidate_idle else ''}"
    )
    head = ("shadow", "p50 ms", "p99 ms", "qps", "p50 x", "p99 x", "qps x", "RSS MiB")
    print("{:<8} {:>8} {:>8} {:>8} {:>6} {:>6} {:>6} {:>8}".format(*head))
    first = next(iter(collected))
    base = collected[first]
    base_p50, base_p99 = percentile(base, 0.5), percentile(base, 0.99)
    base_qps = len(base) / seconds[first]
    for mode, latencies in collected.items():
        p50, p99 = percentile(latencies, 0.5), percentile(latencies, 0.99)
        qps = len(latencies) / seconds[mode]
        rss = rss_mib(proxies[mode][0].pid)
        print(
            f"{mode:<8} {p50 * 1e3:>8.3f} {p99 * 1e3:>8.3f} {qps:>8.0f} "
            f"{p50 / base_p50:>6.2f} {p99 / base_p99:>6.2f} {qps / base_qps:>6.2f} {rss:>8.0f}"
        )
    print("\nCPU µs per client query (where the cores went)")
    print("{:<8} ".format("shadow") + " ".join(f"{name:>8}" for name in cpu[first]))
    for mode, spent in cpu.items():
        queries = max(1, len(collected[mode]))
        print(f"{mode:<8} " + " ".join(f"{spent[name] / queries * 1e6:>8.0f}" for name in spent))
    print(f"\nWhat the candidate saw (shadow.max_concurrent = {options.max_concurrent}; "
          "warm-up included)")  # fmt: skip
    for mode, (_, _, admin) in proxies.items():
        if mode == "off":
            continue
        counts = shadow_counts(admin)
        shed = counts.pop("shed", 0.0)
        lost = counts.get("dropped", 0.0) + counts.get("timeout", 0.0)
        total = sum(counts.values()) + shed
        compared = total - shed - lost
        share = {name: f"{value / max(1.0, total):.0%}"
                 for name, value in (("compared", compared), ("lost", lost), ("shed", shed))}
        print(f"{mode:<8} {total:>8.0f} queries: {share['compared']} compared, "
              f"{share['lost']} dropped or timed out, {share['shed']} shed; outcomes "
              + ", ".join(f"{k} {v:.0f}" for k, v in sorted(counts.items()) if v))


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if q < 1 else ordered[-1]


if __name__ == "__main__":
    main()
