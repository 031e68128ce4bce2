"""Shared fixtures. Their logic lives in tests/support so it can be imported elsewhere."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from boltproxy.sandbox.falkordb import FalkorDBServer
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
