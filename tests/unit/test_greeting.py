"""The relayed handshake's two faces: any bytes, any split, only events."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from boltproxy.bolt.framing import NeedData
from boltproxy.bolt.greeting import (
    BackendGreeting,
    BackendOffered,
    ClientGreeting,
    ClientProposed,
)
from boltproxy.bolt.handshake import (
    KNOWN_VERSIONS,
    MAGIC,
    MANIFEST_V1,
    HandshakeFailed,
    Negotiated,
    SendBytes,
    encode_proposals,
)

DRIVER_6 = MAGIC + MANIFEST_V1 + encode_proposals([((5, 8), 8), ((4, 4), 2)])[:12]


def drain(greeting: ClientGreeting | BackendGreeting) -> list[object]:
    events: list[object] = []
    for _ in range(50):
        event = greeting.next_event()
        if isinstance(event, NeedData):
            break
        events.append(event)
    return events


@settings(max_examples=300, deadline=None)
@given(
    data=st.binary(max_size=80),
    cut=st.integers(0, 100),
    offers=st.booleans(),
    valid_start=st.booleans(),
)
def test_the_client_face_turns_any_bytes_into_events(
    data: bytes, cut: int, offers: bool, valid_start: bool
) -> None:
    greeting = ClientGreeting(KNOWN_VERSIONS)
    # A real driver's proposals followed by anything as its choice, or anything at all.
    stream = DRIVER_6 + data if valid_start else data
    events: list[object] = []
    for part in (stream[:cut], stream[cut:]):
        greeting.receive_data(part)
        events += drain(greeting)
        if any(isinstance(e, ClientProposed) for e in events) and not any(
            isinstance(e, (SendBytes, HandshakeFailed)) for e in events
        ):
            if offers:
                greeting.backend_offers([(5, 8), (5, 7)])
            else:
                greeting.backend_chose((5, 8))
            events += drain(greeting)
    allowed = (ClientProposed, SendBytes, Negotiated, HandshakeFailed)
    assert all(isinstance(event, allowed) for event in events)


@settings(max_examples=300, deadline=None)
@given(data=st.binary(max_size=60), cut=st.integers(0, 60), manifest=st.booleans())
def test_the_backend_face_turns_any_reply_into_events(
    data: bytes, cut: int, manifest: bool
) -> None:
    greeting = BackendGreeting([((5, 8), 8)], manifest=manifest)
    events: list[object] = []
    for part in (data[:cut], data[cut:]):
        greeting.receive_data(part)
        events += drain(greeting)
    assert all(isinstance(e, (BackendOffered, Negotiated, HandshakeFailed)) for e in events)
    assert len(events) <= 1


def test_a_manifest_backend_is_read_and_the_choice_encoded() -> None:
    greeting = BackendGreeting([((5, 8), 8)], manifest=True)
    assert greeting.initial_bytes()[:8] == MAGIC + MANIFEST_V1
    greeting.receive_data(MANIFEST_V1 + b"\x02" + bytes((0, 1, 1, 6, 0, 8, 8, 5)) + b"\x00")
    assert drain(greeting) == [
        BackendOffered(tuple(sorted([(6, 1), (6, 0), *((5, m) for m in range(9))], reverse=True)))
    ]
    assert greeting.choose((5, 8)) == b"\x00\x00\x08\x05\x00"
