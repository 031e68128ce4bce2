"""Learn which Bolt versions a backend speaks.

A server that knows the manifest handshake (Neo4j 5.26+) lists its versions in
one reply. Older servers answer a single version, and some (FalkorDB) read only
the first proposal slot, so the probe then asks one proposal at a time and
searches for the lowest minor of the major it found. Each attempt is one short
connection; the transport is injected, so the search is tested without sockets.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from boltproxy.bolt.handshake import KNOWN_VERSIONS, proposals_for
from boltproxy.bolt.messages import Version

Proposal = tuple[Version, int]


@dataclass(frozen=True, slots=True)
class Answer:
    """What one probing connection learned."""

    version: Version | None = None  # the version the server chose
    offered: tuple[Version, ...] | None = None  # a manifest reply's full list
    refused: bool = False  # the server said no (00 00 00 00)
    error: str | None = None  # why there was no answer at all (not a refusal)


Attempt = Callable[[Sequence[Proposal], bool], Awaitable[Answer]]


@dataclass(frozen=True, slots=True)
class Capabilities:
    versions: frozenset[Version]
    manifest: bool

    def describe(self) -> str:
        ordered = sorted(self.versions)
        listed = ", ".join(f"{major}.{minor}" for major, minor in ordered)
        return f"Bolt {listed}" + (" (manifest handshake)" if self.manifest else "")


class ProbeFailed(Exception):
    """The backend never answered a handshake."""


async def probe_versions(attempt: Attempt, *, retries: int = 3) -> Capabilities:
    """Find the backend's versions among the ones boltproxy knows."""
    known = frozenset(KNOWN_VERSIONS)

    async def ask(proposals: Sequence[Proposal], manifest: bool = False) -> Answer:
        # A missing answer is retried: a flaky listener is not a refusal.
        for _ in range(retries):
            answer = await attempt(proposals, manifest)
            if answer.version is not None or answer.refused or answer.offered is not None:
                return answer
        return answer

    everything = proposals_for(known)
    first = await ask(everything, True)
    if first.offered is not None:
        return Capabilities(frozenset(first.offered) & known, manifest=True)
    if first.version is None and not first.refused:
        raise ProbeFailed(first.error or "no answer to the Bolt handshake")

    versions: set[Version] = set()
    if first.version is not None:
        top = first.version
    else:
        # Some servers read only the first slot: offer one range at a time.
        top_found = None
        for proposal in everything:
            answer = await ask([proposal])
            if answer.version is not None:
                top_found = answer.version
                break
        if top_found is None:
            return Capabilities(frozenset(), manifest=False)
        top = top_found
    versions |= await _minors_down_to_floor(ask, top, known)
    # Other majors (4.4 beside 5.x): ask for them alone.
    for proposal in everything:
        (major, _minor), _range = proposal
        if major < top[0]:
            answer = await ask([proposal])
            if answer.version is not None:
                versions |= await _minors_down_to_floor(ask, answer.version, known)
    return Capabilities(frozenset(versions), manifest=False)


async def _minors_down_to_floor(
    ask: Callable[[Sequence[Proposal]], Awaitable[Answer]], top: Version, known: frozenset[Version]
) -> set[Version]:
    """Versions of ``top``'s major from the lowest accepted minor up to ``top``."""
    major, high = top
    candidates = sorted(minor for (m, minor) in known if m == major and minor <= high)
    # Binary search for the lowest accepted minor, assuming a contiguous range.
    low_index, high_index = 0, len(candidates) - 1
    while low_index < high_index:
        middle = (low_index + high_index) // 2
        answer = await ask([((major, candidates[middle]), 0)])
        if answer.version is not None:
            high_index = middle
        else:
            low_index = middle + 1
    return {(major, minor) for minor in candidates[low_index:]}
