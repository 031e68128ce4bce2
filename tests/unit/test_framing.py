"""Chunk framing: the same messages whatever the TCP split."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from boltproxy.bolt.framing import (
    NEED_DATA,
    NOOP,
    FramingError,
    Message,
    MessageReader,
    Noop,
    chunk,
)


def events(reader: MessageReader) -> list[Message | Noop]:
    out: list[Message | Noop] = []
    while (event := reader.next_event()) is not NEED_DATA:
        assert isinstance(event, Message | Noop)
        out.append(event)
    return out


def chunk_with(payload: bytes, size: int) -> bytes:
    out = bytearray()
    for i in range(0, len(payload), size):
        part = payload[i : i + size]
        out += len(part).to_bytes(2, "big") + part
    return bytes(out) + b"\x00\x00"


@given(
    st.lists(
        st.tuples(st.binary(min_size=1, max_size=400), st.integers(1, 90), st.booleans()),
        max_size=15,
    ),
    st.lists(st.integers(1, 64), max_size=50),
)
def test_any_split_gives_the_same_messages(
    specs: list[tuple[bytes, int, bool]], cuts: list[int]
) -> None:
    stream = bytearray()
    expected: list[Message | Noop] = []
    for payload, size, noop in specs:
        if noop:
            stream += b"\x00\x00"
            expected.append(NOOP)
        raw = chunk_with(payload, size)
        stream += raw
        expected.append(Message(raw, payload))
    reader = MessageReader()
    seen: list[Message | Noop] = []
    position = 0
    for cut in cuts:
        reader.receive_data(bytes(stream[position : position + cut]))
        position += cut
        seen += events(reader)
    reader.receive_data(bytes(stream[position:]))
    seen += events(reader)
    assert seen == expected
    assert reader.buffered == 0


@pytest.mark.parametrize("size", [1, 0xFFFF, 0x10000, 0x1FFFF])
def test_chunk_boundaries(size: int) -> None:
    payload = bytes(range(256)) * (size // 256) + bytes(size % 256)
    framed = chunk(payload)
    assert len(framed) == size + 2 * -(-size // 0xFFFF) + 2
    reader = MessageReader()
    reader.receive_data(framed)
    (message,) = events(reader)
    assert isinstance(message, Message) and message.payload == payload


def test_empty_message_cannot_be_framed() -> None:
    with pytest.raises(ValueError):
        chunk(b"")


def test_oversize_message_is_refused_before_it_is_all_buffered() -> None:
    reader = MessageReader(max_message_size=1000)
    reader.receive_data(b"\x03\xe8" + b"x" * 1000)  # exactly the limit so far
    assert reader.next_event() is NEED_DATA
    reader.receive_data(b"\x00\x10")  # announces 16 more bytes
    with pytest.raises(FramingError):
        reader.next_event()


def test_truncated_message_is_visible_as_buffered_bytes() -> None:
    reader = MessageReader()
    reader.receive_data(chunk(b"\xb0\x0f")[:3])
    assert reader.next_event() is NEED_DATA
    assert reader.buffered == 3
