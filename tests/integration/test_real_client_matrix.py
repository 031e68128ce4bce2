"""The official drivers against real Neo4j, straight to the server and through boltproxy.

Every driver line (Python 5.28.x and 6.x, sync and async; JavaScript) runs the
client scenario scripts (tests/clients/) with ``bolt://`` and ``neo4j://`` against
blue (Neo4j 5.26) and green (2026.x), once straight to the server and once
through a proxy in front of it. Both runs must pass every scenario -- auto-commit,
explicit and managed transactions with written data read back, a causal chain
of three sessions over bookmarks, large results, a syntax error with its GQL
fields, parameters, every value type (temporal values with zones and offsets,
durations, 2D/3D points, graph structures, and vectors where Bolt 6 is
negotiated), notifications with GQL statuses and client-side filters, and
session-level re-authentication -- and report the same facts: what the user saw
through the proxy is what they saw from the server.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.neo4j import Neo4jHandle
from tests.support.proxy import ThreadedProxy, proxy_settings, running_proxy
from tests.support.real_clients import (
    ALL_CLIENTS,
    CLIENT_TIMEOUT,
    Client,
    ScriptRun,
    fact_differences,
    run_scenarios,
)

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(2 * CLIENT_TIMEOUT + 60)]

FEW_ROWS = 2_500  # still several PULL batches (the scripts fetch 1,000 at a time)
MANY_ROWS = 100_000
# The 100,000-row result once per driver line and server, alternating the scheme.
MANY_ROWS_SCHEME = {"blue": "bolt", "green": "neo4j"}
# What each driver line negotiates with each server (the proxy must match it).
BOLT = {
    ("py5", "blue"): "5.8", ("py5", "green"): "5.8",
    ("py6", "blue"): "5.8", ("py6", "green"): "6.1",
    ("js", "blue"): "5.8", ("js", "green"): "6.1",
}
ID_DEPRECATION = {"blue": "01N02", "green": "01N01"}  # id(): without / with a replacement


@pytest.fixture(scope="module")
def real_proxies(
    neo4j_blue: Neo4jHandle, neo4j_green: Neo4jHandle
) -> Iterator[dict[str, ThreadedProxy]]:
    """One proxy in front of each server, shared by the module."""
    with (
        running_proxy(proxy_settings(neo4j_blue.uri)) as blue,
        running_proxy(proxy_settings(neo4j_green.uri)) as green,
    ):
        yield {"blue": blue, "green": green}


def matrix_cases() -> list[object]:
    return [
        pytest.param(client, scheme, server, id=f"{client.name}-{scheme}-{server}")
        for server in ("blue", "green")
        for client in ALL_CLIENTS
        for scheme in ("bolt", "neo4j")
    ]


def _uri(scheme: str, port: int) -> str:
    return f"{scheme}://127.0.0.1:{port}"


def _check_run(run: ScriptRun) -> None:
    failures = run.failures()
    assert not failures, "\n".join(failures) + "\n\n" + run.explain()


@pytest.mark.parametrize(("client", "scheme", "server"), matrix_cases())
def test_driver_sees_the_same_server_directly_and_through_the_proxy(
    client: Client,
    scheme: str,
    server: str,
    real_proxies: dict[str, ThreadedProxy],
    request: pytest.FixtureRequest,
) -> None:
    client.command()  # skips before anything runs if this driver is missing
    handle: Neo4jHandle = request.getfixturevalue(f"neo4j_{server}")
    proxy = real_proxies[server]
    rows = MANY_ROWS if MANY_ROWS_SCHEME[server] == scheme else FEW_ROWS

    direct = run_scenarios(client, _uri(scheme, handle.bolt_port), handle, rows, "direct")
    _check_run(direct)  # a failure here is the server's, the driver's or the script's
    proxied = run_scenarios(client, _uri(scheme, proxy.port), handle, rows, "proxy")
    _check_run(proxied)

    differences = fact_differences(direct, proxied)
    assert not differences, "what the driver saw differs:\n" + "\n".join(differences)

    facts = proxied.facts()
    line = client.name.split("-")[0]
    assert facts["connectivity"]["bolt"] == BOLT[(line, server)], facts["connectivity"]
    assert facts["connectivity"]["agent"] == f"Neo4j/{handle.version}"
    deprecations = [s["gql_status"] for s in facts["notifications"]["default"]
                    if s["classification"] == "DEPRECATION"]
    assert deprecations == [ID_DEPRECATION[server]]
    assert facts["large_result"] == {"rows": rows}
    vectors = [name for name in facts["values"] if name.startswith("vector ")]
    assert len(vectors) == (6 if BOLT[(line, server)] >= "6" else 0), vectors
