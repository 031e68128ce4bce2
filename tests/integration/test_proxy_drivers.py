"""The official Python driver through boltproxy, against the scripted fake Neo4j."""

from __future__ import annotations

from collections.abc import Iterator

import neo4j
import pytest
from neo4j.exceptions import CypherSyntaxError

from tests.support.fakeneo import NEO4J_5_26, NEO4J_2025_10, FakeNeo4j, run_in_thread
from tests.support.proxy import ThreadedProxy, proxy_settings, running_proxy

AUTH = ("neo4j", "password")


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeNeo4j]:
    with run_in_thread(FakeNeo4j(profile=NEO4J_5_26)) as server:
        yield server


@pytest.fixture(scope="module")
def proxy(fake: FakeNeo4j) -> Iterator[ThreadedProxy]:
    with running_proxy(proxy_settings(fake.uri)) as running:
        yield running


@pytest.fixture(params=["bolt", "neo4j"])
def driver(request: pytest.FixtureRequest, proxy: ThreadedProxy) -> Iterator[neo4j.Driver]:
    uri = proxy.uri if request.param == "bolt" else proxy.routing_uri()
    with neo4j.GraphDatabase.driver(uri, auth=AUTH, connection_timeout=5) as client:
        yield client


def test_server_looks_like_neo4j(driver: neo4j.Driver) -> None:
    info = driver.get_server_info()
    assert info.agent == "Neo4j/5.26.0"
    assert info.protocol_version == (5, 8)


def test_auto_commit(driver: neo4j.Driver) -> None:
    records, _, _ = driver.execute_query("RETURN 1 AS x")
    assert [r["x"] for r in records] == [1]


def test_large_result_streams_through(driver: neo4j.Driver) -> None:
    with driver.session() as session:
        result = session.run("UNWIND range(1, $n) AS i RETURN i", n=150_000)
        count = sum(1 for _ in result)
    assert count == 150_000


def test_explicit_and_managed_transactions_with_bookmarks(driver: neo4j.Driver) -> None:
    with driver.session() as session:
        with session.begin_transaction() as tx:
            assert tx.run("RETURN 1 AS x").single()["x"] == 1  # type: ignore[index]
            tx.commit()
        first = session.last_bookmarks()
        assert first
        value = session.execute_write(lambda tx: tx.run("RETURN 2 AS x").single()["x"])  # type: ignore[index]
        assert value == 2
        assert session.last_bookmarks() != first
    with driver.session(bookmarks=first) as session:
        assert session.run("RETURN 3 AS x").single()["x"] == 3  # type: ignore[index]


def test_server_error_reaches_the_client(driver: neo4j.Driver) -> None:
    with pytest.raises(CypherSyntaxError):
        driver.execute_query("THIS IS NOT CYPHER")
    # The connection is usable again afterwards.
    assert driver.execute_query("RETURN 1 AS x").records[0]["x"] == 1


def test_routing_table_names_only_the_proxy(proxy: ThreadedProxy, fake: FakeNeo4j) -> None:
    with neo4j.GraphDatabase.driver(proxy.routing_uri(), auth=AUTH) as client:
        client.execute_query("RETURN 1 AS x")
        table = client._pool.routing_tables  # type: ignore[attr-defined]
        addresses = {
            str(address)
            for routing in table.values()
            for role in (routing.routers, routing.readers, routing.writers)
            for address in role
        }
    assert addresses == {f"127.0.0.1:{proxy.port}"}


def test_bolt_6_vector_passes_through() -> None:
    with (
        run_in_thread(FakeNeo4j(profile=NEO4J_2025_10)) as fake,
        running_proxy(proxy_settings(fake.uri)) as proxy,
        neo4j.GraphDatabase.driver(proxy.uri, auth=AUTH) as client,
    ):
        info = client.get_server_info()
        assert info.protocol_version == (6, 0)
        assert info.agent.startswith("Neo4j/2025")
