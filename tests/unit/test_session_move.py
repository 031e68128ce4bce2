"""The primary role moving between backends at transaction boundaries, played as scripts."""

from __future__ import annotations

from boltproxy.bolt.messages import Tag
from boltproxy.proxy.bookmarks import BookmarkMap
from boltproxy.proxy.session import (
    ClientSession,
    CloseLink,
    Command,
    LinkFailure,
    LinkRole,
    OpenLink,
    SendToClient,
    SendToLink,
)
from tests.support.rawbolt import decode_all
from tests.unit.test_session import (
    ADVERTISED,
    HELLO,
    LEGACY_HANDSHAKE,
    LIMITS,
    LOGON,
    PULL,
    RELAYABLE,
    RUN,
    Recorder,
    msg,
    record,
    success,
)

BLUE, GREEN = 1, 2
BEGIN = msg(Tag.BEGIN, {})
COMMIT = msg(Tag.COMMIT)


class Routing:
    """What control answers at each boundary; tests flip it."""

    def __init__(self) -> None:
        self.primary = "blue"
        self.asked = 0

    def __call__(self, current: str) -> str:
        self.asked += 1
        return self.primary


def session_on_blue(
    routing: Routing, bookmarks: BookmarkMap | None = None, recorder: Recorder | None = None
) -> ClientSession:
    session = ClientSession(
        primary="blue",
        relayable=RELAYABLE,
        backend_manifest=False,
        advertised_address=ADVERTISED,
        observer=recorder or Recorder(),
        limits=LIMITS,
        route=routing,
        bookmarks=bookmarks or BookmarkMap(),
        clock=lambda: 0.0,
    )
    session.start()
    session.client_data(LEGACY_HANDSHAKE)
    session.link_negotiated(BLUE, (5, 8))
    session.client_data(HELLO + LOGON)
    session.link_data(BLUE, success(server="Neo4j/5.26.0") + success())
    return session


def to(link: int, commands: list[Command]) -> bytes:
    return b"".join(bytes(c.data) for c in commands if isinstance(c, SendToLink) and c.link == link)


def test_after_a_flip_the_next_transaction_goes_to_the_new_primary() -> None:
    routing = Routing()
    session = session_on_blue(routing)
    assert to(BLUE, session.client_data(BEGIN + RUN + PULL)) == BEGIN + RUN + PULL
    session.link_data(BLUE, success() + success(fields=["x"]) + record(1) + success())
    routing.primary = "green"
    # Inside the transaction nothing moves.
    assert to(BLUE, session.client_data(RUN + PULL)) == RUN + PULL
    session.link_data(BLUE, success(fields=["x"]) + record(1) + success())
    assert to(BLUE, session.client_data(COMMIT)) == COMMIT
    session.link_data(BLUE, success(bookmark="blue:1"))
    # The next transaction: held, while a link to green opens and the login is replayed.
    commands = session.client_data(BEGIN + RUN + PULL)
    assert commands == [OpenLink(GREEN, "green", [((5, 8), 0)], False, LinkRole.PRIMARY)]
    assert session.link_negotiated(GREEN, (5, 8)) == [SendToLink(GREEN, HELLO + LOGON)]
    commands = session.link_data(GREEN, success(server="Neo4j/2026.08.1") + success())
    assert commands == [SendToLink(GREEN, BEGIN + RUN + PULL)]
    answer = success() + success(fields=["x"]) + record(2) + success()
    assert session.link_data(GREEN, answer) == [SendToClient(answer)]
    assert to(GREEN, session.client_data(COMMIT)) == COMMIT
    session.link_data(GREEN, success(bookmark="green:1"))
    # A rollback reuses blue's link, still logged in: no new connection, no login.
    routing.primary = "blue"
    assert session.client_data(RUN + PULL) == [SendToLink(BLUE, RUN + PULL)]


def test_a_begin_pipelined_behind_a_commit_waits_for_the_boundary() -> None:
    routing = Routing()
    session = session_on_blue(routing)
    session.client_data(BEGIN + RUN + PULL)
    session.link_data(BLUE, success() + success(fields=["x"]) + record(1) + success())
    routing.primary = "green"
    commands = session.client_data(COMMIT + BEGIN + RUN + PULL)
    # The COMMIT ends blue's transaction; the BEGIN must not slip to blue.
    assert to(BLUE, commands) == COMMIT
    assert not any(isinstance(c, OpenLink) for c in commands)
    commands = session.link_data(BLUE, success(bookmark="blue:2"))
    assert OpenLink(GREEN, "green", [((5, 8), 0)], False, LinkRole.PRIMARY) in commands
    session.link_negotiated(GREEN, (5, 8))
    commands = session.link_data(GREEN, success() + success())
    assert to(GREEN, commands) == BEGIN + RUN + PULL


def test_bookmarks_of_the_old_primary_are_translated_or_left_out() -> None:
    routing = Routing()
    bookmarks = BookmarkMap()
    bookmarks.record("blue", "blue:7", "green", "green:3")
    recorder = Recorder()
    session = session_on_blue(routing, bookmarks, recorder)
    routing.primary = "green"
    session.client_data(msg(Tag.BEGIN, {"bookmarks": ["blue:7", "blue:8"]}))
    session.link_negotiated(GREEN, (5, 8))
    commands = session.link_data(GREEN, success() + success())
    ((_, (extra,)),) = decode_all(to(GREEN, commands))
    assert extra["bookmarks"] == ["green:3"]
    assert ("proxy", "bookmark_unmapped") in recorder.sides


def test_an_unreachable_new_primary_leaves_the_work_where_it_was() -> None:
    routing = Routing()
    recorder = Recorder()
    session = session_on_blue(routing, recorder=recorder)
    routing.primary = "green"
    session.client_data(RUN + PULL)
    commands = session.link_failed(GREEN, LinkFailure.UNREACHABLE, "green: refused")
    assert commands == [CloseLink(GREEN, "green: refused"), SendToLink(BLUE, RUN + PULL)]
    assert ("primary", "move") in recorder.sides
    answer = success(fields=["x"]) + record(1) + success()
    assert session.link_data(BLUE, answer) == [SendToClient(answer)]


def test_a_refused_login_on_the_new_primary_leaves_the_work_where_it_was() -> None:
    from boltproxy.bolt import messages
    from boltproxy.bolt.framing import chunk

    routing = Routing()
    session = session_on_blue(routing)
    routing.primary = "green"
    session.client_data(RUN + PULL)
    session.link_negotiated(GREEN, (5, 8))
    failure = chunk(messages.failure("Neo.ClientError.Security.Unauthorized", "no", (5, 8)))
    commands = session.link_data(GREEN, success() + failure)
    assert commands == [
        CloseLink(GREEN, "it refused the client's login"),
        SendToLink(BLUE, RUN + PULL),
    ]


def test_the_router_is_asked_only_at_boundaries() -> None:
    routing = Routing()
    session = session_on_blue(routing)
    session.client_data(BEGIN + RUN + PULL)
    session.link_data(BLUE, success() + success(fields=["x"]) + record(1) + success())
    session.client_data(RUN + PULL + RUN + PULL)
    assert routing.asked == 1


def warm_session(routing: Routing) -> ClientSession:
    session = ClientSession(
        primary="blue",
        relayable=RELAYABLE,
        backend_manifest=False,
        advertised_address=ADVERTISED,
        observer=Recorder(),
        limits=LIMITS,
        route=routing,
        bookmarks=BookmarkMap(),
        standby=("blue", "green"),
        clock=lambda: 0.0,
    )
    session.start()
    session.client_data(LEGACY_HANDSHAKE)
    session.link_negotiated(BLUE, (5, 8))
    session.client_data(HELLO + LOGON)
    # Logged in: a link to green logs in too, ahead of any flip.
    commands = session.link_data(BLUE, success(server="Neo4j/5.26.0") + success())
    assert OpenLink(GREEN, "green", [((5, 8), 0)], False, LinkRole.PRIMARY) in commands
    assert session.link_negotiated(GREEN, (5, 8)) == [SendToLink(GREEN, HELLO + LOGON)]
    assert session.link_data(GREEN, success(server="Neo4j/2026.08.1") + success()) == []
    return session


def test_a_link_logged_in_ahead_makes_the_flip_immediate() -> None:
    routing = Routing()
    session = warm_session(routing)
    routing.primary = "green"
    # No connection to open, no login to wait for: the query goes to green at once.
    assert session.client_data(RUN + PULL) == [SendToLink(GREEN, RUN + PULL)]


def test_logging_off_closes_the_links_logged_in_as_that_user() -> None:
    routing = Routing()
    session = warm_session(routing)
    commands = session.client_data(msg(Tag.LOGOFF))
    assert CloseLink(GREEN, "the client logged off") in commands
