"""The response scanner finds the same messages whatever the TCP split."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

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
