"""Against real Neo4j: blue 5.26 LTS and green 2026.x from the session fixtures.

By default the fixtures run both servers locally from Maven Central jars (see
tests/support/neo4j.py). To use external servers instead (e.g. compose/):

    BOLTPROXY_E2E_BLUE_URI=bolt://localhost:7687 BOLTPROXY_E2E_GREEN_URI=bolt://localhost:7688 \\
    BOLTPROXY_E2E_USER=neo4j BOLTPROXY_E2E_PASSWORD=password .venv/bin/python -m pytest tests/e2e
"""

from __future__ import annotations

import neo4j
import pytest
from neo4j.exceptions import AuthError

from tests.support.neo4j import Neo4jHandle
from tests.support.proxy import proxy_settings, running_proxy

pytestmark = pytest.mark.e2e


@pytest.fixture(params=["blue", "green"])
def server(request: pytest.FixtureRequest) -> Neo4jHandle:
    handle: Neo4jHandle = request.getfixturevalue(f"neo4j_{request.param}")
    return handle


def test_each_side_runs_the_version_it_should(
    neo4j_blue: Neo4jHandle, neo4j_green: Neo4jHandle
) -> None:
    assert neo4j_blue.version.startswith("5.26.")
    assert neo4j_green.version.startswith("2026.")
    for handle in (neo4j_blue, neo4j_green):
        with handle.driver() as driver:
            info = driver.get_server_info()
            records, _, _ = driver.execute_query(
                "CALL dbms.components() YIELD name, versions, edition "
                "WHERE name = 'Neo4j Kernel' RETURN versions[0] AS version, edition"
            )
        assert info.agent == f"Neo4j/{handle.version}"
        assert records[0]["version"] == handle.version
        assert records[0]["edition"] == "community"
        assert handle.uri == f"bolt://127.0.0.1:{handle.bolt_port}" or handle.server is None


def test_bolt_versions_negotiated_with_the_driver(
    neo4j_blue: Neo4jHandle, neo4j_green: Neo4jHandle
) -> None:
    """5.26 tops out at Bolt 5.8; 2025.10+ speaks 6.x (6.1 with a driver that offers it)."""
    with neo4j_blue.driver() as driver:
        assert driver.get_server_info().protocol_version == (5, 8)
    with neo4j_green.driver() as driver:
        negotiated = tuple(driver.get_server_info().protocol_version)
    driver_major = int(neo4j.__version__.split(".")[0])
    assert negotiated >= (6, 0) if driver_major >= 6 else negotiated == (5, 8)


def test_a_wrong_password_is_neo4js_own_authentication_failure(server: Neo4jHandle) -> None:
    user, password = server.auth
    with (
        neo4j.GraphDatabase.driver(server.uri, auth=(user, password + "-wrong")) as driver,
        pytest.raises(AuthError) as failure,
    ):
        driver.verify_connectivity()
    assert failure.value.code == "Neo.ClientError.Security.Unauthorized"


def test_write_read_delete_under_a_unique_label(server: Neo4jHandle, neo4j_label: str) -> None:
    with server.driver() as driver:
        driver.execute_query(
            f"UNWIND range(1, 3) AS i CREATE (:{neo4j_label} {{i: i, at: datetime()}})"
        )
        records, _, _ = driver.execute_query(
            f"MATCH (n:{neo4j_label}) RETURN count(n) AS c, min(n.at) IS NOT NULL AS dated"
        )
        assert (records[0]["c"], records[0]["dated"]) == (3, True)
        driver.execute_query(f"MATCH (n:{neo4j_label}) DELETE n")


def test_driver_through_the_proxy(server: Neo4jHandle, neo4j_label: str) -> None:
    with running_proxy(proxy_settings(server.uri)) as proxy:
        for client_uri in (proxy.uri, proxy.routing_uri()):
            with neo4j.GraphDatabase.driver(client_uri, auth=server.auth) as driver:
                records = driver.execute_query("UNWIND range(1, 100000) AS i RETURN i").records
                assert len(records) == 100_000
                assert driver.get_server_info().agent == f"Neo4j/{server.version}"
                with driver.session() as session:
                    session.execute_write(
                        lambda tx: tx.run(f"CREATE (:{neo4j_label} {{at: datetime()}})").consume()
                    )
                    session.execute_write(
                        lambda tx: tx.run(f"MATCH (n:{neo4j_label}) DELETE n").consume()
                    )
