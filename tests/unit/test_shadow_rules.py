"""What gets mirrored: mode, classification, sampling, include and exclude rules."""

from __future__ import annotations

from typing import Any

from boltproxy.shadow.fingerprint import fingerprint
from boltproxy.shadow.rules import Mirror, decide, sampled
from boltproxy.shadow.settings import ShadowSettings


def _decide(settings: dict[str, Any], query: str, **fields: Any) -> Mirror:
    return decide(ShadowSettings.model_validate(settings), session_id="s", query=query, **fields)


def test_modes() -> None:
    assert _decide({"mode": "off"}, "MATCH (n) RETURN n") is Mirror.SKIP
    assert _decide({}, "MATCH (n) RETURN n") is Mirror.RUN
    assert _decide({}, "CREATE (n)") is Mirror.EXPLAIN
    assert _decide({}, "CREATE (n)", access_mode="r") is Mirror.RUN  # the driver said read
    assert _decide({}, "CREATE INDEX i FOR (n:P) ON (n.x)") is Mirror.SKIP
    assert _decide({"mode": "all"}, "CREATE (n)") is Mirror.RUN


def test_include_and_exclude_rules() -> None:
    query = "MATCH (n:Secret) RETURN n"
    assert _decide({"exclude": [{"shape": "*:Secret*"}]}, query) is Mirror.SKIP
    assert _decide({"exclude": [{"shape": fingerprint(query).id}]}, query) is Mirror.SKIP
    assert _decide({"include": [{"database": "app*"}]}, query, database="other") is Mirror.SKIP
    assert _decide({"include": [{"database": "app*"}]}, query, database="app1") is Mirror.RUN
    assert _decide({"exclude": [{"user": "batch"}]}, query, user="batch") is Mirror.SKIP


def test_sampling_is_sticky_and_near_the_rate() -> None:
    keys = [f"session-{i}" for i in range(4000)]
    chosen = [k for k in keys if sampled(k, 0.25)]
    assert 800 < len(chosen) < 1200
    assert chosen == [k for k in keys if sampled(k, 0.25)]
    settings = ShadowSettings(sample_rate=0.5, sticky="shape")
    answers = {
        decide(settings, session_id=f"s{i}", query="MATCH (n) RETURN n") for i in range(50)
    }
    assert len(answers) == 1  # one shape: one decision, whatever the session
