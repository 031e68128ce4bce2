"""Shared fixtures. Their logic lives in tests/support so it can be imported elsewhere."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from boltproxy.sandbox.falkordb import FalkorDBServer
from tests.support import neo4j as real
from tests.support.falkordb import (
    SKIP_REASON,
    falkordb_available,
    running_servers,
    unique_graph_name,
)


def _need_falkordb() -> None:
    if not falkordb_available():
        pytest.skip(SKIP_REASON)


@pytest.fixture(scope="session")
def falkordb(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FalkorDBServer]:
    """One FalkorDB server (Bolt on ``.bolt_uri``) shared by the whole session."""
    _need_falkordb()
    with running_servers(tmp_path_factory.mktemp("falkordb"), "falkordb") as (server,):
        yield server


@pytest.fixture(scope="session")
def falkordb_pair(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[FalkorDBServer, FalkorDBServer]]:
    """Two FalkorDB servers: (blue, green)."""
    _need_falkordb()
    with running_servers(tmp_path_factory.mktemp("falkordb-pair"), "blue", "green") as servers:
        yield servers[0], servers[1]


@pytest.fixture
def graph_name(request: pytest.FixtureRequest) -> str:
    """A graph name unique to this test; FalkorDB servers the test uses start out empty.

    FalkorDB ignores the Bolt ``db`` field (see tests/support/falkordb.py), so the
    name alone isolates nothing there: the servers are emptied before the test.
    """
    for fixture in ("falkordb", "falkordb_pair"):
        if fixture in request.fixturenames:
            value = request.getfixturevalue(fixture)
            for server in value if isinstance(value, tuple) else (value,):
                server.delete_all_graphs()
    return unique_graph_name(request.node.name)


# --- real Neo4j (tests/support/neo4j.py) ------------------------------------------------


@pytest.fixture(scope="session")
def neo4j_pair(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[real.Neo4jHandle, real.Neo4jHandle]]:
    """(blue, green): Neo4j 5.26 and 2026.x, started once and in parallel, always stopped.

    Each has ``.uri``, ``.auth``, ``.version``, ``.bolt_port``, ``.http_port`` and
    ``.driver()``. Skips, with the reason, where no fitting JDK or Maven is found.
    """
    if real.external() is None:
        reason = real.unusable()
        if reason is not None:
            pytest.skip(reason)
    with real.running_pair(tmp_path_factory.mktemp("neo4j")) as pair:
        yield pair


@pytest.fixture(scope="session")
def neo4j_blue(neo4j_pair: tuple[real.Neo4jHandle, real.Neo4jHandle]) -> real.Neo4jHandle:
    """Neo4j 5.26 LTS (see ``neo4j_pair``)."""
    return neo4j_pair[0]


@pytest.fixture(scope="session")
def neo4j_green(neo4j_pair: tuple[real.Neo4jHandle, real.Neo4jHandle]) -> real.Neo4jHandle:
    """Neo4j 2026.x (see ``neo4j_pair``)."""
    return neo4j_pair[1]


@pytest.fixture
def neo4j_label(request: pytest.FixtureRequest) -> str:
    """A node label unique to this test: Community has one user database to share."""
    return real.unique_label(request.node.name)
