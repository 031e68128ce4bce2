"""Shadowing real Neo4j 5.26 (primary) to real 2026.x (candidate) with the official driver.

The servers decide what differs: the report must name each differing shape with
the kind the servers' own answers imply, matching queries must match, and the
client must always get 5.26's answer.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import neo4j
import pytest

from boltproxy.shadow.fingerprint import fingerprint
from boltproxy.shadow.store import load
from tests.support.neo4j import Neo4jHandle
from tests.support.proxy import proxy_settings, running_proxy

# query → the kind the report must give it
CORPUS = {
    "RETURN 1 AS one": "match",
    "UNWIND range(1, 100) AS i RETURN i, i * 2 AS twice": "match",
    "RETURN date('2024-02-29') AS d, datetime('2024-01-01T10:00:00+01:00') AS t": "match",
    "RETURN point({x: 1, y: 2}) AS p, duration('P1DT2H') AS d": "match",
    # id() is deprecated on both, under different GQL statuses (01N02 vs 01N01).
    "MATCH (n:ShadowCorpus) RETURN count(id(n)) AS c": "new_status",
    # Both reject it, with different GQL statuses (50N42 vs 42001).
    "RETURN 1 +": "both_failed_differently",
    # Only Neo4j 2025.06+ knows Cypher 25.
    "CYPHER 25 RETURN 1 AS one": "primary_error",
}


def client_view(driver: neo4j.Driver, query: str) -> Any:
    try:
        return [record.values() for record in driver.execute_query(query).records]
    except neo4j.exceptions.Neo4jError as exc:
        return exc.code


def test_real_differences_are_reported_and_the_client_gets_526s_answers(
    neo4j_pair: tuple[Neo4jHandle, Neo4jHandle], tmp_path: Path
) -> None:
    blue, green = neo4j_pair
    if not blue.version.startswith("5.26"):
        pytest.skip(f"the primary must be 5.26, not {blue.version}")
    with blue.driver() as direct:
        expected = {query: client_view(direct, query) for query in CORPUS}
    store = tmp_path / "shadow.sqlite"
    # Latency is not what this test is about (a cold candidate compiles slower).
    shadow = {"store": str(store), "latency_flag_floor": 60.0}
    settings = proxy_settings(blue.uri, green_uri=green.uri, shadow=shadow)
    with running_proxy(settings) as proxy:
        with neo4j.GraphDatabase.driver(proxy.uri, auth=blue.auth) as driver:
            seen = {query: client_view(driver, query) for query in CORPUS}
        deadline = time.monotonic() + 60
        while proxy.server._connections:
            assert time.monotonic() < deadline
            time.sleep(0.05)
        sink = proxy.server.shadow_sink
        assert sink is not None and sink.drain(timeout=60)
        sink.close()
    assert seen == expected  # 5.26's answers, untouched
    shapes = load([store])
    reported = {}
    for query in CORPUS:
        summary = shapes[fingerprint(query).id]
        reported[query] = {kind for (kind, _detail) in summary.counts}
    assert reported == {query: {kind} for query, kind in CORPUS.items()}


def test_a_write_is_compiled_on_the_candidate_never_run(
    neo4j_pair: tuple[Neo4jHandle, Neo4jHandle], neo4j_label: str, tmp_path: Path
) -> None:
    blue, green = neo4j_pair
    store = tmp_path / "shadow.sqlite"
    settings = proxy_settings(blue.uri, green_uri=green.uri, shadow={"store": str(store)})
    write = f"CREATE (n:{neo4j_label} {{v: 1}}) RETURN n.v AS v"
    with running_proxy(settings) as proxy:
        with neo4j.GraphDatabase.driver(proxy.uri, auth=blue.auth) as driver:
            assert driver.execute_query(write).records[0]["v"] == 1
        deadline = time.monotonic() + 60
        while proxy.server._connections:
            assert time.monotonic() < deadline
            time.sleep(0.05)
    count = f"MATCH (n:{neo4j_label}) RETURN count(n) AS c"
    with blue.driver() as on_blue, green.driver() as on_green:
        assert on_blue.execute_query(count).records[0]["c"] == 1
        assert on_green.execute_query(count).records[0]["c"] == 0
        on_blue.execute_query(f"MATCH (n:{neo4j_label}) DELETE n")


def test_fields_that_differ_between_two_runs_on_526_are_learned_as_noise(
    neo4j_pair: tuple[Neo4jHandle, Neo4jHandle], tmp_path: Path
) -> None:
    blue, green = neo4j_pair
    # A transaction id differs on every run, on one server as between two: no
    # function marks it nondeterministic, only running the query twice shows it.
    query = (
        "SHOW TRANSACTIONS YIELD transactionId, currentQuery "
        "WHERE currentQuery STARTS WITH 'SHOW TRANSACTIONS YIELD transactionId' "
        "RETURN transactionId AS tx, currentQuery AS q"
    )
    store = tmp_path / "shadow.sqlite"
    user, password = blue.auth
    shadow = {
        "store": str(store),
        "latency_flag_floor": 60.0,
        "noise": {"sample_rate": 1.0, "confirmations": 2, "user": user, "password": password},
    }
    settings = proxy_settings(blue.uri, green_uri=green.uri, shadow=shadow)
    runs = 5
    with running_proxy(settings) as proxy:
        sink = proxy.server.shadow_sink
        assert sink is not None
        with neo4j.GraphDatabase.driver(proxy.uri, auth=blue.auth) as driver:
            for run in range(1, runs + 1):
                read = driver.execute_query(query, routing_=neo4j.RoutingControl.READ)
                assert len(read.records) == 1
                # One query at a time on blue: the worker's re-run must not see
                # the client's next query as a second transaction.
                deadline = time.monotonic() + 60
                while sum(sink.outcome_counts().values()) < run:
                    assert time.monotonic() < deadline
                    time.sleep(0.05)
        sink.close()
    summary = load([store])[fingerprint(query).id]
    assert summary.noise == {"rows[*].tx"}
    # Only the first comparison, before the id had differed twice, may be a
    # mismatch (the two servers may happen to be at the same transaction id).
    # The ids cannot agree from then on: blue runs two transactions per query
    # (the client's and the re-run), green one.
    assert summary.kind_count("mismatch") <= 1
    assert summary.total == runs
