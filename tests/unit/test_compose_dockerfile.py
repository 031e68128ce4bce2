"""Focused Dockerfile rules (hadolint is not available here): those that matter for this image."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def instructions(text: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments), continuation lines joined, comments dropped."""
    joined = re.sub(r"\\\n", " ", text)
    out = []
    for line in joined.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            word, _, rest = line.partition(" ")
            out.append((word.upper(), rest.strip()))
    return out


def problems(text: str) -> list[str]:
    found = []
    steps = instructions(text)
    for word, args in steps:
        if word == "FROM":
            image = args.split()[0]
            tag = image.split("@")[0].rpartition(":")[2] if ":" in image else ""
            if "@sha256:" not in image and not re.match(r"\d+\.\d+\.\d+", tag):
                found.append(f"base image not pinned to a patch release or digest: {image}")
        if word == "ADD" and re.search(r"https?://", args):
            found.append("ADD of a URL: download in a RUN step with a checksum instead")
    users = [args for word, args in steps if word == "USER"]
    if not users or users[-1].split(":")[0] in ("root", "0"):
        found.append("runs as root: add a USER with an unprivileged user")
    checks = [args for word, args in steps if word == "HEALTHCHECK"]
    if not checks or checks[-1].upper().startswith("NONE"):
        found.append("no HEALTHCHECK")
    return found


def test_the_dockerfile_passes() -> None:
    assert problems((ROOT / "Dockerfile").read_text()) == []


def test_each_rule_catches_its_fault() -> None:
    good = "FROM python:3.11.13-slim\nUSER 10001\nHEALTHCHECK CMD true\n"
    assert problems(good) == []
    assert problems(good.replace("3.11.13-slim", "3.11-slim"))[0].startswith("base image")
    assert problems(good.replace("python:3.11.13-slim", "python"))[0].startswith("base image")
    assert problems(good.replace("3.11.13-slim", "latest@sha256:" + "a" * 64)) == []
    assert problems(good + "ADD https://example.org/x.tgz /x\n") == [
        "ADD of a URL: download in a RUN step with a checksum instead"
    ]
    assert problems(good.replace("USER 10001", "USER root")) == [
        "runs as root: add a USER with an unprivileged user"
    ]
    assert problems(good.replace("HEALTHCHECK CMD true", "HEALTHCHECK NONE")) == ["no HEALTHCHECK"]
