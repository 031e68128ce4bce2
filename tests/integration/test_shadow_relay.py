"""Shadow traffic through the proxy: the official driver against blue, mirrored to green.

Scripted fake servers inject each kind of difference exactly; the store the
comparison worker writes must name every shape with the right kind, and the
client must always get blue's answer. Then the candidate misbehaves in every way
we know, and the client must not notice.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

import neo4j
import pytest

from boltproxy.shadow.fingerprint import fingerprint
from boltproxy.shadow.store import ShapeSummary, load
from tests.support.fakeneo import (
    NEO4J_5_26,
    Failure,
    FakeNeo4j,
    Hangup,
    Result,
    deprecation,
    run_in_thread,
    syntax_error,
)
from tests.support.proxy import ThreadedProxy, proxy_settings, running_proxy

AUTH = ("neo4j", "password")


@pytest.fixture
def pair() -> Iterator[tuple[FakeNeo4j, FakeNeo4j]]:
    with (
        run_in_thread(FakeNeo4j(profile=NEO4J_5_26)) as blue,
        run_in_thread(FakeNeo4j(profile=NEO4J_5_26)) as green,
    ):
        yield blue, green


def shadow_proxy(
    blue: FakeNeo4j, green: FakeNeo4j, store: Path, **shadow: Any
) -> AbstractContextManager[ThreadedProxy]:
    settings = proxy_settings(
        blue.uri,
        green_uri=green.uri,
        shadow={"store": str(store), "query_timeout": 2.0, **shadow},
    )
    return running_proxy(settings)


def run_all(proxy: ThreadedProxy, queries: list[str]) -> list[Any]:
    """Each query in its own auto-commit transaction; what the client saw."""
    seen: list[Any] = []
    with neo4j.GraphDatabase.driver(proxy.uri, auth=AUTH, max_transaction_retry_time=0) as driver:
        for query in queries:
            try:
                with driver.session() as session:
                    seen.append([record.values() for record in session.run(query)])
            except neo4j.exceptions.Neo4jError as exc:
                seen.append(exc.code)
    return seen


def outcomes(proxy: ThreadedProxy, store: Path) -> dict[str, ShapeSummary]:
    # Sessions are done when the candidate has answered (or timed out) too.
    deadline = time.monotonic() + 30
    while proxy.server._connections:
        assert time.monotonic() < deadline, "sessions did not end"
        time.sleep(0.02)
    sink = proxy.server.shadow_sink
    assert sink is not None
    assert sink.drain(timeout=30)
    sink.close()
    return load([store])


def kinds(shapes: dict[str, ShapeSummary], query: str) -> dict[str, int]:
    summary = shapes.get(fingerprint(query).id)
    assert summary is not None, f"no outcome for {query!r}"
    return {kind: count for (kind, _detail), count in summary.counts.items()}


DIFFERENCES: list[tuple[str, Any, Any, str]] = [
    # query, blue's answer, green's answer, the kind reported
    ("MATCH (n:Same) RETURN n.v AS v", [[1], [2]], [[1], [2]], "match"),
    ("MATCH (n:Missing) RETURN n.v AS v", [[1], [2]], [[1]], "mismatch"),
    ("MATCH (n:Extra) RETURN n.v AS v", [[1]], [[1], [3]], "mismatch"),
    ("MATCH (n:Changed) RETURN n.v AS v", [[1]], [[2]], "mismatch"),
    ("MATCH (n:Retyped) RETURN n.v AS v", [[1]], [["1"]], "mismatch"),
    ("MATCH (n:Shuffled) RETURN n.v AS v", [[1], [2]], [[2], [1]], "match"),
    ("MATCH (n:Sorted) RETURN n.v AS v ORDER BY v", [[1], [2]], [[2], [1]], "mismatch"),
    (
        "MATCH (n:Deprecated) RETURN n.v AS v",
        [[1]],
        Result(["v"], [[1]], notices=[deprecation("the function id()")]),
        "new_status",
    ),
    ("MATCH (n:OnlyGreenFails) RETURN n.v AS v", [[1]], syntax_error("gone"), "candidate_error"),
    (
        "MATCH (n:FailsApart) RETURN n.v AS v",
        syntax_error("blue's words"),
        Failure(
            "Neo.ClientError.Statement.ArgumentError",
            "green's words",
            gql_status="22000",
            classification="CLIENT_ERROR",
        ),
        "both_failed_differently",
    ),
]


def script(server: FakeNeo4j, query: str, answer: Any) -> None:
    if isinstance(answer, list):
        server.script.returns(query, ["v"], answer)
    else:
        server.script.on(query, answer)


def test_every_kind_of_difference_is_reported_under_its_shape(
    pair: tuple[FakeNeo4j, FakeNeo4j], tmp_path: Path
) -> None:
    blue, green = pair
    cases = DIFFERENCES
    for query, on_blue, on_green, _ in cases:
        script(blue, query, on_blue)
        script(green, query, on_green)
    store = tmp_path / "shadow.sqlite"
    # Latency has a test of its own: on a loaded machine the candidate can lag by
    # more than the default floor by chance, and "slower" would stand for "match".
    with shadow_proxy(blue, green, store, latency_flag_floor=3600.0) as proxy:
        seen = run_all(proxy, [case[0] for case in cases])
        shapes = outcomes(proxy, store)
    # The client always got blue's answer.
    for (_query, on_blue, _, _), answer in zip(cases, seen, strict=True):
        expected = on_blue if isinstance(on_blue, list) else on_blue.code
        assert answer == expected
    for query, _, _, kind in cases:
        assert kinds(shapes, query) == {kind: 1}, query


def test_a_slower_candidate_is_flagged(
    pair: tuple[FakeNeo4j, FakeNeo4j], tmp_path: Path
) -> None:
    blue, green = pair
    query = "MATCH (n:Slow) RETURN n.v AS v"
    blue.script.returns(query, ["v"], [[1]])
    green.script.on(query, Result(["v"], [[1]], delay=0.05))
    store = tmp_path / "shadow.sqlite"
    with shadow_proxy(blue, green, store, latency_flag_floor=0.01) as proxy:
        run_all(proxy, [query] * 5)
        shapes = outcomes(proxy, store)
    assert kinds(shapes, query).get("slower", 0) >= 1


def test_writes_are_compiled_not_run_on_the_candidate(
    pair: tuple[FakeNeo4j, FakeNeo4j], tmp_path: Path
) -> None:
    blue, green = pair
    write = "CREATE (n:Thing {v: 1}) RETURN n.v AS v"
    blue.script.returns(write, ["v"], [[1]])
    green.script.returns(f"EXPLAIN {write}", ["v"], [])
    store = tmp_path / "shadow.sqlite"
    with shadow_proxy(blue, green, store) as proxy:
        assert run_all(proxy, [write]) == [[[1]]]
        outcomes(proxy, store)
    runs = [q.query for log in green.connections for q in log.queries]
    assert f"EXPLAIN {write}" in runs and write not in runs
    metadata = [q.tx_metadata for log in green.connections for q in log.queries]
    assert {"boltproxy": "shadow"} in metadata


# --- isolation: the candidate costs the client nothing ---------------------------------


READ = "UNWIND range(1, $n) AS i RETURN i"


def read_many(proxy: ThreadedProxy, times: int = 20) -> None:
    with neo4j.GraphDatabase.driver(proxy.uri, auth=AUTH) as driver:
        for _ in range(times):
            with driver.session() as session:
                rows = [r["i"] for r in session.run(READ, n=500)]
            assert rows == list(range(1, 501))


Fault = Callable[[FakeNeo4j], None]


def hangs(green: FakeNeo4j) -> None:
    green.reply_delay = 3600  # answers nothing, like a process stopped with SIGSTOP


def dies_mid_stream(green: FakeNeo4j) -> None:
    green.drop_after_records(100, Hangup.ABORT)


def silent_handshake(green: FakeNeo4j) -> None:
    green.silent_handshake = True


def refuses(green: FakeNeo4j) -> None:
    green.refuse_connections = True


@pytest.mark.parametrize("fault", [hangs, dies_mid_stream, silent_handshake, refuses])
def test_a_misbehaving_candidate_costs_the_client_nothing(
    pair: tuple[FakeNeo4j, FakeNeo4j], tmp_path: Path, fault: Fault
) -> None:
    blue, green = pair
    store = tmp_path / "shadow.sqlite"
    with shadow_proxy(blue, green, store, query_timeout=0.5) as proxy:
        fault(green)
        started = time.monotonic()
        read_many(proxy)
        assert time.monotonic() - started < 30
        outcomes(proxy, store)


def test_a_stopped_candidate_costs_the_client_nothing(tmp_path: Path) -> None:
    with run_in_thread(FakeNeo4j(profile=NEO4J_5_26)) as blue:
        green = FakeNeo4j(profile=NEO4J_5_26)
        with run_in_thread(green):
            pass  # started and stopped: its port now refuses
        store = tmp_path / "shadow.sqlite"
        with shadow_proxy(blue, green, store) as proxy:
            read_many(proxy)


def test_capture_records_what_is_relayed_even_without_a_candidate(tmp_path: Path) -> None:
    capture = tmp_path / "capture.jsonl"
    with run_in_thread(FakeNeo4j(profile=NEO4J_5_26)) as blue:
        blue.script.returns("MATCH (n:Captured) RETURN n.v AS v", ["v"], [[1]])
        settings = proxy_settings(blue.uri, shadow={"capture": str(capture)})
        with running_proxy(settings) as proxy:
            run_all(proxy, ["MATCH (n:Captured) RETURN n.v AS v", "RETURN 7 AS x"])
            sink = proxy.server.shadow_sink
            deadline = time.monotonic() + 30
            while proxy.server._connections:
                assert time.monotonic() < deadline
                time.sleep(0.02)
            assert sink is not None and sink.drain(timeout=30)
    lines = [json.loads(line) for line in capture.read_text().splitlines()]
    queries = [line["query"] for line in lines]
    assert queries == ["MATCH (n:Captured) RETURN n.v AS v", "RETURN 7 AS x"]
