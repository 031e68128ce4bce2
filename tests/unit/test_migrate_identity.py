"""Two stores' multisets of final colours compared in SQLite, whatever the width of their keys."""

from __future__ import annotations

from pathlib import Path

from boltproxy.migrate.identity import GraphFingerprint, colour_surplus, refine_store


def store(
    directory: Path,
    name: str,
    nodes: list[tuple[int, int, int]],
    rels: list[tuple[int, int, int, int, int]] = [],  # noqa: B006 - read only
) -> Path:
    """A sealed store at ``directory/name`` holding ``nodes`` and ``rels``."""
    path = directory / name
    with GraphFingerprint(directory) as scratch:
        scratch.db.execute("VACUUM INTO ?", (str(path),))
    with GraphFingerprint(path=path) as filled:
        filled.add_nodes(nodes)
        filled.add_relationships(rels)
        filled.seal()
    return path


def test_equal_multisets_have_no_difference(tmp_path: Path) -> None:
    nodes = [(1, 7, 5), (2, 7, 6), (3, 8, 5)]
    blue = store(tmp_path, "blue", nodes, [(1, 9, 100, 1, 2)])
    green = store(tmp_path, "green", [(10 + i, g, c) for i, g, c in nodes], [(4, 9, 100, 11, 12)])
    assert colour_surplus(blue, green, "nodes") == []
    assert colour_surplus(blue, green, "relationships") == []


def test_surplus_on_either_side_is_reported_per_group(tmp_path: Path) -> None:
    blue = store(tmp_path, "blue", [(1, 1, 5), (2, 1, 5), (3, 1, 6), (4, 3, 1)])
    green = store(tmp_path, "green", [(1, 1, 5), (2, 2, 9), (3, 2, 9), (4, 3, 1), (5, 3, 2)])
    assert colour_surplus(blue, green, "nodes") == [(1, 2, 0), (2, 0, 2), (3, 0, 1)]


def test_relationships_differing_only_in_an_endpoint_colour(tmp_path: Path) -> None:
    nodes = [(1, 7, 1), (2, 7, 2), (3, 7, 3)]
    blue = store(tmp_path, "blue", nodes, [(1, 9, 100, 1, 2)])
    green = store(tmp_path, "green", nodes, [(1, 9, 100, 1, 3)])
    assert colour_surplus(blue, green, "nodes") == []
    assert colour_surplus(blue, green, "relationships") == [(9, 1, 1)]


def test_one_side_empty(tmp_path: Path) -> None:
    blue = store(tmp_path, "blue", [])
    green = store(tmp_path, "green", [(1, 4, 1), (2, 4, 1)])
    assert colour_surplus(blue, green, "nodes") == [(4, 0, 2)]
    assert colour_surplus(green, blue, "nodes") == [(4, 2, 0)]


def test_refinement_tells_apart_what_content_alone_cannot(tmp_path: Path) -> None:
    # Two content-identical people; on blue each works at one company, on green one at both.
    nodes = [(1, 1, 50), (2, 1, 50), (3, 2, 60), (4, 2, 61)]
    blue = store(tmp_path, "blue", nodes, [(1, 9, 7, 1, 3), (2, 9, 7, 2, 4)])
    green = store(tmp_path, "green", nodes, [(1, 9, 7, 1, 3), (2, 9, 7, 1, 4)])
    assert colour_surplus(blue, green, "nodes") == []
    assert refine_store(blue) == 4 and refine_store(green) == 4
    # The people differ now; the companies, each with one such person, still do not.
    assert colour_surplus(blue, green, "nodes") == [(1, 2, 2)]
    assert colour_surplus(blue, green, "relationships") == [(9, 2, 2)]


def test_nodes_of_sampled_colours_are_found_in_one_pass(tmp_path: Path) -> None:
    path = store(tmp_path, "blue", [(1, 7, 5), (2, 7, 6), (3, 7, 5), (4, 7, 5), (5, 7, -9)])
    with GraphFingerprint(path=path) as green:
        found = green.nodes_with_colours([5, -9, 42], 2)
    assert {colour: len(ids) for colour, ids in found.items()} == {5: 2, -9: 1, 42: 0}
    assert set(found[5]) <= {1, 3, 4} and found[-9] == [5]


def test_parts_add_up_to_the_whole(tmp_path: Path) -> None:
    nodes = [(i, 7, i % 3) for i in range(1, 9)]
    rels = [(j, 9 + j % 2, -j, j % 8 + 1, (j * 3) % 8 + 1) for j in range(1, 30)]
    blue = store(tmp_path, "blue", nodes, rels)
    green = store(tmp_path, "green", nodes, [(j, g, c, e, s) for j, g, c, s, e in rels])
    whole = colour_surplus(blue, green, "relationships")
    parts = [colour_surplus(blue, green, "relationships", part, 2) for part in range(2)]
    assert whole and all(parts)
    summed: dict[int, tuple[int, int]] = {}
    for group, more, fewer in parts[0] + parts[1]:
        was = summed.get(group, (0, 0))
        summed[group] = (was[0] + more, was[1] + fewer)
    assert sorted((g, m, f) for g, (m, f) in summed.items()) == whole
