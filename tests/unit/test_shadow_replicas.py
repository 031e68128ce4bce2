"""Per-worker shadow files: named beside the configured one, found again by report and replay."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from boltproxy.shadow.cli import report_command
from boltproxy.shadow.compare import Outcome, OutcomeKind
from boltproxy.shadow.fingerprint import fingerprint
from boltproxy.shadow.replicas import replica_paths, worker_path
from boltproxy.shadow.store import ShadowStore
from tests.support.shadow_answers import answer, exchange


def test_each_worker_writes_beside_the_configured_file() -> None:
    assert worker_path(Path("/d/shadow.sqlite"), 0) == Path("/d/shadow.worker-0.sqlite")
    assert worker_path(Path("/d/capture.jsonl"), 12) == Path("/d/capture.worker-12.jsonl")
    assert worker_path(Path("/d/store"), 1) == Path("/d/store.worker-1")


def test_the_configured_file_brings_its_workers_files_in_worker_order(tmp_path: Path) -> None:
    base = tmp_path / "shadow.sqlite"
    assert replica_paths(base) == [base]  # nothing yet: the error will name the file asked for
    for name in ("shadow.worker-10.sqlite", "shadow.worker-2.sqlite", "shadow.worker-x.sqlite",
                 "other.worker-1.sqlite", "shadow.worker-3.jsonl"):  # fmt: skip
        (tmp_path / name).touch()
    workers = [tmp_path / "shadow.worker-2.sqlite", tmp_path / "shadow.worker-10.sqlite"]
    assert replica_paths(base) == workers
    base.touch()
    assert replica_paths(base) == [base, *workers]


def test_report_with_a_config_merges_every_workers_store(tmp_path: Path) -> None:
    base = tmp_path / "shadow.sqlite"
    queries = {0: "RETURN 1 AS x", 1: "RETURN 2 AS x"}
    for index, query in queries.items():
        store = ShadowStore(worker_path(base, index))
        one = answer(["x"], [[index]])
        store.record(exchange(query, one, one), fingerprint(query), Outcome(OutcomeKind.MATCH))
        store.close()
    config = tmp_path / "boltproxy.toml"
    config.write_text(f'[shadow]\nstore = "{base}"\n')
    result = CliRunner().invoke(report_command, ["--config", str(config), "--format", "json"])
    assert result.exit_code == 0, result.output
    shapes = {shape["shape"] for shape in json.loads(result.output)["shapes"]}
    assert shapes == {fingerprint(q).text for q in queries.values()}
