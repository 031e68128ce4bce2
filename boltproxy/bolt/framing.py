"""Bolt chunk framing: messages split into chunks of at most 65,535 bytes.

Each chunk is a two-byte big-endian length and that many bytes; a zero-length
chunk ends a message, and one between messages is a keep-alive (NOOP).
:class:`MessageReader` is incremental in the h11 manner: ``receive_data`` then
``next_event`` until it returns :data:`NEED_DATA`.
"""

from __future__ import annotations

from typing import ClassVar, Final

from boltproxy.bolt.errors import FramingError as FramingError
from boltproxy.bolt.errors import MessageTooLarge
from boltproxy.bolt.packstream import Buffer

MAX_CHUNK_SIZE = 65535
END_MARKER = b"\x00\x00"
#: The default limit on one message's payload.
DEFAULT_MAX_MESSAGE_SIZE = 256 << 20
# Up to this size a message is copied out of the stream buffer by slicing.
_SMALL = 1 << 16


class NeedData:
    """More bytes are needed before the next event."""

    _instance: ClassVar[NeedData | None] = None

    def __new__(cls) -> NeedData:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "NEED_DATA"


class Noop:
    """An empty chunk between messages: a keep-alive."""

    _instance: ClassVar[Noop | None] = None

    def __new__(cls) -> Noop:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "NOOP"


NEED_DATA: Final = NeedData()
NOOP: Final = Noop()


class Message:
    """One message as received: ``raw`` is exactly the bytes that framed it.

    The payload is cut out of ``raw`` when first asked for, so a message that is
    only forwarded is never held twice.
    """

    __slots__ = ("_payload", "raw")

    def __init__(self, raw: bytes, payload: bytes | None = None) -> None:
        self.raw = raw
        self._payload = payload

    @property
    def payload(self) -> bytes:
        """The message with the framing removed."""
        payload = self._payload
        if payload is None:
            payload = self._payload = unchunk(self.raw)
        return payload

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Message):
            return NotImplemented
        return self.raw == other.raw

    __hash__ = None  # type: ignore[assignment]  # equal by content, like bytes in a list

    def __repr__(self) -> str:
        return f"Message({len(self.raw)} bytes)"


def chunk(payload: Buffer, max_chunk: int = MAX_CHUNK_SIZE) -> bytes:
    """Frame one message."""
    size = len(payload)
    if size == 0:
        raise ValueError("an empty message cannot be framed (it would read as a NOOP)")
    if size <= max_chunk:
        return size.to_bytes(2, "big") + bytes(payload) + END_MARKER
    out = bytearray()
    for start in range(0, size, max_chunk):
        part = payload[start : start + max_chunk]
        out += len(part).to_bytes(2, "big")
        out += part
    out += END_MARKER
    return bytes(out)


def unchunk(framed: Buffer) -> bytes:
    """The payload of one framed message (chunk headers, chunks, end marker)."""
    size = (framed[0] << 8) | framed[1]
    if size + 4 == len(framed):  # one chunk: the usual case
        return bytes(framed[2 : 2 + size])
    view = memoryview(framed)
    parts = []
    position = 0
    while size:
        parts.append(view[position + 2 : position + 2 + size])
        position += 2 + size
        size = (framed[position] << 8) | framed[position + 1]
    return b"".join(parts)


class MessageReader:
    """Cuts a byte stream into messages and keep-alives.

    Holds only what is not yet a complete message (:attr:`buffered`), and
    refuses a message as soon as a chunk header announces more than
    :attr:`max_message_size` bytes in all, before that chunk's body arrives.
    """

    def __init__(self, max_message_size: int = DEFAULT_MAX_MESSAGE_SIZE) -> None:
        #: Payload bytes one message may have; may be changed between messages.
        self.max_message_size = max_message_size
        self._buffer = bytearray()  # the current message starts at 0
        self._scan = 0  # the next chunk header to read
        self._size = 0  # payload bytes of the current message's complete chunks
        self._broken: FramingError | None = None

    def receive_data(self, data: Buffer) -> None:
        self._buffer += data

    @property
    def buffered(self) -> int:
        """Bytes held that do not make a complete message yet."""
        return len(self._buffer)

    def next_event(self) -> Message | Noop | NeedData:
        if self._broken is not None:
            raise self._broken
        buffer = self._buffer
        available = len(buffer)
        scan = self._scan
        while scan + 2 <= available:
            size = (buffer[scan] << 8) | buffer[scan + 1]
            if size == 0:
                return self._complete(scan + 2)
            if self._size + size > self.max_message_size:
                self._broken = MessageTooLarge(
                    f"message larger than the {self.max_message_size}-byte limit"
                )
                raise self._broken
            if scan + 2 + size > available:
                break  # the body is on its way; the header is read again then
            self._size += size
            scan += 2 + size
        self._scan = scan
        return NEED_DATA

    def _complete(self, end: int) -> Message | Noop:
        buffer = self._buffer
        self._scan = self._size = 0
        if end == 2:
            del buffer[:2]
            return NOOP
        if end == len(buffer):
            raw = bytes(buffer)
            buffer.clear()  # gives the memory back, however large the message was
            return Message(raw)
        if end <= _SMALL:
            raw = bytes(buffer[:end])  # two copies of a few bytes beat a memoryview
        else:
            with memoryview(buffer) as view:
                raw = bytes(view[:end])
        # CPython drops a bytearray's prefix without moving the rest.
        del buffer[:end]
        return Message(raw)
