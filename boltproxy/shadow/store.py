"""The diff store: outcomes by query shape in an embedded SQLite file.

Written only by the shadow worker (never on the event loop), read by the report.
Everything in it is a sum — counts by kind, latency histograms, status counts —
plus a few examples per shape and kind, so several stores (one per proxy
replica) merge by adding. Parameters are kept as a hash unless asked otherwise.
"""

from __future__ import annotations

import json
import math
import sqlite3
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from boltproxy.bolt import packstream, values
from boltproxy.shadow.compare import Outcome
from boltproxy.shadow.exchange import Exchange, hash_parameters
from boltproxy.shadow.fingerprint import Shape

SCHEMA_VERSION = "1"
ROLES = ("primary", "candidate")
# Latency buckets grow by 10%: percentiles within 5%, a few hundred buckets from 1 µs up.
_BASE = 1e-6
_GROWTH = 1.1

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS shapes (
    shape_id TEXT PRIMARY KEY, shape_text TEXT NOT NULL, ordered INTEGER NOT NULL,
    nondeterministic TEXT NOT NULL, first_seen REAL NOT NULL, last_seen REAL NOT NULL);
CREATE TABLE IF NOT EXISTS outcomes (
    shape_id TEXT NOT NULL, kind TEXT NOT NULL, detail TEXT NOT NULL,
    n INTEGER NOT NULL, counted INTEGER NOT NULL, PRIMARY KEY (shape_id, kind, detail));
CREATE TABLE IF NOT EXISTS latency (
    shape_id TEXT NOT NULL, role TEXT NOT NULL, bucket INTEGER NOT NULL, n INTEGER NOT NULL,
    PRIMARY KEY (shape_id, role, bucket));
CREATE TABLE IF NOT EXISTS statuses (
    shape_id TEXT NOT NULL, status TEXT NOT NULL, title TEXT NOT NULL,
    deprecation INTEGER NOT NULL, n INTEGER NOT NULL, PRIMARY KEY (shape_id, status));
CREATE TABLE IF NOT EXISTS examples (
    id INTEGER PRIMARY KEY, shape_id TEXT NOT NULL, kind TEXT NOT NULL, detail TEXT NOT NULL,
    at REAL NOT NULL, session TEXT NOT NULL, database TEXT, query TEXT NOT NULL,
    parameters_hash TEXT NOT NULL, parameters TEXT, differences TEXT NOT NULL,
    primary_latency REAL NOT NULL, candidate_latency REAL);
CREATE TABLE IF NOT EXISTS noise (
    shape_id TEXT NOT NULL, path TEXT NOT NULL, PRIMARY KEY (shape_id, path));
"""


class StoreError(Exception):
    """A store file that cannot be opened or read."""


def latency_bucket(seconds: float) -> int:
    return max(0, math.floor(math.log(max(seconds, _BASE) / _BASE, _GROWTH)))


def bucket_value(bucket: int) -> float:
    """The middle of a bucket, in seconds."""
    return float(_BASE * _GROWTH ** (bucket + 0.5))


def percentile(histogram: dict[int, int], fraction: float) -> float | None:
    total = sum(histogram.values())
    if not total:
        return None
    rank = max(1, math.ceil(fraction * total))
    seen = 0
    for bucket in sorted(histogram):
        seen += histogram[bucket]
        if seen >= rank:
            return bucket_value(bucket)
    return bucket_value(max(histogram))


def parameters_text(raw: bytes, version: tuple[int, int]) -> str:
    """Parameters as readable JSON, for stores that keep them."""
    try:
        value = values.hydrate(packstream.unpack_all(raw), version)
    except (packstream.PackStreamError, values.ValueShapeError):
        return "<undecodable>"
    return json.dumps(value, default=repr, ensure_ascii=False)[:2000]


class ShadowStore:
    """A writable store; one writer (the worker) per file."""

    def __init__(
        self, path: Path, *, keep_parameters: bool = False, examples_per_kind: int = 3
    ) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._db = sqlite3.connect(path, isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.executescript(_SCHEMA)
            self._db.execute(
                "INSERT OR IGNORE INTO meta VALUES ('schema_version', ?)", (SCHEMA_VERSION,)
            )
        except sqlite3.Error as exc:
            raise StoreError(f"cannot open the shadow store {path}: {exc}") from None
        self._keep_parameters = keep_parameters
        self._examples_per_kind = examples_per_kind
        self._example_counts: dict[tuple[str, str, str], int] = {}
        self._pending = 0
        self._db.execute("BEGIN")

    def record(
        self,
        exchange: Exchange,
        shape: Shape,
        outcome: Outcome,
        *,
        ordered: bool = False,
    ) -> None:
        db = self._db
        now = exchange.started_at or time.time()
        db.execute(
            "INSERT INTO shapes VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT(shape_id) DO UPDATE SET"
            " first_seen = min(first_seen, excluded.first_seen),"
            " last_seen = max(last_seen, excluded.last_seen)",
            (shape.id, shape.text, int(ordered), ",".join(outcome.nondeterministic), now, now),
        )
        db.execute(
            "INSERT INTO outcomes VALUES (?, ?, ?, 1, ?) ON CONFLICT DO UPDATE SET"
            " n = n + 1, counted = counted + excluded.counted",
            (shape.id, outcome.kind.value, outcome.detail, int(outcome.is_difference)),
        )
        self._latency(shape.id, "primary", exchange.primary.latency)
        if exchange.candidate is not None and not exchange.candidate_explained:
            self._latency(shape.id, "candidate", exchange.candidate.latency)
        for status in outcome.new_statuses:
            db.execute(
                "INSERT INTO statuses VALUES (?, ?, ?, ?, 1) ON CONFLICT DO UPDATE SET n = n + 1",
                (shape.id, status.key, status.title, int(status.deprecation)),
            )
        self._example(exchange, shape, outcome)
        self._pending += 1

    def record_noise(self, shape_id: str, paths: Iterable[str]) -> None:
        """Result paths learned to differ between two runs on the primary (noise learning)."""
        self._db.executemany(
            "INSERT INTO noise VALUES (?, ?) ON CONFLICT DO NOTHING",
            [(shape_id, path) for path in paths],
        )
        self._pending += 1

    def _latency(self, shape_id: str, role: str, seconds: float) -> None:
        self._db.execute(
            "INSERT INTO latency VALUES (?, ?, ?, 1) ON CONFLICT DO UPDATE SET n = n + 1",
            (shape_id, role, latency_bucket(seconds)),
        )

    def _example(self, exchange: Exchange, shape: Shape, outcome: Outcome) -> None:
        key = (shape.id, outcome.kind.value, outcome.detail)
        count = self._example_counts.get(key)
        if count is None:
            row = self._db.execute(
                "SELECT count(*) FROM examples WHERE shape_id = ? AND kind = ? AND detail = ?", key
            ).fetchone()
            count = int(row[0])
        if count >= self._examples_per_kind:
            self._example_counts[key] = count
            return
        self._example_counts[key] = count + 1
        parameters = None
        if self._keep_parameters:
            parameters = parameters_text(exchange.parameters, exchange.primary.version)
        differences = [[d.path, d.primary, d.candidate] for d in outcome.differences]
        candidate = exchange.candidate
        self._db.execute(
            "INSERT INTO examples (shape_id, kind, detail, at, session, database, query,"
            " parameters_hash, parameters, differences, primary_latency, candidate_latency)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                *key,
                exchange.started_at,
                exchange.session_id,
                exchange.database,
                exchange.query,
                hash_parameters(exchange.parameters),  # here, in the worker, not on the loop
                parameters,
                json.dumps(differences, ensure_ascii=False),
                exchange.primary.latency,
                candidate.latency if candidate is not None else None,
            ),
        )

    @property
    def pending(self) -> int:
        return self._pending

    def commit(self) -> None:
        if self._pending:
            self._db.execute("COMMIT")
            self._db.execute("BEGIN")
            self._pending = 0

    def close(self) -> None:
        self.commit()
        self._db.execute("COMMIT")
        self._db.close()


# --- reading and merging -------------------------------------------------------------


@dataclass(slots=True)
class Example:
    kind: str
    detail: str
    at: float
    session: str
    database: str | None
    query: str
    parameters_hash: str
    parameters: str | None
    differences: list[tuple[str, str, str]]
    primary_latency: float
    candidate_latency: float | None


@dataclass(slots=True)
class ShapeSummary:
    shape_id: str
    text: str
    ordered: bool = False
    nondeterministic: str = ""
    first_seen: float = math.inf
    last_seen: float = 0.0
    #: (kind, detail) → count
    counts: dict[tuple[str, str], int] = field(default_factory=dict)
    #: outcomes that count as differences (nondeterministic noise excluded)
    counted: int = 0
    latency: dict[str, dict[int, int]] = field(
        default_factory=lambda: {role: {} for role in ROLES}
    )
    #: status → (title, deprecation, count)
    statuses: dict[str, tuple[str, bool, int]] = field(default_factory=dict)
    examples: list[Example] = field(default_factory=list)
    #: result paths learned to differ between two runs on the primary (disregarded)
    noise: set[str] = field(default_factory=set)

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    def kind_count(self, kind: str) -> int:
        return sum(n for (k, _), n in self.counts.items() if k == kind)

    def percentiles(self, role: str) -> dict[str, float | None]:
        histogram = self.latency.get(role, {})
        return {f"p{int(q * 100)}": percentile(histogram, q) for q in (0.5, 0.95, 0.99)}


def load(paths: Iterable[Path], examples_per_kind: int = 3) -> dict[str, ShapeSummary]:
    """Every store's shapes, merged by shape id."""
    shapes: dict[str, ShapeSummary] = {}
    for path in paths:
        if not path.is_file():
            raise StoreError(f"shadow store not found: {path}")
        try:
            with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as db:
                _merge(db, shapes, examples_per_kind)
        except sqlite3.Error as exc:
            raise StoreError(f"cannot read the shadow store {path}: {exc}") from None
    return shapes


def _merge(db: sqlite3.Connection, shapes: dict[str, ShapeSummary], examples: int) -> None:
    for shape_id, text, ordered, nondeterministic, first, last in db.execute(
        "SELECT * FROM shapes"
    ):
        shape = shapes.setdefault(shape_id, ShapeSummary(shape_id, text))
        shape.ordered = shape.ordered or bool(ordered)
        shape.nondeterministic = shape.nondeterministic or nondeterministic
        shape.first_seen = min(shape.first_seen, first)
        shape.last_seen = max(shape.last_seen, last)
    for shape_id, kind, detail, n, counted in db.execute("SELECT * FROM outcomes"):
        shape = shapes[shape_id]
        shape.counts[(kind, detail)] = shape.counts.get((kind, detail), 0) + n
        shape.counted += counted
    for shape_id, role, bucket, n in db.execute("SELECT * FROM latency"):
        histogram = shapes[shape_id].latency.setdefault(role, {})
        histogram[bucket] = histogram.get(bucket, 0) + n
    for shape_id, status, title, deprecation, n in db.execute("SELECT * FROM statuses"):
        known = shapes[shape_id].statuses.get(status, (title, bool(deprecation), 0))
        shapes[shape_id].statuses[status] = (known[0], known[1], known[2] + n)
    tables = {name for (name,) in db.execute("SELECT name FROM sqlite_master")}
    if "noise" in tables:  # stores written before noise learning have none
        for shape_id, path in db.execute("SELECT shape_id, path FROM noise"):
            if shape_id in shapes:
                shapes[shape_id].noise.add(path)
    for row in db.execute(
        "SELECT shape_id, kind, detail, at, session, database, query, parameters_hash,"
        " parameters, differences, primary_latency, candidate_latency FROM examples ORDER BY at"
    ):
        shape = shapes[row[0]]
        same = [e for e in shape.examples if (e.kind, e.detail) == (row[1], row[2])]
        if len(same) < examples:
            differences: list[Any] = json.loads(row[9])
            kind, detail, at, session, database, query, digest, parameters = row[1:9]
            shape.examples.append(
                Example(
                    kind, detail, at, session, database, query, digest, parameters,
                    [(str(a), str(b), str(c)) for a, b, c in differences], row[10], row[11],
                )
            )
