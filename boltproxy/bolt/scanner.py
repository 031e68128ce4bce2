"""Find message boundaries in a server's byte stream without decoding records.

The relay forwards the bytes it receives. To keep the conversation's state it
must still know where each message ends and what it is, and it needs the
payload of the rare summary messages (SUCCESS, FAILURE, IGNORED). RECORDs are
the bulk of the traffic: the scanner only counts them, creating no Python
object per record, unless told to hand them over (for the few results the
proxy rewrites, such as a routing-table procedure's).

Offsets are absolute positions in the stream since the scanner was created,
so that a caller holding a tail of unforwarded bytes can map them back.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from boltproxy.bolt.errors import ScanError as ScanError
from boltproxy.bolt.framing import DEFAULT_MAX_MESSAGE_SIZE

# Final: compiled, it is a C constant, not a module lookup per record.
RECORD_TAG: Final = 0x71


# init=False: compiled, a dataclass's generated __init__ stays interpreted Python
# (built by the dataclasses module at import); a written one is compiled. One is
# made per summary on the relay path.
@dataclass(slots=True, init=False)
class ScannedMessage:
    tag: int
    start: int  # absolute offset of the message's first chunk header
    end: int  # absolute offset just after its end marker
    payload: bytes

    def __init__(self, tag: int, start: int, end: int, payload: bytes) -> None:
        self.tag = tag
        self.start = start
        self.end = end
        self.payload = payload


class ResponseScanner:
    """Incremental chunk walker for a server → client stream."""

    __slots__ = (
        "_capture",
        "_collect_records",
        "_header_byte",
        "_in_message",
        "_max_message",
        "_message_size",
        "_message_start",
        "_offset",
        "_remaining",
        "_tag",
        "last_boundary",
        "messages",
        "records",
    )

    def __init__(self, max_message_size: int = DEFAULT_MAX_MESSAGE_SIZE) -> None:
        self._max_message = max_message_size
        self._offset = 0  # absolute offset of the next byte to feed
        self._remaining = 0  # bytes left in the current chunk's body
        self._header_byte = -1  # first byte of a chunk header split across feeds
        self._in_message = False
        self._message_start = 0
        self._message_size = 0
        self._tag = -1  # not yet known
        self._capture = bytearray()
        self._collect_records = False
        #: RECORDs completed since the caller last reset it.
        self.records = 0
        #: Non-RECORD messages (and RECORDs while collecting) completed since the last reset.
        self.messages: list[ScannedMessage] = []
        #: Absolute offset just after the last complete message or keep-alive.
        self.last_boundary = 0

    @property
    def at_boundary(self) -> bool:
        """True when every byte fed so far belongs to a complete message."""
        return self.last_boundary == self._offset

    @property
    def offset(self) -> int:
        return self._offset

    def collect_records(self, enabled: bool) -> None:
        """Hand RECORDs over as messages (with payload) instead of counting them."""
        self._collect_records = enabled

    def feed(self, data: bytes | memoryview) -> None:
        """Walk ``data``; results accumulate in :attr:`records` and :attr:`messages`."""
        # One loop over bytes: compiled, indexing bytes is a C array read, where a
        # union of buffer types would go through the generic protocol per byte.
        self._walk(data if isinstance(data, bytes) else bytes(data))

    def _walk(self, data: bytes) -> None:
        n = len(data)
        pos = 0
        base = self._offset
        while pos < n:
            remaining = self._remaining
            if remaining:
                take = n - pos if n - pos < remaining else remaining
                self._body(data, pos, take)
                pos += take
                self._remaining = remaining - take
                continue
            # A chunk header: two bytes, which a TCP split may separate.
            if self._header_byte >= 0:
                size = (self._header_byte << 8) | data[pos]
                self._header_byte = -1
                pos += 1
            elif pos + 1 < n:
                size = (data[pos] << 8) | data[pos + 1]
                pos += 2
            else:
                self._header_byte = data[pos]
                pos += 1
                continue
            if size == 0:
                self._end_of_message(base + pos)
                continue
            if not self._in_message:
                self._in_message = True
                self._message_start = base + pos - 2
                self._message_size = 0
                self._tag = -1
                # Fast path: the whole first chunk of a RECORD is here and we
                # are only counting records: skip it without touching bytes.
                if (
                    not self._collect_records
                    and pos + size <= n
                    and size >= 2
                    and data[pos + 1] == RECORD_TAG
                ):
                    self._tag = RECORD_TAG
                    self._grow(size)
                    pos += size
                    continue
            self._grow(size)
            self._remaining = size
        self._offset = base + n

    def _grow(self, size: int) -> None:
        self._message_size += size
        if self._message_size > self._max_message:
            raise ScanError(f"message exceeds {self._max_message} bytes")

    def _body(self, data: bytes, pos: int, take: int) -> None:
        if self._tag == -1:
            self._capture += data[pos : pos + take]
            if len(self._capture) >= 2:
                self._tag = self._capture[1]
                if self._tag == RECORD_TAG and not self._collect_records:
                    self._capture.clear()
        elif self._tag != RECORD_TAG or self._collect_records:
            self._capture += data[pos : pos + take]

    def _end_of_message(self, end: int) -> None:
        if not self._in_message:
            self.last_boundary = end  # a NOOP keep-alive between messages
            return
        self._in_message = False
        if self._message_size < 2 or self._tag == -1:
            raise ScanError("message shorter than a structure header")
        if self._tag == RECORD_TAG and not self._collect_records:
            self.records += 1
        else:
            self.messages.append(
                ScannedMessage(self._tag, self._message_start, end, bytes(self._capture))
            )
            self._capture.clear()
        self.last_boundary = end
