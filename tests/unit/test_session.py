"""Client sessions played as scripts: events in, commands out, no sockets."""

from __future__ import annotations

from typing import Any

import pytest

from boltproxy.bolt import messages
from boltproxy.bolt.framing import chunk
from boltproxy.bolt.messages import Tag
from boltproxy.proxy.session import (
    ClientSession,
    CloseBackend,
    CloseClient,
    Command,
    SendToBackend,
    SendToClient,
)
from tests.support.rawbolt import decode_all as decoded

ADVERTISED = "proxy.example:7687"
V58 = (5, 8)


def msg(tag: int, *fields: Any) -> bytes:
    return chunk(messages.encode(tag, *fields))


def success(**metadata: Any) -> bytes:
    return chunk(messages.success(metadata))


def record(*values: Any) -> bytes:
    return chunk(messages.record(list(values)))


def to_client(commands: list[Command]) -> bytes:
    return b"".join(bytes(c.data) for c in commands if isinstance(c, SendToClient))


def to_backend(commands: list[Command]) -> bytes:
    return b"".join(bytes(c.data) for c in commands if isinstance(c, SendToBackend))


def closes(commands: list[Command]) -> bool:
    kinds = {type(c) for c in commands}
    return CloseClient in kinds and CloseBackend in kinds


HELLO = msg(Tag.HELLO, {"user_agent": "test/1", "bolt_agent": {"product": "test/1"}})
LOGON = msg(Tag.LOGON, {"scheme": "basic", "principal": "neo4j", "credentials": "secret"})


def ready_session(version: tuple[int, int] = V58) -> ClientSession:
    """A session through HELLO and LOGON, as a driver leaves it."""
    session = ClientSession(
        version, backend="blue", advertised_address=ADVERTISED, max_message_size=1 << 20
    )
    session.backend_ready()
    assert to_backend(session.client_data(HELLO + LOGON)) == HELLO + LOGON
    replies = success(server="Neo4j/5.26.0", connection_id="bolt-1") + success()
    assert to_client(session.backend_data(replies)) == replies
    return session


def test_messages_are_relayed_byte_for_byte() -> None:
    session = ready_session()
    run = msg(Tag.RUN, "RETURN $x", {"x": 1}, {}) + msg(Tag.PULL, {"n": 1000})
    assert to_backend(session.client_data(run)) == run
    answer = success(fields=["x"]) + record(1) + record(2) + success(has_more=False)
    assert to_client(session.backend_data(answer)) == answer
    assert session.conversation.at_boundary


def test_answers_are_forwarded_only_at_message_ends() -> None:
    session = ready_session()
    session.client_data(msg(Tag.RUN, "RETURN 1", {}, {}) + msg(Tag.PULL, {"n": -1}))
    answer = success(fields=["x"]) + record("a" * 500)
    cut = len(answer) - 7
    assert to_client(session.backend_data(answer[:cut])) == success(fields=["x"])
    assert to_client(session.backend_data(answer[cut:])) == record("a" * 500)


def test_credentials_are_held_but_never_shown() -> None:
    session = ready_session()
    assert session.auth.logon == LOGON
    assert "secret" not in repr(session.auth)
    session.client_data(msg(Tag.LOGOFF))
    assert session.auth.logon is None


def test_route_answer_points_every_role_at_the_proxy() -> None:
    session = ready_session()
    session.client_data(msg(Tag.ROUTE, {"address": ADVERTISED}, [], {"db": None}))
    backend_table = {
        "ttl": 300,
        "db": "neo4j",
        "servers": [
            {"addresses": ["10.0.0.5:7687"], "role": "WRITE"},
            {"addresses": ["10.0.0.5:7687", "10.0.0.6:7687"], "role": "READ"},
            {"addresses": ["10.0.0.5:7687"], "role": "ROUTE"},
        ],
    }
    (reply,) = decoded(to_client(session.backend_data(success(rt=backend_table))))
    assert reply[0] == Tag.SUCCESS
    table = reply[1][0]["rt"]
    assert table["ttl"] == 300 and table["db"] == "neo4j"
    assert sorted(s["role"] for s in table["servers"]) == ["READ", "ROUTE", "WRITE"]
    assert all(s["addresses"] == [ADVERTISED] for s in table["servers"])


def test_advertised_address_in_logon_reply_is_rewritten() -> None:
    session = ClientSession(
        V58, backend="blue", advertised_address=ADVERTISED, max_message_size=1 << 20
    )
    session.backend_ready()
    session.client_data(HELLO + LOGON)
    replies = success(server="Neo4j/5.26.0") + success(advertised_address="10.0.0.5:7687")
    (_, (_, logon_fields)) = decoded(to_client(session.backend_data(replies)))
    assert logon_fields[0]["advertised_address"] == ADVERTISED


def test_routing_procedure_rows_are_rewritten() -> None:
    session = ready_session()
    query = "CALL dbms.routing.getRoutingTable($context, $database)"
    session.client_data(msg(Tag.RUN, query, {"context": {}, "database": None}, {}))
    session.client_data(msg(Tag.PULL, {"n": -1}))
    servers = [{"addresses": ["10.0.0.5:7687"], "role": role} for role in ("WRITE", "READ")]
    answer = success(fields=["ttl", "servers"]) + record(300, servers) + success()
    replies = decoded(to_client(session.backend_data(answer)))
    ttl, rewritten = replies[1][1][0]
    assert ttl == 300
    assert {s["role"] for s in rewritten} == {"WRITE", "READ", "ROUTE"}
    assert all(s["addresses"] == [ADVERTISED] for s in rewritten)
    # The next, ordinary result is relayed untouched again.
    session.client_data(msg(Tag.RUN, "RETURN 1", {}, {}) + msg(Tag.PULL, {"n": -1}))
    plain = success(fields=["x"]) + record([{"addresses": ["x"]}]) + success()
    assert to_client(session.backend_data(plain)) == plain


def failure_of(commands: list[Command]) -> dict[str, Any]:
    replies = decoded(to_client(commands))
    assert replies[-1][0] == Tag.FAILURE
    metadata: dict[str, Any] = replies[-1][1][0]
    return metadata


@pytest.mark.parametrize(
    ("data", "code"),
    [
        (chunk(b"\xb1\x10\xc7"), messages.INVALID_FORMAT),  # reserved marker inside RUN
        (chunk(b"\x01\x02"), messages.INVALID_FORMAT),  # not a structure
        (msg(0x55, {}), messages.INVALID_FORMAT),  # unknown message
        (msg(Tag.RUN, "RETURN 1"), messages.INVALID_FORMAT),  # wrong field count
        (msg(Tag.COMMIT), messages.PROTOCOL_VIOLATION),  # no transaction open
    ],
)
def test_bad_input_gets_a_failure_then_the_session_ends(data: bytes, code: str) -> None:
    session = ready_session()
    commands = session.client_data(data)
    assert to_backend(commands) == b""
    assert messages.failure_code(failure_of(commands)) == code
    assert closes(commands)
    assert session.client_data(msg(Tag.RESET)) == []


def test_bad_input_waits_for_earlier_answers() -> None:
    session = ready_session()
    good = msg(Tag.RUN, "RETURN 1", {}, {}) + msg(Tag.PULL, {"n": -1})
    commands = session.client_data(good + chunk(b"\xb1\x10\xc7"))
    assert to_backend(commands) == good
    assert not closes(commands)
    answer = success(fields=["x"]) + record(1) + success()
    commands = session.backend_data(answer)
    assert to_client(commands).startswith(answer)
    assert messages.failure_code(failure_of(commands)) == messages.INVALID_FORMAT
    assert closes(commands)


def test_first_message_before_hello_is_a_protocol_violation() -> None:
    session = ClientSession(
        V58, backend="blue", advertised_address=ADVERTISED, max_message_size=1 << 20
    )
    session.backend_ready()
    commands = session.client_data(msg(Tag.RUN, "RETURN 1", {}, {}))
    assert messages.failure_code(failure_of(commands)) == messages.PROTOCOL_VIOLATION


def test_oversize_message_is_refused() -> None:
    session = ClientSession(
        V58, backend="blue", advertised_address=ADVERTISED, max_message_size=1000
    )
    session.backend_ready()
    commands = session.client_data(HELLO + msg(Tag.RUN, "x" * 5000, {}, {}))
    assert to_backend(commands) == HELLO
    assert session.backend_data(success())  # HELLO answered: now the refusal goes out
    assert session.closed


def test_client_data_waits_for_the_backend_link() -> None:
    session = ClientSession(
        V58, backend="blue", advertised_address=ADVERTISED, max_message_size=1 << 20
    )
    assert to_backend(session.client_data(HELLO)) == b""
    assert to_backend(session.backend_ready()) == HELLO


def test_unreachable_backend_answers_the_pending_hello_as_unavailable() -> None:
    session = ClientSession(
        V58, backend="blue", advertised_address=ADVERTISED, max_message_size=1 << 20
    )
    session.client_data(HELLO)
    commands = session.backend_unavailable("connection refused")
    metadata = failure_of(commands)
    assert messages.failure_code(metadata) == messages.DATABASE_UNAVAILABLE
    assert closes(commands)


def test_unreachable_backend_before_any_request_answers_the_first_one() -> None:
    session = ClientSession(
        V58, backend="blue", advertised_address=ADVERTISED, max_message_size=1 << 20
    )
    assert session.backend_unavailable("timed out") == []
    commands = session.client_data(HELLO)
    assert messages.failure_code(failure_of(commands)) == messages.DATABASE_UNAVAILABLE


def test_backend_dying_mid_record_gives_a_clean_failure() -> None:
    session = ready_session()
    session.client_data(msg(Tag.RUN, "RETURN 1", {}, {}) + msg(Tag.PULL, {"n": -1}))
    head = success(fields=["x"]) + record(1)
    partial = record("b" * 100)[:20]
    assert to_client(session.backend_data(head + partial)) == head
    commands = session.backend_eof()
    replies = decoded(to_client(commands))
    assert [tag for tag, _ in replies] == [Tag.FAILURE]  # no half record before it
    assert messages.failure_code(replies[0][1][0]) == messages.DATABASE_UNAVAILABLE
    assert closes(commands)


def test_idle_backend_closing_closes_the_client_without_a_failure() -> None:
    session = ready_session()
    commands = session.backend_eof()
    assert to_client(commands) == b""
    assert any(isinstance(c, CloseClient) for c in commands)


def test_goodbye_is_forwarded_then_both_sides_close() -> None:
    session = ready_session()
    commands = session.client_data(msg(Tag.GOODBYE))
    assert to_backend(commands) == msg(Tag.GOODBYE)
    assert closes(commands)


def test_failure_shape_follows_the_version() -> None:
    old = ClientSession(
        (5, 4), backend="blue", advertised_address=ADVERTISED, max_message_size=1 << 20
    )
    old.backend_ready()
    metadata = failure_of(old.client_data(msg(Tag.COMMIT)))
    assert "code" in metadata
    new = ClientSession(
        V58, backend="blue", advertised_address=ADVERTISED, max_message_size=1 << 20
    )
    new.backend_ready()
    metadata = failure_of(new.client_data(msg(Tag.COMMIT)))
    assert "gql_status" in metadata and "neo4j_code" in metadata


def test_transaction_boundaries_are_known() -> None:
    session = ready_session()
    session.client_data(
        msg(Tag.BEGIN, {}) + msg(Tag.RUN, "CREATE ()", {}, {}) + msg(Tag.PULL, {"n": -1})
    )
    session.backend_data(success() + success(fields=[]) + success())
    assert session.conversation.in_transaction
    assert not session.conversation.at_boundary
    session.client_data(msg(Tag.COMMIT))
    session.backend_data(success(bookmark="FB:1"))
    assert session.conversation.at_boundary
