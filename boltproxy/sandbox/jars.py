"""The jars of one Neo4j version: resolved from Maven Central once, then cached.

The cache (``$BOLTPROXY_CACHE_DIR``, else ``$XDG_CACHE_HOME/boltproxy``, else
``~/.cache/boltproxy``) holds ``neo4j/<version>/lib`` (the DBMS) and, when asked
for, ``neo4j/<version>/apoc`` (APOC core and what it needs beyond the DBMS).
A version counts as cached once its ``resolved.json`` exists; from then on no
Maven and no network is needed.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import shutil
import subprocess
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from boltproxy.sandbox.errors import SandboxError

VERSION = re.compile(r"^\d{1,4}\.\d{1,2}(\.\d{1,3})?$")
MAVEN_TIMEOUT = 1200.0  # a cold resolution downloads ~150 MB
# Servers are prepared in threads side by side; two Maven runs writing the same
# artifacts into the local repository at once could leave a torn file.
_maven_lock = threading.Lock()


@dataclass(frozen=True)
class Neo4jJars:
    version: str
    root: Path

    @property
    def lib(self) -> Path:
        return self.root / "lib"

    @property
    def apoc(self) -> Path:
        return self.root / "apoc"

    @property
    def has_apoc(self) -> bool:
        return (self.root / "apoc.json").is_file()

    @property
    def classpath(self) -> str:
        return str(self.lib / "*")


def cache_dir() -> Path:
    explicit = os.environ.get("BOLTPROXY_CACHE_DIR")
    if explicit:
        return Path(explicit).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".cache"
    return base / "boltproxy"


def check_version(version: str) -> None:
    if not VERSION.match(version):
        raise SandboxError(
            f"{version!r} is not a Neo4j version (expected e.g. 5.26.30 or 2026.08.1)"
        )


def cached(version: str) -> Neo4jJars | None:
    jars = Neo4jJars(version, cache_dir() / "neo4j" / version)
    return jars if (jars.root / "resolved.json").is_file() else None


def maven() -> str | None:
    """The mvn to run (``$BOLTPROXY_MVN`` or PATH's), None when there is none."""
    return shutil.which(os.environ.get("BOLTPROXY_MVN") or "mvn")


@contextmanager
def _locked(root: Path) -> Iterator[None]:
    # Two commands resolving the same version at once would write the same files.
    root.parent.mkdir(parents=True, exist_ok=True)
    with (root.parent / f"{root.name}.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _copy_dependencies(properties: dict[str, str], into: Path, java_home: Path | None) -> str:
    """Run the launcher pom's copy-dependencies; returns Maven's output on failure ('' if ok)."""
    mvn = maven()
    if mvn is None:
        raise SandboxError(
            "Maven (mvn) is needed once per Neo4j version to fetch its jars from Maven "
            "Central: install it (apt-get install maven) or set BOLTPROXY_MVN"
        )
    env = dict(os.environ)
    if java_home is not None and "JAVA_HOME" not in env:
        env["JAVA_HOME"] = str(java_home)
    pom = resources.files("boltproxy.sandbox").joinpath("launcher/pom.xml").read_text()
    with tempfile.TemporaryDirectory(prefix="boltproxy-launcher-") as work:
        (Path(work) / "pom.xml").write_text(pom)
        command = [mvn, "-B", "-q", "-U", "dependency:copy-dependencies",
                   f"-DoutputDirectory={into}"]  # fmt: skip
        command += [f"-D{key}={value}" for key, value in properties.items()]
        try:
            with _maven_lock:
                done = subprocess.run(
                    command, cwd=work, env=env, capture_output=True, text=True,
                    timeout=MAVEN_TIMEOUT, stdin=subprocess.DEVNULL,
                )  # fmt: skip
        except subprocess.TimeoutExpired:
            raise SandboxError(
                f"Maven did not finish within {MAVEN_TIMEOUT:g} s ({' '.join(properties.values())})"
            ) from None
    return "" if done.returncode == 0 else (done.stdout + done.stderr)


def _first_error(output: str) -> str:
    for line in output.splitlines():
        line = re.sub(r"\x1b\[[0-9;]*m", "", line).strip()
        if line.startswith("[ERROR]") and len(line) > len("[ERROR] "):
            return line.removeprefix("[ERROR] ")
    return output.strip().splitlines()[-1] if output.strip() else "(no output)"


def _not_found(output: str) -> bool:
    return any(
        sign in output
        for sign in ("Could not find artifact", "was not found in", "No versions available")
    )


def resolve(version: str, *, java_home: Path | None = None) -> Neo4jJars:
    """The cached jars of ``version``, fetched with Maven the first time."""
    check_version(version)
    hit = cached(version)
    if hit is not None:
        return hit
    root = cache_dir() / "neo4j" / version
    with _locked(root):
        hit = cached(version)  # another command may have finished it meanwhile
        if hit is not None:
            return hit
        staging = root.parent / f"{version}.partial"
        shutil.rmtree(staging, ignore_errors=True)
        failure = _copy_dependencies({"neo4j.version": version}, staging / "lib", java_home)
        if failure:
            shutil.rmtree(staging, ignore_errors=True)
            if _not_found(failure):
                raise SandboxError(
                    f"Neo4j {version} is not on Maven Central (org.neo4j:neo4j:{version} "
                    "does not resolve)"
                )
            raise SandboxError(
                f"could not fetch Neo4j {version} from Maven Central: {_first_error(failure)}"
            )
        jars = sorted(p.name for p in (staging / "lib").glob("*.jar"))
        (staging / "resolved.json").write_text(json.dumps({"version": version, "jars": jars}))
        shutil.rmtree(root, ignore_errors=True)
        staging.rename(root)
    return Neo4jJars(version, root)


def _artifact(jar_name: str) -> str:
    """'commons-lang3-3.20.0.jar' -> 'commons-lang3': a jar's name without its version."""
    return re.sub(r"-\d[^-]*(-[A-Za-z]+)?\.jar$", "", jar_name)


def apoc_range(version: str) -> str:
    """APOC core releases follow the DBMS's minor line: 5.26.30 takes the newest 5.26.x ≤ it."""
    major, minor = version.split(".")[:2]
    return f"[{major}.{minor}.0,{version}]"


def resolve_apoc(jars: Neo4jJars, *, java_home: Path | None = None) -> str | None:
    """Add APOC core to a cached version; returns the APOC version, None if none resolves.

    APOC core is published on Maven Central for the 5.x line only (up to
    5.26.19 when this was written); calendar releases ship it elsewhere.
    """
    marker = jars.root / "apoc.json"
    if marker.is_file():
        return str(json.loads(marker.read_text())["apoc"])
    missing = jars.root / "apoc.missing"
    if missing.is_file():
        return None
    with _locked(jars.root):
        staging = jars.root / "apoc.partial"
        shutil.rmtree(staging, ignore_errors=True)
        failure = _copy_dependencies({"apoc.version": apoc_range(jars.version)}, staging, java_home)
        if failure:
            shutil.rmtree(staging, ignore_errors=True)
            if _not_found(failure):
                missing.write_text(apoc_range(jars.version) + "\n")
                return None
            raise SandboxError(
                f"could not fetch APOC core from Maven Central: {_first_error(failure)}"
            )
        # The DBMS's own jars stay the only copy: plugins come first on Neo4j's classpath.
        present = {_artifact(p.name) for p in jars.lib.glob("*.jar")}
        apoc_version = ""
        for jar in sorted(staging.glob("*.jar")):
            if _artifact(jar.name) in present:
                jar.unlink()
            elif jar.name.startswith("apoc-core-"):
                apoc_version = jar.name.removeprefix("apoc-core-").removesuffix(".jar")
        shutil.rmtree(jars.apoc, ignore_errors=True)
        staging.rename(jars.apoc)
        marker.write_text(json.dumps({"apoc": apoc_version}))
    return apoc_version
