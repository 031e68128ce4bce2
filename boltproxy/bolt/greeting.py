"""The Bolt handshake as a relay performs it: the client's answer waits for the backend's.

A proxy that answered the client's handshake on its own would take over the
driver's connection deadline: the driver would believe it is connected while
the backend is still slow, silent or refusing. So the proxy reads the client's
proposals, negotiates with the backend first, and only then answers the client
with what the backend accepted:

- a legacy backend picks one version from the proposals the proxy forwards; the
  client is told that version (as a one-entry manifest if it asked for one);
- a backend that speaks the manifest handshake lists its versions; the client
  is shown that list (less what the proxy cannot relay), chooses, and the proxy
  passes the choice on. The Python driver 6.x, for one, asks for Bolt 6.0 only
  through the manifest, so its legacy slots alone do not say what it speaks.

Both halves are sans-I/O: bytes in, events out.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass

from boltproxy.bolt.framing import NEED_DATA, NeedData
from boltproxy.bolt.handshake import (
    MAGIC,
    MANIFEST_V1,
    NO_VERSION,
    HandshakeError,
    HandshakeFailed,
    Negotiated,
    Proposal,
    SendBytes,
    decode_proposals,
    decode_varint,
    encode_proposals,
    encode_varint,
    encode_version,
    expand,
    version_ranges,
)
from boltproxy.bolt.messages import Version

HANDSHAKE_SIZE = 20
# A client's choice is 4 bytes and a capability varint; ten bytes hold any 64-bit varint.
_MAX_CHOICE_SIZE = 4 + 10


def _manifest_reply(versions: Collection[Version]) -> bytes:
    ranges = version_ranges(versions)
    body = b"".join(encode_version(version, span) for version, span in ranges)
    return MANIFEST_V1 + encode_varint(len(ranges)) + body + encode_varint(0)


@dataclass(frozen=True, slots=True)
class ClientProposed:
    """The client's handshake is in: negotiate with a backend on its behalf."""

    # What a legacy backend may choose from: the client's legacy proposals that
    # the proxy can relay. A manifest backend lists its own versions instead.
    acceptable: frozenset[Version]
    manifest: bool  # the client asked for the manifest handshake

    def backend_proposals(self, limit: int) -> list[Proposal]:
        return version_ranges(self.acceptable)[:limit]


class ClientGreeting:
    """The server face towards the client; answers only when told what the backend said."""

    def __init__(self, relayable: Collection[Version]) -> None:
        self._relayable = frozenset(relayable)
        self._buffer = bytearray()
        self._stage = "proposals"
        self._manifest = False
        self._offered: frozenset[Version] = frozenset()
        self._queued: list[SendBytes | HandshakeFailed | Negotiated] = []

    @property
    def buffered(self) -> int:
        return len(self._buffer)

    def receive_data(self, data: bytes | bytearray | memoryview) -> None:
        self._buffer += data

    def next_event(self) -> ClientProposed | SendBytes | Negotiated | HandshakeFailed | NeedData:
        if self._queued:
            return self._queued.pop(0)
        if self._stage == "proposals":
            return self._read_proposals()
        if self._stage == "choice":
            return self._read_choice()
        return NEED_DATA

    def _read_proposals(self) -> ClientProposed | HandshakeFailed | NeedData:
        buffer = self._buffer
        if bytes(buffer[:4]) != MAGIC[: min(4, len(buffer))]:
            return self._fail("wrong preamble: not a Bolt client", b"")
        if len(buffer) < HANDSHAKE_SIZE:
            return NEED_DATA
        slots = bytes(buffer[4:HANDSHAKE_SIZE])
        del buffer[:HANDSHAKE_SIZE]
        self._manifest = any(
            slots[i : i + 4] == MANIFEST_V1 for i in range(0, len(slots), 4)
        )
        legacy = [p for p in decode_proposals(slots) if p[0][0] != 0xFF]
        proposed = {version for proposal in legacy for version in expand(proposal)}
        acceptable = self._relayable & proposed
        if self._manifest and not acceptable:
            # A manifest client may speak more than its legacy slots say (see
            # above); a manifest backend shows it its own list anyway.
            acceptable = self._relayable
        self._stage = "backend"
        if not acceptable:
            return self._fail("no Bolt version in common with the client", NO_VERSION)
        return ClientProposed(frozenset(acceptable), self._manifest)

    # --- what the backend said ------------------------------------------

    def backend_offers(self, versions: Collection[Version]) -> None:
        """A manifest backend listed ``versions``: show the client what can be relayed."""
        offered = frozenset(versions) & self._relayable
        if not offered:
            self.backend_refused()
            return
        self._show(offered)

    def backend_chose(self, version: Version) -> None:
        """A legacy backend agreed on ``version``."""
        if self._manifest:
            self._show(frozenset({version}))
            return
        self._stage = "finished"
        self._queued += [
            SendBytes(encode_version(version)),
            Negotiated(version, 0, bytes(self._buffer)),
        ]
        self._buffer.clear()

    def backend_refused(self) -> None:
        """The backend has no version in common: the client gets the same refusal."""
        self._stage = "finished"
        reason = "the backend has no Bolt version in common"
        self._queued.append(HandshakeFailed(reason, NO_VERSION))

    def _show(self, offered: frozenset[Version]) -> None:
        self._offered = offered
        self._stage = "choice"
        self._queued.append(SendBytes(_manifest_reply(offered)))

    def _read_choice(self) -> Negotiated | HandshakeFailed | NeedData:
        buffer = self._buffer
        if len(buffer) < 5:
            return NEED_DATA
        try:
            decoded = decode_varint(buffer, 4)
        except HandshakeError:
            decoded = None  # too long: no more bytes can complete it
        if decoded is None:
            if len(buffer) >= _MAX_CHOICE_SIZE:
                return self._fail("malformed capability varint in the client's choice", b"")
            return NEED_DATA
        capabilities, end = decoded
        version = (buffer[3], buffer[2])
        leftover = bytes(buffer[end:])
        self._buffer.clear()
        self._stage = "finished"
        if version not in self._offered:
            return HandshakeFailed(
                f"client chose Bolt {version[0]}.{version[1]}, which was not offered", b""
            )
        return Negotiated(version, capabilities, leftover)

    def _fail(self, reason: str, reply: bytes) -> HandshakeFailed:
        self._stage = "finished"
        return HandshakeFailed(reason, reply)


@dataclass(frozen=True, slots=True)
class BackendOffered:
    """A manifest backend listed its versions and waits for the proxy's choice."""

    versions: tuple[Version, ...]


class BackendGreeting:
    """The client face towards a backend: proposes, then reports what the backend answered.

    Unlike a driver it does not choose from a manifest itself: the choice is
    the client's, passed on with :meth:`choose`.
    """

    def __init__(self, proposals: Sequence[Proposal], *, manifest: bool) -> None:
        if not proposals:
            raise ValueError("at least one proposal")
        self._manifest = manifest
        self._proposals = list(proposals)[: 3 if manifest else 4]
        self._acceptable = {v for proposal in self._proposals for v in expand(proposal)}
        self._buffer = bytearray()
        self._done = False

    def initial_bytes(self) -> bytes:
        slots = ([((0xFF, 1), 0)] if self._manifest else []) + self._proposals
        return MAGIC + encode_proposals(slots)

    def receive_data(self, data: bytes | bytearray | memoryview) -> None:
        self._buffer += data

    def next_event(self) -> BackendOffered | Negotiated | HandshakeFailed | NeedData:
        if self._done:
            return NEED_DATA
        buffer = self._buffer
        if len(buffer) < 4:
            return NEED_DATA
        head = bytes(buffer[:4])
        if head == NO_VERSION:
            return self._finish(HandshakeFailed("refused: no Bolt version in common", b""))
        if head == b"HTTP":
            return self._finish(HandshakeFailed("the server speaks HTTP, not Bolt", b""))
        if head == MANIFEST_V1:
            return self._read_manifest()
        version = (head[3], head[2])
        if version not in self._acceptable:
            reason = f"the server chose Bolt {version[0]}.{version[1]}, which was not proposed"
            return self._finish(HandshakeFailed(reason, b""))
        return self._finish(Negotiated(version, 0, bytes(buffer[4:])))

    def _read_manifest(self) -> BackendOffered | HandshakeFailed | NeedData:
        buffer = self._buffer
        try:
            decoded = decode_varint(buffer, 4)
            if decoded is None:
                return NEED_DATA
            count, offset = decoded
            if len(buffer) < offset + 4 * count:
                return NEED_DATA
            offered: set[Version] = set()
            for start in range(offset, offset + 4 * count, 4):
                slot = buffer[start : start + 4]
                offered.update(expand(((slot[3], slot[2]), slot[1])))
            decoded = decode_varint(buffer, offset + 4 * count)
        except HandshakeError as exc:
            self._done = True
            return HandshakeFailed(f"malformed manifest: {exc}", b"")
        if decoded is None:
            return NEED_DATA
        _capabilities, end = decoded
        del buffer[:end]
        self._done = True
        return BackendOffered(tuple(sorted(offered, reverse=True)))

    def choose(self, version: Version) -> bytes:
        """The bytes that tell a manifest backend the client's choice."""
        return encode_version(version) + encode_varint(0)

    def leftover(self) -> bytes:
        """What the backend sent after its manifest (nothing, unless it speaks first)."""
        data, self._buffer = bytes(self._buffer), bytearray()
        return data

    def _finish(
        self, event: BackendOffered | Negotiated | HandshakeFailed
    ) -> BackendOffered | Negotiated | HandshakeFailed:
        self._done = True
        return event
