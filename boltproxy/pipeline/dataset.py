"""A realistic generated graph (people, companies, who works where, who knows whom).

The rows carry only numbers, strings, booleans and ISO text: the queries turn the
text into temporal values and the coordinates into points on the server. So the
same rows load into Neo4j 5.26 and 2026.x alike, and FalkorDB (which cannot return
temporal values without aborting, and prints parameters into the query text) gets
a flavour without temporals and Cartesian points, in smaller batches.

Of ``size`` entities a third are nodes (one company per ten people) and the rest
relationships: every person works at a company, the remainder are KNOWS edges.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import neo4j

FIRST = ("Ada", "Alan", "Grace", "Edsger", "Barbara", "Donald", "Frances", "Ken", "Radia",
         "Tim", "Margaret", "Linus", "Sophie", "Jean", "Anita", "Niklaus", "Leslie", "Hedy",
         "Mária", "Zoë", "José", "Øystein", "Łukasz", "Chloé")  # fmt: skip
LAST = ("Lovelace", "Turing", "Hopper", "Dijkstra", "Liskov", "Knuth", "Allen", "Thompson",
        "Perlman", "Berners-Lee", "Hamilton", "Torvalds", "Wilson", "Sammet", "Borg",
        "Wirth", "Lamport", "Lamarr", "O'Neil", "Nuñez")  # fmt: skip
SECTORS = ("software", "energy", "retail", "finance", "health", "logistics", "media")
ROLES = ("engineer", "analyst", "manager", "designer", "operator", "director")
ZONES = ("Europe/Berlin", "America/New_York", "Asia/Tokyo", "Australia/Sydney", "UTC")
TAGS = ("graph", "cypher", "ops", "ml", "security", "data", "cloud", "mobile")

NEO4J_SCHEMA = (
    "CREATE CONSTRAINT person_uid IF NOT EXISTS FOR (p:Person) REQUIRE p.uid IS UNIQUE",
    "CREATE CONSTRAINT company_cid IF NOT EXISTS FOR (c:Company) REQUIRE c.cid IS UNIQUE",
    "CREATE INDEX person_name IF NOT EXISTS FOR (p:Person) ON (p.name)",
    "CREATE INDEX company_sector IF NOT EXISTS FOR (c:Company) ON (c.sector)",
    "CREATE TEXT INDEX person_email IF NOT EXISTS FOR (p:Person) ON (p.email)",
    "CREATE POINT INDEX person_home IF NOT EXISTS FOR (p:Person) ON (p.home)",
    "CREATE INDEX knows_since IF NOT EXISTS FOR ()-[k:KNOWS]-() ON (k.since)",
    "CREATE FULLTEXT INDEX company_names IF NOT EXISTS FOR (c:Company) ON EACH [c.name]",
)
# FalkorDB creates constraints through a Redis command, not Cypher: indexes only.
FALKORDB_SCHEMA = (
    "CREATE INDEX FOR (p:Person) ON (p.uid)",
    "CREATE INDEX FOR (c:Company) ON (c.cid)",
    "CREATE INDEX FOR (p:Person) ON (p.name)",
)

# Neo4j only: temporals, and a Cartesian 3D point (FalkorDB has geographic points only).
_PERSON_TEMPORALS = (
    ", desk: point({x: r.x, y: r.y, z: r.z}), born: date(r.born),"
    " created: datetime(r.created), lastSeen: localdatetime(r.lastSeen),"
    " wakeUp: localtime(r.wakeUp), shift: time(r.shift), tenure: duration(r.tenure)"
)
_PERSON = (
    "UNWIND $rows AS r CREATE (p:Person {{uid: r.uid, name: r.name, email: r.email,"
    " age: r.age, score: r.score, active: r.active, tags: r.tags,"
    " home: point({{latitude: r.lat, longitude: r.lon}}){temporals}}})"
    " FOREACH (_ IN CASE WHEN r.manager THEN [1] ELSE [] END | SET p:Manager)"
)
_COMPANY = (
    "UNWIND $rows AS r CREATE (:Company {{cid: r.cid, name: r.name, sector: r.sector,"
    " revenue: r.revenue, public: r.public,"
    " hq: point({{latitude: r.lat, longitude: r.lon}}){temporals}}})"
)
_WORKS_AT = (
    "UNWIND $rows AS r MATCH (p:Person {{uid: r.a}}) MATCH (c:Company {{cid: r.b}})"
    " CREATE (p)-[:WORKS_AT {{role: r.role, salary: r.salary{temporals}}}]->(c)"
)
_KNOWS = (
    "UNWIND $rows AS r MATCH (a:Person {uid: r.a}) MATCH (b:Person {uid: r.b})"
    " CREATE (a)-[:KNOWS {since: r.since, weight: r.weight}]->(b)"
)


@dataclass(frozen=True)
class Plan:
    """How many of each kind a dataset of ``size`` entities holds."""

    people: int
    companies: int
    works_at: int
    knows: int

    @classmethod
    def for_size(cls, size: int) -> Plan:
        if size < 3:
            raise ValueError("a dataset needs at least 3 entities")
        nodes = max(2, size // 3)
        companies = max(1, nodes // 11)
        people = nodes - companies
        works_at = min(people, size - nodes)
        return cls(people, companies, works_at, size - nodes - works_at)

    @property
    def total(self) -> int:
        return self.people + self.companies + self.works_at + self.knows


def _person(rng: random.Random, uid: int, temporals: bool) -> dict[str, Any]:
    first, last = rng.choice(FIRST), rng.choice(LAST)
    if not temporals:
        # FalkorDB prints parameters into the query text unescaped: a quote breaks it.
        last = last.replace("'", "")
    row: dict[str, Any] = {
        "uid": uid,
        "name": f"{first} {last}",
        "email": f"{first.lower()}.{uid}@example.org",
        "age": rng.randint(18, 80),
        "score": round(rng.uniform(0, 100), 3),
        "active": rng.random() < 0.8,
        "tags": rng.sample(TAGS, rng.randint(0, 3)),
        "lat": round(rng.uniform(-60, 70), 6),
        "lon": round(rng.uniform(-180, 180), 6),
        "x": rng.randint(0, 50) / 2,
        "y": rng.randint(0, 50) / 2,
        "z": float(rng.randint(0, 3)),
        "manager": rng.random() < 0.1,
    }
    if temporals:
        year = rng.randint(1950, 2005)
        row |= {
            "born": f"{year}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}",
            "created": f"20{rng.randint(10, 25)}-{rng.randint(1, 12):02d}-"
            f"{rng.randint(1, 28):02d}T{rng.randint(0, 23):02d}:{rng.randint(0, 59):02d}:"
            f"{rng.randint(0, 59):02d}.{rng.randint(0, 999_999_999):09d}[{rng.choice(ZONES)}]",
            "lastSeen": f"2025-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}T"
            f"{rng.randint(0, 23):02d}:{rng.randint(0, 59):02d}:00",
            "wakeUp": f"{rng.randint(5, 9):02d}:{rng.choice((0, 15, 30, 45)):02d}:00",
            "shift": f"{rng.randint(0, 23):02d}:00:00{rng.choice(('+01:00', '-05:00', 'Z'))}",
            "tenure": f"P{rng.randint(0, 20)}Y{rng.randint(0, 11)}M{rng.randint(0, 27)}D",
        }
    return row


def _company(rng: random.Random, cid: int, temporals: bool) -> dict[str, Any]:
    row: dict[str, Any] = {
        "cid": cid,
        "name": f"{rng.choice(LAST).replace(chr(39), '')} "
        f"{rng.choice(('Labs', 'Systems', 'Group', 'AG', 'Inc'))} {cid}",
        "sector": rng.choice(SECTORS),
        "revenue": round(rng.lognormvariate(15, 2), 2),
        "public": rng.random() < 0.3,
        "lat": round(rng.uniform(-60, 70), 6),
        "lon": round(rng.uniform(-180, 180), 6),
    }
    if temporals:
        row["founded"] = f"{rng.randint(1850, 2024)}-{rng.randint(1, 12):02d}-01"
    return row


@dataclass(frozen=True)
class Batch:
    kind: str  # person, company, works_at, knows
    query: str
    rows: list[dict[str, Any]]


def batches(plan: Plan, *, seed: int, temporals: bool, batch_size: int) -> Iterator[Batch]:
    """The dataset as write batches: nodes first, then the relationships between them."""
    rng = random.Random(seed)
    t = _PERSON_TEMPORALS if temporals else ""
    person_q = _PERSON.format(temporals=t)
    company_q = _COMPANY.format(temporals=", founded: date(r.founded)" if temporals else "")
    works_q = _WORKS_AT.format(temporals=", since: date(r.since)" if temporals else "")

    def chunked(kind: str, query: str, count: int, make: Callable[[int], dict[str, Any]]) -> (
        Iterator[Batch]
    ):
        for start in range(0, count, batch_size):
            rows = [make(i) for i in range(start, min(count, start + batch_size))]
            yield Batch(kind, query, rows)

    yield from chunked("company", company_q, plan.companies, lambda i: _company(rng, i, temporals))
    yield from chunked("person", person_q, plan.people, lambda i: _person(rng, i, temporals))

    def works(i: int) -> dict[str, Any]:
        row: dict[str, Any] = {
            "a": i,
            "b": rng.randrange(plan.companies),
            "role": rng.choice(ROLES),
            "salary": rng.randint(30, 250) * 1000,
        }
        if temporals:
            row["since"] = f"{rng.randint(1990, 2025)}-{rng.randint(1, 12):02d}-01"
        return row

    def knows(i: int) -> dict[str, Any]:
        a = i % plan.people
        # Mostly near neighbours, so traversals find clusters; some long links.
        b = (a + rng.randint(1, 50)) % plan.people if rng.random() < 0.8 else rng.randrange(
            plan.people
        )
        return {"a": a, "b": b, "since": rng.randint(1990, 2025), "weight": round(rng.random(), 4)}

    yield from chunked("works_at", works_q, plan.works_at, works)
    yield from chunked("knows", _KNOWS, plan.knows, knows)


def schema(flavor: str) -> tuple[str, ...]:
    return FALKORDB_SCHEMA if flavor == "falkordb" else NEO4J_SCHEMA


def run_statements(
    driver: neo4j.Driver, statements: list[str], on_done: Callable[[int], None]
) -> None:
    """Statements one by one in auto-commit transactions (schema commands need that)."""
    for statement in statements:
        with driver.session() as session:
            session.run(statement).consume()
        on_done(1)


def write_batch(driver: neo4j.Driver, batch: Batch) -> None:
    def work(tx: neo4j.ManagedTransaction) -> None:
        tx.run(batch.query, rows=batch.rows).consume()

    with driver.session() as session:
        session.execute_write(work)


def split_cypher(text: str) -> list[str]:
    """A Cypher file's statements: split at ``;`` outside strings, quotes and comments."""
    statements: list[str] = []
    current: list[str] = []
    quote: str | None = None
    i = 0
    while i < len(text):
        char = text[i]
        if quote is not None:
            current.append(char)
            if char == "\\" and quote != "`" and i + 1 < len(text):
                current.append(text[i + 1])
                i += 1
            elif char == quote:
                quote = None
        elif text.startswith("//", i):
            end = text.find("\n", i)
            i = len(text) if end < 0 else end
            continue
        elif text.startswith("/*", i):
            end = text.find("*/", i + 2)
            i = len(text) if end < 0 else end + 2
            continue
        elif char in "'\"`":
            quote = char
            current.append(char)
        elif char == ";":
            statements.append("".join(current).strip())
            current = []
        else:
            current.append(char)
        i += 1
    statements.append("".join(current).strip())
    return [s for s in statements if s]
