"""Range partitioning of a graph's internal ids, read by several workers at once.

A graph is read as half-open ranges ``[lo, hi)`` of internal ids, each fetched with
an id seek. Unlike keyset paging (``WHERE id > $after ORDER BY id LIMIT``), no page
sorts or scans the remainder of the graph, and ranges are independent, so several
are read in parallel. Ids may have gaps (deleted entities): a range then holds
fewer entities than its width, and a range found empty makes the cursor jump to
the next id that exists, so a long gap costs one look-up rather than one read
per range. A range never holds more entities than its width, so memory is
bounded by ``width * workers`` whatever the graph's size.
"""

from __future__ import annotations

import asyncio
import bisect
import itertools
from collections.abc import Awaitable, Callable, Iterable, Iterator
from dataclasses import dataclass

from boltproxy.tasks import spawn


@dataclass(frozen=True)
class IdRange:
    lo: int  # inclusive
    hi: int  # exclusive


@dataclass(frozen=True)
class Bounds:
    """The smallest and largest id, and how many entities lie between (empty: hi < lo)."""

    lowest: int
    highest: int
    count: int

    @property
    def empty(self) -> bool:
        return self.count == 0 or self.highest < self.lowest


class RangeCursor:
    """Hands out consecutive ranges of ``width`` ids over ``bounds``, one at a time.

    Shared by the workers of one scan: each takes the next range when it is free,
    so a slow range never holds the others back.
    """

    def __init__(self, bounds: Bounds, width: int, start: int | None = None) -> None:
        if width < 1:
            raise ValueError("a range must be at least one id wide")
        self.width = width
        self.highest = bounds.highest
        self.next = bounds.lowest if start is None else max(start, bounds.lowest)
        if bounds.empty:
            self.next = self.highest + 1

    def take(self) -> IdRange | None:
        """The next range, or None once every id up to the highest is handed out."""
        if self.next > self.highest:
            return None
        span = IdRange(self.next, min(self.next + self.width, self.highest + 1))
        self.next = span.hi
        return span

    def skip_to(self, at: int | None) -> None:
        """No id exists below ``at`` (None: none at all) beyond what was handed out."""
        if at is None:
            self.next = self.highest + 1
        else:
            self.next = max(self.next, at)

    def __iter__(self) -> Iterator[IdRange]:
        while (span := self.take()) is not None:
            yield span


class DoneRanges:
    """Ranges already written by an earlier run, to leave out of a resumed scan."""

    def __init__(self, done: Iterable[IdRange] = ()) -> None:
        merged: list[IdRange] = []
        # Done ranges may overlap (an earlier run with other range widths): merged here,
        # so that ``missing`` can start from one bisection.
        for span in sorted((s for s in done if s.hi > s.lo), key=lambda s: s.lo):
            if merged and span.lo <= merged[-1].hi:
                merged[-1] = IdRange(merged[-1].lo, max(merged[-1].hi, span.hi))
            else:
                merged.append(span)
        self.spans = merged
        self._los = [span.lo for span in merged]

    def __len__(self) -> int:
        return len(self.spans)

    def missing(self, span: IdRange) -> list[IdRange]:
        """The parts of ``span`` that no done range covers, in order."""
        parts: list[IdRange] = []
        at = span.lo
        index = max(0, bisect.bisect_right(self._los, span.lo) - 1)
        for done in itertools.islice(self.spans, index, None):
            if done.lo >= span.hi:
                break
            if done.hi <= at:
                continue
            if done.lo > at:
                parts.append(IdRange(at, done.lo))
            at = max(at, done.hi)
            if at >= span.hi:
                break
        if at < span.hi:
            parts.append(IdRange(at, span.hi))
        return parts


async def scan_ranges(
    cursor: RangeCursor,
    read: Callable[[IdRange], Awaitable[int]],
    next_id: Callable[[int], Awaitable[int | None]],
    workers: int,
) -> None:
    """Run ``read`` over every range of ``cursor`` with ``workers`` concurrent tasks.

    ``read`` returns how many entities the range held; an empty range makes the
    cursor skip to the next existing id (found by ``next_id``). The first failure
    cancels the other workers and is raised.
    """

    async def work() -> None:
        while (span := cursor.take()) is not None:
            if not await read(span) and span.hi <= cursor.highest:
                cursor.skip_to(await next_id(span.hi))

    tasks = [spawn(work(), f"range-worker-{n}") for n in range(max(1, workers))]
    try:
        await asyncio.gather(*tasks)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
