"""The official driver through boltproxy in front of a real Cypher engine (FalkorDB)."""

from __future__ import annotations

from collections.abc import Iterator

import neo4j
import pytest
from neo4j.exceptions import Neo4jError

from boltproxy.sandbox.falkordb import FalkorDBServer
from tests.support.proxy import ThreadedProxy, proxy_settings, running_proxy


@pytest.fixture(scope="module")
def proxy(falkordb: FalkorDBServer) -> Iterator[ThreadedProxy]:
    settings = proxy_settings(falkordb.bolt_uri)
    settings.backends["blue"].connect_attempts = 5
    with running_proxy(settings) as running:
        yield running


@pytest.fixture(params=["bolt", "neo4j"])
def driver(request: pytest.FixtureRequest, proxy: ThreadedProxy) -> Iterator[neo4j.Driver]:
    uri = proxy.uri if request.param == "bolt" else proxy.routing_uri()
    # Short connection timeout: FalkorDB leaves a share of new connections unanswered.
    with neo4j.GraphDatabase.driver(uri, auth=None, connection_timeout=2) as client:
        yield client


def test_negotiates_what_falkordb_speaks(driver: neo4j.Driver) -> None:
    info = driver.get_server_info()
    assert info.protocol_version == (5, 7)
    assert info.agent == "Neo4j/5.13.0"


def test_writes_and_reads_back(driver: neo4j.Driver, graph_name: str) -> None:
    with driver.session() as session:
        # Everything in transactions: FalkorDB picks the graph from the first key
        # of RUN's extra map, which differs between auto-commit with a database
        # (neo4j:// resolves one) and transactions.
        session.execute_write(lambda tx: tx.run("MATCH (n:ProxyItem) DELETE n").consume())
        session.execute_write(
            lambda tx: tx.run(
                "UNWIND range(1, 50) AS i CREATE (:ProxyItem {i: i, name: 'n' + toString(i)})"
            ).consume()
        )
        with session.begin_transaction() as tx:
            total = tx.run("MATCH (n:ProxyItem) RETURN sum(n.i) AS s").single()
            tx.commit()
        assert total is not None and total["s"] == sum(range(1, 51))
        names = session.execute_read(
            lambda tx: [
                r["name"] for r in tx.run("MATCH (n:ProxyItem) RETURN n.name AS name ORDER BY n.i")
            ]
        )
        assert names[:3] == ["n1", "n2", "n3"]
        session.execute_write(lambda tx: tx.run("MATCH (n:ProxyItem) DELETE n").consume())


def test_large_result(driver: neo4j.Driver) -> None:
    with driver.session() as session:
        count = sum(1 for _ in session.run("UNWIND range(1, 120000) AS i RETURN i"))
    assert count == 120_000


def test_server_error_then_usable(driver: neo4j.Driver) -> None:
    with pytest.raises(Neo4jError):
        driver.execute_query("THIS IS NOT CYPHER")
    assert driver.execute_query("RETURN 1 AS x").records[0]["x"] == 1
