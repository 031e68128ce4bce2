"""Range partitioning: every id read exactly once, whatever the gaps, widths and workers."""

from __future__ import annotations

import asyncio
import bisect

import pytest

from boltproxy.migrate.ranges import Bounds, IdRange, RangeCursor, scan_ranges


def test_ranges_cover_the_span_half_open_without_overlap() -> None:
    spans = list(RangeCursor(Bounds(3, 12, 10), 4))
    assert spans == [IdRange(3, 7), IdRange(7, 11), IdRange(11, 13)]


def test_width_equal_to_the_span_gives_one_range() -> None:
    assert list(RangeCursor(Bounds(0, 9, 10), 10)) == [IdRange(0, 10)]


def test_a_single_id_is_one_range() -> None:
    assert list(RangeCursor(Bounds(5, 5, 1), 1000)) == [IdRange(5, 6)]


@pytest.mark.parametrize("bounds", [Bounds(0, -1, 0), Bounds(4, 2, 0), Bounds(0, 10, 0)])
def test_an_empty_graph_has_no_ranges(bounds: Bounds) -> None:
    assert list(RangeCursor(bounds, 10)) == []


def test_a_resume_starts_after_the_recorded_end() -> None:
    assert list(RangeCursor(Bounds(0, 9, 10), 4, start=6)) == [IdRange(6, 10)]
    assert list(RangeCursor(Bounds(0, 9, 10), 4, start=10)) == []


def test_a_start_below_the_lowest_id_starts_at_it() -> None:
    assert list(RangeCursor(Bounds(100, 101, 2), 4, start=0)) == [IdRange(100, 102)]


def test_zero_width_is_refused() -> None:
    with pytest.raises(ValueError):
        RangeCursor(Bounds(0, 9, 10), 0)


def test_skip_to_jumps_over_a_gap_and_never_back() -> None:
    cursor = RangeCursor(Bounds(0, 1000, 3), 10)
    assert cursor.take() == IdRange(0, 10)
    cursor.skip_to(500)
    assert cursor.take() == IdRange(500, 510)
    cursor.skip_to(20)  # behind the cursor: ignored
    assert cursor.take() == IdRange(510, 520)
    cursor.skip_to(None)
    assert cursor.take() is None


class FakeGraph:
    """Entities at the given ids; counts reads and look-ups."""

    def __init__(self, ids: list[int]) -> None:
        self.ids = sorted(ids)
        self.seen: list[int] = []
        self.reads = 0
        self.lookups = 0

    @property
    def bounds(self) -> Bounds:
        if not self.ids:
            return Bounds(0, -1, 0)
        return Bounds(self.ids[0], self.ids[-1], len(self.ids))

    async def read(self, span: IdRange) -> int:
        self.reads += 1
        await asyncio.sleep(0)  # let the other workers interleave
        lo, hi = (bisect.bisect_left(self.ids, end) for end in (span.lo, span.hi))
        found = self.ids[lo:hi]
        self.seen.extend(found)
        return len(found)

    async def next_id(self, at: int) -> int | None:
        self.lookups += 1
        index = bisect.bisect_left(self.ids, at)
        return self.ids[index] if index < len(self.ids) else None


@pytest.mark.parametrize("workers", [1, 2, 5])
@pytest.mark.parametrize("width", [1, 3, 7, 100])
@pytest.mark.parametrize(
    "ids",
    [
        [],
        [0],
        list(range(50)),
        [0, 1, 2, 1_000_000, 1_000_001, 5_000_000],  # large gaps
        [7, 8, 20, 21, 22, 40],  # gaps at range boundaries
    ],
)
async def test_every_id_is_read_exactly_once(ids: list[int], width: int, workers: int) -> None:
    graph = FakeGraph(ids)
    await scan_ranges(RangeCursor(graph.bounds, width), graph.read, graph.next_id, workers)
    assert sorted(graph.seen) == ids


async def test_a_large_gap_costs_a_look_up_not_a_read_per_range() -> None:
    graph = FakeGraph([0, 1, 10_000_000])
    await scan_ranges(RangeCursor(graph.bounds, 2), graph.read, graph.next_id, 1)
    assert graph.seen == [0, 1, 10_000_000]
    assert graph.reads <= 3 and graph.lookups <= 1


async def test_the_last_range_found_empty_needs_no_look_up() -> None:
    graph = FakeGraph([0, 9])
    graph.ids = [0]  # the highest id disappeared after the bounds were taken
    await scan_ranges(RangeCursor(Bounds(0, 9, 2), 5), graph.read, graph.next_id, 1)
    assert graph.seen == [0] and graph.lookups == 0


async def test_a_failing_read_stops_the_scan_and_is_raised() -> None:
    async def read(span: IdRange) -> int:
        if span.lo >= 20:
            raise RuntimeError("server gone")
        await asyncio.sleep(0)
        return 10

    async def next_id(at: int) -> int | None:
        return at

    with pytest.raises(RuntimeError, match="server gone"):
        await scan_ranges(RangeCursor(Bounds(0, 1000, 1001), 10), read, next_id, 3)
