"""Bolt version negotiation, both as a server and as a client.

The client sends the magic preamble ``60 60 B0 17`` and four 32-bit proposals
``[reserved, range, minor, major]`` (``range`` counts lower minors also
accepted). A legacy server answers one version, or zeros and closes. With the
manifest handshake (v1) the client proposes ``00 00 01 FF``; the server echoes
it, then a varint count, that many 4-byte version ranges and a varint
capability mask; the client answers with one version and a varint of
capabilities.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass

from boltproxy.bolt.errors import HandshakeError as HandshakeError
from boltproxy.bolt.framing import NEED_DATA, NeedData
from boltproxy.bolt.messages import Version
from boltproxy.bolt.packstream import Buffer

MAGIC = b"\x60\x60\xb0\x17"
MANIFEST_V1 = b"\x00\x00\x01\xff"
NO_VERSION = b"\x00\x00\x00\x00"
KNOWN_VERSIONS: tuple[Version, ...] = ((4, 4), *((5, minor) for minor in range(9)), (6, 0), (6, 1))

Proposal = tuple[Version, int]
# More version ranges than any server lists: a count above it is garbage, not a
# reason to wait for gigabytes.
MAX_MANIFEST_RANGES = 64


@dataclass(slots=True)
class SendBytes:
    data: bytes


@dataclass(slots=True)
class Negotiated:
    version: Version
    capabilities: int
    leftover: bytes  # bytes after the handshake: the first messages, if pipelined


@dataclass(slots=True)
class HandshakeFailed:
    reason: str
    reply: bytes  # what to send before closing


Event = SendBytes | Negotiated | HandshakeFailed | NeedData


def encode_varint(value: int) -> bytes:
    if value < 0:
        raise ValueError("varints are unsigned")
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def decode_varint(data: Buffer, offset: int) -> tuple[int, int] | None:
    """Decode a varint at ``offset``; None if it is not complete yet.

    Raises :class:`HandshakeError` for one longer than 64 bits.
    """
    value = shift = 0
    while offset < len(data):
        byte = data[offset]
        offset += 1
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, offset
        shift += 7
        if shift > 63:
            raise HandshakeError("varint too long")
    return None


def encode_version(version: Version, span: int = 0) -> bytes:
    major, minor = version
    return bytes((0, span, minor, major))


def _decode_version(data: bytes | bytearray) -> Proposal:
    return (data[3], data[2]), data[1]


def expand(proposal: Proposal) -> list[Version]:
    (major, minor), span = proposal
    return [(major, m) for m in range(minor, max(minor - span, 0) - 1, -1)]


def encode_proposals(proposals: Sequence[Proposal]) -> bytes:
    if len(proposals) > 4:
        raise ValueError("at most four proposals")
    slots = [encode_version(version, span) for version, span in proposals]
    return b"".join(slots) + NO_VERSION * (4 - len(slots))


def decode_proposals(data: bytes) -> list[Proposal]:
    return [
        _decode_version(data[i : i + 4]) for i in range(0, 16, 4) if data[i : i + 4] != NO_VERSION
    ]


def proposals_for(versions: Collection[Version]) -> list[Proposal]:
    """Compress a version set into at most four range proposals, highest first."""
    return version_ranges(versions)[:4]


def version_ranges(versions: Collection[Version]) -> list[Proposal]:
    """Compress a version set into ranges, highest first."""
    out: list[Proposal] = []
    for version in sorted(set(versions), reverse=True):
        if out:
            (major, minor), span = out[-1]
            if version == (major, minor - span - 1):
                out[-1] = ((major, minor), span + 1)
                continue
        out.append((version, 0))
    return out


class ServerHandshake:
    """The server side: the proxy towards clients, and the fake server in tests."""

    def __init__(self, supported: Collection[Version], *, manifest: bool = True) -> None:
        self._supported = frozenset(supported)
        self._manifest = manifest
        self._buffer = bytearray()
        self._stage = "proposals"
        self._offered: tuple[Version, ...] = ()
        self._queued: list[Event] = []

    def receive_data(self, data: Buffer) -> None:
        self._buffer += data

    def next_event(self) -> Event:
        """The next event; never raises, whatever the client sent."""
        if self._queued:
            return self._queued.pop(0)
        if self._stage == "proposals":
            return self._read_proposals()
        if self._stage == "choice":
            return self._read_choice()
        return NEED_DATA

    def _read_proposals(self) -> Event:
        buffer = self._buffer
        if bytes(buffer[:4]) != MAGIC[: min(4, len(buffer))]:
            return self._fail("wrong preamble: not a Bolt client", b"")
        if len(buffer) < 20:
            return NEED_DATA
        slots = [bytes(buffer[i : i + 4]) for i in range(4, 20, 4)]
        if self._manifest and MANIFEST_V1 in slots:
            self._offered = tuple(sorted(self._supported, reverse=True))
            del buffer[:20]
            self._stage = "choice"
            ranges = version_ranges(self._offered)
            reply = MANIFEST_V1 + encode_varint(len(ranges))
            reply += b"".join(encode_version(v, span) for v, span in ranges)
            reply += encode_varint(0)  # no capabilities
            return SendBytes(reply)
        # Like Neo4j: the first slot (in order) with a supported version wins,
        # and within its range the highest supported minor.
        for slot in slots:
            if slot == NO_VERSION or slot[3] == 0xFF:
                continue
            matching = [v for v in expand(_decode_version(slot)) if v in self._supported]
            if matching:
                version = max(matching)
                self._stage = "finished"
                self._queued.append(Negotiated(version, 0, bytes(buffer[20:])))
                return SendBytes(encode_version(version))
        return self._fail("no Bolt version in common with the client", NO_VERSION)

    def _read_choice(self) -> Event:
        buffer = self._buffer
        if len(buffer) < 5:
            return NEED_DATA
        try:
            decoded = decode_varint(buffer, 4)
        except HandshakeError as exc:
            return self._fail(f"malformed handshake choice: {exc}", b"")
        if decoded is None:
            return NEED_DATA
        capabilities, end = decoded
        version, _span = _decode_version(buffer[:4])
        self._stage = "finished"
        if version not in self._offered:
            reason = f"client chose Bolt {version[0]}.{version[1]}, which was not offered"
            return HandshakeFailed(reason, b"")
        return Negotiated(version, capabilities, bytes(buffer[end:]))

    def _fail(self, reason: str, reply: bytes) -> Event:
        self._stage = "finished"
        return HandshakeFailed(reason, reply)


class ClientHandshake:
    """The client side: the proxy towards backends, and its probes."""

    def __init__(self, proposals: Sequence[Proposal], *, manifest: bool = False) -> None:
        if not proposals:
            raise ValueError("at least one proposal")
        self._proposals = list(proposals)[: 3 if manifest else 4]
        self._manifest = manifest
        self._acceptable = {v for p in self._proposals for v in expand(p)}
        self._buffer = bytearray()
        self._stage = "reply"
        self._result: Negotiated | None = None
        self.offered: tuple[Version, ...] | None = None

    def initial_bytes(self) -> bytes:
        slots = ([((0xFF, 1), 0)] if self._manifest else []) + self._proposals
        return MAGIC + encode_proposals(slots)

    def receive_data(self, data: Buffer) -> None:
        self._buffer += data

    def next_event(self) -> Event:
        """The next event; never raises, whatever the server sent."""
        if self._stage == "negotiated" and self._result is not None:
            self._stage = "finished"
            return self._result
        if self._stage != "reply":
            return NEED_DATA
        buffer = self._buffer
        if len(buffer) < 4:
            return NEED_DATA
        head = bytes(buffer[:4])
        if head == NO_VERSION:
            self._stage = "finished"
            return HandshakeFailed("refused: the server has no version in common", b"")
        if head == MANIFEST_V1:
            return self._read_manifest()
        if head == b"HTTP":
            self._stage = "finished"
            return HandshakeFailed("the server speaks HTTP, not Bolt", b"")
        version, _ = _decode_version(head)
        self._stage = "finished"
        if version not in self._acceptable:
            return HandshakeFailed(
                f"server chose Bolt {version[0]}.{version[1]}, not proposed", b""
            )
        return Negotiated(version, 0, bytes(buffer[4:]))

    def _read_manifest(self) -> Event:
        try:
            read = self._read_manifest_offer()
        except HandshakeError as exc:
            self._stage = "finished"
            return HandshakeFailed(f"malformed manifest handshake: {exc}", b"")
        if read is None:
            return NEED_DATA
        offered, offset = read
        self.offered = tuple(sorted(set(offered), reverse=True))
        common = [v for v in self.offered if v in self._acceptable]
        if not common:
            self._stage = "finished"
            return HandshakeFailed("refused: the server offers no proposed version", b"")
        version = max(common)
        self._result = Negotiated(version, 0, bytes(self._buffer[offset:]))
        self._stage = "negotiated"
        return SendBytes(encode_version(version) + encode_varint(0))

    def _read_manifest_offer(self) -> tuple[list[Version], int] | None:
        """The versions a manifest lists and where its capabilities end; None: need data."""
        buffer = self._buffer
        decoded = decode_varint(buffer, 4)
        if decoded is None:
            return None
        count, offset = decoded
        if count > MAX_MANIFEST_RANGES:
            raise HandshakeError(f"{count} version ranges")
        if len(buffer) < offset + 4 * count:
            return None
        offered: list[Version] = []
        for i in range(count):
            offered += expand(_decode_version(buffer[offset + 4 * i : offset + 4 * i + 4]))
        decoded = decode_varint(buffer, offset + 4 * count)
        if decoded is None:
            return None
        return offered, decoded[1]
