"""The response scanner finds the same messages whatever the TCP split."""

from __future__ import annotations

import tracemalloc

import pytest
from hypothesis import given
from hypothesis import strategies as st

from boltproxy.bolt.errors import RemoteProtocolError
from boltproxy.bolt.scanner import RECORD_TAG, ResponseScanner, ScanError

SUCCESS, FAILURE = 0x70, 0x7F


def chunked(payload: bytes, size: int) -> bytes:
    out = bytearray()
    for i in range(0, len(payload), size):
        part = payload[i : i + size]
        out += len(part).to_bytes(2, "big") + part
    return bytes(out + b"\x00\x00")


messages_strategy = st.lists(
    st.tuples(
        st.sampled_from([RECORD_TAG, SUCCESS, FAILURE, 0x7E]),
        st.binary(min_size=0, max_size=300),
        st.integers(min_value=1, max_value=70),
        st.booleans(),  # a NOOP before the message
    ),
    max_size=30,
)


def build(specs: list[tuple[int, bytes, int, bool]]) -> tuple[bytes, list[tuple[int, bytes]]]:
    stream = bytearray()
    expected = []
    for tag, body, chunk_size, noop in specs:
        if noop:
            stream += b"\x00\x00"
        payload = bytes([0xB1, tag]) + body
        stream += chunked(payload, chunk_size)
        expected.append((tag, payload))
    return bytes(stream), expected


@given(
    messages_strategy, st.lists(st.integers(min_value=1, max_value=50), max_size=40), st.booleans()
)
def test_any_split_gives_the_same_messages(
    specs: list[tuple[int, bytes, int, bool]], cuts: list[int], collect: bool
) -> None:
    stream, expected = build(specs)
    scanner = ResponseScanner()
    scanner.collect_records(collect)
    pos = 0
    for cut in cuts:
        scanner.feed(stream[pos : pos + cut])
        pos += cut
        assert scanner.last_boundary <= scanner.offset
    scanner.feed(stream[pos:])
    assert scanner.at_boundary
    assert scanner.last_boundary == len(stream)
    seen = [(m.tag, m.payload) for m in scanner.messages]
    if collect:
        assert seen == expected
        assert scanner.records == 0
    else:
        assert seen == [(t, p) for t, p in expected if t != RECORD_TAG]
        assert scanner.records == sum(1 for t, _ in expected if t == RECORD_TAG)
    for message in scanner.messages:
        assert stream[message.start : message.end].endswith(b"\x00\x00")


def test_offsets_let_a_caller_cut_the_stream_at_message_ends() -> None:
    first = chunked(bytes([0xB1, RECORD_TAG, 0x91, 0x01]), 100)
    summary = chunked(bytes([0xB1, SUCCESS, 0xA0]), 100)
    scanner = ResponseScanner()
    scanner.feed(first + summary[:3])
    assert scanner.records == 1
    assert scanner.last_boundary == len(first)
    assert not scanner.at_boundary
    scanner.feed(summary[3:])
    (message,) = scanner.messages
    assert (message.start, message.end) == (len(first), len(first) + len(summary))


def test_oversize_message_is_refused() -> None:
    scanner = ResponseScanner(max_message_size=100)
    with pytest.raises(ScanError):
        scanner.feed(chunked(bytes([0xB1, SUCCESS]) + b"x" * 200, 60))


def test_a_message_too_short_for_a_tag_is_refused() -> None:
    with pytest.raises(ScanError):
        ResponseScanner().feed(b"\x00\x01\xb1\x00\x00")


def test_the_size_limit_holds_for_a_record_on_the_fast_path() -> None:
    scanner = ResponseScanner(max_message_size=100)
    record = chunked(bytes([0xB1, RECORD_TAG]) + b"\x91" + b"\x01" * 200, 0xFFFF)
    with pytest.raises(ScanError, match="exceeds 100 bytes") as refused:
        scanner.feed(record)  # whole first chunk in one read: the counting fast path
    assert isinstance(refused.value, RemoteProtocolError)


def test_the_size_limit_holds_across_chunks_and_reads() -> None:
    scanner = ResponseScanner(max_message_size=100_000)
    record = chunked(bytes([0xB1, RECORD_TAG]) + b"\x01" * 150_000, 0xFFFF)
    with pytest.raises(ScanError):
        for start in range(0, len(record), 1000):
            scanner.feed(record[start : start + 1000])


@pytest.mark.parametrize("collect", [False, True])
def test_a_32_mib_record_in_64_kib_reads_is_scanned_in_one_pass(collect: bool) -> None:
    size = 32 << 20
    payload = bytes([0xB1, RECORD_TAG]) + bytes(range(256)) * (size // 256)
    stream = chunked(payload, 0xFFFF) + chunked(bytes([0xB1, SUCCESS, 0xA0]), 0xFFFF)
    scanner = ResponseScanner()
    scanner.collect_records(collect)
    view = memoryview(stream)
    tracemalloc.start()
    try:
        for start in range(0, len(stream), 64 << 10):
            scanner.feed(view[start : start + (64 << 10)])
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    kept = [(m.tag, len(m.payload)) for m in scanner.messages]
    if collect:
        assert kept == [(RECORD_TAG, len(payload)), (SUCCESS, 3)]
        assert peak < 2.5 * size  # the growing capture, then its one copy
    else:
        assert (scanner.records, kept) == (1, [(SUCCESS, 3)])
        assert peak < 1 << 20  # counted, never held
    assert scanner.at_boundary and scanner.offset == len(stream)
