"""Which graph a server holds, up to what colour refinement can tell apart, in flat memory.

One :class:`GraphFingerprint` per server. The scan writes each node's and each
relationship's content hash (labels or type plus type-tagged properties) into a
temporary SQLite file, never into a Python structure per entity: memory stays
the same whatever the graph's size (SQLite's page cache is capped), and disk
holds about 40 bytes per entity.

Identity of structure comes from iterated neighbourhood hashing (the
Weisfeiler-Lehman colour refinement): a node's colour starts as its content
hash; each round it becomes the hash of its previous colour and the multiset of
``(direction, relationship content, neighbour colour)`` over its relationships.
The multiset hash is a sum mod 2**64 of 64-bit hashes, so no neighbour list is
ever sorted or held. Rounds continue until neither graph's partition into
colours gets finer (or a cap is reached). The two graphs are then compared as
multisets of final node colours per label set, and of ``(relationship content,
start colour, end colour)`` per type.

What this cannot tell apart (stated in docs/migrate.md):

* graphs that 1-WL colour refinement does not distinguish: for example a ring of
  six identical nodes against two rings of three, all with identical
  relationships. Any node with unique content (a key, a name) breaks such
  symmetry around it.
* when the round cap stops refinement before the partition is stable, a change
  further than that many hops from every node whose colour it would alter;
* 64-bit hash collisions (about n²/2**65 for n distinct colours).
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import struct
import tempfile
from pathlib import Path
from types import TracebackType

_MASK = (1 << 64) - 1
_PACK3 = struct.Struct("<qqq")
_blake2b = hashlib.blake2b


def signed(value: int) -> int:
    """``value`` mod 2**64 as SQLite's signed 64-bit integer."""
    value &= _MASK
    return value - (1 << 64) if value >> 63 else value


def h64(data: bytes) -> int:
    return int.from_bytes(hashlib.blake2b(data, digest_size=8).digest(), "little", signed=True)


def mix(a: int, b: int, c: int) -> int:
    """A 64-bit hash of three 64-bit values (order matters)."""
    return h64(_PACK3.pack(a, b, c))


def scratch_settings(db: sqlite3.Connection, cache_kib: int) -> None:
    """A scratch file: no journal, no fsync, and a page cache capped at ``cache_kib``."""
    for pragma in (
        "journal_mode = OFF",
        "synchronous = OFF",
        f"cache_size = -{int(cache_kib)}",  # negative: KiB, so memory is capped
        "temp_store = FILE",
    ):
        db.execute(f"PRAGMA {pragma}")


class _MultisetSum:
    """SQLite aggregate: the sum mod 2**64 of ``mix(direction, rel, colour)`` per row.

    A sum of hashes does not depend on row order, so a node's neighbourhood
    needs neither sorting nor holding.
    """

    def __init__(self) -> None:
        self.total = 0

    def step(self, direction: int, rel: int, colour: int | None) -> None:
        # ``mix`` inlined (unsigned: the same sum mod 2**64): this runs twice per
        # relationship per round, and each Python call saved is a tenth of its cost.
        packed = _PACK3.pack(direction, rel, 0 if colour is None else colour)
        self.total += int.from_bytes(_blake2b(packed, digest_size=8).digest(), "little")

    def finalize(self) -> int:
        return signed(self.total)


# One refinement round: each node's neighbourhood as a multiset hash, then its new colour.
_ROUND = """
    DROP TABLE IF EXISTS hood;
    CREATE TABLE hood AS
      SELECT id, msum(d, rc, nc) AS h FROM (
        SELECT r.s AS id, 1 AS d, r.c AS rc, k.c AS nc
          FROM rels r LEFT JOIN colour k ON k.id = r.e
        UNION ALL
        SELECT r.e AS id, 2 AS d, r.c AS rc, k.c AS nc
          FROM rels r LEFT JOIN colour k ON k.id = r.s
      ) GROUP BY id;
    CREATE TABLE next (id INTEGER PRIMARY KEY, c INTEGER NOT NULL);
    INSERT INTO next
      SELECT k.id, mix(k.c, coalesce(h.h, 0), 3)
        FROM colour k LEFT JOIN hood h ON h.id = k.id ORDER BY k.id;
    DROP TABLE hood;
    DROP TABLE colour;
    ALTER TABLE next RENAME TO colour;
"""

# Two stores' multisets of final colours, told apart in one pass of SQLite's sorter: each
# row counts +1 for this store (``main``) and -1 for the other (attached as ``other``), so
# a key whose sum is not 0 is a surplus on one side; only per-group totals come back.
_SURPLUS = """
    SELECT grp, sum(max(n, 0)), sum(max(-n, 0)) FROM (
      SELECT grp, sum(side) AS n FROM ({rows}) GROUP BY {key}
    ) WHERE n != 0 GROUP BY grp ORDER BY grp
"""
_NODE_ROWS = (
    "SELECT n.grp AS grp, k.c AS c, {side} AS side"
    " FROM {db}.nodes n JOIN {db}.colour k ON k.id = n.id WHERE n.c % {parts} IN ({part}, -{part})"
)
_REL_ROWS = (
    "SELECT r.grp AS grp, r.c AS c, coalesce(a.c, 0) AS sc, coalesce(b.c, 0) AS ec, {side} AS side"
    " FROM {db}.rels r LEFT JOIN {db}.colour a ON a.id = r.s LEFT JOIN {db}.colour b ON b.id = r.e"
    " WHERE r.c % {parts} IN ({part}, -{part})"
)
_MULTISETS = {
    "nodes": (_NODE_ROWS, "grp, c"),
    "relationships": (_REL_ROWS, "grp, c, sc, ec"),
}


def refine_store(path: Path) -> int:
    """One refinement round of the store at ``path``, in whichever process or thread runs
    it; how many distinct colours it left."""
    with GraphFingerprint(path=path) as store:
        store.refine()
        return store.distinct


def colour_surplus(
    blue: Path, green: Path, kind: str, part: int = 0, parts: int = 1
) -> list[tuple[int, int, int]]:
    """``(group, blue surplus, green surplus)`` per group whose multisets of final colours
    differ: of nodes, or of relationships as ``(content, start colour, end colour)``.

    The keys themselves are compared, not hashes of them: exact. Memory holds one row
    per group; the sorting is SQLite's, on disk beyond its capped cache. ``part`` of
    ``parts`` compares only the entities whose content hash is ``part`` modulo ``parts``
    (equal keys fall in the same part), so that parts can be sorted at once, and their
    surpluses added up.
    """
    rows, key = _MULTISETS[kind]
    both = " UNION ALL ".join(
        rows.format(db=db, side=side, part=int(part), parts=int(parts))
        for db, side in (("main", 1), ("other", -1))
    )
    with GraphFingerprint(path=blue) as store:
        store.db.execute("ATTACH DATABASE ? AS other", (str(green),))
        result = store.db.execute(_SURPLUS.format(rows=both, key=key))
        return [(int(group), int(more), int(fewer)) for group, more, fewer in result]


class GraphFingerprint:
    """One server's entity hashes in a temporary SQLite file, and their refinement."""

    def __init__(
        self, directory: Path | None = None, cache_kib: int = 32_768, *, path: Path | None = None
    ) -> None:
        """A new, empty store in a temporary directory; or, with ``path``, the store that
        another process is filling or has filled there (it is neither created nor deleted)."""
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        if path is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="boltproxy-validate-", dir=directory)
            path = Path(self._tmp.name) / "graph.sqlite"
            created = True
        else:
            created = False
        self.path = path
        # Refinement runs in a worker thread (it is CPU-bound); one thread at a time uses it.
        self.db = sqlite3.connect(self.path, check_same_thread=False)
        self.db.create_function("mix", 3, mix, deterministic=True)
        self.db.create_aggregate("msum", 3, _MultisetSum)  # type: ignore[arg-type]
        scratch_settings(self.db, cache_kib)
        if created:
            self.db.executescript(
                """
                CREATE TABLE nodes (id INTEGER PRIMARY KEY, grp INTEGER NOT NULL,
                                    c INTEGER NOT NULL);
                CREATE TABLE rels (id INTEGER PRIMARY KEY, grp INTEGER NOT NULL,
                                   c INTEGER NOT NULL, s INTEGER NOT NULL, e INTEGER NOT NULL);
                CREATE TABLE colour (id INTEGER PRIMARY KEY, c INTEGER NOT NULL);
                """
            )
            self.db.commit()
        self.rounds = 0
        self.distinct = 0  # colours: counted by ``seal`` and each round, or told (``reload``)

    def close(self) -> None:
        self.db.close()
        if self._tmp is not None:
            self._tmp.cleanup()

    def reload(self, distinct: int) -> None:
        """Another connection (a scanning process) sealed the store, with ``distinct``
        colours."""
        self.distinct = distinct

    def __enter__(self) -> GraphFingerprint:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    # --- filling -----------------------------------------------------------------------

    def add_nodes(self, rows: list[tuple[int, int, int]]) -> None:
        """``(id, group hash, content hash)`` rows."""
        self.db.executemany("INSERT OR REPLACE INTO nodes VALUES (?, ?, ?)", rows)

    def add_relationships(self, rows: list[tuple[int, int, int, int, int]]) -> None:
        """``(id, group hash, content hash, start id, end id)`` rows."""
        self.db.executemany("INSERT OR REPLACE INTO rels VALUES (?, ?, ?, ?, ?)", rows)

    def seal(self) -> None:
        """Scanning is over: the initial colours are the content hashes."""
        self.db.execute("INSERT INTO colour SELECT id, c FROM nodes ORDER BY id")
        self.db.commit()
        self.distinct = self._count_distinct()

    def dangling(self) -> int:
        """Relationships whose start or end node was not seen by the node scan."""
        row = self.db.execute(
            "SELECT count(*) FROM rels r WHERE NOT EXISTS (SELECT 1 FROM nodes n WHERE n.id = r.s)"
            " OR NOT EXISTS (SELECT 1 FROM nodes n WHERE n.id = r.e)"
        ).fetchone()
        return int(row[0])

    # --- refinement --------------------------------------------------------------------

    def refine(self) -> bool:
        """One round; whether the partition got finer (more distinct colours)."""
        self.db.executescript(_ROUND)
        self.db.commit()
        return self.record_round(self._count_distinct())

    def record_round(self, distinct: int) -> bool:
        """A round was done (here or by another connection) and left ``distinct`` colours:
        whether the partition got finer."""
        self.rounds += 1
        before, self.distinct = self.distinct, distinct
        return self.distinct > before

    def _count_distinct(self) -> int:
        return int(self.db.execute("SELECT count(DISTINCT c) FROM colour").fetchone()[0])

    # --- reading the result ------------------------------------------------------------

    def sample_nodes(self, size: int, seed: int) -> list[tuple[int, int]]:
        """``size`` pseudo-random ``(id, colour)`` pairs, the same for the same seed."""
        return list(
            self.db.execute(
                "SELECT n.id, k.c FROM nodes n JOIN colour k ON k.id = n.id"
                " ORDER BY mix(n.id, ?, 5) LIMIT ?",
                (seed, size),
            )
        )

    def nodes_with_colours(self, colours: list[int], limit: int) -> dict[int, list[int]]:
        """Up to ``limit`` node ids of each of ``colours``, found in one pass over the nodes
        (colours have no index: one query per colour would scan them all each time)."""
        found: dict[int, list[int]] = {colour: [] for colour in colours}
        rows = self.db.execute(
            "SELECT c, id FROM (SELECT c, id, row_number() OVER (PARTITION BY c) AS nth"
            " FROM colour WHERE c IN (SELECT value FROM json_each(?))) WHERE nth <= ?",
            (json.dumps(colours), limit),
        )
        for colour, node_id in rows:
            found[colour].append(node_id)
        return found
