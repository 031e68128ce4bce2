"""The pipeline end to end on FalkorDB, the backend of machines without Java.

FalkorDB has no authentication, no temporal values the migrator can read back,
and no Cypher constraints: the pipeline picks the dataset flavour it can hold.
"""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from rich.console import Console

from boltproxy.pipeline import cli
from boltproxy.pipeline.model import Options
from boltproxy.sandbox.falkordb import FalkorDBServer

pytestmark = pytest.mark.falkordb


def test_pipeline_on_falkordb_passes(
    falkordb_pair: tuple[FalkorDBServer, FalkorDBServer], tmp_path: Path
) -> None:
    blue, green = falkordb_pair
    for server in falkordb_pair:
        server.delete_all_graphs()
    options = Options(
        mode="external", work_dir=tmp_path / "w", blue_uri=blue.bolt_uri,
        green_uri=green.bolt_uri, size=30, sample=5,
    )  # fmt: skip
    code, results = cli.run(options, Console(file=io.StringIO(), width=200))
    steps = {s.name: s for s in results}
    assert code == 0, {n: s.summary for n, s in steps.items()}
    assert "FalkorDB" in steps["start"].summary
    assert "30 entities" in steps["populate"].summary
    assert "10/10 validation checks passed" in steps["validate"].summary
    assert "read through the proxy" in steps["compatibility"].details[0]
