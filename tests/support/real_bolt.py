"""Raw Bolt conversations with a real Neo4j (or the proxy in front of it), for side-by-side tests.

The handshake is parsed here by hand, not with ``boltproxy.bolt.handshake``: the
code under test should not also be the yardstick.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from boltproxy.bolt.messages import Tag
from tests.support.rawbolt import RawBolt, msg

MAGIC = b"\x60\x60\xb0\x17"
MANIFEST_V1 = b"\x00\x00\x01\xff"
Version = tuple[int, int]


def proposal(major: int, minor: int, span: int = 0) -> bytes:
    """One 4-byte handshake slot: [reserved, range, minor, major]."""
    return bytes([0, span, minor, major])


def handshake_bytes(*slots: bytes) -> bytes:
    """The magic and four slots (missing ones are zero)."""
    padded = [*slots, *(b"\x00\x00\x00\x00",) * (4 - len(slots))]
    return MAGIC + b"".join(padded[:4])


def _read_varint(bolt: RawBolt) -> int:
    value = shift = 0
    while True:
        byte = bolt.read_exactly(1)
        if not byte:
            raise ConnectionError("closed in the middle of a varint")
        value |= (byte[0] & 0x7F) << shift
        shift += 7
        if not byte[0] & 0x80:
            return value


@dataclass
class ManifestOffer:
    """What a server answers to a manifest v1 proposal."""

    echo: bytes
    ranges: list[tuple[int, int, int]]  # (major, minor, span) as sent
    capabilities: int

    @property
    def versions(self) -> set[Version]:
        return {
            (major, minor - lower)
            for major, minor, span in self.ranges
            for lower in range(span + 1)
            if minor - lower >= 0
        }


def read_manifest(bolt: RawBolt) -> ManifestOffer:
    bolt.send(handshake_bytes(MANIFEST_V1))
    echo = bolt.read_exactly(4)
    if echo != MANIFEST_V1:
        return ManifestOffer(echo, [], 0)
    count = _read_varint(bolt)
    ranges = []
    for _ in range(count):
        slot = bolt.read_exactly(4)
        ranges.append((slot[3], slot[2], slot[1]))
    return ManifestOffer(echo, ranges, _read_varint(bolt))


def choose(bolt: RawBolt, version: Version, capabilities: int = 0) -> None:
    """The client's answer to a manifest offer: one version, then its capabilities."""
    bolt.send(bytes([0, 0, version[1], version[0]]) + bytes([capabilities]))


def hello(agent: str = "boltproxy-real-tests/1") -> bytes:
    return msg(Tag.HELLO, {"user_agent": agent, "bolt_agent": {"product": agent}})


def logon(user: str, password: str) -> bytes:
    return msg(Tag.LOGON, {"scheme": "basic", "principal": user, "credentials": password})


def run_pull(query: str, parameters: dict[str, Any] | None = None) -> bytes:
    return msg(Tag.RUN, query, parameters or {}, {}) + msg(Tag.PULL, {"n": -1})


def summary_shape(reply: tuple[int, list[Any]], *drop: str) -> tuple[int, dict[str, Any]]:
    """A reply's tag and metadata without the keys that differ from one connection to the next."""
    tag, fields = reply
    metadata = fields[0] if fields and isinstance(fields[0], dict) else {}
    return tag, {key: value for key, value in metadata.items() if key not in drop}
