"""The version probe finds what a backend speaks, whatever kind of handshake it does."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from boltproxy.bolt.messages import Version
from boltproxy.proxy.probe import Answer, ProbeFailed, Proposal, probe_versions


def expand(proposal: Proposal) -> list[Version]:
    (major, minor), span = proposal
    return [(major, m) for m in range(minor, minor - span - 1, -1) if m >= 0]


class Server:
    """A handshake model: which versions, manifest or not, all slots or only the first."""

    def __init__(
        self,
        versions: set[Version],
        *,
        manifest: bool = False,
        first_slot_only: bool = False,
        silent_first: int = 0,
    ) -> None:
        self.versions = versions
        self.manifest = manifest
        self.first_slot_only = first_slot_only
        self.silent = silent_first
        self.connections = 0

    async def attempt(self, proposals: Sequence[Proposal], manifest: bool) -> Answer:
        self.connections += 1
        if self.silent:
            self.silent -= 1
            return Answer()
        if manifest and self.manifest:
            return Answer(offered=tuple(sorted(self.versions)))
        slots = list(proposals)
        if manifest:
            slots = [((255, 1), 0), *slots]  # the manifest marker occupies slot one
        if self.first_slot_only:
            slots = slots[:1]
        for proposal in slots:
            matching = [v for v in expand(proposal) if v in self.versions]
            if matching:
                return Answer(version=max(matching))
        return Answer(refused=True)


def minors(major: int, low: int, high: int) -> set[Version]:
    return {(major, m) for m in range(low, high + 1)}


async def test_manifest_server_is_asked_once() -> None:
    server = Server({(4, 4)} | minors(5, 0, 8), manifest=True)
    found = await probe_versions(server.attempt)
    assert found.manifest
    assert found.versions == {(4, 4)} | minors(5, 0, 8)
    assert server.connections == 1


async def test_first_slot_only_server_like_falkordb() -> None:
    server = Server(minors(5, 1, 7), first_slot_only=True)
    found = await probe_versions(server.attempt)
    assert not found.manifest
    assert found.versions == minors(5, 1, 7)


async def test_legacy_server_with_two_majors() -> None:
    server = Server({(4, 4)} | minors(5, 0, 4))
    found = await probe_versions(server.attempt)
    assert found.versions == {(4, 4)} | minors(5, 0, 4)


async def test_a_silent_listener_is_retried_not_taken_for_a_refusal() -> None:
    server = Server(minors(5, 1, 7), first_slot_only=True, silent_first=2)
    found = await probe_versions(server.attempt, retries=3)
    assert found.versions == minors(5, 1, 7)


async def test_a_server_that_never_answers_fails_the_probe() -> None:
    server = Server(minors(5, 1, 7), silent_first=100)
    with pytest.raises(ProbeFailed):
        await probe_versions(server.attempt, retries=2)


async def test_no_common_version() -> None:
    server = Server({(3, 0)})
    found = await probe_versions(server.attempt)
    assert found.versions == frozenset()
