"""Version negotiation tables, manifest handshake, bad preambles."""

from __future__ import annotations

import pytest

from boltproxy.bolt.framing import NEED_DATA
from boltproxy.bolt.handshake import (
    KNOWN_VERSIONS,
    MAGIC,
    MANIFEST_V1,
    ClientHandshake,
    HandshakeFailed,
    Negotiated,
    SendBytes,
    ServerHandshake,
    decode_proposals,
    decode_varint,
    encode_proposals,
    encode_varint,
    proposals_for,
)
from boltproxy.bolt.messages import Version

NEO4J_5_26 = {(4, 4), *((5, m) for m in range(9))}
NEO4J_2025 = NEO4J_5_26 | {(6, 0)}
FALKOR = {(5, m) for m in range(1, 8)}
DRIVER_528 = [((5, 8), 8), ((4, 4), 2)]
DRIVER_6 = [((6, 0), 0), ((5, 8), 8), ((4, 4), 2)]


def negotiate(
    proposals: list[tuple[Version, int]], supported: set[Version], *, manifest: bool
) -> Version | None:
    """Run both sides against each other; the agreed version, or None."""
    server = ServerHandshake(supported, manifest=manifest)
    client = ClientHandshake(proposals, manifest=manifest)
    server.receive_data(client.initial_bytes())
    for _ in range(10):
        event = server.next_event()
        if isinstance(event, HandshakeFailed):
            return None
        if isinstance(event, Negotiated):
            return event.version
        if isinstance(event, SendBytes):
            client.receive_data(event.data)
            while (reply := client.next_event()) is not NEED_DATA:
                if isinstance(reply, SendBytes):
                    server.receive_data(reply.data)
                elif isinstance(reply, HandshakeFailed):
                    return None
    raise AssertionError("no outcome")


@pytest.mark.parametrize(
    ("proposals", "supported", "manifest", "expected"),
    [
        (DRIVER_528, NEO4J_5_26, False, (5, 8)),
        (DRIVER_528, NEO4J_5_26, True, (5, 8)),
        (DRIVER_6, NEO4J_2025, True, (6, 0)),
        (DRIVER_6, NEO4J_5_26, True, (5, 8)),
        (DRIVER_6, NEO4J_5_26, False, (5, 8)),
        (DRIVER_528, FALKOR, False, (5, 7)),
        ([((4, 4), 0)], NEO4J_5_26, False, (4, 4)),
        ([((4, 4), 0)], FALKOR, False, None),
        ([((5, 0), 0)], FALKOR, True, None),
        ([((3, 0), 0)], NEO4J_2025, True, None),
    ],
)
def test_negotiation_table(
    proposals: list[tuple[Version, int]],
    supported: set[Version],
    manifest: bool,
    expected: Version | None,
) -> None:
    assert negotiate(proposals, supported, manifest=manifest) == expected


def test_manifest_reply_lists_every_version_and_the_client_learns_them() -> None:
    server = ServerHandshake(NEO4J_2025)
    client = ClientHandshake(DRIVER_6, manifest=True)
    server.receive_data(client.initial_bytes())
    reply = server.next_event()
    assert isinstance(reply, SendBytes) and reply.data.startswith(MANIFEST_V1)
    client.receive_data(reply.data)
    choice = client.next_event()
    assert isinstance(choice, SendBytes) and choice.data == b"\x00\x00\x00\x06\x00"
    assert set(client.offered or ()) == NEO4J_2025
    server.receive_data(choice.data + b"\x00\x02\xb0\x01")  # and a pipelined message
    done = server.next_event()
    assert isinstance(done, Negotiated) and done.leftover == b"\x00\x02\xb0\x01"


def test_a_client_choosing_what_was_not_offered_fails() -> None:
    server = ServerHandshake(FALKOR)
    server.receive_data(MAGIC + MANIFEST_V1 + bytes(12))
    assert isinstance(server.next_event(), SendBytes)
    server.receive_data(b"\x00\x00\x00\x06\x00")
    assert isinstance(server.next_event(), HandshakeFailed)


def test_proposal_fed_one_byte_at_a_time_with_leftover() -> None:
    server = ServerHandshake(NEO4J_5_26, manifest=False)
    data = MAGIC + encode_proposals(DRIVER_528)
    # One byte at a time; the last one arrives with the first message's bytes.
    pieces = [bytes([byte]) for byte in data[:-1]] + [data[-1:] + b"\x00\x01\xb0"]
    events = []
    for piece in pieces:
        server.receive_data(piece)
        while (event := server.next_event()) is not NEED_DATA:
            events.append(event)
    assert events[0] == SendBytes(b"\x00\x00\x08\x05")
    assert isinstance(events[1], Negotiated) and events[1].leftover == b"\x00\x01\xb0"


@pytest.mark.parametrize("data", [b"GET / HTTP/1.1\r\n", b"\x60\x60\xb0\x18", b"\x00"])
def test_wrong_preamble_fails_at_once(data: bytes) -> None:
    server = ServerHandshake(NEO4J_5_26)
    server.receive_data(data)
    event = server.next_event()
    assert isinstance(event, HandshakeFailed) and event.reply == b""


def test_no_common_version_replies_zeros() -> None:
    server = ServerHandshake(NEO4J_5_26, manifest=False)
    server.receive_data(MAGIC + encode_proposals([((3, 0), 0)]))
    event = server.next_event()
    assert isinstance(event, HandshakeFailed) and event.reply == b"\x00\x00\x00\x00"


def test_client_refuses_a_version_it_did_not_propose() -> None:
    client = ClientHandshake([((5, 8), 0)])
    client.receive_data(b"\x00\x00\x02\x05")
    assert isinstance(client.next_event(), HandshakeFailed)


def test_encodings() -> None:
    assert proposals_for(KNOWN_VERSIONS) == [((6, 1), 1), ((5, 8), 8), ((4, 4), 0)]
    assert decode_proposals(encode_proposals(DRIVER_6)) == DRIVER_6
    for value in (0, 1, 127, 128, 300, 2**40):
        assert decode_varint(encode_varint(value) + b"\xff", 0) == (
            value,
            len(encode_varint(value)),
        )
    assert decode_varint(b"\x80", 0) is None
