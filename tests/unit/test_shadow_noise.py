"""Noise learning: paths that differ between two runs on the primary stop counting."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from boltproxy.shadow import noise
from boltproxy.shadow.exchange import Answer, Exchange
from boltproxy.shadow.fingerprint import fingerprint
from boltproxy.shadow.noise import NoiseLearner, general_path
from boltproxy.shadow.report import render_json, verdicts
from boltproxy.shadow.settings import NoiseSettings, ShadowSettings
from boltproxy.shadow.store import load
from boltproxy.shadow.worker import Processor
from tests.support.shadow_answers import answer, exchange

QUERY = "SHOW TRANSACTIONS YIELD transactionId AS id, currentQuery AS q RETURN id, q"


def _learner(**settings: object) -> NoiseLearner:
    return NoiseLearner(NoiseSettings.model_validate({"sample_rate": 1.0, **settings}),
                        coin=lambda: 0.5)  # fmt: skip


def _tx(tx_id: str, query: str = "q") -> Answer:
    return answer(["id", "q"], [[tx_id, query]])


def test_a_path_names_every_row() -> None:
    assert general_path("rows[12].n.properties.at") == "rows[*].n.properties.at"
    assert general_path("row_count") == "row_count"


def test_only_compared_reads_outside_write_transactions_are_run_again() -> None:
    learner = _learner()
    read = exchange(QUERY, _tx("t-1"), _tx("t-9"), access_mode="r")
    assert learner.wants(read, "s")
    assert learner.wants(exchange("MATCH (n) RETURN n", _tx("a"), _tx("a")), "s")
    assert not learner.wants(exchange(QUERY, _tx("a"), _tx("a"), access_mode="w"), "s")
    assert not learner.wants(exchange("CREATE (n) RETURN n", _tx("a"), _tx("a")), "s")
    assert not learner.wants(exchange(QUERY, _tx("a"), _tx("a"), in_transaction=True), "s")
    in_read_transaction = exchange(QUERY, _tx("a"), _tx("a"), in_transaction=True, access_mode="r")
    assert learner.wants(in_read_transaction, "s")
    assert not learner.wants(exchange(QUERY, _tx("a"), None, candidate_missing="dropped"), "s")
    explained = exchange(QUERY, _tx("a"), _tx("a"), candidate_explained=True)
    assert not learner.wants(explained, "s")
    failed = answer([], [], failure={"code": "Neo.ClientError.Statement.SyntaxError"})
    assert not learner.wants(exchange(QUERY, failed, failed), "s")
    assert not _learner(sample_rate=0.0).wants(read, "s")
    assert not _learner(sample_rate=0.4).wants(read, "s")  # the coin says no


def test_a_path_is_noise_once_it_differed_often_enough_and_runs_per_shape_are_capped() -> None:
    learner = _learner(confirmations=2, runs_per_shape=3)
    read = exchange(QUERY, _tx("t-1"), _tx("t-1"))
    assert learner.learn("s", _tx("t-1"), _tx("t-2"), ordered=False) == []
    assert learner.patterns("s") == ()
    assert learner.learn("s", _tx("t-3"), _tx("t-4"), ordered=False) == ["rows[*].id"]
    assert learner.patterns("s") == ("rows[*].id",)
    assert learner.patterns("other") == ()
    failed = answer([], [], failure={"code": "Neo.TransientError.General.Busy"})
    assert learner.learn("s", _tx("t-5"), failed, ordered=False) == []  # counts as a run
    assert not learner.wants(read, "s")  # three runs: what was learned stands
    assert learner.wants(read, "other")


def test_the_shapes_learned_about_are_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(noise, "_MAX_SHAPES", 2)
    learner = _learner()
    read = exchange(QUERY, _tx("t-1"), _tx("t-1"))
    for shape in ("a", "b"):
        learner.learn(shape, _tx("t-1"), _tx("t-2"), ordered=False)
    assert learner.wants(read, "a")
    assert not learner.wants(read, "c")


class _ScriptedRerun:
    """The primary's second answers, one per re-run, in order."""

    def __init__(self, answers: list[Answer]) -> None:
        self.answers = answers
        self.asked: list[tuple[str | None, str]] = []

    def run(self, backend: str | None, exchange: Exchange) -> Answer | None:
        self.asked.append((backend, exchange.query))
        return self.answers.pop(0) if self.answers else None

    def close(self) -> None:
        pass


def test_learned_noise_is_disregarded_for_its_shape_and_reported(tmp_path: Path) -> None:
    store = tmp_path / "shadow.sqlite"
    settings = ShadowSettings.model_validate(
        {"store": str(store), "noise": {"sample_rate": 1.0, "confirmations": 2}}
    )
    rerun = _ScriptedRerun([_tx("t-2"), _tx("t-4")])
    processor = Processor(settings, rerun)

    def compared(primary: Answer, candidate: Answer) -> str:
        outcome = processor.process(
            exchange(QUERY, primary, candidate, access_mode="r", primary_backend="blue")
        )
        assert outcome is not None
        return outcome.kind.value

    # Learning: the id differed once, then twice, between two runs on the primary.
    assert compared(_tx("t-1"), _tx("g-1")) == "mismatch"
    assert compared(_tx("t-3"), _tx("g-2")) == "match"
    assert rerun.asked == [("blue", QUERY), ("blue", QUERY)]
    # From then on the id is noise for this shape; the other column still counts.
    assert compared(_tx("t-5"), _tx("g-3")) == "match"
    assert compared(_tx("t-6", "a"), _tx("g-4", "b")) == "mismatch"
    other = exchange("RETURN $id AS id, $q AS q", _tx("t-7"), _tx("g-5"), access_mode="r")
    outcome = processor.process(other)
    assert outcome is not None and outcome.kind.value == "mismatch"
    processor.close()

    shapes = load([store])
    assert shapes[fingerprint(QUERY).id].noise == {"rows[*].id"}
    report = json.loads(render_json(verdicts(shapes)))
    noise = {s["shape_id"]: s["learned_noise"] for s in report["shapes"]}
    assert noise[fingerprint(QUERY).id] == ["rows[*].id"]
