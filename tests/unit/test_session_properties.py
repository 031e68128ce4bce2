"""Properties of the session over any split and any corruption of the byte streams."""

from __future__ import annotations

import itertools

from hypothesis import given, settings
from hypothesis import strategies as st

from boltproxy.bolt.messages import Tag
from boltproxy.proxy.session import (
    ClientSession,
    CloseClient,
    Command,
    OpenLink,
    SendToClient,
    SendToLink,
)
from tests.unit.test_session import (
    HELLO,
    LEGACY_HANDSHAKE,
    LOGON,
    PULL,
    RUN,
    msg,
    new_session,
    record,
    success,
)

CLIENT_MESSAGES = (
    HELLO
    + LOGON
    + RUN
    + PULL
    + msg(Tag.BEGIN, {"tx_metadata": {"app": "x"}})
    + msg(Tag.RUN, "CREATE (n:T {v: $v})", {"v": [1.5, "x", None]}, {})
    + msg(Tag.PULL, {"n": 2})
    + msg(Tag.COMMIT)
)
BACKEND_ANSWERS = (
    success(server="Neo4j/5.26.0")
    + success()
    + success(fields=["x"], t_first=1)
    + record(1)
    + success(type="r", t_last=0)
    + success()
    + success(fields=[])
    + success(stats={"nodes-created": 1})
    + success(bookmark="FB:1")
)


def cuts(data: bytes, points: list[int]) -> list[bytes]:
    edges = sorted({0, len(data), *(p % (len(data) + 1) for p in points)})
    return [data[a:b] for a, b in itertools.pairwise(edges)]


def feed_client(session: ClientSession, parts: list[bytes]) -> list[Command]:
    out: list[Command] = []
    for part in parts:
        commands = session.client_data(part)
        out += commands
        if any(isinstance(c, OpenLink) for c in commands):
            out += session.link_negotiated(1, (5, 8))
    return out


def sent(commands: list[Command], kind: type[SendToLink] | type[SendToClient]) -> bytes:
    return b"".join(bytes(c.data) for c in commands if isinstance(c, kind))


@settings(max_examples=200, deadline=None)
@given(
    client_cuts=st.lists(st.integers(0, 10_000), max_size=12),
    backend_cuts=st.lists(st.integers(0, 10_000), max_size=12),
)
def test_any_split_relays_the_same_bytes(client_cuts: list[int], backend_cuts: list[int]) -> None:
    session = new_session()
    session.start()
    commands = feed_client(session, cuts(LEGACY_HANDSHAKE + CLIENT_MESSAGES, client_cuts))
    assert sent(commands, SendToLink) == CLIENT_MESSAGES
    answers: list[Command] = []
    for part in cuts(BACKEND_ANSWERS, backend_cuts):
        answers += session.link_data(1, part)
    # The handshake answer, then the backend's bytes exactly as sent, whatever the reads.
    assert sent(answers, SendToClient) == BACKEND_ANSWERS
    assert session.conversation is not None and session.conversation.at_boundary
    assert not session.closed


@settings(max_examples=300, deadline=None)
@given(
    flips=st.lists(st.tuples(st.integers(0, 10_000), st.integers(0, 255)), min_size=1, max_size=6),
    client_cuts=st.lists(st.integers(0, 10_000), max_size=6),
    backend_cuts=st.lists(st.integers(0, 10_000), max_size=6),
    corrupt_backend=st.booleans(),
)
def test_corruption_only_ever_ends_the_session_cleanly(
    flips: list[tuple[int, int]],
    client_cuts: list[int],
    backend_cuts: list[int],
    corrupt_backend: bool,
) -> None:
    client = bytearray(LEGACY_HANDSHAKE + CLIENT_MESSAGES)
    backend = bytearray(BACKEND_ANSWERS)
    target = backend if corrupt_backend else client
    for position, value in flips:
        target[position % len(target)] = value
    session = new_session()
    session.start()
    # Never an exception: every outcome is a command.
    commands = feed_client(session, cuts(bytes(client), client_cuts))
    if not session.closed and any(isinstance(c, OpenLink) for c in commands):
        for part in cuts(bytes(backend), backend_cuts):
            commands += session.link_data(1, part)
    closes = [i for i, c in enumerate(commands) if isinstance(c, CloseClient)]
    # At most one close, and nothing is sent to anyone after it.
    assert len(closes) <= 1
    if closes:
        assert not any(isinstance(c, SendToClient | SendToLink) for c in commands[closes[0] :])
        assert session.client_data(CLIENT_MESSAGES) == []
        assert session.link_data(1, BACKEND_ANSWERS) == []
