"""Synchronous drivers for the pipeline's own reads and writes (dataset, smoke checks, bench)."""

from __future__ import annotations

import time
from typing import Any

import neo4j
from neo4j.exceptions import AuthError, ServiceUnavailable, SessionExpired

from boltproxy.pipeline.model import Server, StepFailed


def open_driver(server: Server, attempts: int = 6, **settings: Any) -> neo4j.Driver:
    """A driver that has reached ``server`` once.

    Short timeouts, several attempts: FalkorDB leaves some new connections
    unanswered, and a server that has just started may not listen yet.
    """
    settings.setdefault("connection_timeout", 3.0)
    # It also bounds the handshake read, which FalkorDB sometimes leaves unanswered.
    settings.setdefault("connection_acquisition_timeout", 3.0)
    settings.setdefault("max_connection_pool_size", 8)
    last: Exception | None = None
    for attempt in range(attempts):
        driver = neo4j.GraphDatabase.driver(server.uri, auth=server.auth, **settings)
        try:
            driver.verify_connectivity()
            return driver
        except AuthError:
            driver.close()
            raise StepFailed(
                f"{server.name} {server.uri} refused the credentials: check --user/--password"
            ) from None
        except (ServiceUnavailable, SessionExpired, OSError) as exc:
            driver.close()
            last = exc
            time.sleep(min(2.0, 0.2 * (attempt + 1)))
    raise StepFailed(
        f"{server.name} {server.uri} does not answer ({type(last).__name__}): "
        "is the server running and the URI right?"
    )


def identify(server: Server) -> None:
    """Fill in the engine and version: only a real Neo4j answers dbms.components()."""
    with open_driver(server) as driver:
        try:
            records, _, _ = driver.execute_query(
                "CALL dbms.components() YIELD name, versions "
                "WHERE name = 'Neo4j Kernel' RETURN versions[0] AS version"
            )
        except neo4j.exceptions.Neo4jError:
            server.engine, server.version = "falkordb", "FalkorDB"
            return
    server.engine = "neo4j"
    server.version = str(records[0]["version"]) if records else "unknown"


def counts(driver: neo4j.Driver) -> tuple[int, int]:
    """Nodes and relationships (read from Neo4j's count store: cheap at any size)."""
    nodes, _, _ = driver.execute_query("MATCH (n) RETURN count(n) AS c")
    rels, _, _ = driver.execute_query("MATCH ()-[r]->() RETURN count(r) AS c")
    return int(nodes[0]["c"]), int(rels[0]["c"])
