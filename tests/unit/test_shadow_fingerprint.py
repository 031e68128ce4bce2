"""Query shapes: one shape per query structure, whatever the literals, spacing and case."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from boltproxy.shadow.fingerprint import fingerprint, shape_text

# A query template: {0}, {1}… are literal slots.
TEMPLATES = [
    "MATCH (n:Person {{name: {0}}})-[:KNOWS]->(m) WHERE n.age > {1} RETURN m.name LIMIT {2}",
    "UNWIND {0} AS x RETURN x * {1} AS y",
    "MERGE (a:Account {{id: {0}}}) SET a.balance = a.balance - {1} RETURN a",
    "MATCH (n) WHERE n.x IN {0} AND n.flag = {1} RETURN n.x - {2} ORDER BY n.x DESC",
]
KEYWORDS = ["MATCH", "WHERE", "RETURN", "LIMIT", "UNWIND", "AS", "MERGE", "SET", "IN", "AND"]
KEYWORDS += ["ORDER", "BY", "DESC"]

literals = st.one_of(
    st.integers(-(10**12), 10**12).map(str),
    st.floats(allow_nan=False, allow_infinity=False).map(repr).filter(lambda s: "inf" not in s),
    st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=12).map(
        lambda s: "'" + s.replace("\\", "\\\\").replace("'", "\\'") + "'"
    ),
    st.from_regex(r"\$[a-z][a-z0-9_]{0,8}", fullmatch=True),
    st.lists(st.integers(0, 99).map(str), min_size=1, max_size=5).map(
        lambda items: "[" + ", ".join(items) + "]"
    ),
    st.sampled_from(["true", "FALSE", "null"]),
)
spacing = st.sampled_from([" ", "  ", "\n", "\t ", " /* note */ ", " // line\n"])


def _respace(query: str, gap: str) -> str:
    return query.replace(" ", gap)


def _recase(query: str, upper: bool) -> str:
    out = query
    for word in KEYWORDS:
        out = out.replace(f"{word} ", f"{word.lower() if not upper else word} ")
    return out


@given(
    template=st.sampled_from(TEMPLATES),
    first=st.lists(literals, min_size=3, max_size=3),
    second=st.lists(literals, min_size=3, max_size=3),
    gap=spacing,
    upper=st.booleans(),
)
def test_shape_ignores_literals_spacing_comments_and_keyword_case(
    template: str, first: list[str], second: list[str], gap: str, upper: bool
) -> None:
    one = template.format(*first)
    other = _recase(_respace(template.format(*second), gap), upper)
    assert fingerprint(one) == fingerprint(other)


@given(template=st.sampled_from(TEMPLATES), values=st.lists(literals, min_size=3, max_size=3))
def test_normalising_a_shape_text_gives_it_back(template: str, values: list[str]) -> None:
    text = shape_text(template.format(*values))
    assert shape_text(text) == text


@given(st.text(max_size=80))
def test_any_text_has_a_stable_shape(query: str) -> None:
    assert fingerprint(query) == fingerprint(query)
    assert shape_text(shape_text(query)) == shape_text(query) or "?" not in query


@pytest.mark.parametrize(
    ("one", "other"),
    [
        ("MATCH (n:Person) RETURN n", "MATCH (n:Company) RETURN n"),
        ("MATCH (n) RETURN n.name", "MATCH (n) RETURN n.title"),
        ("CYPHER 5 RETURN 1", "CYPHER 25 RETURN 1"),
        ("MATCH (n) RETURN n", "MATCH (n) RETURN n ORDER BY n.x"),
        ("RETURN stdev(1)", "RETURN stDev(1)"),
        ("RETURN n.x - 1", "RETURN n.x, 1"),
    ],
)
def test_structure_changes_the_shape(one: str, other: str) -> None:
    assert fingerprint(one).id != fingerprint(other).id


def test_shape_text_reads_like_the_query() -> None:
    query = "match (n:Person {name: 'Bob'})-[:KNOWS]->(m) where n.age > 30 return count(*) as c"
    assert shape_text(query) == (
        "MATCH (n:Person {name: ?})-[:KNOWS]->(m) WHERE n.age > ? RETURN COUNT(*) AS c"
    )


def test_literal_lists_of_any_length_are_one_shape_but_indexing_is_kept() -> None:
    assert shape_text("RETURN [1, 2, 3] AS xs, ys[0]") == "RETURN ? AS xs, ys[?]"
    assert shape_text("RETURN -1, 2 - 1") == "RETURN ?, ? - ?"


def test_words_used_as_names_keep_their_case() -> None:
    assert shape_text("MATCH (n:Match {set: 1}) RETURN n.Return") == (
        "MATCH (n:Match {set: ?}) RETURN n.Return"
    )


def test_shape_id_is_short_hex() -> None:
    shape = fingerprint("RETURN 1")
    assert len(shape.id) == 16 and int(shape.id, 16) >= 0
