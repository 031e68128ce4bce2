"""Sorted multisets compared row by row, whatever the width of their keys."""

from __future__ import annotations

from boltproxy.migrate.identity import multiset_difference


def test_equal_multisets_have_no_difference() -> None:
    rows = [(1, 5, 7, 9, 2), (1, 6, 0, 0, 1), (2, 1, 1, 1, 3)]
    assert list(multiset_difference(iter(rows), iter(rows))) == []


def test_surplus_on_either_side_is_reported_per_group() -> None:
    blue = [(1, 5, 2), (1, 6, 1), (3, 1, 4)]
    green = [(1, 5, 1), (2, 9, 2), (3, 1, 4), (3, 2, 1)]
    assert list(multiset_difference(iter(blue), iter(green))) == [
        (1, 1, 0), (1, 1, 0), (2, 0, 2), (3, 0, 1),
    ]


def test_wide_keys_differing_only_in_an_endpoint_colour() -> None:
    blue = [(7, 100, 1, 2, 1)]
    green = [(7, 100, 1, 3, 1)]
    assert list(multiset_difference(iter(blue), iter(green))) == [(7, 1, 0), (7, 0, 1)]


def test_one_side_empty() -> None:
    assert list(multiset_difference(iter([]), iter([(4, 1, 2)]))) == [(4, 0, 2)]
    assert list(multiset_difference(iter([(4, 1, 2)]), iter([]))) == [(4, 2, 0)]
