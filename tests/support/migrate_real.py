"""A graph with every value type and index kind Neo4j Community holds, and ways to read it.

Used by the migrator's tests against real Neo4j 5.26 (blue) and 2026.x (green).
``content`` reads a whole graph as the server prints it (``toString`` with
``valueType``), without the migrator's code and without the Python driver's value
decoding, so a comparison of two servers' ``content`` is independent of both.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from boltproxy.migrate.progress import NullProgress
from tests.support.neo4j import Neo4jHandle

# Prefix of every index and constraint this graph creates.
PREFIX = "mig12_"

SCHEMA = [
    f"CREATE INDEX {PREFIX}range FOR (n:Person) ON (n.uid)",
    f"CREATE INDEX {PREFIX}rel_range FOR ()-[r:WORKS_AT]-() ON (r.since)",
    f"CREATE TEXT INDEX {PREFIX}text FOR (n:Person) ON (n.name)",
    f"CREATE POINT INDEX {PREFIX}point FOR (n:Person) ON (n.home)",
    f"CREATE FULLTEXT INDEX {PREFIX}ft FOR (n:Person|Company) ON EACH [n.name, n.bio]",
    f"CREATE FULLTEXT INDEX {PREFIX}ft_rel FOR ()-[r:REVIEWED]-() ON EACH [r.note]",
    f"CREATE VECTOR INDEX {PREFIX}vec FOR (n:Doc) ON (n.emb) OPTIONS {{indexConfig: "
    "{`vector.dimensions`: 3, `vector.similarity_function`: 'cosine'}}",
    f"CREATE CONSTRAINT {PREFIX}unique FOR (c:Company) REQUIRE c.cid IS UNIQUE",
    f"CREATE CONSTRAINT {PREFIX}rel_unique FOR ()-[r:HOLDS]-() REQUIRE r.ref IS UNIQUE",
]

# Offsets with seconds are built from numbers: 5.26 does not parse them from text.
ANN = """CREATE (:Person:Employee {uid: 1, name: 'Ann', bio: 'it\\'s "quoted" ☃ 𝄞',
  age: 42, big: 9223372036854775807, small: -9223372036854775807 - 1, ratio: 0.1 + 0.2,
  tiny: 4.9e-324, neg0: -0.0, nan: 0.0 / 0.0, inf: 1.0 / 0.0, ninf: -1.0 / 0.0, ok: true,
  tags: ['a', 'b'], ints: [1, 2], floats: [1.5, 0.0 / 0.0], bools: [true, false],
  bytes: $bytes,
  home: point({latitude: 55.25, longitude: 12.5}),
  home3: point({latitude: 1.0, longitude: 2.0, height: 3.0}),
  cart: point({x: 1.5, y: -2.5}), cart3: point({x: 1.0, y: 2.0, z: 3.0}),
  pts: [point({x: 1.0, y: 2.0}), point({x: 3.0, y: 4.0})],
  wpts: [point({latitude: 1.5, longitude: 2.5}), point({latitude: 3.5, longitude: 4.5})],
  d: date('2024-02-29'), dneg: date({year: -5, month: 1, day: 1}),
  dbig: date({year: 12345, month: 6, day: 7}),
  lt: localtime('12:34:56.123456789'),
  t: time({hour: 10, minute: 1, timezone: '+00:20:34'}),
  tneg: time({hour: 10, timezone: '-00:20:34'}),
  ldt: localdatetime('2020-01-01T10:00:00.000000001'),
  ldtneg: localdatetime({year: -5, month: 3, day: 1, hour: 3, minute: 4, second: 5,
                         nanosecond: 7}),
  dt: datetime({epochSeconds: 1577836800, nanosecond: 5, timezone: '+00:20:34'}),
  dtneg: datetime({epochSeconds: 1577836800, nanosecond: 5, timezone: '-00:20:34'}),
  dtz: datetime('2021-03-28T02:30:00[Europe/Paris]'),
  dtzold: datetime('1850-01-01T00:00:00[Europe/Amsterdam]'),
  dtbig: datetime({year: 20000, month: 1, day: 1, timezone: 'Z'}),
  dur: duration('P1Y2M3DT4H5M6.000000007S'), durs: [duration('PT1S'), duration('-P1D')],
  dates: [date('2020-01-01'), date({year: -1, month: 1, day: 1})],
  dts: [datetime({epochSeconds: 0, timezone: '+00:20:34'}),
        datetime({epochSeconds: 60, timezone: '+01:00'})],
  zts: [datetime('2021-01-01T00:00:00[Asia/Kolkata]')],
  times: [time({hour: 1, timezone: '+00:20:34'})]})"""

GRAPH = [
    ANN,
    # Content-identical nodes: only their relationships tell them apart.
    "CREATE (:Person {name: 'John Smith'}), (:Person {name: 'John Smith'})",
    "CREATE (:Company {cid: 10, name: 'Acme'}), (:Company {cid: 11, name: 'Bolt'})",
    "CREATE (:Doc {emb: [0.1, 0.2, 0.3]})",
    "CREATE (:Bare)-[:LINK]->(:Bare)",
    "MATCH (j:Person {name: 'John Smith'}) WITH collect(j) AS js "
    "MATCH (x:Company {cid: 10}), (y:Company {cid: 11}) "
    "FOREACH (j IN js[0..1] | CREATE (j)-[:WORKS_AT {since: 2020}]->(x)) "
    "FOREACH (j IN js[1..2] | CREATE (j)-[:WORKS_AT {since: 2020}]->(y))",
    "MATCH (a:Person {uid: 1}), (x:Company {cid: 10}) "
    "CREATE (a)-[:REVIEWED {note: 'fine', at: datetime({epochSeconds: 99, timezone: "
    "'-00:20:34'}), d: date({year: -44, month: 3, day: 15}), p: point({x: 1.0, y: 2.0}),"
    " ps: [point({x: 1.0, y: 2.0})], t: time({hour: 2, timezone: '+00:20:34'})}]->(x),"
    " (a)-[:HOLDS {ref: 'r1'}]->(x), (a)-[:SELF]->(a)",
    "UNWIND range(1, 250) AS i CREATE (:Bulk {i: i, f: i / 7.0})",
]
NODES = 258
RELATIONSHIPS = 6
BYTES = bytes([0, 1, 254, 255])


def run(handle: Neo4jHandle, query: str, **params: Any) -> list[list[Any]]:
    with handle.driver() as driver:
        records, _, _ = driver.execute_query(query, params)
    return [record.values() for record in records]


def populate(handle: Neo4jHandle) -> None:
    for query in SCHEMA:
        run(handle, query)
    run(handle, "CALL db.awaitIndexes(300)")
    for query in GRAPH:
        run(handle, query, bytes=BYTES)


_NODES = (
    "MATCH (n) RETURN labels(n), [k IN keys(n) | [k, valueType(n[k]),"
    " CASE WHEN n[k] IS :: LIST<ANY> THEN [x IN n[k] | toString(x)] ELSE toString(n[k]) END]]"
)
_RELS = (
    "MATCH (a)-[r]->(b) RETURN elementId(a), elementId(b), type(r), [k IN keys(r) | [k,"
    " valueType(r[k]), CASE WHEN r[k] IS :: LIST<ANY> THEN [x IN r[k] | toString(x)]"
    " ELSE toString(r[k]) END]]"
)


def _canonical(value: Any) -> str:
    return repr(sorted(map(repr, value)) if isinstance(value, list) else value)


def content(handle: Neo4jHandle) -> tuple[list[str], list[str]]:
    """Every node and relationship as printed text, as sorted multisets.

    A relationship is named with the printed content of both endpoints, so a
    relationship moved between two nodes of different content changes it.
    """
    nodes: dict[str, str] = {}
    for element_id, labels, props in run(
        handle, _NODES.replace("RETURN", "RETURN elementId(n),")
    ):
        nodes[element_id] = repr((sorted(labels), sorted(map(repr, props))))
    rels = sorted(
        repr((nodes[a], rel_type, nodes[b], sorted(map(repr, props))))
        for a, b, rel_type, props in run(handle, _RELS)
    )
    return sorted(nodes.values()), rels


def printed(handle: Neo4jHandle, key: str, where: str = "n.uid = 1") -> Any:
    """One property of one node as the server prints it."""
    rows = run(handle, f"MATCH (n) WHERE {where} RETURN CASE WHEN n.{key} IS :: LIST<ANY> "
                       f"THEN [x IN n.{key} | toString(x)] ELSE toString(n.{key}) END")  # fmt: skip
    return rows[0][0]


def schema_names(handle: Neo4jHandle) -> tuple[set[str], set[str]]:
    constraints = {row[0] for row in run(handle, "SHOW CONSTRAINTS YIELD name")}
    indexes = {row[0] for row in run(handle, "SHOW INDEXES YIELD name")}
    return constraints, indexes


@contextmanager
def clean(*handles: Neo4jHandle) -> Iterator[None]:
    """Servers emptied of data before and after; indexes and constraints made inside
    dropped after (the servers are shared by every test of the session)."""
    before = {handle.uri: schema_names(handle) for handle in handles}
    for handle in handles:
        run(handle, "MATCH (n) DETACH DELETE n")
    try:
        yield
    finally:
        for handle in handles:
            run(handle, "MATCH (n) DETACH DELETE n")
            constraints, indexes = before[handle.uri]
            now_constraints, _ = schema_names(handle)
            for name in sorted(now_constraints - constraints):
                run(handle, f"DROP CONSTRAINT `{name}` IF EXISTS")
            _, now_indexes = schema_names(handle)
            for name in sorted(now_indexes - indexes):
                run(handle, f"DROP INDEX `{name}` IF EXISTS")
            kinds = {row[0] for row in run(handle, "SHOW INDEXES YIELD type, entityType "
                                                   "WHERE type = 'LOOKUP' RETURN entityType")}
            for entity, pattern in (("NODE", "(n) ON EACH labels(n)"),
                                    ("RELATIONSHIP", "()-[r]-() ON EACH type(r)")):
                if entity not in kinds:  # a test dropped a default lookup index: put it back
                    run(handle, f"CREATE LOOKUP INDEX IF NOT EXISTS FOR {pattern}")


class Interrupted(Exception):
    pass


class StopInCleanup(NullProgress):
    """Interrupts an import or copy as its clean-up phase starts."""

    def phase(self, name: str, total: int | None, done: int = 0) -> None:
        if name == "cleanup":
            raise Interrupted


def driver_view(handle: Neo4jHandle, key: str) -> Any:
    """A property as the Python driver decodes it (which rounds offsets to minutes)."""
    with handle.driver() as driver:
        records, _, _ = driver.execute_query(f"MATCH (n {{uid: 1}}) RETURN n.{key} AS v")
    return records[0]["v"]

