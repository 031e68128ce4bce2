"""Against real Neo4j servers (compose/), when the environment names them.

    BOLTPROXY_E2E_BLUE_URI=bolt://localhost:7687 BOLTPROXY_E2E_GREEN_URI=bolt://localhost:7688 \\
    BOLTPROXY_E2E_USER=neo4j BOLTPROXY_E2E_PASSWORD=password .venv/bin/python -m pytest tests/e2e
"""

from __future__ import annotations

import os

import neo4j
import pytest

from tests.support.proxy import proxy_settings, running_proxy

BLUE = os.environ.get("BOLTPROXY_E2E_BLUE_URI")
GREEN = os.environ.get("BOLTPROXY_E2E_GREEN_URI")
AUTH = (
    os.environ.get("BOLTPROXY_E2E_USER", "neo4j"),
    os.environ.get("BOLTPROXY_E2E_PASSWORD", "password"),
)

pytestmark = pytest.mark.skipif(
    not (BLUE and GREEN),
    reason="no real Neo4j here: set BOLTPROXY_E2E_BLUE_URI and BOLTPROXY_E2E_GREEN_URI "
    "(docker compose -f compose/docker-compose.yml up) to run these",
)


@pytest.mark.parametrize("which", ["blue", "green"])
def test_driver_through_the_proxy(which: str) -> None:
    uri = BLUE if which == "blue" else GREEN
    assert uri is not None
    with running_proxy(proxy_settings(uri)) as proxy:
        for client_uri in (proxy.uri, proxy.routing_uri()):
            with neo4j.GraphDatabase.driver(client_uri, auth=AUTH) as driver:
                records = driver.execute_query("UNWIND range(1, 100000) AS i RETURN i").records
                assert len(records) == 100_000
                assert driver.get_server_info().agent.startswith("Neo4j/")
                with driver.session() as session:
                    session.execute_write(
                        lambda tx: tx.run("CREATE (:E2E {at: datetime()})").consume()
                    )
                    session.execute_write(lambda tx: tx.run("MATCH (n:E2E) DELETE n").consume())
