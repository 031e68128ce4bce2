"""`boltproxy report`: formats, exit statuses, and the HTML page in headless Chromium."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner

from boltproxy.cli import main
from boltproxy.shadow.compare import compare
from boltproxy.shadow.fingerprint import fingerprint
from boltproxy.shadow.store import ShadowStore
from tests.support.shadow_answers import answer, exchange, gql_failure

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


def _store(path: Path, *, differ: bool) -> Path:
    store = ShadowStore(path)
    for i in range(5):
        ok = answer(["x"], [[i]], latency=0.002)
        ex = exchange("MATCH (n) WHERE n.i = $i RETURN n.i AS x", ok, ok)
        store.record(ex, fingerprint(ex.query), compare(ex))
    if differ:
        p = answer(["name"], [["<ann & bob>"]], latency=0.002)
        c = answer(["name"], [["<ann>"]], latency=0.002)
        ex = exchange("MATCH (n:P) RETURN n.name AS name", p, c)
        store.record(ex, fingerprint(ex.query), compare(ex))
        bad = answer([], [], failure=gql_failure("Neo.ClientError.Statement.SyntaxError", "42001"))
        ex = exchange("RETURN 1 +", answer([], [], failure=gql_failure(
            "Neo.ClientError.Statement.SyntaxError", "50N42")), bad)  # fmt: skip
        store.record(ex, fingerprint(ex.query), compare(ex))
    store.close()
    return path


def test_exit_statuses_and_formats(tmp_path: Path) -> None:
    runner = CliRunner()
    same = _store(tmp_path / "same.db", differ=False)
    differ = _store(tmp_path / "differ.db", differ=True)
    result = runner.invoke(main, ["report", "--store", str(same)])
    assert result.exit_code == 0, result.output
    assert "1 query shapes, 0 with differences" in result.output
    result = runner.invoke(main, ["report", "--store", str(same), "--store", str(differ),
                                  "--format", "json"])  # fmt: skip
    assert result.exit_code == 4
    document = json.loads(result.output)
    kinds = {s["shape"]: [o["kind"] for o in s["outcomes"]] for s in document["shapes"]}
    assert kinds["MATCH (n) WHERE n.i = ? RETURN n.i AS x"] == ["match"]
    assert kinds["RETURN ? +"] == ["both_failed_differently"]
    merged = next(s for s in document["shapes"] if s["shape"].startswith("MATCH (n) WHERE"))
    assert merged["total"] == 10
    assert runner.invoke(main, ["report", "--store", str(tmp_path / "none.db")]).exit_code == 1
    assert runner.invoke(main, ["report"]).exit_code == 1
    config = tmp_path / "proxy.toml"
    config.write_text(f'[shadow]\nstore = "{differ}"\n')
    result = runner.invoke(main, ["report", "--config", str(config), "--format", "md"])
    assert result.exit_code == 4 and "| `RETURN ? +` |" in result.output


@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (apt-get install chromium)")
def test_html_report_opens_in_headless_chromium(tmp_path: Path) -> None:
    page = tmp_path / "report.html"
    store = _store(tmp_path / "differ.db", differ=True)
    result = CliRunner().invoke(
        main, ["report", "--store", str(store), "--format", "html", "--out", str(page)]
    )
    assert result.exit_code == 4, result.output
    text = page.read_text()
    assert "http://" not in text.replace("http://www.w3.org/2000/svg", "")
    assert "<script" not in text and "<link" not in text  # self-contained
    assert CHROMIUM is not None
    dom = subprocess.run(
        [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         f"--user-data-dir={tmp_path / 'profile'}", "--dump-dom", page.as_uri()],
        capture_output=True, text=True, timeout=120, check=True,
    ).stdout  # fmt: skip
    assert '<table id="shapes">' in dom
    assert "MATCH (n:P) RETURN n.name AS name" in dom
    assert 'class="diff-example"' in dom
    assert "'&lt;ann &amp; bob&gt;'" in dom  # values escaped, shown side by side
    assert "<svg" in dom and "latency" in dom
