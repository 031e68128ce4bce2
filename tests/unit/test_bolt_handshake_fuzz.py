"""Handshakes fed anything, split anywhere: events only, the same whatever the split."""

from __future__ import annotations

from collections.abc import Callable

from hypothesis import given, settings
from hypothesis import strategies as st

from boltproxy.bolt.framing import NEED_DATA
from boltproxy.bolt.handshake import (
    KNOWN_VERSIONS,
    MAGIC,
    MANIFEST_V1,
    ClientHandshake,
    Event,
    HandshakeFailed,
    Negotiated,
    SendBytes,
    ServerHandshake,
    encode_proposals,
    encode_varint,
    proposals_for,
)

Handshake = ServerHandshake | ClientHandshake
Outcome = tuple[list[tuple[object, ...]], bytes | None]


def play(make: Callable[[], Handshake], pieces: list[bytes]) -> Outcome:
    """Feed ``pieces``; the events seen and the bytes after the handshake."""
    handshake = make()
    seen: list[tuple[object, ...]] = []
    after: bytes | None = None
    finished = False
    for piece in pieces:
        if finished:
            after = None if after is None else after + piece
            continue
        handshake.receive_data(piece)
        while not finished and (event := handshake.next_event()) is not NEED_DATA:
            seen.append(describe(event))
            if isinstance(event, Negotiated):
                after, finished = event.leftover, True
            finished = finished or isinstance(event, HandshakeFailed)
    return seen, after


def describe(event: Event) -> tuple[object, ...]:
    if isinstance(event, SendBytes):
        return ("send", event.data)
    if isinstance(event, Negotiated):
        return ("negotiated", event.version, event.capabilities)
    assert isinstance(event, HandshakeFailed), event
    return ("failed", event.reason, event.reply)


def split(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({cut % (len(data) + 1) for cut in cuts})
    return [data[a:b] for a, b in zip([0, *points], [*points, len(data)], strict=True)]


varint_noise = st.one_of(
    st.binary(max_size=12).map(lambda b: bytes(x | 0x80 for x in b)),  # never-ending varints
    st.integers(0, 2**70).map(lambda n: encode_varint(n)),
    st.binary(max_size=12),
)
choices = st.one_of(
    st.sampled_from([bytes((0, 0, 8, 5)), bytes((0, 0, 0, 6)), bytes((0, 0, 4, 4))]),
    st.binary(min_size=4, max_size=4),
)
client_streams = st.one_of(
    st.binary(max_size=40),
    st.tuples(st.binary(min_size=16, max_size=16), st.binary(max_size=20)).map(
        lambda t: MAGIC + t[0] + t[1]
    ),
    st.tuples(choices, varint_noise, st.binary(max_size=20)).map(
        lambda t: MAGIC + MANIFEST_V1 + bytes(12) + t[0] + t[1] + t[2]
    ),
)
server_streams = st.one_of(
    st.binary(max_size=40),
    st.tuples(choices, st.binary(max_size=20)).map(lambda t: t[0] + t[1]),
    st.tuples(varint_noise, st.lists(choices, max_size=4), varint_noise, st.binary(max_size=8)).map(
        lambda t: MANIFEST_V1 + t[0] + b"".join(t[1]) + t[2] + t[3]
    ),
)
cut_lists = st.lists(st.integers(0, 200), max_size=12)


@settings(max_examples=500)
@given(client_streams, cut_lists, st.booleans())
def test_server_handshake_gives_events_only_whatever_the_split(
    data: bytes, cuts: list[int], manifest: bool
) -> None:
    def make() -> Handshake:
        return ServerHandshake(KNOWN_VERSIONS, manifest=manifest)

    assert play(make, split(data, cuts)) == play(make, [data])


@settings(max_examples=500)
@given(server_streams, cut_lists, st.booleans())
def test_client_handshake_gives_events_only_whatever_the_split(
    data: bytes, cuts: list[int], manifest: bool
) -> None:
    def make() -> Handshake:
        return ClientHandshake(proposals_for(KNOWN_VERSIONS), manifest=manifest)

    assert play(make, split(data, cuts)) == play(make, [data])


def test_over_long_capability_varint_from_a_client_is_a_clean_refusal() -> None:
    server = ServerHandshake(KNOWN_VERSIONS)
    server.receive_data(MAGIC + encode_proposals([((255, 1), 0)]))
    assert isinstance(server.next_event(), SendBytes)
    server.receive_data(bytes((0, 0, 8, 5)) + b"\xff" * 11)
    event = server.next_event()
    assert isinstance(event, HandshakeFailed) and "varint" in event.reason
    assert server.next_event() is NEED_DATA


def test_over_long_varints_from_a_server_are_a_clean_refusal() -> None:
    for reply in (
        MANIFEST_V1 + b"\xff" * 11,  # the range count
        MANIFEST_V1 + b"\x01" + bytes((0, 0, 8, 5)) + b"\xff" * 11,  # the capabilities
        MANIFEST_V1 + encode_varint(2**40),  # a count no server sends
    ):
        client = ClientHandshake(proposals_for(KNOWN_VERSIONS), manifest=True)
        client.receive_data(reply)
        assert isinstance(client.next_event(), HandshakeFailed), reply
