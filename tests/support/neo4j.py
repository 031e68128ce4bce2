"""Real Neo4j servers for tests: blue 5.26 LTS and green 2026.x, once per session.

Both JVMs start side by side (both are launched before either is awaited) and
are always stopped at the end. Community has one user database, so tests
isolate with unique labels (:func:`unique_label`) or clean up what they write.

``BOLTPROXY_E2E_BLUE_URI`` / ``BOLTPROXY_E2E_GREEN_URI`` (with
``BOLTPROXY_E2E_USER`` / ``BOLTPROXY_E2E_PASSWORD``) point the same fixtures at
external servers instead (e.g. ``compose/``). ``BOLTPROXY_TEST_BLUE_VERSION`` /
``BOLTPROXY_TEST_GREEN_VERSION`` pick other versions for the local ones.
"""

from __future__ import annotations

import itertools
import os
import secrets
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import neo4j

from boltproxy.sandbox import jars, java
from boltproxy.sandbox.errors import SandboxError
from boltproxy.sandbox.manager import DEFAULT_VERSIONS
from boltproxy.sandbox.neo4j import Neo4jServer

_labels = itertools.count(1)


@dataclass(frozen=True)
class Neo4jHandle:
    """One running server as tests see it."""

    name: str
    uri: str
    auth: tuple[str, str]
    version: str
    bolt_port: int
    http_port: int  # 0 for an external server (not known)
    server: Neo4jServer | None = None  # None for an external server

    def driver(self, **settings: object) -> neo4j.Driver:
        return neo4j.GraphDatabase.driver(self.uri, auth=self.auth, **settings)  # type: ignore[arg-type]


def versions() -> dict[str, str]:
    return {
        name: os.environ.get(f"BOLTPROXY_TEST_{name.upper()}_VERSION", default)
        for name, default in DEFAULT_VERSIONS.items()
    }


def external() -> dict[str, str] | None:
    uris = {name: os.environ.get(f"BOLTPROXY_E2E_{name.upper()}_URI", "") for name in versions()}
    return uris if all(uris.values()) else None


def unusable() -> str | None:
    """Why local servers cannot run here (the fixtures skip with this reason)."""
    for version in versions().values():
        try:
            java.select(version)
        except SandboxError as exc:
            return f"no real Neo4j here: {exc}"
        if jars.cached(version) is None and jars.maven() is None:
            return f"no real Neo4j here: Neo4j {version} is not cached and mvn is missing"
    return None


def _external_handles(uris: dict[str, str]) -> list[Neo4jHandle]:
    auth = (
        os.environ.get("BOLTPROXY_E2E_USER", "neo4j"),
        os.environ.get("BOLTPROXY_E2E_PASSWORD", "password"),
    )
    handles = []
    for name, uri in uris.items():
        with neo4j.GraphDatabase.driver(uri, auth=auth) as driver:
            records, _, _ = driver.execute_query(
                "CALL dbms.components() YIELD name, versions WHERE name = 'Neo4j Kernel' "
                "RETURN versions[0] AS version"
            )
        port = urlsplit(uri).port or 7687
        handles.append(Neo4jHandle(name, uri, auth, str(records[0]["version"]), port, 0))
    return handles


@contextmanager
def running_pair(base: Path) -> Iterator[tuple[Neo4jHandle, Neo4jHandle]]:
    """Blue and green, started in parallel under ``base`` (or the external pair)."""
    uris = external()
    if uris is not None:
        blue, green = _external_handles(uris)
        yield blue, green
        return
    password = secrets.token_hex(12)  # no leading "-": it is passed on command lines
    servers = [
        Neo4jServer(base / name, version, name=name, password=password)
        for name, version in versions().items()
    ]
    try:
        # Preparing runs short JVMs (initial password, bootloader): both sides at once.
        with ThreadPoolExecutor(len(servers)) as pool:
            for future in [pool.submit(server.prepare) for server in servers]:
                future.result()
        for server in servers:
            server.launch()
        for server in servers:
            server.finish()
        blue, green = (
            Neo4jHandle(s.name, s.uri, s.auth, s.info.version, s.bolt_port, s.http_port, s)
            for s in servers
        )
        yield blue, green
    finally:
        for server in servers:
            server.stop()


def unique_label(test_name: str) -> str:
    """A node label no other test in this run uses: the isolation unit on Community."""
    stem = "".join(c if c.isalnum() else "_" for c in test_name)[:40]
    return f"T{os.getpid()}_{next(_labels)}_{stem}"
