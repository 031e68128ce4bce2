"""The shadow sink: bounded and non-blocking; the worker process compares, stores, captures."""

from __future__ import annotations

import asyncio
import pickle
from pathlib import Path

from boltproxy.metrics import REGISTRY
from boltproxy.shadow.capture import read_capture
from boltproxy.shadow.exchange import NOT_MIRRORED
from boltproxy.shadow.fingerprint import fingerprint
from boltproxy.shadow.settings import ShadowSettings
from boltproxy.shadow.store import load
from boltproxy.shadow.worker import _BATCH_MAX, Processor, ShadowSink
from tests.support.shadow_answers import answer, exchange


def _metric(kind: str) -> float:
    value = REGISTRY.get_sample_value("boltproxy_shadow_outcomes_total", {"kind": kind})
    return value or 0.0


def test_worker_process_compares_stores_and_captures(tmp_path: Path) -> None:
    settings = ShadowSettings(store=tmp_path / "shadow.db", capture=tmp_path / "capture.jsonl")
    before = _metric("mismatch")
    sink = ShadowSink(settings, metrics_interval=0.05)
    sink.start()
    try:
        for i in range(20):
            rows = [[i]] if i % 4 else [[-1]]
            query = "MATCH (n) WHERE n.x = $x RETURN n.x AS x"
            ex = exchange(query, answer(["x"], [[i]]), answer(["x"], rows), parameters={"x": i})
            assert sink.submit(ex)
        skipped = exchange("RETURN 1 AS one", answer(["one"], [[1]]), None)
        skipped.candidate_missing = NOT_MIRRORED
        assert sink.submit(skipped)
        assert sink.drain()
        assert sink.outcome_counts()["mismatch"] == 5
    finally:
        sink.close()
    assert _metric("mismatch") - before == 5
    shapes = load([tmp_path / "shadow.db"])
    shape = shapes[fingerprint("MATCH (n) WHERE n.x = $x RETURN n.x AS x").id]
    assert shape.counts == {("match", ""): 15, ("mismatch", "value"): 5}
    assert fingerprint("RETURN 1 AS one").id not in shapes  # captured, not compared
    captured = list(read_capture(tmp_path / "capture.jsonl"))
    assert len(captured) == 21 and captured[-1].query == "RETURN 1 AS one"


def test_a_full_queue_drops_and_counts_instead_of_waiting(tmp_path: Path) -> None:
    before = _metric("dropped")
    sink = ShadowSink(ShadowSettings(queue_entries=2))  # no worker: nothing is consumed
    ex = exchange("RETURN 1 AS x", answer(["x"], [[1]]), answer(["x"], [[1]]))
    assert [sink.submit(ex) for _ in range(4)] == [True, True, False, False]
    assert sink.dropped == 2 and sink.waiting == 2
    sink.close()
    assert not sink.submit(ex)  # closed: dropped, never raised
    assert _metric("dropped") - before == 3


class _RecordingQueue:
    """Stands in for the worker's queue: records each put (one per batch)."""

    def __init__(self) -> None:
        self.puts: list[list[object]] = []
        self.put_seen = asyncio.Event()

    def put_nowait(self, item: list[object]) -> None:
        self.puts.append(item)
        self.put_seen.set()


def test_exchanges_submitted_on_the_loop_share_one_put() -> None:
    # One put per exchange woke the queue's feeder thread every query.
    sink = ShadowSink(ShadowSettings())
    recorder = _RecordingQueue()
    sink._queue = recorder
    ex = exchange("RETURN 1 AS x", answer(["x"], [[1]]), answer(["x"], [[1]]))

    async def on_the_loop() -> None:
        for _ in range(3):
            assert sink.submit(ex)
        assert recorder.puts == []  # batched, not yet handed over
        await recorder.put_seen.wait()  # the batch window ends on its own

    asyncio.run(on_the_loop())
    assert [len(batch) for batch in recorder.puts] == [3]


def test_a_full_batch_or_a_caller_outside_a_loop_is_handed_over_at_once() -> None:
    sink = ShadowSink(ShadowSettings())
    recorder = _RecordingQueue()
    sink._queue = recorder
    ex = exchange("RETURN 1 AS x", answer(["x"], [[1]]), answer(["x"], [[1]]))
    assert sink.submit(ex)  # no running loop: nothing would flush it later
    assert [len(batch) for batch in recorder.puts] == [1]

    async def burst() -> None:
        for _ in range(_BATCH_MAX):
            assert sink.submit(ex)

    asyncio.run(burst())
    assert [len(batch) for batch in recorder.puts] == [1, _BATCH_MAX]


def test_the_byte_bound_drops_large_exchanges(tmp_path: Path) -> None:
    sink = ShadowSink(ShadowSettings(queue_bytes=1 << 16))
    big = answer(["x"], [["x" * 1000] for _ in range(100)])
    assert not sink.submit(exchange("RETURN $x AS x", big, big))
    assert sink.submit(exchange("RETURN 1 AS x", answer(["x"], [[1]]), answer(["x"], [[1]])))
    sink.close()


def test_processor_applies_ignore_rules_per_shape(tmp_path: Path) -> None:
    query = "CREATE (n:P) RETURN 1 AS one"
    settings = ShadowSettings.model_validate(
        {"ignore": [{"shape": fingerprint(query).id, "path": "stats.*"}]}
    )
    processor = Processor(settings)
    p = answer(["one"], [[1]], stats={"nodes-created": 1})
    c = answer(["one"], [[1]], stats={"nodes-created": 2})
    outcome = processor.process(exchange(query, p, c))
    assert outcome is not None and outcome.kind == "match"
    other = processor.process(exchange("CREATE (n:Q) RETURN 1 AS one", p, c))
    assert other is not None and other.kind == "mismatch"
    processor.close()


def test_an_exchange_crosses_to_the_worker_whole() -> None:
    primary = answer(["x"], [[1], [2]], stats={"nodes-created": 1})
    primary.run_payload, primary.summary_payload, primary.truncated = b"\xb1p\xa0", b"\xb1p", True
    sent = exchange(
        "RETURN $x AS x", primary, answer([], [], failure={"code": "X"}), parameters={"x": 1},
        candidate_explained=True, database="neo4j", access_mode="r", impersonated_user="u",
        user="a", primary_backend="blue", in_transaction=True, started_at=5.0, finished_at=6.0,
    )  # fmt: skip
    assert pickle.loads(pickle.dumps(sent, pickle.HIGHEST_PROTOCOL)) == sent


def test_comparison_rules_changed_at_run_time_reach_the_worker(tmp_path: Path) -> None:
    sink = ShadowSink(ShadowSettings(store=tmp_path / "shadow.db"))
    sink.start()
    query = "MATCH (n) RETURN n.updated AS updated"
    try:
        assert sink.submit(exchange(query, answer(["updated"], [[1]]), answer(["updated"], [[2]])))
        assert sink.drain()
        assert sink.outcome_counts()["mismatch"] == 1
        sink.reconfigure(ShadowSettings.model_validate({"ignore": [{"path": "rows[*].updated"}]}))
        assert sink.submit(exchange(query, answer(["updated"], [[1]]), answer(["updated"], [[3]])))
        assert sink.drain()
        counts = sink.outcome_counts()
        assert (counts["mismatch"], counts["match"]) == (1, 1)
    finally:
        sink.close()
    # The store stays where the worker started it, whatever the new settings say.
    shape = load([tmp_path / "shadow.db"])[fingerprint(query).id]
    assert shape.counts == {("mismatch", "value"): 1, ("match", ""): 1}
