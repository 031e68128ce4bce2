"""What a resumed copy leaves out (ranges recorded earlier) and its map of node ids."""

from __future__ import annotations

import itertools
import random

import pytest

from boltproxy.migrate.idmap import IdMap
from boltproxy.migrate.ranges import DoneRanges, IdRange


def test_nothing_done_leaves_the_whole_range() -> None:
    assert DoneRanges().missing(IdRange(0, 10)) == [IdRange(0, 10)]


def test_a_range_done_whole_leaves_nothing() -> None:
    done = DoneRanges([IdRange(0, 10), IdRange(10, 20)])
    assert done.missing(IdRange(10, 20)) == []
    assert done.missing(IdRange(0, 20)) == []


def test_the_parts_between_done_ranges_are_left_in_order() -> None:
    done = DoneRanges([IdRange(12, 14), IdRange(3, 5)])
    assert done.missing(IdRange(0, 20)) == [IdRange(0, 3), IdRange(5, 12), IdRange(14, 20)]
    assert done.missing(IdRange(4, 13)) == [IdRange(5, 12)]


def test_overlapping_done_ranges_count_once() -> None:
    # An earlier run with another width: its ranges may straddle this run's.
    done = DoneRanges([IdRange(0, 100), IdRange(10, 20), IdRange(90, 130)])
    assert done.missing(IdRange(30, 40)) == []
    assert done.missing(IdRange(120, 140)) == [IdRange(130, 140)]


@pytest.mark.parametrize("seed", range(20))
def test_missing_parts_are_exactly_the_ids_no_done_range_holds(seed: int) -> None:
    rng = random.Random(seed)
    spans = []
    for _ in range(rng.randrange(8)):
        lo = rng.randrange(100)
        spans.append(IdRange(lo, lo + rng.randrange(1, 30)))
    done = DoneRanges(spans)
    lo = rng.randrange(100)
    span = IdRange(lo, lo + rng.randrange(1, 40))
    covered = {i for s in spans for i in range(s.lo, s.hi)}
    parts = done.missing(span)
    assert [i for p in parts for i in range(p.lo, p.hi)] == [
        i for i in range(span.lo, span.hi) if i not in covered
    ]
    assert all(a.hi < b.lo for a, b in itertools.pairwise(parts))


def test_id_map_answers_only_the_ids_it_holds() -> None:
    with IdMap() as ids:
        ids.add([1, 2, 3], [10, 20, 30])
        ids.add([7], [70])
        assert ids.lookup([3, 1, 3, 5, 7]) == {1: 10, 3: 30, 7: 70}
        assert ids.lookup([]) == {}


def test_id_map_looks_up_more_ids_than_one_statement_may_name() -> None:
    with IdMap() as ids:
        ids.add(range(70_000), range(1, 70_001))
        found = ids.lookup(range(0, 70_000, 1))
        assert len(found) == 70_000 and found[69_999] == 70_000
