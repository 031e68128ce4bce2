"""Chunk framing: the same messages whatever the TCP split."""

from __future__ import annotations

import tracemalloc

import pytest
from hypothesis import given
from hypothesis import strategies as st

from boltproxy.bolt.errors import MessageTooLarge, RemoteProtocolError
from boltproxy.bolt.framing import (
    NEED_DATA,
    NOOP,
    FramingError,
    Message,
    MessageReader,
    NeedData,
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


def _peak_while_reading(reader: MessageReader, framed: bytes, read_size: int) -> tuple[int, bytes]:
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        message: Message | Noop | NeedData = NEED_DATA
        for start in range(0, len(framed), read_size):
            reader.receive_data(framed[start : start + read_size])
            message = reader.next_event()
        assert isinstance(message, Message)
        payload = message.payload
        raw = message.raw
        del message
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert raw == framed
    return peak, payload


def test_a_large_message_is_held_about_twice_not_four_times() -> None:
    size = 32 << 20
    payload = bytes(range(256)) * (size // 256)
    framed = chunk(payload)
    peak, seen = _peak_while_reading(MessageReader(), framed, 64 << 10)
    assert seen == payload
    # The stream buffer and the raw bytes, or the raw bytes and the payload.
    assert peak < 2.5 * size, f"peak {peak / size:.2f} times the message"


def test_oversize_is_refused_at_the_chunk_header_before_its_body() -> None:
    reader = MessageReader(max_message_size=100_000)
    reader.receive_data(b"\xff\xff" + b"x" * 0xFFFF)
    assert reader.next_event() is NEED_DATA
    reader.receive_data(b"\xff\xff")  # a second full chunk would pass the limit
    with pytest.raises(MessageTooLarge) as refused:
        reader.next_event()
    assert isinstance(refused.value, FramingError)
    assert isinstance(refused.value, RemoteProtocolError)
    assert refused.value.gql_status == "22N56"
    with pytest.raises(MessageTooLarge):  # and it stays broken
        reader.next_event()


def test_the_limit_can_change_between_messages() -> None:
    reader = MessageReader(max_message_size=10)
    reader.receive_data(chunk(b"x" * 10))
    assert isinstance(reader.next_event(), Message)
    reader.max_message_size = 20
    reader.receive_data(chunk(b"y" * 20))
    event = reader.next_event()
    assert isinstance(event, Message) and event.payload == b"y" * 20


def test_buffered_counts_every_byte_held() -> None:
    reader = MessageReader()
    first, second = chunk(b"\xb0\x0f"), chunk(b"\xb0\x12" * 40_000)
    reader.receive_data(first + second[:70_000])
    assert isinstance(reader.next_event(), Message)
    assert reader.next_event() is NEED_DATA
    assert reader.buffered == 70_000
    reader.receive_data(second[70_000:])
    assert reader.next_event() == Message(second)
    assert reader.buffered == 0
