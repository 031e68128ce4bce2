"""Client sessions played as scripts: events in, the exact commands out, no sockets."""

from __future__ import annotations

from typing import Any

import pytest

from boltproxy.bolt import messages
from boltproxy.bolt.framing import chunk
from boltproxy.bolt.handshake import MAGIC, MANIFEST_V1, NO_VERSION, encode_proposals
from boltproxy.bolt.messages import Tag
from boltproxy.proxy.session import (
    ChooseVersion,
    ClientSession,
    CloseClient,
    CloseLink,
    Command,
    Limits,
    LinkFailure,
    OpenLink,
    SendToClient,
    SendToLink,
    SetDeadline,
)
from tests.support.rawbolt import decode_all as decoded

ADVERTISED = "proxy.example:7687"
V58 = (5, 8)
LIMITS = Limits(
    handshake_seconds=10,
    idle_before_auth_seconds=30,
    max_message_bytes=1 << 20,
    max_message_bytes_before_auth=4096,
    max_pipelined=50,
)
LEGACY_HANDSHAKE = MAGIC + encode_proposals([((5, 8), 8), ((4, 4), 0)])
MANIFEST_HANDSHAKE = MAGIC + MANIFEST_V1 + encode_proposals([((5, 8), 8), ((4, 4), 2)])[:12]
RELAYABLE = {(4, 4), *((5, m) for m in range(9)), (6, 0)}
LOGIN_DEADLINE = SetDeadline(30, "the client to log in")
FIRST_MESSAGE = SetDeadline(10, "the client's first message")
DISARMED = SetDeadline(None, "nothing")


def msg(tag: int, *fields: Any) -> bytes:
    return chunk(messages.encode(tag, *fields))


def success(**metadata: Any) -> bytes:
    return chunk(messages.success(metadata))


def record(*values: Any) -> bytes:
    return chunk(messages.record(list(values)))


HELLO = msg(Tag.HELLO, {"user_agent": "test/1", "bolt_agent": {"product": "test/1"}})
LOGON = msg(Tag.LOGON, {"scheme": "basic", "principal": "neo4j", "credentials": "secret"})
RUN = msg(Tag.RUN, "RETURN 1 AS x", {}, {})
PULL = msg(Tag.PULL, {"n": -1})


class Recorder:
    """An observer that keeps what the session reports."""

    def __init__(self) -> None:
        self.errors: list[tuple[str, str, str]] = []
        self.notices: list[str] = []
        self.failures: list[tuple[str, str]] = []
        self.latencies: list[tuple[str, float]] = []
        self.traffic_calls: list[tuple[dict[int, int], dict[int, int], int, int]] = []

    def error(self, side: str, kind: str, message: str) -> None:
        self.errors.append((side, kind, message))

    def notice(self, message: str) -> None:
        self.notices.append(message)

    def server_failure(self, side: str, kind: str, backend: str = "") -> None:
        self.failures.append((side, kind))

    def query_latency(self, backend: str, seconds: float) -> None:
        self.latencies.append((backend, seconds))

    def traffic(
        self, client: dict[int, int], server: dict[int, int], bytes_in: int, bytes_out: int
    ) -> None:
        self.traffic_calls.append((client, server, bytes_in, bytes_out))

    def debug(self, direction: str, tag: int, note: str = "") -> None:
        pass

    @property
    def debugging(self) -> bool:
        return False

    @property
    def sides(self) -> list[tuple[str, str]]:
        return [(side, kind) for side, kind, _ in self.errors]


def new_session(
    recorder: Recorder | None = None, *, manifest_backend: bool = False, limits: Limits = LIMITS
) -> ClientSession:
    return ClientSession(
        primary="blue",
        relayable=RELAYABLE,
        backend_manifest=manifest_backend,
        advertised_address=ADVERTISED,
        observer=recorder or Recorder(),
        limits=limits,
        clock=lambda: 0.0,
    )


def negotiated(recorder: Recorder | None = None, version: tuple[int, int] = V58) -> ClientSession:
    """A session whose client and backend agreed on ``version`` (a legacy handshake)."""
    session = new_session(recorder)
    session.start()
    session.client_data(LEGACY_HANDSHAKE)
    session.link_negotiated(1, version)
    return session


def logged_in(recorder: Recorder | None = None) -> ClientSession:
    """A session through HELLO and LOGON, as a driver leaves it."""
    session = negotiated(recorder)
    assert session.client_data(HELLO + LOGON) == [SendToLink(1, HELLO + LOGON), LOGIN_DEADLINE]
    replies = success(server="Neo4j/5.26.0", connection_id="bolt-1") + success()
    assert session.link_data(1, replies) == [DISARMED, SendToClient(replies)]
    return session


def to_client(commands: list[Command]) -> bytes:
    return b"".join(bytes(c.data) for c in commands if isinstance(c, SendToClient))


def failure_of(commands: list[Command]) -> dict[str, Any]:
    replies = decoded(to_client(commands))
    assert replies[-1][0] == Tag.FAILURE
    metadata: dict[str, Any] = replies[-1][1][0]
    return metadata


def closing(reason: str) -> list[Command]:
    return [DISARMED, CloseLink(1, reason), CloseClient(reason)]


# --- the handshake waits for the backend -----------------------------------


def test_legacy_handshake_is_answered_only_after_the_backend_agreed() -> None:
    session = new_session()
    assert session.start() == [SetDeadline(10, "the client's handshake")]
    assert session.client_data(LEGACY_HANDSHAKE[:7]) == []
    assert session.client_data(LEGACY_HANDSHAKE[7:]) == [
        SetDeadline(None, "the backend"),
        OpenLink(1, "blue", [((5, 8), 8), ((4, 4), 0)], False),
    ]
    assert session.link_negotiated(1, (5, 7)) == [
        SendToClient(b"\x00\x00\x07\x05"),
        FIRST_MESSAGE,
    ]
    assert session.version == (5, 7)


def test_manifest_client_sees_the_backends_list_and_its_choice_is_passed_on() -> None:
    session = new_session(manifest_backend=True)
    session.start()
    (_, opened) = session.client_data(MANIFEST_HANDSHAKE)
    assert opened == OpenLink(1, "blue", [((5, 8), 8), ((4, 4), 0)], True)
    commands = session.link_offered(1, [(6, 0), (5, 8), (5, 7), (4, 4), (3, 0)])
    reply = MANIFEST_V1 + b"\x03" + bytes((0, 0, 0, 6, 0, 1, 8, 5, 0, 0, 4, 4)) + b"\x00"
    assert commands == [SendToClient(reply), FIRST_MESSAGE]
    # The client chooses 5.8 (capabilities varint 0) and pipelines its HELLO.
    assert session.client_data(b"\x00\x00\x08\x05\x00" + HELLO) == [
        ChooseVersion(1, (5, 8)),
        SendToLink(1, HELLO),
        LOGIN_DEADLINE,
    ]


def test_manifest_client_and_a_legacy_backend_get_a_one_version_manifest() -> None:
    session = new_session(manifest_backend=False)
    session.start()
    (_, opened) = session.client_data(MANIFEST_HANDSHAKE)
    assert isinstance(opened, OpenLink) and opened.manifest is False
    assert opened.proposals == [((5, 8), 8), ((4, 4), 0)]
    reply = MANIFEST_V1 + b"\x01" + bytes((0, 0, 7, 5)) + b"\x00"
    assert session.link_negotiated(1, (5, 7)) == [SendToClient(reply), FIRST_MESSAGE]
    assert session.client_data(b"\x00\x00\x07\x05\x00") == []
    assert session.version == (5, 7)


def test_backend_refusal_is_the_clients_refusal() -> None:
    recorder = Recorder()
    session = new_session(recorder)
    session.start()
    session.client_data(LEGACY_HANDSHAKE)
    reason = "blue: refused"
    commands = session.link_failed(1, LinkFailure.REFUSED, reason)
    expected = "the backend has no Bolt version in common"
    assert commands == [SendToClient(NO_VERSION), DISARMED, CloseClient(expected)]
    assert recorder.sides == [("primary", "refused"), ("client", "handshake")]


def test_unreachable_backend_closes_the_client_without_an_answer() -> None:
    recorder = Recorder()
    session = new_session(recorder)
    session.start()
    session.client_data(LEGACY_HANDSHAKE)
    commands = session.link_failed(1, LinkFailure.UNREACHABLE, "blue: connection refused")
    # No invented FAILURE and no handshake answer: the driver sees what it would see
    # directly, a server it cannot connect to.
    assert commands == [DISARMED, CloseClient("blue: connection refused")]
    assert recorder.sides == [("primary", "unreachable")]


def test_wrong_preamble_is_refused_at_once() -> None:
    session = new_session()
    session.start()
    commands = session.client_data(b"GET / HTTP/1.1\r\n\r\n")
    assert commands == [DISARMED, CloseClient("wrong preamble: not a Bolt client")]


def test_no_common_version_with_the_client() -> None:
    session = new_session()
    session.start()
    commands = session.client_data(MAGIC + encode_proposals([((3, 0), 0)]))
    assert commands[0] == SendToClient(NO_VERSION)
    assert isinstance(commands[-1], CloseClient)


@pytest.mark.parametrize("tail", [b"\xff" * 11, b"\x80" * 30])
def test_overlong_capability_varint_is_a_clean_refusal(tail: bytes) -> None:
    recorder = Recorder()
    session = new_session(recorder, manifest_backend=True)
    session.start()
    session.client_data(MANIFEST_HANDSHAKE)
    session.link_offered(1, [(5, 8)])
    commands = session.client_data(b"\x00\x00\x08\x05" + tail)
    assert isinstance(commands[-1], CloseClient)
    assert recorder.sides == [("client", "handshake")]


def test_handshake_deadline_names_the_client() -> None:
    recorder = Recorder()
    session = new_session(recorder)
    session.start()
    assert session.deadline_expired("the client's handshake") == [
        DISARMED,
        CloseClient("timed out waiting for the client's handshake"),
    ]
    assert recorder.sides == [("client", "timeout")]


# --- relaying ----------------------------------------------------------------


def test_messages_are_relayed_byte_for_byte() -> None:
    session = logged_in()
    assert session.client_data(RUN + PULL) == [SendToLink(1, RUN + PULL)]
    answer = success(fields=["x"]) + record(1) + record(2) + success(has_more=False)
    assert session.link_data(1, answer) == [SendToClient(answer)]
    assert session.conversation is not None and session.conversation.at_boundary


def test_partial_messages_are_forwarded_as_they_arrive() -> None:
    # Holding a tail back would re-join it with every read: quadratic for a big record.
    session = logged_in()
    session.client_data(RUN + PULL)
    answer = success(fields=["x"]) + record("a" * 500) + success()
    for cut in (3, 40, 300):
        session = logged_in()
        session.client_data(RUN + PULL)
        first = session.link_data(1, answer[:cut])
        rest = session.link_data(1, answer[cut:])
        assert first == [SendToClient(answer[:cut])]
        assert rest == [SendToClient(answer[cut:])]


def test_a_large_record_in_many_reads_is_forwarded_read_by_read() -> None:
    session = logged_in()
    session.client_data(RUN + PULL)
    big = success(fields=["x"]) + record("z" * 400_000) + success()
    step = 65536
    sent = b""
    for start in range(0, len(big), step):
        commands = session.link_data(1, big[start : start + step])
        assert commands == [SendToClient(big[start : start + step])]
        sent += to_client(commands)
    assert sent == big


def test_client_keepalives_stay_with_the_proxy() -> None:
    session = negotiated()
    assert session.client_data(b"\x00\x00" + HELLO + b"\x00\x00") == [
        SendToLink(1, HELLO),
        LOGIN_DEADLINE,
    ]


def test_credentials_are_held_but_never_shown() -> None:
    session = logged_in()
    assert session.auth.logon == LOGON
    assert "secret" not in repr(session.auth)
    session.client_data(msg(Tag.LOGOFF))
    assert session.auth.logon is None


def test_route_answer_points_every_role_at_the_proxy() -> None:
    session = logged_in()
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
    # The reply arrives in two reads: nothing of it may leave before it is rewritten.
    reply_bytes = success(rt=backend_table)
    assert session.link_data(1, reply_bytes[:30]) == []
    (reply,) = decoded(to_client(session.link_data(1, reply_bytes[30:])))
    assert reply[0] == Tag.SUCCESS
    table = reply[1][0]["rt"]
    assert table["ttl"] == 300 and table["db"] == "neo4j"
    assert sorted(s["role"] for s in table["servers"]) == ["READ", "ROUTE", "WRITE"]
    assert all(s["addresses"] == [ADVERTISED] for s in table["servers"])


def test_advertised_address_in_logon_reply_is_rewritten() -> None:
    session = negotiated()
    session.client_data(HELLO + LOGON)
    replies = success(server="Neo4j/5.26.0") + success(advertised_address="10.0.0.5:7687")
    (_, (_, logon_fields)) = decoded(to_client(session.link_data(1, replies)))
    assert logon_fields[0]["advertised_address"] == ADVERTISED


def test_routing_procedure_rows_are_rewritten() -> None:
    session = logged_in()
    query = "CALL dbms.routing.getRoutingTable($context, $database)"
    session.client_data(msg(Tag.RUN, query, {"context": {}, "database": None}, {}))
    session.client_data(PULL)
    servers = [{"addresses": ["10.0.0.5:7687"], "role": role} for role in ("WRITE", "READ")]
    answer = success(fields=["ttl", "servers"]) + record(300, servers) + success()
    replies = decoded(to_client(session.link_data(1, answer)))
    ttl, rewritten = replies[1][1][0]
    assert ttl == 300
    assert {s["role"] for s in rewritten} == {"WRITE", "READ", "ROUTE"}
    assert all(s["addresses"] == [ADVERTISED] for s in rewritten)
    # The next, ordinary result is relayed untouched again.
    session.client_data(RUN + PULL)
    plain = success(fields=["x"]) + record([{"addresses": ["x"]}]) + success()
    assert session.link_data(1, plain) == [SendToClient(plain)]


def test_has_more_inside_a_notification_does_not_fool_the_session() -> None:
    session = logged_in()
    session.client_data(RUN + PULL)
    notice = {"code": "x", "title": "has_more", "description": "\x88has_more\xc3"}
    answer = success(fields=["x"]) + record(1) + success(notifications=[notice], label="has_more")
    session.link_data(1, answer)
    assert session.client_data(RUN + PULL) == [SendToLink(1, RUN + PULL)]


def test_query_latency_is_reported_per_backend() -> None:
    recorder = Recorder()
    session = logged_in(recorder)
    session.client_data(RUN + PULL)
    session.link_data(1, success(fields=["x"]) + record(1) + success())
    assert [backend for backend, _ in recorder.latencies] == ["blue"]


# --- bad input ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "code", "gql"),
    [
        (chunk(b"\xb1\x10\xc7"), messages.INVALID_FORMAT, "22N01"),  # reserved marker in RUN
        (chunk(b"\x01\x02"), messages.INVALID_FORMAT, "22N01"),  # not a structure
        (msg(0x55, {}), messages.INVALID_FORMAT, "22N01"),  # unknown message
        (msg(Tag.RUN, "RETURN 1"), messages.INVALID_FORMAT, "22N01"),  # wrong field count
        (msg(Tag.COMMIT), messages.PROTOCOL_VIOLATION, "08N06"),  # no transaction open
    ],
)
def test_bad_input_gets_a_failure_then_the_session_ends(data: bytes, code: str, gql: str) -> None:
    recorder = Recorder()
    session = logged_in(recorder)
    commands = session.client_data(data)
    metadata = failure_of(commands)
    assert messages.failure_code(metadata) == code
    assert metadata["gql_status"] == gql
    assert commands[1:] == closing(metadata["message"])
    assert recorder.sides[-1][0] == "client"
    assert session.client_data(msg(Tag.RESET)) == []


def test_bad_input_waits_for_earlier_answers() -> None:
    session = logged_in()
    good = RUN + PULL
    assert session.client_data(good + chunk(b"\xb1\x10\xc7")) == [SendToLink(1, good)]
    answer = success(fields=["x"]) + record(1) + success()
    commands = session.link_data(1, answer)
    assert commands[0] == SendToClient(answer)
    assert messages.failure_code(failure_of(commands)) == messages.INVALID_FORMAT
    assert isinstance(commands[-1], CloseClient)


def test_first_message_before_hello_is_a_protocol_violation() -> None:
    session = negotiated()
    commands = session.client_data(RUN)
    assert messages.failure_code(failure_of(commands)) == messages.PROTOCOL_VIOLATION


def test_a_large_message_before_login_is_refused() -> None:
    session = negotiated()
    commands = session.client_data(msg(Tag.HELLO, {"user_agent": "x" * 5000}))
    assert messages.failure_code(failure_of(commands)) == messages.PROTOCOL_VIOLATION
    assert failure_of(commands)["gql_status"] == "22N56"


def test_the_size_limit_grows_after_login() -> None:
    session = logged_in()
    big = msg(Tag.RUN, "RETURN $x", {"x": "y" * 5000}, {})
    assert session.client_data(big + PULL) == [SendToLink(1, big + PULL)]


def test_pipelining_is_bounded() -> None:
    session = logged_in()
    commands = session.client_data((RUN + PULL) * 40)
    assert len(to_client(commands)) == 0  # 50 answered-later requests were relayed, then…
    sent = b"".join(bytes(c.data) for c in commands if isinstance(c, SendToLink))
    assert sent == (RUN + PULL) * 25
    # …the refusal waits for their answers.
    answers = (success(fields=["x"]) + record(1) + success()) * 25
    final = session.link_data(1, answers)
    assert "pipelined" in failure_of(final)["message"]


def test_goodbye_behind_pipelined_requests_keeps_their_answers() -> None:
    session = logged_in()
    goodbye = msg(Tag.GOODBYE)
    commands = session.client_data(RUN + PULL + RUN + PULL + goodbye)
    assert commands == [SendToLink(1, RUN + PULL + RUN + PULL + goodbye)]
    one = success(fields=["x"]) + record(1) + success()
    assert session.link_data(1, one) == [SendToClient(one)]
    assert session.link_data(1, one) == [SendToClient(one), *closing("GOODBYE")]


def test_goodbye_with_nothing_pending_closes_at_once() -> None:
    session = logged_in()
    goodbye = msg(Tag.GOODBYE)
    assert session.client_data(goodbye) == [SendToLink(1, goodbye), *closing("GOODBYE")]


def test_silence_before_login_ends_the_session() -> None:
    recorder = Recorder()
    session = negotiated(recorder)
    assert session.client_data(HELLO) == [SendToLink(1, HELLO), LOGIN_DEADLINE]
    # Half a message resets nothing: the deadline stands.
    assert session.client_data(LOGON[:10]) == []
    assert session.deadline_expired("the client to log in") == closing(
        "timed out waiting for the client to log in"
    )
    assert recorder.sides == [("client", "timeout")]


# --- the backend fails ----------------------------------------------------------


@pytest.mark.parametrize(
    "pending",
    [HELLO, RUN + PULL, msg(Tag.BEGIN, {}), msg(Tag.COMMIT)],
    ids=["hello", "run", "begin", "commit"],
)
def test_backend_lost_with_a_request_pending_closes_the_client(pending: bytes) -> None:
    recorder = Recorder()
    session = negotiated(recorder) if pending == HELLO else logged_in(recorder)
    if pending == msg(Tag.COMMIT):
        session.client_data(msg(Tag.BEGIN, {}))
        session.link_data(1, success())
    session.client_data(pending)
    commands = session.link_eof(1, "the backend closed")
    # No invented FAILURE: a driver sees the dead connection it would see directly
    # (and, after COMMIT, knows the commit may have happened).
    assert commands == [DISARMED, CloseClient("the backend closed")]
    assert recorder.sides[-1] == ("primary", "closed")


def test_backend_lost_mid_record_forwards_what_came_then_closes() -> None:
    session = logged_in()
    session.client_data(RUN + PULL)
    head = success(fields=["x"]) + record(1) + record("b" * 100)[:20]
    assert session.link_data(1, head) == [SendToClient(head)]
    assert session.link_eof(1, "lost") == [DISARMED, CloseClient("lost")]


def test_idle_backend_closing_closes_the_client_quietly() -> None:
    recorder = Recorder()
    session = logged_in(recorder)
    assert session.link_eof(1, "the backend closed") == [
        DISARMED,
        CloseClient("the backend closed"),
    ]
    assert recorder.errors == [] and recorder.notices


def test_wrong_password_then_pipelining_is_the_clients_failure() -> None:
    recorder = Recorder()
    session = negotiated(recorder)
    session.client_data(HELLO + LOGON + RUN + PULL)
    unauthorized = chunk(
        messages.failure("Neo.ClientError.Security.Unauthorized", "bad credentials", V58)
    )
    session.link_data(1, success(server="Neo4j/5.26.0") + unauthorized)
    assert session.link_eof(1, "the backend closed") == [
        DISARMED,
        CloseClient("the backend closed"),
    ]
    assert recorder.errors == []
    assert recorder.failures == [("client", "ClientError")]


def test_backend_breaking_the_framing_closes_the_client() -> None:
    recorder = Recorder()
    session = logged_in(recorder)
    session.client_data(RUN + PULL)
    commands = session.link_data(1, b"\x00\x01\x00\x00\x00")  # a one-byte message
    assert isinstance(commands[-1], CloseClient)
    assert to_client(commands) == b""
    assert recorder.sides == [("primary", "framing")]


def test_transaction_boundaries_are_known() -> None:
    session = logged_in()
    conversation = session.conversation
    assert conversation is not None
    session.client_data(msg(Tag.BEGIN, {}) + msg(Tag.RUN, "CREATE ()", {}, {}) + PULL)
    session.link_data(1, success() + success(fields=[]) + success())
    assert conversation.in_transaction
    assert not conversation.at_boundary
    session.client_data(msg(Tag.COMMIT))
    session.link_data(1, success(bookmark="FB:1"))
    assert conversation.at_boundary


def test_a_request_after_a_failed_login_finds_the_connection_closed_not_a_proxy_answer() -> None:
    # The server hangs up after a failed login; a request that reaches the proxy
    # before the hang-up does must not get an answer the server would never send.
    recorder = Recorder()
    session = negotiated(recorder)
    session.client_data(HELLO + LOGON)
    unauthorized = chunk(
        messages.failure("Neo.ClientError.Security.Unauthorized", "bad credentials", V58)
    )
    session.link_data(1, success(server="Neo4j/5.26.0") + unauthorized)
    commands = session.client_data(RUN + PULL)
    assert to_client(commands) == b""
    assert commands[-1] == CloseClient("the server ended the conversation")
    assert not any(isinstance(c, SendToLink) for c in commands)
    assert recorder.errors == []
