"""Which Java runs which Neo4j version, and where the JDKs of this machine are."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from boltproxy.sandbox.errors import SandboxError

# Where Linux distributions (and the Temurin packages) install JDKs side by side.
JVM_DIRS = (Path("/usr/lib/jvm"),)


@dataclass(frozen=True)
class Jdk:
    home: Path
    major: int

    @property
    def java(self) -> Path:
        return self.home / "bin" / "java"


def supported_majors(neo4j_version: str) -> tuple[int, ...]:
    """The Java feature releases a Neo4j version runs on, newest first.

    From Neo4j's system requirements: 5.x needs 17 or 21; the calendar releases
    2025.01 to 2025.09 need 21; 2025.10 and later run on 21 or 25.
    """
    parts = neo4j_version.split(".")
    major = int(parts[0])
    minor = int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else 0
    if major < 5:
        return (11,)
    if major == 5:
        return (21, 17)
    if major == 2025 and minor < 10:
        return (21,)
    return (25, 21)


def needs(neo4j_version: str) -> str:
    """'Java 17 or 21' for a version, for messages."""
    majors = sorted(supported_majors(neo4j_version))
    return "Java " + " or ".join(str(m) for m in majors)


_RELEASE = re.compile(r'^JAVA_VERSION="?([0-9][0-9._+a-z-]*)"?', re.MULTILINE)
_VERSION_OUTPUT = re.compile(r'version "([0-9][^"]*)"')


def _major(version: str) -> int:
    head = version.split(".")
    # "1.8.0_392" is Java 8; "17.0.15" and "21" are what they say.
    if head[0] == "1" and len(head) > 1:
        return int(head[1])
    return int(re.split(r"[^0-9]", version)[0])


def probe(home: Path) -> Jdk | None:
    """The JDK (or JRE) at ``home``, or None when there is no runnable java there."""
    java = home / "bin" / "java"
    if not (java.is_file() and os.access(java, os.X_OK)):
        return None
    # The release file answers without starting a JVM; older or odd layouts lack it.
    try:
        found = _RELEASE.search((home / "release").read_text(errors="replace"))
    except OSError:
        found = None
    if found is None:
        try:
            out = subprocess.run(
                [str(java), "-version"], capture_output=True, text=True, timeout=30
            ).stderr
        except (OSError, subprocess.TimeoutExpired):
            return None
        found = _VERSION_OUTPUT.search(out)
        if found is None:
            return None
    try:
        return Jdk(home.resolve(), _major(found.group(1)))
    except ValueError:
        return None


def candidates() -> list[Jdk]:
    """Every distinct JDK found in JAVA_HOME, the JVM directories and PATH."""
    homes: list[Path] = []
    if os.environ.get("JAVA_HOME"):
        homes.append(Path(os.environ["JAVA_HOME"]))
    for base in JVM_DIRS:
        if base.is_dir():
            homes.extend(sorted(p for p in base.iterdir() if p.is_dir()))
    on_path = shutil.which("java")
    if on_path:
        homes.append(Path(on_path).resolve().parent.parent)
    found: dict[Path, Jdk] = {}
    for home in homes:
        jdk = probe(home)
        if jdk is not None:
            found.setdefault(jdk.home, jdk)
    return list(found.values())


def select(neo4j_version: str, explicit: Path | None = None) -> Jdk:
    """The JDK for ``neo4j_version``: ``explicit`` if given, else the newest that fits."""
    wanted = supported_majors(neo4j_version)
    if explicit is not None:
        jdk = probe(explicit)
        if jdk is None:
            raise SandboxError(f"{explicit} holds no runnable bin/java")
        if jdk.major not in wanted:
            raise SandboxError(
                f"{explicit} is Java {jdk.major}; "
                f"Neo4j {neo4j_version} needs {needs(neo4j_version)}"
            )
        return jdk
    fitting = [jdk for jdk in candidates() if jdk.major in wanted]
    if not fitting:
        raise SandboxError(
            f"Neo4j {neo4j_version} needs {needs(neo4j_version)} and none was found in "
            "JAVA_HOME, /usr/lib/jvm or PATH "
            "(install one, or name it with --blue-java-home / --green-java-home)"
        )
    return max(fitting, key=lambda jdk: jdk.major)
