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
* ``neo4j``: a real Neo4j (5.26 or 2026.x) with authentication on. Writes are
  read back (rolled-back ones must be gone), bookmarks chain sessions causally,
  and four more scenarios run: every value type, notifications and GQL
  statuses, re-authentication (``--other-user``, a user the caller created for
  this run only: its wrong-password attempts must not lock out the main user),
  and the cleanup of what this run wrote.

Besides ``detail``, a scenario may print ``facts``: what the user observed, free of
run-specific ids, so that a run straight to a server and one through the proxy
can be compared fact by fact.
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

Scenario = Callable[["Context"], Coroutine[Any, Any, "str | tuple[str, Any]"]]


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
        self.real = args.backend == "neo4j"
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


async def connectivity(ctx: Context) -> tuple[str, Any]:
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
    detail = f"driver {neo4j.__version__}, server {info.agent}, Bolt {protocol}{retried}"
    return detail, {"agent": info.agent, "bolt": protocol}


async def auto_commit_execute_query(ctx: Context) -> str:
    eager = await settle(ctx.driver.execute_query("RETURN 1 AS x", database_=ctx.database))
    values = [record["x"] for record in eager.records]
    check(values == [1], f"RETURN 1 AS x gave {values!r}")
    check(list(eager.keys) == ["x"], f"keys were {list(eager.keys)!r}")
    return "RETURN 1 AS x -> [1]"


async def auto_commit_session_run(ctx: Context) -> str | tuple[str, Any]:
    session = ctx.session()
    try:
        value = await ctx.single_value(session, "RETURN 1 AS x", "x")
        check(value == 1, f"RETURN 1 AS x gave {value!r}")
        if ctx.real:
            bookmarks = await settle(session.last_bookmarks())
            check(bool(bookmarks), "an auto-commit query left no bookmark")
            await ctx.create_probe(session, "auto")
            found = await ctx.count_probes(session, "auto")
            check(found == 1, f"an auto-commit write was read back {found} times, expected once")
            return ("RETURN 1 AS x -> 1, bookmark received; auto-commit write read back",
                    {"value": value, "read_back": found})
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


async def explicit_transaction_commit(ctx: Context) -> str | tuple[str, Any]:
    if ctx.real:
        return await real_commit(ctx)
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


async def explicit_transaction_rollback(ctx: Context) -> str | tuple[str, Any]:
    if ctx.real:
        return await real_rollback(ctx)
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


async def managed_transactions_with_bookmarks(ctx: Context) -> str | tuple[str, Any]:
    if ctx.real:
        return await real_causal_chain(ctx)
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


async def large_result(ctx: Context) -> tuple[str, Any]:
    rows = ctx.args.rows
    session = ctx.session(fetch_size=1000)
    try:
        result = await settle(session.run("UNWIND range(1, $n) AS i RETURN i", {"n": rows}))
        count, last = await count_records(result)
    finally:
        await settle(session.close())
    check(count == rows, f"streamed {count} rows, expected {rows}")
    check(last is not None and last["i"] == rows, f"the last row was {last!r}, expected i={rows}")
    return f"{count} rows", {"rows": count}


async def server_error(ctx: Context) -> tuple[str, Any]:
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
            facts = {"class": type(error).__name__, "code": error.code}
            if ctx.real:
                facts.update(gql_error_facts(error))
                check(len(str(facts["gql_status"])) == 5,
                      f"the error carries no GQL status: {facts!r}")
                caught += f" GQL {facts['gql_status']}"
        else:
            raise ScenarioFailed("a syntax error was accepted")
        value = await ctx.single_value(session, "RETURN 1 AS x", "x")
        check(value == 1, f"RETURN 1 AS x after the error gave {value!r}")
    finally:
        await settle(session.close())
    return f"{caught}; session usable afterwards", facts


def gql_error_facts(error: Any) -> dict[str, Any]:
    """The GQL fields of a driver error and of the causes it chains."""
    causes = []
    cause = error.__cause__
    while cause is not None and len(causes) < 5:
        causes.append(getattr(cause, "gql_status", type(cause).__name__))
        cause = cause.__cause__
    return {
        "gql_status": error.gql_status,
        "classification": error.gql_raw_classification,
        "description": error.gql_status_description,
        "diagnostic_record": error.diagnostic_record,
        "message": error.message,
        "causes": causes,
    }


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


async def parameters(ctx: Context) -> tuple[str, Any]:
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
    return f"{len(values)} values round-tripped: " + ", ".join(values), {"names": list(values)}


# --------------------------------------------------------------------------- real Neo4j only


async def real_commit(ctx: Context) -> tuple[str, Any]:
    """A committed write is there for the next session that carries the bookmark."""
    session = ctx.session()
    try:
        before = await settle(session.last_bookmarks())
        tx = await settle(session.begin_transaction())
        await ctx.create_probe(tx, "commit")
        inside = await ctx.count_probes(tx, "commit")
        await settle(tx.commit())
        after = await settle(session.last_bookmarks())
    finally:
        await settle(session.close())
    check(inside == 1, f"the transaction saw its own write {inside} times, expected once")
    check(bool(after) and after != before, "COMMIT did not give the session a new bookmark")
    reader = ctx.session(bookmarks=after)
    try:
        found = await ctx.count_probes(reader, "commit")
    finally:
        await settle(reader.close())
    check(found == 1, f"a committed write was read back {found} times, expected once")
    return ("committed; new bookmark; read back in a session with that bookmark",
            {"inside": inside, "read_back": found})


async def real_rollback(ctx: Context) -> tuple[str, Any]:
    """A rolled-back write is gone, and the session goes on."""
    session = ctx.session()
    try:
        tx = await settle(session.begin_transaction())
        await ctx.create_probe(tx, "rollback")
        inside = await ctx.count_probes(tx, "rollback")
        await settle(tx.rollback())
        check(bool(tx.closed()), "the transaction is still open after rollback")
        value = await ctx.single_value(session, "RETURN 2 AS x", "x")
        check(value == 2, f"RETURN 2 AS x after a rollback gave {value!r}")
        kept = await ctx.count_probes(session, "rollback")
    finally:
        await settle(session.close())
    check(inside == 1, f"the transaction saw its own write {inside} times, expected once")
    check(kept == 0, f"{kept} rolled-back writes are still there")
    return "rolled back: the write is gone; session usable", {"inside": inside, "kept": kept}


async def real_causal_chain(ctx: Context) -> tuple[str, Any]:
    """Three sessions, each starting from the bookmarks of the one before."""
    async def first(tx: Any) -> Any:
        await ctx.create_probe(tx, "chain1")

    async def second(tx: Any) -> Any:
        seen = await ctx.count_probes(tx, "chain1")
        await ctx.create_probe(tx, "chain2")
        return seen

    async def third(tx: Any) -> Any:
        return (await ctx.count_probes(tx, "chain1"), await ctx.count_probes(tx, "chain2"))

    bookmarks: Any = None
    seen: list[Any] = []
    for step, (function, read) in enumerate(((first, False), (second, False), (third, True))):
        session = ctx.session(bookmarks=bookmarks) if step else ctx.session()
        try:
            run = session.execute_read if read else session.execute_write
            seen.append(await settle(run(ctx.work(function))))
            bookmarks = await settle(session.last_bookmarks())
        finally:
            await settle(session.close())
        check(bool(bookmarks), f"session {step + 1} of the chain left no bookmark")
    check(seen[1] == 1, f"the second session saw the first one's write {seen[1]} times")
    check(tuple(seen[2]) == (1, 1), f"the third session saw {seen[2]!r}, expected (1, 1)")
    return ("execute_write, execute_write, execute_read: each session saw what the one "
            "before wrote", {"second_saw": seen[1], "third_saw": list(seen[2])})


# Every value type a user reads back, built by the server (Cypher 5, both versions).
VALUES_QUERY = """RETURN
  date('2024-02-29') AS date,
  date('0001-01-01') AS first_date,
  time('12:34:56.123456789+02:00') AS time_with_offset,
  localtime('23:59:59.999999999') AS local_time,
  datetime('2024-03-31T02:30:00[Europe/Berlin]') AS zoned_in_dst_gap,
  datetime('2024-10-27T02:30:00+01:00[Europe/Berlin]') AS zoned_in_fold,
  datetime('2024-06-01T12:00:00.000000001+05:45') AS datetime_with_offset,
  datetime('1969-12-31T23:59:59.5Z') AS before_epoch,
  datetime({year: 1900, month: 1, day: 1, timezone: 'America/New_York'}) AS old_zoned,
  localdatetime('2024-01-01T00:00:00.000000001') AS local_datetime,
  duration('P1Y2M3DT4H5M6.000000007S') AS duration,
  duration({days: -1, seconds: 1}) AS negative_duration,
  point({x: 1.5, y: -2.5}) AS cartesian_2d,
  point({x: 1, y: 2, z: 3}) AS cartesian_3d,
  point({longitude: 12.5, latitude: 55.7}) AS wgs84_2d,
  point({longitude: 12.5, latitude: 55.7, height: 30.0}) AS wgs84_3d,
  [date('2024-01-01'), duration('PT1S')] AS temporal_list,
  {at: datetime('2024-01-01T00:00:00Z'), where: point({x: 0, y: 0})} AS temporal_map"""
# Bolt 6 and Cypher 25 only (2026.x): one vector per element type.
VECTORS_QUERY = """CYPHER 25 RETURN
  vector([1, -2, 3], 3, INTEGER8) AS int8,
  vector([1, -2, 3], 3, INTEGER16) AS int16,
  vector([1, -2, 3], 3, INTEGER32) AS int32,
  vector([1, -2, 3], 3, INTEGER) AS int64,
  vector([1.5, -2.5, 0.25], 3, FLOAT32) AS float32,
  vector([1.5, -2.5, 0.1], 3, FLOAT64) AS float64"""
GRAPH_QUERY = """CREATE p = (a:ClientProbe {run: $run, step: 'graph', at: date('2024-01-01')})
  -[r:CLIENT_PROBE {w: 1.5}]->(b:ClientProbe:Second {run: $run, step: 'graph'})
RETURN a, r, b, p"""


def shown(value: Any) -> str:
    """A value as the user sees it: its type and every field (a point's srid too).

    Map keys are sorted: Neo4j keeps no order in a map.
    """
    if isinstance(value, dict):
        return "{" + ", ".join(f"{key!r}: {shown(value[key])}" for key in sorted(value)) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(shown(item) for item in value) + "]"
    srid = getattr(value, "srid", None)
    return f"{type(value).__name__} {value!r}" + (f" srid={srid}" if srid is not None else "")


async def values(ctx: Context) -> tuple[str, Any]:
    session = ctx.session()
    wrong: list[str] = []
    facts: dict[str, Any] = {}
    try:
        record = (await all_records(await settle(session.run(VALUES_QUERY))))[0]
        received = dict(record.items())
        info = await settle(ctx.driver.get_server_info())
        vectors = tuple(info.protocol_version) >= (6, 0) and hasattr(neo4j, "vector")
        if vectors:
            record = (await all_records(await settle(session.run(VECTORS_QUERY))))[0]
            received.update({f"vector {key}": value for key, value in record.items()})
        for name, value in received.items():
            facts[name] = shown(value)
            back = await ctx.single_value(session, "RETURN $p AS p", "p", p=value)
            # A driver Vector has no __eq__: its repr shows its type and every byte.
            equal = back == value or type(value).__name__ == "Vector"
            if not equal or shown(back) != shown(value):
                wrong.append(f"{name}: sent {shown(value)}, got {shown(back)}")
        tx = await settle(session.begin_transaction())
        try:
            record = (await all_records(await settle(tx.run(GRAPH_QUERY, run=ctx.run_id))))[0]
        finally:
            await settle(tx.rollback())
        a, r, b, path = record["a"], record["r"], record["b"], record["p"]
        check(r.start_node.element_id == a.element_id and r.end_node.element_id == b.element_id,
              "the relationship does not point from a to b")
        check([n.element_id for n in path.nodes] == [a.element_id, b.element_id],
              "the path's nodes are not a and b")
        facts["graph"] = {
            "a": [sorted(a.labels), shown(a["at"]), a["step"]],
            "r": [r.type, r["w"], len(path.relationships)],
            "b": sorted(b.labels),
        }
    finally:
        await settle(session.close())
    check(not wrong, "values changed on the way back: " + "; ".join(wrong))
    vectors_note = "" if vectors else " (no vectors below Bolt 6)"
    return (f"{len(received)} values read and sent back unchanged{vectors_note}; "
            "node, relationship, path"), facts


def status_facts(summary: Any) -> list[Any]:
    facts = []
    for status in summary.gql_status_objects:
        position = status.position
        facts.append({
            "gql_status": status.gql_status,
            "classification": status.raw_classification,
            "severity": status.raw_severity,
            "description": status.status_description,
            "position": None if position is None else [position.line, position.column],
            "diagnostic_record": status.diagnostic_record,
        })
    return facts


# A deprecated function (id) on a label nobody creates: two warnings, one deprecation.
NOTIFYING_QUERY = "MATCH (n:NoSuchLabelForClientScenarios) RETURN id(n) AS i"


async def notifications(ctx: Context) -> tuple[str, Any]:
    facts: dict[str, Any] = {}
    configs: dict[str, dict[str, Any]] = {
        "default": {},
        "severity OFF": {"notifications_min_severity": "OFF"},
        "no deprecations": {"notifications_disabled_classifications": ["DEPRECATION"]},
    }
    for name, config in configs.items():
        session = ctx.session(**config)
        try:
            result = await settle(session.run(NOTIFYING_QUERY))
            summary = await settle(result.consume())
        finally:
            await settle(session.close())
        facts[name] = status_facts(summary)
    codes = {name: [f["gql_status"] for f in found] for name, found in facts.items()}
    deprecations = [f for f in facts["default"] if f["classification"] == "DEPRECATION"]
    check(len(deprecations) == 1 and deprecations[0]["gql_status"] in ("01N01", "01N02"),
          f"no id() deprecation among the statuses: {codes['default']}")
    check(all(not c.startswith("01") for c in codes["severity OFF"]),
          f"warnings came back although the session turned them off: {codes['severity OFF']}")
    check("01N50" in codes["no deprecations"]
          and deprecations[0]["gql_status"] not in codes["no deprecations"],
          f"the classification filter was not applied: {codes['no deprecations']}")
    return "; ".join(f"{name}: {' '.join(c)}" for name, c in codes.items()), facts


async def current_user(ctx: Context, **config: Any) -> str:
    session = ctx.session(**config)
    try:
        return str(await ctx.single_value(session, "SHOW CURRENT USER YIELD user", "user"))
    finally:
        await settle(session.close())


async def reauthentication(ctx: Context) -> tuple[str, Any]:
    main_user, other = ctx.args.user, ctx.args.other_user
    check(other is not None, "--other-user is needed against real Neo4j")
    other_auth = (other, ctx.args.other_password)
    wrong_auth = (other, ctx.args.other_password + "-wrong")
    verified = [
        await settle(ctx.driver.verify_authentication(auth=(main_user, ctx.args.password))),
        await settle(ctx.driver.verify_authentication(auth=other_auth)),
        await settle(ctx.driver.verify_authentication(auth=wrong_auth)),
    ]
    check(verified == [True, True, False], f"verify_authentication gave {verified}")
    # Session-level auth: pooled connections log off and on again as another user.
    users = [await current_user(ctx), await current_user(ctx, auth=other_auth),
             await current_user(ctx), await current_user(ctx, auth=other_auth)]
    expected = [main_user, other, main_user, other]
    check(users == expected, f"SHOW CURRENT USER gave {users}, expected {expected}")
    try:
        await current_user(ctx, auth=wrong_auth)
    except neo4j_errors.Neo4jError as error:
        failure = {"class": type(error).__name__, "code": error.code,
                   "gql_status": error.gql_status}
    else:
        raise ScenarioFailed("a session with a wrong password ran a query")
    check(failure["class"] == "AuthError", f"a wrong session password gave {failure}")
    after = await current_user(ctx)
    check(after == main_user, f"after the failed session the driver ran as {after!r}")
    return (f"verify_authentication {verified}; session users {users}; wrong password: "
            f"{failure['class']} {failure['code']}"), {
        "verified": verified, "users": [u == main_user for u in users], "failure": failure}


async def cleanup(ctx: Context) -> tuple[str, Any]:
    """Delete what this run wrote (and check it was all still there)."""
    session = ctx.session()
    try:
        result = await settle(session.run(
            "MATCH (n:ClientProbe {run: $run}) DETACH DELETE n", run=ctx.run_id))
        summary = await settle(result.consume())
    finally:
        await settle(session.close())
    deleted = summary.counters.nodes_deleted
    check(deleted == 4, f"deleted {deleted} nodes, expected 4 (auto, commit, chain1, chain2)")
    return f"deleted the {deleted} nodes this run wrote", {"deleted": deleted}


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
REAL_SCENARIOS: list[Scenario] = [*SCENARIOS, values, notifications, reauthentication, cleanup]


# --------------------------------------------------------------------------- running


def report(name: str, ok: bool, detail: str, facts: Any = None) -> None:
    line = {"scenario": name, "ok": ok, "detail": detail, "facts": facts}
    print(json.dumps(line, default=str), flush=True)


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
    for scenario in REAL_SCENARIOS if ctx.real else SCENARIOS:
        name = scenario.__name__
        try:
            if ctx.asynchronous:
                done = await scenario(ctx)
            else:
                done = run_to_end(scenario(ctx))
        except Exception as error:  # every failure is reported, then the next scenario runs
            passed = False
            report(name, False, outcome(error))
        else:
            detail, facts = done if isinstance(done, tuple) else (done, None)
            report(name, True, detail, facts)
    return passed


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--uri", required=True)
    parser.add_argument("--mode", choices=("sync", "async"), default="sync")
    parser.add_argument("--auth", choices=("none", "basic"), default="basic")
    parser.add_argument("--user", default="neo4j")
    parser.add_argument("--password", default="password")
    parser.add_argument("--database", default=None)
    parser.add_argument("--backend", choices=("fake", "falkordb", "neo4j"), default="fake")
    parser.add_argument("--other-user", default=None,
                        help="a second user for re-authentication (real Neo4j only)")
    parser.add_argument("--other-password", default="")
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
