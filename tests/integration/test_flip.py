"""Flip and rollback under load: no client-visible error, each transaction on one backend.

Sixteen sessions of the official driver run write transactions through the proxy
while the operator flips to green and rolls back to blue. The scripted servers
log what they committed, so each transaction's backend is known exactly.
"""

from __future__ import annotations

import contextlib
import itertools
import re
import threading
import time
from collections.abc import Iterator
from typing import Any

import neo4j
import pytest

from tests.support.fakeneo import (
    NEO4J_5_26,
    Failure,
    FakeNeo4j,
    QueryLog,
    Result,
    run_in_thread,
)
from tests.support.proxy import ThreadedProxy, proxy_settings, running_proxy

AUTH = ("neo4j", "password")
WRITE = "CREATE (n:Tx {id: $id}) RETURN n.id AS id"


def echo_id(call: QueryLog) -> Result:
    return Result(["id"], [[call.parameters["id"]]], query_type="w", stats={"nodes-created": 1})


@pytest.fixture
def pair() -> Iterator[tuple[FakeNeo4j, FakeNeo4j]]:
    with (
        run_in_thread(FakeNeo4j(profile=NEO4J_5_26)) as blue,
        run_in_thread(FakeNeo4j(profile=NEO4J_5_26)) as green,
    ):
        for server in (blue, green):
            server.script.on(re.compile(r"^CREATE \(n:Tx"), echo_id)
        yield blue, green


def committed_ids(server: FakeNeo4j) -> list[int]:
    """Ids of the writes the server ran (each transaction runs one)."""
    return [
        q.parameters["id"]
        for log in server.connections
        for q in log.queries
        if q.query.startswith("CREATE")
    ]


class Load:
    """Sessions writing in a loop until stopped; every error is kept."""

    def __init__(
        self,
        proxy: ThreadedProxy,
        sessions: int = 16,
        query: str = WRITE,
        auth: tuple[str, str] = AUTH,
    ) -> None:
        self.query = query
        self.errors: list[BaseException] = []
        self.acknowledged: list[int] = []
        self._ids = itertools.count()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._driver = neo4j.GraphDatabase.driver(
            proxy.uri, auth=auth, max_connection_pool_size=sessions
        )
        self._threads = [threading.Thread(target=self._run) for _ in range(sessions)]

    def __enter__(self) -> Load:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(30)
        self._driver.close()

    def _run(self) -> None:
        while not self._stop.is_set():
            with self._lock:
                tx_id = next(self._ids)
            try:
                with self._driver.session() as session:
                    got = session.execute_write(
                        lambda tx, i=tx_id: tx.run(self.query, id=i).single(strict=True)["id"]
                    )
                assert got == tx_id
                with self._lock:
                    self.acknowledged.append(tx_id)
            except BaseException as exc:  # every error is a finding here
                self.errors.append(exc)

    def wait_for(self, count: int, seconds: float = 30) -> None:
        deadline = time.monotonic() + seconds
        target = len(self.acknowledged) + count
        while len(self.acknowledged) < target:
            assert not self.errors, self.errors[:3]
            assert time.monotonic() < deadline, "the load stalled"
            time.sleep(0.01)


def control(proxy: ThreadedProxy, action: str, *args: Any) -> Any:
    plane = proxy.server.control
    assert plane is not None
    return proxy.call(getattr(plane, action)("test", *args))


def test_flip_and_rollback_under_load_are_invisible_to_clients(
    pair: tuple[FakeNeo4j, FakeNeo4j],
) -> None:
    blue, green = pair
    settings = proxy_settings(blue.uri, green_uri=green.uri, shadow={"mode": "off"})
    with running_proxy(settings) as proxy, Load(proxy) as load:
        load.wait_for(100)
        control(proxy, "flip")
        flipped_at = len(load.acknowledged)
        load.wait_for(200)
        control(proxy, "rollback")
        load.wait_for(100)
    assert load.errors == []
    on_blue, on_green = committed_ids(blue), committed_ids(green)
    # Every acknowledged write is on exactly one backend: no transaction was split
    # or answered twice.
    assert sorted(on_blue + on_green) == sorted(load.acknowledged)
    assert not set(on_blue) & set(on_green)
    # After the flip the sessions moved without reconnecting: green took work.
    assert len(on_green) >= 100
    assert max(on_blue) > flipped_at  # and the rollback brought work back to blue
    # One link per session and backend (the rollback reuses blue's), plus the probes.
    links = len(blue.connections) + len(green.connections)
    assert links <= 2 * 16 + 8


def test_weights_send_a_share_of_new_sessions_to_green(
    pair: tuple[FakeNeo4j, FakeNeo4j],
) -> None:
    blue, green = pair
    settings = proxy_settings(blue.uri, green_uri=green.uri, shadow={"mode": "off"})
    with running_proxy(settings) as proxy:
        control(proxy, "weight", {"green": 50})
        for i in range(40):
            with neo4j.GraphDatabase.driver(proxy.uri, auth=AUTH) as driver:
                driver.execute_query(WRITE, id=i)
    on_blue, on_green = committed_ids(blue), committed_ids(green)
    assert sorted(on_blue + on_green) == list(range(40))
    assert on_blue and on_green


def test_a_failing_new_primary_is_rolled_back_by_the_guards(
    pair: tuple[FakeNeo4j, FakeNeo4j],
) -> None:
    blue, green = pair
    green.script.on(
        re.compile(r"^CREATE \(n:Tx"),
        Failure("Neo.DatabaseError.General.UnknownError", "broken", gql_status="50N42"),
    )
    settings = proxy_settings(
        blue.uri,
        green_uri=green.uri,
        shadow={"mode": "off"},
        control={"guards": {"min_samples": 10, "window_seconds": 5, "max_error_rate": 0.5}},
    )
    with running_proxy(settings) as proxy:
        control(proxy, "flip")
        router = proxy.server.router
        assert router.primary == "green"
        deadline = time.monotonic() + 30
        with neo4j.GraphDatabase.driver(proxy.uri, auth=AUTH) as driver:
            for i in itertools.count():
                if router.primary == "blue":
                    break
                assert time.monotonic() < deadline, "the guard did not trip"
                with contextlib.suppress(neo4j.exceptions.Neo4jError):
                    driver.execute_query(WRITE, id=i)
            # Latched on blue, and the next transactions are answered there.
            assert driver.execute_query(WRITE, id=-1).records[0]["id"] == -1
    assert -1 in committed_ids(blue)


def test_shadow_mismatches_on_the_new_primary_roll_back(
    pair: tuple[FakeNeo4j, FakeNeo4j],
) -> None:
    blue, green = pair
    query = "MATCH (n:Answer) RETURN n.v AS v"
    blue.script.returns(query, ["v"], [[1]])
    green.script.returns(query, ["v"], [[2]])
    settings = proxy_settings(
        blue.uri,
        green_uri=green.uri,
        shadow={"mode": "reads"},
        control={
            "guards": {
                "min_samples": 5,
                "window_seconds": 30,
                "max_error_rate": False,
                "max_p95_latency_ratio": False,
                "max_shadow_mismatch_rate": 0.5,
            }
        },
    )
    with running_proxy(settings) as proxy:
        control(proxy, "flip")
        router = proxy.server.router
        deadline = time.monotonic() + 60
        while router.primary == "green":
            assert time.monotonic() < deadline, "the shadow guard did not trip"
            with neo4j.GraphDatabase.driver(proxy.uri, auth=AUTH) as driver:
                driver.execute_query(query)
        assert router.primary == "blue"
