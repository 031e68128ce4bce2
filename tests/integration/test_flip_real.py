"""Flip and rollback under load between real Neo4j 5.26 and 2026.x.

Sixteen sessions of the official driver write through the proxy while the
primary moves to green and back. No client may see an error; every acknowledged
write must be on a backend — on exactly one without mirroring, on both with
dual writes (``shadow.mode = "all"``).
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import neo4j
import pytest

from tests.integration.test_flip import Load, control
from tests.support.neo4j import Neo4jHandle
from tests.support.proxy import proxy_settings, running_proxy


@pytest.fixture
def label(
    neo4j_pair: tuple[Neo4jHandle, Neo4jHandle], neo4j_label: str
) -> Iterator[str]:
    yield neo4j_label
    for server in neo4j_pair:
        with server.driver() as driver:
            driver.execute_query(f"MATCH (n:{neo4j_label}) DETACH DELETE n")


def ids_on(server: Neo4jHandle, label: str) -> list[int]:
    with server.driver() as driver:
        records = driver.execute_query(f"MATCH (n:{label}) RETURN n.id AS id").records
    return [record["id"] for record in records]


def wait_for_sessions_to_end(proxy: object) -> None:
    server = proxy.server  # type: ignore[attr-defined]
    deadline = time.monotonic() + 60
    while server._connections:
        assert time.monotonic() < deadline, "sessions did not end"
        time.sleep(0.05)


@pytest.mark.parametrize("mode", ["off", "all"])
def test_flip_and_rollback_between_real_versions(
    neo4j_pair: tuple[Neo4jHandle, Neo4jHandle], label: str, mode: str
) -> None:
    blue, green = neo4j_pair
    settings = proxy_settings(blue.uri, green_uri=green.uri, shadow={"mode": mode})
    write = f"CREATE (n:{label} {{id: $id}}) RETURN n.id AS id"
    with running_proxy(settings) as proxy:
        with Load(proxy, query=write, auth=blue.auth) as load:
            load.wait_for(100, seconds=120)
            control(proxy, "flip")
            load.wait_for(100, seconds=120)
            control(proxy, "rollback")
            load.wait_for(50, seconds=120)
        wait_for_sessions_to_end(proxy)
    assert load.errors == []
    on_blue, on_green = ids_on(blue, label), ids_on(green, label)
    acknowledged = sorted(load.acknowledged)
    if mode == "off":
        # Each transaction was answered by one backend, and kept there.
        assert sorted(on_blue + on_green) == acknowledged
        assert on_blue and on_green
    else:
        # Dual writes: whichever answered, the other applied it too.
        assert sorted(on_blue) == acknowledged
        assert sorted(on_green) == acknowledged


def test_a_bookmark_from_blue_is_honoured_on_green_after_a_flip(
    neo4j_pair: tuple[Neo4jHandle, Neo4jHandle], label: str
) -> None:
    blue, green = neo4j_pair
    settings = proxy_settings(blue.uri, green_uri=green.uri, shadow={"mode": "all"})
    with (
        running_proxy(settings) as proxy,
        neo4j.GraphDatabase.driver(proxy.uri, auth=blue.auth) as driver,
    ):
        with driver.session() as session:
            session.run(f"CREATE (:{label} {{id: 1}})").consume()
            bookmarks = session.last_bookmarks()
        control(proxy, "flip")
        # A causal read after the flip, on green: it must see the write the bookmark
        # (blue's, translated) names.
        with driver.session(bookmarks=bookmarks) as session:
            read = session.run(
                f"MATCH (n:{label}) WITH count(n) AS c "
                "CALL dbms.components() YIELD name, versions WHERE name = 'Neo4j Kernel' "
                "RETURN c, versions[0] AS version"
            ).single()
        assert read is not None and read["c"] == 1
        assert read["version"].startswith("2026")
