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
import sqlite3
import struct
import tempfile
from collections.abc import Iterator
from pathlib import Path
from types import TracebackType

_MASK = (1 << 64) - 1
_PACK3 = struct.Struct("<qqq")


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
        self.total += mix(direction, rel, 0 if colour is None else colour)

    def finalize(self) -> int:
        return signed(self.total)


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
        self.distinct = 0 if created else self._count_distinct()

    def close(self) -> None:
        self.db.close()
        if self._tmp is not None:
            self._tmp.cleanup()

    def reload(self) -> None:
        """Another connection (a scanning process) sealed the store: take up its state."""
        self.distinct = self._count_distinct()

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
        db = self.db
        db.executescript(
            """
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
        )
        db.commit()
        self.rounds += 1
        before, self.distinct = self.distinct, self._count_distinct()
        return self.distinct > before

    def _count_distinct(self) -> int:
        return int(self.db.execute("SELECT count(DISTINCT c) FROM colour").fetchone()[0])

    # --- reading the result ------------------------------------------------------------

    def node_colours(self) -> Iterator[tuple[int, int, int]]:
        """``(group, colour, count)`` sorted: the multiset of final node colours."""
        yield from self.db.execute(
            "SELECT n.grp, k.c, count(*) FROM nodes n JOIN colour k ON k.id = n.id"
            " GROUP BY n.grp, k.c ORDER BY n.grp, k.c"
        )

    def relationship_colours(self) -> Iterator[tuple[int, ...]]:
        """``(group, content, start colour, end colour, count)`` sorted.

        The triple itself, not a hash of it: exact, and no Python call per relationship.
        """
        yield from self.db.execute(
            "SELECT r.grp, r.c, coalesce(a.c, 0), coalesce(b.c, 0), count(*) FROM rels r"
            " LEFT JOIN colour a ON a.id = r.s LEFT JOIN colour b ON b.id = r.e"
            " GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3, 4"
        )

    def sample_nodes(self, size: int, seed: int) -> list[tuple[int, int]]:
        """``size`` pseudo-random ``(id, colour)`` pairs, the same for the same seed."""
        return list(
            self.db.execute(
                "SELECT n.id, k.c FROM nodes n JOIN colour k ON k.id = n.id"
                " ORDER BY mix(n.id, ?, 5) LIMIT ?",
                (seed, size),
            )
        )

    def nodes_with_colour(self, colour: int, limit: int) -> list[int]:
        return [
            row[0]
            for row in self.db.execute("SELECT id FROM colour WHERE c = ? LIMIT ?", (colour, limit))
        ]


def multiset_difference(
    blue: Iterator[tuple[int, ...]], green: Iterator[tuple[int, ...]]
) -> Iterator[tuple[int, int, int]]:
    """``(group, blue surplus, green surplus)`` per key where two sorted multisets differ.

    Rows are ``(group, *key, count)``, sorted by ``(group, *key)``; they are walked
    together, so nothing but the current row of each is held.
    """
    b = next(blue, None)
    g = next(green, None)
    while b is not None or g is not None:
        bkey = b[:-1] if b is not None else None
        gkey = g[:-1] if g is not None else None
        if b is not None and (gkey is None or bkey < gkey):  # type: ignore[operator]
            yield b[0], b[-1], 0
            b = next(blue, None)
        elif g is not None and (bkey is None or gkey < bkey):  # type: ignore[operator]
            yield g[0], 0, g[-1]
            g = next(green, None)
        else:
            assert b is not None and g is not None
            if b[-1] != g[-1]:
                surplus = b[-1] - g[-1]
                yield b[0], max(surplus, 0), max(-surplus, 0)
            b = next(blue, None)
            g = next(green, None)
