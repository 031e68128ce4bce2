"""Client scenarios run by the official Python Neo4j driver, as a user's app would.

A standalone script: it imports only the driver, because it runs under two
interpreters -- ``.venv-neo4j5`` (driver 5.28.x) and ``.venv`` (driver 6.x) --
and in both sync and async mode. It prints one JSON object per scenario::

    {"scenario": "large_result", "ok": true, "detail": "100000 rows"}

and exits 1 if any scenario failed (2 if it could not start at all).

Each scenario is written once, as a coroutine. In sync mode the coroutine is
driven by :func:`run_to_end`: every driver call returns a plain value, so the
coroutine never suspends and the sync driver's own code is what runs. That
keeps the two modes from drifting apart, which a hand-copied second version
would.

Backends differ in what they can answer:

* ``fake``: the scripted fake Neo4j of the tests. It answers ``RETURN <int> AS
  x``, ``UNWIND range(1, $n) AS i RETURN i`` and whatever the test scripted --
  this script relies on ``RETURN $p AS p`` echoing ``$p`` -- and fails anything
  else as a syntax error. It keeps no data, so transactions are checked by
  their bookmarks.
* ``falkordb``: a real Cypher engine, so transactions write and read back
  nodes tagged with this run's id. FalkorDB does not roll back (BEGIN and
  ROLLBACK are accepted, but writes apply at once), answers syntax errors
  with ``Neo.DatabaseError.General.UnknownError``, prints parameters into the
  query text (no quotes, no floats beyond a few digits, no bytes) and must
  never be asked for a temporal value (it aborts).
"""

from __future__ import annotations

import argparse
import asyncio
import inspect
import json
import sys
import traceback
import uuid
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any
from urllib.parse import urlsplit

import neo4j
from neo4j import exceptions as neo4j_errors

Scenario = Callable[["Context"], Coroutine[Any, Any, str]]


class ScenarioFailed(Exception):
    """The driver worked, but what the user got back was wrong."""


def check(condition: bool, message: str) -> None:
    if not condition:
        raise ScenarioFailed(message)


async def settle(value: Any) -> Any:
    """Await ``value`` if the async driver gave us an awaitable; pass it on otherwise."""
    if inspect.isawaitable(value):
        return await value
    return value


def run_to_end(coroutine: Coroutine[Any, Any, Any]) -> Any:
    """Run a coroutine that never suspends (sync mode) to its end, without a loop."""
    try:
        coroutine.send(None)
    except StopIteration as done:
        return done.value
    coroutine.close()
    raise RuntimeError("a scenario suspended in sync mode: it awaited a real awaitable")


async def all_records(result: Any) -> list[Any]:
    if hasattr(result, "__aiter__"):
        return [record async for record in result]
    return list(result)


async def count_records(result: Any) -> tuple[int, Any]:
    """How many records a result streams, and the last one, without keeping them."""
    count, last = 0, None
    if hasattr(result, "__aiter__"):
        async for record in result:
            count, last = count + 1, record
    else:
        for record in result:
            count, last = count + 1, record
    return count, last


class Context:
    """The driver, the mode and the backend every scenario works with."""

    def __init__(self, args: argparse.Namespace, driver: Any) -> None:
        self.args = args
        self.driver = driver
        self.asynchronous = args.mode == "async"
        self.falkordb = args.backend == "falkordb"
        self.database: str | None = args.database
        self.run_id = "r" + uuid.uuid4().hex[:12]  # plain letters: FalkorDB inlines parameters

    def session(self, **config: Any) -> Any:
        if self.database is not None:
            config.setdefault("database", self.database)
        return self.driver.session(**config)

    def work(self, function: Callable[[Any], Awaitable[Any]]) -> Callable[[Any], Any]:
        """A transaction function for ``execute_read``/``execute_write`` in this mode."""
        if self.asynchronous:
            return function
        return lambda tx: run_to_end(function(tx))  # type: ignore[arg-type]

    async def single_value(self, runner: Any, query: str, key: str, **parameters: Any) -> Any:
        """Run ``query`` on a session or transaction and return ``key`` of its only record."""
        result = await settle(runner.run(query, parameters))
        records = await all_records(result)
        check(len(records) == 1, f"{query!r} returned {len(records)} records, expected 1")
        return records[0][key]

    async def count_probes(self, runner: Any, step: str) -> int:
        return int(await self.single_value(
            runner, "MATCH (n:ClientProbe {run: $run, step: $step}) RETURN count(n) AS c", "c",
            run=self.run_id, step=step,
        ))

    async def create_probe(self, runner: Any, step: str) -> None:
        created = await self.single_value(
            runner, "CREATE (n:ClientProbe {run: $run, step: $step}) RETURN n.step AS step",
            "step", run=self.run_id, step=step,
        )
        check(created == step, f"CREATE returned {created!r}, expected {step!r}")


# --------------------------------------------------------------------------- scenarios


async def connectivity(ctx: Context) -> str:
    # Only direct FalkorDB runs ask for more than one attempt: FalkorDB leaves a
    # share of new connections unanswered once others have closed.
    attempts = ctx.args.connect_attempts
    for attempt in range(1, attempts + 1):
        try:
            await settle(ctx.driver.verify_connectivity())
            break
        except neo4j_errors.ServiceUnavailable:
            if attempt == attempts:
                raise
    info = await settle(ctx.driver.get_server_info())
    check(bool(info.agent), "the server sent no agent string")
    # With neo4j:// the driver connects wherever the routing table points: a table
    # naming anything but the address we were given would bypass a proxy.
    expected_port = urlsplit(ctx.args.uri).port or 7687
    check(info.address.port == expected_port,
          f"the driver was routed to {info.address}, not to port {expected_port} of --uri")
    protocol = ".".join(str(part) for part in info.protocol_version)
    retried = f" (connected at attempt {attempt})" if attempt > 1 else ""
    return f"driver {neo4j.__version__}, server {info.agent}, Bolt {protocol}{retried}"


async def auto_commit_execute_query(ctx: Context) -> str:
    eager = await settle(ctx.driver.execute_query("RETURN 1 AS x", database_=ctx.database))
    values = [record["x"] for record in eager.records]
    check(values == [1], f"RETURN 1 AS x gave {values!r}")
    check(list(eager.keys) == ["x"], f"keys were {list(eager.keys)!r}")
    return "RETURN 1 AS x -> [1]"


async def auto_commit_session_run(ctx: Context) -> str:
    session = ctx.session()
    try:
        value = await ctx.single_value(session, "RETURN 1 AS x", "x")
        check(value == 1, f"RETURN 1 AS x gave {value!r}")
        if not ctx.falkordb:
            bookmarks = await settle(session.last_bookmarks())
            check(bool(bookmarks), "an auto-commit query left no bookmark")
            return "RETURN 1 AS x -> 1, bookmark received"
        await ctx.create_probe(session, "auto")
        found = await ctx.count_probes(session, "auto")
        check(found == 1, f"an auto-commit write was read back {found} times, expected once")
        return "RETURN 1 AS x -> 1; auto-commit write read back"
    finally:
        await settle(session.close())


async def explicit_transaction_commit(ctx: Context) -> str:
    session = ctx.session()
    try:
        before = await settle(session.last_bookmarks())
        tx = await settle(session.begin_transaction())
        if ctx.falkordb:
            await ctx.create_probe(tx, "commit")
        else:
            value = await ctx.single_value(tx, "RETURN 1 AS x", "x")
            check(value == 1, f"RETURN 1 AS x in a transaction gave {value!r}")
        await settle(tx.commit())
        after = await settle(session.last_bookmarks())
        if ctx.falkordb:  # FalkorDB ignores bookmarks: check the data instead
            tx = await settle(session.begin_transaction())
            found = await ctx.count_probes(tx, "commit")
            await settle(tx.commit())
            check(found == 1, f"a committed write was read back {found} times, expected once")
            return "committed write read back in a new transaction"
        check(bool(after) and after != before, "COMMIT did not give the session a new bookmark")
        return "committed; new bookmark"
    finally:
        await settle(session.close())


async def explicit_transaction_rollback(ctx: Context) -> str:
    session = ctx.session()
    try:
        tx = await settle(session.begin_transaction())
        if ctx.falkordb:
            await ctx.create_probe(tx, "rollback")
        else:
            value = await ctx.single_value(tx, "RETURN 1 AS x", "x")
            check(value == 1, f"RETURN 1 AS x in a transaction gave {value!r}")
        await settle(tx.rollback())
        check(bool(tx.closed()), "the transaction is still open after rollback")
        # The session stays usable after a rollback.
        value = await ctx.single_value(session, "RETURN 2 AS x", "x")
        check(value == 2, f"RETURN 2 AS x after a rollback gave {value!r}")
        if ctx.falkordb:
            # Read in a transaction, like the write: FalkorDB picks the graph from
            # the shape of RUN's extra map, which differs outside a transaction.
            tx = await settle(session.begin_transaction())
            kept = await ctx.count_probes(tx, "rollback")
            await settle(tx.commit())
            return f"rolled back; session usable (FalkorDB is not transactional: {kept} kept)"
        return "rolled back; session usable"
    finally:
        await settle(session.close())


async def managed_transactions_with_bookmarks(ctx: Context) -> str:
    writer = ctx.session()
    try:
        if ctx.falkordb:
            async def write(tx: Any) -> Any:
                await ctx.create_probe(tx, "managed")
                return "managed"
        else:
            async def write(tx: Any) -> Any:
                return await ctx.single_value(tx, "RETURN 2 AS x", "x")
        written = await settle(writer.execute_write(ctx.work(write)))
        check(written == ("managed" if ctx.falkordb else 2), f"execute_write gave {written!r}")
        bookmarks = await settle(writer.last_bookmarks())
    finally:
        await settle(writer.close())
    if not ctx.falkordb:
        check(bool(bookmarks), "execute_write left no bookmark to carry on")

    reader = ctx.session(bookmarks=bookmarks)
    try:
        if ctx.falkordb:
            async def read(tx: Any) -> Any:
                return await ctx.count_probes(tx, "managed")
            expected: Any = 1
        else:
            async def read(tx: Any) -> Any:
                return await ctx.single_value(tx, "RETURN 3 AS x", "x")
            expected = 3
        value = await settle(reader.execute_read(ctx.work(read)))
        check(value == expected, f"execute_read after the write gave {value!r}, not {expected!r}")
    finally:
        await settle(reader.close())
    return "execute_write, then execute_read in a new session with its bookmarks"


async def large_result(ctx: Context) -> str:
    rows = ctx.args.rows
    session = ctx.session(fetch_size=1000)
    try:
        result = await settle(session.run("UNWIND range(1, $n) AS i RETURN i", {"n": rows}))
        count, last = await count_records(result)
    finally:
        await settle(session.close())
    check(count == rows, f"streamed {count} rows, expected {rows}")
    check(last is not None and last["i"] == rows, f"the last row was {last!r}, expected i={rows}")
    return f"{count} rows"


async def server_error(ctx: Context) -> str:
    # Neo4j (and the fake) classify a syntax error; FalkorDB reports every error
    # as Neo.DatabaseError.General.UnknownError.
    expected: type[Exception] = (
        neo4j_errors.DatabaseError if ctx.falkordb else neo4j_errors.CypherSyntaxError
    )
    session = ctx.session()
    try:
        try:
            result = await settle(session.run("THIS IS NOT CYPHER"))
            await settle(result.consume())
        except neo4j_errors.Neo4jError as error:
            check(isinstance(error, expected),
                  f"got {type(error).__name__} ({error.code}), expected {expected.__name__}")
            caught = f"{type(error).__name__} {error.code}"
        else:
            raise ScenarioFailed("a syntax error was accepted")
        value = await ctx.single_value(session, "RETURN 1 AS x", "x")
        check(value == 1, f"RETURN 1 AS x after the error gave {value!r}")
    finally:
        await settle(session.close())
    return f"{caught}; session usable afterwards"


def parameter_values(falkordb: bool) -> dict[str, Any]:
    """Values to send as ``$p`` and expect back unchanged."""
    values: dict[str, Any] = {
        "integer": 42,
        "negative integer": -7,
        "large integer": 2**40 + 1,
        "string": "boltproxy",
        "true": True,
        "false": False,
        "null": None,
        "float": 1.5,
        "list": [1, 2, 3],
        "map": {"name": "blue", "weight": 3},
        "nested": {"list": [1, "two", [3]], "map": {"inner": True}},
    }
    if not falkordb:  # FalkorDB rejects these parameter types
        values.update({
            "unicode string": "grüße, 世界 \"quoted\"",
            "precise float": 0.1 + 0.2,
            "bytes": b"\x00\x01\xfe\xff",
            "empty list": [],
            "empty map": {},
        })
    return values


async def parameters(ctx: Context) -> str:
    session = ctx.session()
    wrong: list[str] = []
    values = parameter_values(ctx.falkordb)
    try:
        for name, value in values.items():
            got = await ctx.single_value(session, "RETURN $p AS p", "p", p=value)
            if got != value or type(got) is not type(value):
                wrong.append(f"{name}: got {type(got).__name__}")
    finally:
        await settle(session.close())
    check(not wrong, "parameters changed on the way: " + "; ".join(wrong))
    return f"{len(values)} values round-tripped: " + ", ".join(values)


SCENARIOS: list[Scenario] = [
    connectivity,
    auto_commit_execute_query,
    auto_commit_session_run,
    explicit_transaction_commit,
    explicit_transaction_rollback,
    managed_transactions_with_bookmarks,
    large_result,
    server_error,
    parameters,
]


# --------------------------------------------------------------------------- running


def report(name: str, ok: bool, detail: str) -> None:
    print(json.dumps({"scenario": name, "ok": ok, "detail": detail}), flush=True)


def outcome(error: BaseException) -> str:
    if isinstance(error, ScenarioFailed):
        return str(error)
    where = traceback.extract_tb(error.__traceback__)[-1:]
    place = f" at {where[0].name}:{where[0].lineno}" if where else ""
    return f"{type(error).__name__}: {error}{place}"


def make_driver(args: argparse.Namespace) -> Any:
    auth = (args.user, args.password) if args.auth == "basic" else None
    config: dict[str, Any] = {
        "auth": auth,
        "connection_timeout": args.timeout,
        "connection_acquisition_timeout": args.timeout * 2,
        # Short: a retried transaction would only hide what went wrong, and slow a failing run.
        "max_transaction_retry_time": min(args.timeout, 3.0),
    }
    factory = neo4j.AsyncGraphDatabase if args.mode == "async" else neo4j.GraphDatabase
    return factory.driver(args.uri, **config)


async def run_all(args: argparse.Namespace, driver: Any) -> bool:
    ctx = Context(args, driver)
    passed = True
    for scenario in SCENARIOS:
        name = scenario.__name__
        try:
            if ctx.asynchronous:
                detail = await scenario(ctx)
            else:
                detail = run_to_end(scenario(ctx))
        except Exception as error:  # every failure is reported, then the next scenario runs
            passed = False
            report(name, False, outcome(error))
        else:
            report(name, True, detail)
    return passed


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--uri", required=True)
    parser.add_argument("--mode", choices=("sync", "async"), default="sync")
    parser.add_argument("--auth", choices=("none", "basic"), default="basic")
    parser.add_argument("--user", default="neo4j")
    parser.add_argument("--password", default="password")
    parser.add_argument("--database", default=None)
    parser.add_argument("--backend", choices=("fake", "falkordb"), default="fake")
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--timeout", type=float, default=10.0,
                        help="seconds to connect (managed transactions retry for 3 s at most)")
    parser.add_argument("--connect-attempts", type=int, default=1,
                        help="tries for the first connection (for FalkorDB's lost handshakes)")
    return parser.parse_args(argv)


async def main_async(args: argparse.Namespace) -> bool:
    driver = make_driver(args)
    try:
        return await run_all(args, driver)
    finally:
        await driver.close()


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.mode == "async":
        passed = asyncio.run(main_async(args))
    else:
        with make_driver(args) as driver:
            passed = run_to_end(run_all(args, driver))
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
