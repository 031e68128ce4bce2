"""Bolt chunk framing: messages split into chunks of at most 65,535 bytes.

Each chunk is a two-byte big-endian length and that many bytes; a zero-length
chunk ends a message, and one between messages is a keep-alive (NOOP).
:class:`MessageReader` is incremental in the h11 manner: ``receive_data`` then
``next_event`` until it returns :data:`NEED_DATA`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from boltproxy.bolt.packstream import Buffer

MAX_CHUNK_SIZE = 65535
END_MARKER = b"\x00\x00"


class FramingError(ValueError):
    """The byte stream breaks the framing rules (for example, an oversize message)."""


class NeedData:
    """More bytes are needed before the next event."""

    _instance: NeedData | None = None

    def __new__(cls) -> NeedData:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "NEED_DATA"


class Noop:
    """An empty chunk between messages: a keep-alive."""

    _instance: Noop | None = None

    def __new__(cls) -> Noop:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "NOOP"


NEED_DATA: Final = NeedData()
NOOP: Final = Noop()


@dataclass(slots=True)
class Message:
    raw: bytes  # exactly the bytes received: chunk headers, chunks, end marker
    payload: bytes  # the message with the framing removed


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


class MessageReader:
    """Cuts a byte stream into messages and keep-alives."""

    def __init__(self, max_message_size: int = 256 << 20) -> None:
        self._max = max_message_size
        self._buffer = bytearray()
        self._start = 0  # where the current message begins in the buffer
        self._scan = 0  # next chunk header to read, relative to the buffer
        self._payload = bytearray()
        self._broken: FramingError | None = None

    def receive_data(self, data: Buffer) -> None:
        if self._start > 65536 and self._start * 2 > len(self._buffer):
            # Drop consumed bytes now and then, not on every message.
            del self._buffer[: self._start]
            self._scan -= self._start
            self._start = 0
        self._buffer += data

    @property
    def buffered(self) -> int:
        """Bytes held that do not make a complete message yet."""
        return len(self._buffer) - self._start

    def next_event(self) -> Message | Noop | NeedData:
        if self._broken is not None:
            raise self._broken
        buffer = self._buffer
        while self._scan + 2 <= len(buffer):
            size = (buffer[self._scan] << 8) | buffer[self._scan + 1]
            if size == 0:
                end = self._scan + 2
                if not self._payload and self._scan == self._start:
                    self._start = self._scan = end
                    return NOOP
                raw = bytes(buffer[self._start : end])
                payload = bytes(self._payload)
                self._payload.clear()
                self._start = self._scan = end
                return Message(raw, payload)
            body = self._scan + 2
            if body + size > len(buffer):
                break
            if len(self._payload) + size > self._max:
                self._broken = FramingError(f"message larger than the {self._max}-byte limit")
                raise self._broken
            self._payload += buffer[body : body + size]
            self._scan = body + size
        # Refuse an oversize message as soon as its announced chunks pass the limit.
        if self._scan + 2 <= len(buffer):
            size = (buffer[self._scan] << 8) | buffer[self._scan + 1]
            if len(self._payload) + size > self._max:
                self._broken = FramingError(f"message larger than the {self._max}-byte limit")
                raise self._broken
        return NEED_DATA
