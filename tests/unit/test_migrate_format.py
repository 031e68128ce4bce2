"""The export directory format: manifest, batches, checksums, resume cursor."""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

import pytest

from boltproxy.migrate.errors import BadExport
from boltproxy.migrate.format import (
    FORMAT_VERSION,
    MANIFEST_NAME,
    ExportDir,
    Manifest,
    NodeRow,
    RelRow,
)


def new_manifest() -> Manifest:
    return Manifest(kind="export", source={"uri": "bolt://blue:7687", "database": None},
                    created="2026-01-01T00:00:00+00:00", batch_size=2,
                    schema={"constraints": [], "indexes": []})


def nodes(*ids: int) -> list[NodeRow]:
    return [{"id": i, "labels": ["P"], "props": {"i": ["i", i]}} for i in ids]


def rels(*ids: int) -> list[RelRow]:
    return [{"id": i, "type": "R", "start": 1, "end": 2, "props": {}} for i in ids]


def written(tmp_path: Path) -> ExportDir:
    export = ExportDir.create(tmp_path / "exp", new_manifest())
    export.write_batch("nodes", nodes(1, 2))
    export.write_batch("nodes", nodes(5))
    export.finish_phase("nodes")
    export.write_batch("relationships", rels(3))
    export.mark_complete()
    return export


def test_a_written_export_reads_back_batch_by_batch(tmp_path: Path) -> None:
    written(tmp_path)
    export = ExportDir.open_complete(tmp_path / "exp")
    export.verify()
    assert [rows for _, rows in export.iter_batches("nodes")] == [nodes(1, 2), nodes(5)]
    assert [rows for _, rows in export.iter_batches("relationships")] == [rels(3)]
    assert export.manifest.count("nodes") == 3
    assert export.manifest.schema == {"constraints": [], "indexes": []}


def test_manifest_is_self_describing(tmp_path: Path) -> None:
    written(tmp_path)
    data = json.loads((tmp_path / "exp" / MANIFEST_NAME).read_text())
    assert data["format"] == "boltproxy-export"
    assert data["format_version"] == FORMAT_VERSION
    assert data["complete"] is True
    assert data["totals"] == {"nodes": 3, "relationships": 1}
    assert [b["count"] for b in data["batches"]] == [2, 1, 1]
    assert all(len(b["sha256"]) == 64 for b in data["batches"])


def test_batches_are_gzip_json_lines(tmp_path: Path) -> None:
    written(tmp_path)
    lines = gzip.decompress((tmp_path / "exp" / "nodes-000001.jsonl.gz").read_bytes())
    assert [json.loads(line) for line in lines.splitlines()] == nodes(1, 2)


def test_cursor_records_where_an_unfinished_export_continues(tmp_path: Path) -> None:
    export = ExportDir.create(tmp_path / "exp", new_manifest())
    export.write_batch("nodes", nodes(1, 2))
    reopened = ExportDir.open(tmp_path / "exp")
    assert not reopened.manifest.complete
    assert (reopened.manifest.cursor.phase, reopened.manifest.cursor.after) == ("nodes", 2)
    reopened.finish_phase("nodes")
    assert ExportDir.open(tmp_path / "exp").manifest.cursor.phase == "relationships"


def test_a_batch_file_not_in_the_manifest_is_rewritten_on_resume(tmp_path: Path) -> None:
    export = ExportDir.create(tmp_path / "exp", new_manifest())
    export.write_batch("nodes", nodes(1, 2))
    # Interrupted after the rename but before the manifest was saved:
    (tmp_path / "exp" / "nodes-000002.jsonl.gz").write_bytes(b"half a batch")
    resumed = ExportDir.open(tmp_path / "exp")
    resumed.write_batch("nodes", nodes(3))
    resumed.mark_complete()
    final = ExportDir.open_complete(tmp_path / "exp")
    final.verify()
    assert [rows for _, rows in final.iter_batches("nodes")] == [nodes(1, 2), nodes(3)]


def test_unfinished_export_is_refused_for_import(tmp_path: Path) -> None:
    export = ExportDir.create(tmp_path / "exp", new_manifest())
    export.write_batch("nodes", nodes(1))
    with pytest.raises(BadExport, match="not finished"):
        ExportDir.open_complete(tmp_path / "exp")


def test_corrupt_batch_is_detected(tmp_path: Path) -> None:
    written(tmp_path)
    batch = tmp_path / "exp" / "nodes-000002.jsonl.gz"
    batch.write_bytes(batch.read_bytes()[:-3] + b"xyz")
    export = ExportDir.open_complete(tmp_path / "exp")
    with pytest.raises(BadExport, match=r"nodes-000002\.jsonl\.gz is corrupt"):
        export.verify()
    with pytest.raises(BadExport, match="corrupt"):
        list(export.iter_batches("nodes"))


def test_missing_batch_is_reported(tmp_path: Path) -> None:
    written(tmp_path)
    (tmp_path / "exp" / "relationships-000001.jsonl.gz").unlink()
    with pytest.raises(BadExport, match=r"relationships-000001\.jsonl\.gz cannot be read"):
        ExportDir.open_complete(tmp_path / "exp").verify()


@pytest.mark.parametrize(("content", "message"), [
    (None, "no manifest.json"),
    ("not json", "not readable JSON"),
    (json.dumps({"format": "apoc-export"}), "foreign"),
    (json.dumps({"format": "boltproxy-export", "format_version": 99}), "version 99"),
    (json.dumps({"format": "boltproxy-export", "format_version": 1}), "malformed"),
])
def test_foreign_or_unknown_directories_are_refused(
    tmp_path: Path, content: str | None, message: str
) -> None:
    directory = tmp_path / "d"
    directory.mkdir()
    if content is not None:
        (directory / MANIFEST_NAME).write_text(content)
    with pytest.raises(BadExport, match=message):
        ExportDir.open(directory)


def test_new_export_refuses_a_directory_with_other_files(tmp_path: Path) -> None:
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "notes.txt").write_text("mine")
    with pytest.raises(BadExport, match="not empty"):
        ExportDir.create(tmp_path / "d", new_manifest())


def test_batch_checksum_depends_only_on_content(tmp_path: Path) -> None:
    first = ExportDir.create(tmp_path / "a", new_manifest())
    second = ExportDir.create(tmp_path / "b", new_manifest())
    rows: list[Any] = nodes(1, 2)
    assert first.write_batch("nodes", rows).sha256 == second.write_batch("nodes", rows).sha256
