"""The diff store: counts, examples, latency percentiles, parameters as hashes, merging."""

from __future__ import annotations

from pathlib import Path

from boltproxy.shadow.compare import OutcomeKind, compare
from boltproxy.shadow.fingerprint import fingerprint
from boltproxy.shadow.store import ShadowStore, bucket_value, latency_bucket, load, percentile
from tests.support.shadow_answers import answer, exchange, status

QUERY = "MATCH (n:P {name: $name}) RETURN n.age AS age"


def _fill(path: Path, *, keep_parameters: bool = False, mismatches: int = 5) -> None:
    store = ShadowStore(path, keep_parameters=keep_parameters, examples_per_kind=2)
    for i in range(10):
        p = answer(["age"], [[i]], latency=0.010)
        c = answer(["age"], [[i if i >= mismatches else -1]], latency=0.030)
        ex = exchange(QUERY, p, c, parameters={"name": f"secret-{i}"}, started_at=1000.0 + i)
        store.record(ex, fingerprint(QUERY), compare(ex))
    deprecated = answer(["x"], [[1]], statuses=[status("01N01", classification="DEPRECATION")])
    ex = exchange("MATCH (n) RETURN id(n) AS x", answer(["x"], [[1]]), deprecated)
    store.record(ex, fingerprint(ex.query), compare(ex))
    store.close()


def test_counts_examples_and_percentiles(tmp_path: Path) -> None:
    _fill(tmp_path / "a.db")
    shapes = load([tmp_path / "a.db"])
    shape = shapes[fingerprint(QUERY).id]
    assert shape.text == fingerprint(QUERY).text
    assert shape.counts == {("mismatch", "value"): 5, ("slower", ""): 5}
    assert shape.counted == 5  # one slow answer is not a finding: only a slow p95 is
    assert len([e for e in shape.examples if e.kind == "mismatch"]) == 2
    p95 = shape.percentiles("candidate")["p95"]
    assert p95 is not None and 0.028 < p95 < 0.032
    other = shapes[fingerprint("MATCH (n) RETURN id(n) AS x").id]
    assert other.statuses == {"01N01": ("info: 01N01", True, 1)}
    assert other.kind_count(OutcomeKind.NEW_STATUS) == 1


def test_parameters_are_hashes_unless_kept(tmp_path: Path) -> None:
    _fill(tmp_path / "hashed.db")
    assert b"secret-" not in (tmp_path / "hashed.db").read_bytes()
    for example in load([tmp_path / "hashed.db"])[fingerprint(QUERY).id].examples:
        assert example.parameters is None and len(example.parameters_hash) == 20
    _fill(tmp_path / "kept.db", keep_parameters=True)
    kept = load([tmp_path / "kept.db"])[fingerprint(QUERY).id].examples
    assert all(e.parameters and "secret-" in e.parameters for e in kept)


def test_stores_merge_by_adding(tmp_path: Path) -> None:
    _fill(tmp_path / "a.db")
    _fill(tmp_path / "b.db", mismatches=3)
    merged = load([tmp_path / "a.db", tmp_path / "b.db"])[fingerprint(QUERY).id]
    assert merged.counts == {("mismatch", "value"): 8, ("slower", ""): 12}
    assert sum(merged.latency["primary"].values()) == 20
    assert merged.first_seen == 1000.0


def test_reopening_a_store_adds_to_it(tmp_path: Path) -> None:
    _fill(tmp_path / "a.db")
    _fill(tmp_path / "a.db")
    shape = load([tmp_path / "a.db"])[fingerprint(QUERY).id]
    assert shape.total == 20
    assert len([e for e in shape.examples if e.kind == "mismatch"]) == 2


def test_histogram_percentiles() -> None:
    for seconds in (1e-6, 0.001, 0.5, 30.0):
        assert abs(bucket_value(latency_bucket(seconds)) - seconds) / seconds < 0.06
    histogram = {latency_bucket(0.001): 90, latency_bucket(0.1): 10}
    assert abs((percentile(histogram, 0.5) or 0) - 0.001) < 0.0001
    assert abs((percentile(histogram, 0.95) or 0) - 0.1) < 0.006
    assert percentile({}, 0.5) is None
