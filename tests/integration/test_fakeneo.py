"""The scripted fake Neo4j, driven by the official Python driver and by raw sockets.

These tests prove the fake is realistic enough to stand in for Neo4j: if the
official driver is happy with it (versions, auth, transactions, bookmarks,
routing, errors, Bolt 6 vectors) then tests of the proxy built on it mean
something. Raw-socket tests cover what a driver hides (qids, IGNORED, RESET
jumping the queue, the FalkorDB-like handshake, faults).
"""

from __future__ import annotations

import logging
import re
import socket
from collections.abc import Iterator
from typing import Any

import neo4j
import pytest
from neo4j.exceptions import (
    AuthError,
    ConstraintError,
    CypherSyntaxError,
    ServiceUnavailable,
    SessionExpired,
)

from boltproxy.bolt import messages
from boltproxy.bolt.framing import Message, MessageReader, NeedData, chunk
from boltproxy.bolt.handshake import encode_proposals
from boltproxy.bolt.messages import Tag
from tests.support.fakeneo import (
    LEGACY_SLOT1_ONLY,
    NEO4J_5_26,
    NEO4J_2025_10,
    ConnectionLog,
    Failure,
    FakeNeo4j,
    Hangup,
    Profile,
    Result,
    deadlock,
    deprecation,
    run_in_thread,
    token_expired,
)

AUTH = ("neo4j", "password")


@pytest.fixture(scope="module")
def shared() -> Iterator[FakeNeo4j]:
    with run_in_thread(FakeNeo4j(profile=NEO4J_5_26)) as server:
        yield server


@pytest.fixture
def fake(shared: FakeNeo4j) -> Iterator[FakeNeo4j]:
    shared.reset()
    yield shared
    shared.reset()


@pytest.fixture
def driver(fake: FakeNeo4j) -> Iterator[neo4j.Driver]:
    with neo4j.GraphDatabase.driver(fake.uri, auth=AUTH, connection_timeout=5) as client:
        yield client


def authenticated(fake: FakeNeo4j) -> list[ConnectionLog]:
    return [c for c in fake.connections if c.authenticated or c.logons]


# ----------------------------------------------------------------------------- a raw client


class RawBolt:
    """A minimal blocking Bolt client for what drivers hide. Fails fast on silence."""

    def __init__(self, address: str, timeout: float = 10) -> None:
        host, port = address.rsplit(":", 1)
        self.sock = socket.create_connection((host, int(port)), timeout=timeout)
        self.reader = MessageReader()

    def handshake(self, proposals: bytes) -> bytes:
        self.sock.sendall(b"\x60\x60\xb0\x17" + proposals)
        return self.read_exactly(4)

    def read_exactly(self, n: int) -> bytes:
        data = b""
        while len(data) < n:
            piece = self.sock.recv(n - len(data))
            if not piece:
                break
            data += piece
        return data

    def send(self, tag: int, *fields: Any) -> None:
        self.sock.sendall(chunk(messages.encode(tag, *fields)))

    def receive(self) -> tuple[int, list[Any]] | None:
        """The next message, or None at end of stream."""
        while True:
            event = self.reader.next_event()
            if isinstance(event, Message):
                return messages.decode(event.payload)
            if isinstance(event, NeedData):
                data = self.sock.recv(65536)
                if not data:
                    return None
                self.reader.receive_data(data)

    def login(self, version_bytes: bytes = b"\x00\x00\x08\x05") -> None:
        assert self.handshake(version_bytes + bytes(12)) == version_bytes
        self.send(Tag.HELLO, {"user_agent": "raw/1.0"})
        assert self.summary()[0] == Tag.SUCCESS
        self.send(Tag.LOGON, {"scheme": "basic", "principal": "neo4j", "credentials": "password"})
        assert self.summary()[0] == Tag.SUCCESS

    def summary(self) -> tuple[int, dict[str, Any]]:
        message = self.receive()
        assert message is not None, "connection closed"
        tag, fields = message
        assert tag != Tag.RECORD, "expected a summary, got a RECORD"
        return tag, (fields[0] if fields else {})

    def records_then_summary(self) -> tuple[list[list[Any]], tuple[int, dict[str, Any]]]:
        records = []
        while True:
            message = self.receive()
            assert message is not None, "connection closed"
            tag, fields = message
            if tag != Tag.RECORD:
                return records, (tag, fields[0] if fields else {})
            records.append(fields[0])

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def raw(fake: FakeNeo4j) -> Iterator[RawBolt]:
    client = RawBolt(fake.address)
    client.login()
    yield client
    client.close()


# ----------------------------------------------------------------------------- the driver's view


def test_bolt_uri_negotiates_5_8_and_logs_no_credentials(
    fake: FakeNeo4j, driver: neo4j.Driver
) -> None:
    driver.verify_connectivity()
    info = driver.get_server_info()
    assert info.protocol_version == (5, 8)
    assert info.agent == "Neo4j/5.26.0"
    [connection] = authenticated(fake)
    assert connection.version == (5, 8)
    assert connection.request_names[:2] == ["HELLO", "LOGON"]
    assert connection.hello is not None and "user_agent" in connection.hello
    assert connection.credentials_sent
    assert connection.logons == [{"scheme": "basic", "principal": "neo4j"}]


def test_routing_uri_gets_a_table_naming_the_fake_itself(fake: FakeNeo4j) -> None:
    with neo4j.GraphDatabase.driver(fake.routing_uri, auth=AUTH, connection_timeout=5) as client:
        records, _, _ = client.execute_query("RETURN 7 AS x")
        table = client._pool.routing_tables  # type: ignore[attr-defined]
        addresses = {
            str(address)
            for routing in table.values()
            for role in (routing.routers, routing.readers, routing.writers)
            for address in role
        }
    assert [r["x"] for r in records] == [7]
    assert addresses == {fake.address}
    assert any(Tag.ROUTE in c.requests for c in fake.connections)


def test_auto_commit_query_and_parameters_reach_the_log(
    fake: FakeNeo4j, driver: neo4j.Driver
) -> None:
    query = "MATCH (p:Person {name: $name}) RETURN p.age AS age"
    fake.script.returns(query, ["age"], [[42]])
    with driver.session(database="neo4j") as session:
        result = session.run(query, name="Ada")
        assert result.keys() == ["age"]
        assert [r["age"] for r in result] == [42]
        summary = result.consume()
        bookmarks = session.last_bookmarks()
    assert summary.database == "neo4j"
    assert any(b.startswith("FB:fake-") for b in bookmarks.raw_values)  # auto-commit bookmark
    [seen] = [q for c in fake.connections for q in c.queries]
    assert seen.parameters == {"name": "Ada"}
    assert seen.db == "neo4j"
    assert not seen.in_transaction
    assert fake.connections[-1].transactions == []


def test_explicit_and_managed_transactions_carry_bookmarks(
    fake: FakeNeo4j, driver: neo4j.Driver
) -> None:
    with driver.session() as session:
        with session.begin_transaction() as tx:
            assert tx.run("RETURN 1 AS x").single()["x"] == 1  # type: ignore[index]
            tx.commit()
        first = session.last_bookmarks()
        value = session.execute_write(
            lambda tx: tx.run("RETURN 2 AS x").single()["x"]  # type: ignore[index]
        )
        second = session.last_bookmarks()
    assert value == 2
    assert first.raw_values and second.raw_values and first != second
    transactions = [t for c in fake.connections for t in c.transactions]
    assert [t.outcome for t in transactions] == ["committed", "committed"]
    assert {transactions[0].bookmark} == set(first.raw_values)
    # The second transaction was started with the first one's bookmark.
    assert transactions[1].bookmarks == [transactions[0].bookmark]
    assert transactions[1].bookmark is not None
    assert transactions[1].bookmark.startswith("FB:fake-")


def test_rolled_back_transaction_is_logged_as_such(
    fake: FakeNeo4j, driver: neo4j.Driver
) -> None:
    with driver.session() as session, session.begin_transaction() as tx:
        tx.run("RETURN 1 AS x").consume()
        tx.rollback()
    assert [t.outcome for c in fake.connections for t in c.transactions] == ["rolled back"]


def test_two_results_open_in_one_transaction(fake: FakeNeo4j, driver: neo4j.Driver) -> None:
    with driver.session(fetch_size=2) as session, session.begin_transaction() as tx:
        first = tx.run("UNWIND range(1, 5) AS i RETURN i")
        second = tx.run("UNWIND range(10, 13) AS j RETURN j")
        assert [r["j"] for r in second] == [10, 11, 12, 13]
        assert [r["i"] for r in first] == [1, 2, 3, 4, 5]
        tx.commit()


def test_large_result_streams_in_batches(fake: FakeNeo4j, driver: neo4j.Driver) -> None:
    with driver.session() as session:
        result = session.run("UNWIND range(1, $n) AS i RETURN i", n=200_000)
        count = 0
        total = 0
        for record in result:
            count += 1
            total += record["i"]
    assert count == 200_000
    assert total == 200_000 * 200_001 // 2
    pulls = [c.request_names.count("PULL") for c in authenticated(fake)]
    assert sum(pulls) >= 200  # the driver pulled in batches of 1000


def test_unscripted_query_is_a_syntax_error_and_the_connection_recovers(
    driver: neo4j.Driver,
) -> None:
    with pytest.raises(CypherSyntaxError) as caught:
        driver.execute_query("THIS IS NOT CYPHER")
    assert caught.value.code == "Neo.ClientError.Statement.SyntaxError"
    assert caught.value.gql_status == "42001"
    assert driver.execute_query("RETURN 1 AS x").records[0]["x"] == 1


def test_scripted_failure_reaches_the_driver_as_its_exception_class(
    fake: FakeNeo4j, driver: neo4j.Driver
) -> None:
    fake.script.on(
        re.compile(r"^CREATE \(:User"),
        Failure(
            code="Neo.ClientError.Schema.ConstraintValidationFailed",
            message="Node already exists with label `User`",
            gql_status="22N41",
            description="error: data exception - node property uniqueness violation",
            classification="CLIENT_ERROR",
        ),
    )
    with pytest.raises(ConstraintError) as caught:
        driver.execute_query("CREATE (:User {id: 1})")
    assert caught.value.gql_status == "22N41"
    assert "already exists" in (caught.value.message or "")


def test_wrong_password_is_an_auth_error_and_the_server_hangs_up(fake: FakeNeo4j) -> None:
    with (
        neo4j.GraphDatabase.driver(fake.uri, auth=("neo4j", "wrong")) as client,
        pytest.raises(AuthError),
    ):
        client.verify_connectivity()
    failed = [c for c in fake.connections if c.auth_failed]
    assert failed and all(c.closed for c in failed)
    assert all(c.logons == [{"scheme": "basic", "principal": "neo4j"}] for c in failed)


def test_session_auth_switches_user_with_logoff_logon(
    fake: FakeNeo4j, driver: neo4j.Driver
) -> None:
    fake.users["alice"] = "secret"
    driver.execute_query("RETURN 1 AS x")
    with driver.session(auth=("alice", "secret")) as session:
        assert session.run("RETURN 2 AS x").single()["x"] == 2  # type: ignore[index]
    [connection] = authenticated(fake)  # the pooled connection re-authenticated
    assert [logon["principal"] for logon in connection.logons] == ["neo4j", "alice"]
    names = connection.request_names
    assert names[names.index("LOGOFF") + 1] == "LOGON"


def test_deprecations_arrive_as_statuses_on_5_8(fake: FakeNeo4j, driver: neo4j.Driver) -> None:
    fake.script.on("MATCH (n) RETURN id(n) AS id", Result(["id"], [[1]],
                                                          notices=[deprecation("id()")]))
    _, summary, _ = driver.execute_query("MATCH (n) RETURN id(n) AS id")
    assert "notifications" not in summary.metadata
    statuses = summary.metadata["statuses"]
    assert [s["gql_status"] for s in statuses] == ["00000", "01N00"]  # success first, as Neo4j
    assert statuses[1]["neo4j_code"].endswith("FeatureDeprecationWarning")
    assert "01N00" in [s.gql_status for s in summary.gql_status_objects]


def test_deprecations_arrive_as_notifications_before_5_6() -> None:
    old = Profile(name="neo4j-5.13", agent="Neo4j/5.13.0", versions=((5, 4),), manifest=False)
    with run_in_thread(FakeNeo4j(profile=old)) as server:
        server.script.on("RETURN id(n)", Result(["x"], [[1]], notices=[deprecation("id()")]))
        with neo4j.GraphDatabase.driver(server.uri, auth=AUTH) as client:
            _, summary, _ = client.execute_query("RETURN id(n)")
            assert client.get_server_info().protocol_version == (5, 4)
        [connection] = authenticated(server)
    assert "statuses" not in summary.metadata
    assert [n["code"] for n in summary.metadata["notifications"]] == [
        "Neo.ClientNotification.Statement.FeatureDeprecationWarning"
    ]
    assert connection.version == (5, 4)


def test_client_notification_filters_are_honoured(fake: FakeNeo4j) -> None:
    fake.script.on("RETURN id(n)", Result(["x"], [[1]], notices=[deprecation("id()")]))
    with neo4j.GraphDatabase.driver(
        fake.uri, auth=AUTH, notifications_disabled_classifications=["DEPRECATION"]
    ) as client:
        _, summary, _ = client.execute_query("RETURN id(n)")
    assert [s["gql_status"] for s in summary.metadata["statuses"]] == ["00000"]


def test_bolt_4_4_authenticates_in_hello() -> None:
    old = Profile(name="neo4j-4.4", agent="Neo4j/4.4.0", versions=((4, 4),), manifest=False)
    with (
        run_in_thread(FakeNeo4j(profile=old)) as server,
        neo4j.GraphDatabase.driver(server.uri, auth=AUTH) as client,
    ):
        assert client.execute_query("RETURN 3 AS x").records[0]["x"] == 3
        assert client.get_server_info().protocol_version == (4, 4)
        [connection] = authenticated(server)
        assert "LOGON" not in connection.request_names
        assert connection.credentials_sent and connection.authenticated
        assert connection.logons == [{"scheme": "basic", "principal": "neo4j"}]


def test_telemetry_is_sent_only_when_hinted(fake: FakeNeo4j, driver: neo4j.Driver) -> None:
    driver.execute_query("RETURN 1 AS x")
    assert any("TELEMETRY" in c.request_names for c in fake.connections)

    quiet = Profile(name="quiet", agent="Neo4j/5.26.0", versions=((5, 8),),
                    telemetry_enabled=False)
    with (
        run_in_thread(FakeNeo4j(profile=quiet)) as server,
        neo4j.GraphDatabase.driver(server.uri, auth=AUTH) as client,
    ):
        client.execute_query("RETURN 1 AS x")
        assert not any("TELEMETRY" in c.request_names for c in server.connections)


def test_bolt_6_returns_a_vector() -> None:
    from boltproxy.bolt.values import Vector

    with (
        run_in_thread(FakeNeo4j(profile=NEO4J_2025_10)) as server,
        neo4j.GraphDatabase.driver(server.uri, auth=AUTH) as client,
    ):
        server.script.on("RETURN $v AS v", Result(["v"], [[Vector("float32", (1.0, 2.5, -3.0))]]))
        records, _, _ = client.execute_query("RETURN $v AS v", v=[0])
        info = client.get_server_info()
    assert info.protocol_version == (6, 0)
    assert info.agent == "Neo4j/2025.10.1"
    value = records[0]["v"]
    assert isinstance(value, neo4j.vector.Vector)
    assert value.to_native() == [1.0, 2.5, -3.0]


async def test_async_driver_against_an_in_loop_fake() -> None:
    server = FakeNeo4j(profile=NEO4J_2025_10)
    async with server, neo4j.AsyncGraphDatabase.driver(server.uri, auth=AUTH) as client:
        records, _, _ = await client.execute_query("UNWIND range(1, 3) AS i RETURN i")
    assert [r["i"] for r in records] == [1, 2, 3]


def test_logs_never_show_credentials_or_parameters(
    fake: FakeNeo4j, driver: neo4j.Driver, caplog: pytest.LogCaptureFixture
) -> None:
    fake.script.returns("RETURN $secret AS s", ["s"], [["hush"]])
    with caplog.at_level(logging.DEBUG, logger="tests.support.fakeneo"):
        driver.execute_query("RETURN $secret AS s", secret="topsecret-value")
    assert "RUN" in caplog.text  # the fake did log the conversation
    assert "password" not in caplog.text
    assert "topsecret-value" not in caplog.text
    assert "hush" not in caplog.text


# ----------------------------------------------------------------------------- what drivers hide


def test_pull_batches_with_qid_in_a_transaction(fake: FakeNeo4j, raw: RawBolt) -> None:
    raw.send(Tag.BEGIN, {})
    assert raw.summary() == (Tag.SUCCESS, {"db": "neo4j"})
    raw.send(Tag.RUN, "UNWIND range(1, 3) AS i RETURN i", {}, {})
    tag, first = raw.summary()
    raw.send(Tag.RUN, "RETURN 9 AS y", {}, {})
    tag, second = raw.summary()
    assert (first["qid"], second["qid"]) == (0, 1)
    raw.send(Tag.PULL, {"n": 2, "qid": 0})
    assert raw.records_then_summary() == ([[1], [2]], (Tag.SUCCESS, {"has_more": True}))
    raw.send(Tag.PULL, {"n": -1})  # qid -1: the last result opened
    records, (tag, done) = raw.records_then_summary()
    assert records == [[9]] and "has_more" not in done
    raw.send(Tag.DISCARD, {"n": -1, "qid": 0})
    assert raw.records_then_summary()[0] == []
    raw.send(Tag.COMMIT)
    tag, commit = raw.summary()
    assert tag == Tag.SUCCESS and commit["bookmark"].startswith("FB:fake-")


def test_failure_then_ignored_until_reset(raw: RawBolt) -> None:
    raw.send(Tag.RUN, "NOT CYPHER", {}, {})
    raw.send(Tag.PULL, {"n": -1})
    tag, failure = raw.summary()
    assert tag == Tag.FAILURE
    assert failure["neo4j_code"] == "Neo.ClientError.Statement.SyntaxError"
    assert failure["gql_status"] == "42001"
    assert raw.summary()[0] == Tag.IGNORED
    raw.send(Tag.RUN, "RETURN 1 AS x", {}, {})
    assert raw.summary()[0] == Tag.IGNORED
    raw.send(Tag.RESET)
    assert raw.summary()[0] == Tag.SUCCESS
    raw.send(Tag.RUN, "RETURN 1 AS x", {}, {})
    assert raw.summary()[0] == Tag.SUCCESS


def test_reset_interrupts_a_slow_result(fake: FakeNeo4j, raw: RawBolt) -> None:
    fake.script.on("CALL slow()", Result(["x"], [[1]], delay=60))
    raw.send(Tag.RUN, "CALL slow()", {}, {})
    raw.send(Tag.PULL, {"n": -1})
    raw.send(Tag.RESET)
    assert raw.summary()[0] == Tag.SUCCESS  # RUN
    assert raw.summary()[0] == Tag.IGNORED  # PULL, interrupted (else: 60 s then a record)
    assert raw.summary()[0] == Tag.SUCCESS  # RESET


def test_request_illegal_in_state_fails_and_closes(raw: RawBolt) -> None:
    raw.send(Tag.COMMIT)
    tag, failure = raw.summary()
    assert tag == Tag.FAILURE
    assert failure["neo4j_code"] == "Neo.ClientError.Request.Invalid"
    assert raw.receive() is None


def test_legacy_routing_procedure_names_the_fake(fake: FakeNeo4j, raw: RawBolt) -> None:
    raw.send(
        Tag.RUN,
        "CALL dbms.routing.getRoutingTable($context, $database)",
        {"context": {}, "database": None},
        {},
    )
    assert raw.summary()[1]["fields"] == ["ttl", "servers"]
    raw.send(Tag.PULL, {"n": -1})
    [[ttl, servers]], _ = raw.records_then_summary()
    assert ttl > 0
    assert {s["role"] for s in servers} == {"READ", "WRITE", "ROUTE"}
    assert all(s["addresses"] == [fake.address] for s in servers)


def test_manifest_handshake_offers_the_profile_versions(fake: FakeNeo4j) -> None:
    client = RawBolt(fake.address)
    try:
        reply = client.handshake(b"\x00\x00\x01\xff" + bytes(12))
        assert reply == b"\x00\x00\x01\xff"
        count = client.read_exactly(1)[0]
        ranges = client.read_exactly(4 * count)
    finally:
        client.close()
    offered = set()
    for i in range(count):
        _, span, minor, major = ranges[4 * i : 4 * i + 4]
        offered |= {(major, m) for m in range(minor - span, minor + 1)}
    assert offered == set(NEO4J_5_26.versions)


# ----------------------------------------------------------------------------- FalkorDB-like


@pytest.fixture(scope="module")
def slot1() -> Iterator[FakeNeo4j]:
    with run_in_thread(FakeNeo4j(profile=LEGACY_SLOT1_ONLY)) as server:
        yield server


@pytest.mark.parametrize(
    ("slots", "reply"),
    [
        ("00000805" "00000404" "00000000" "00000000", "00000705"),  # 5.8 capped to 5.7
        ("00000305" "00000000" "00000000" "00000000", "00000305"),
        ("000001FF" "00080805" "00020404" "00000003", "00000705"),  # manifest slot read as 5.7
        ("00000404" "00080805" "00000000" "00000000", ""),  # only slot 1 counts
        ("00000005" "00000000" "00000000" "00000000", ""),  # 5.0 is too old
        ("00000006" "00000000" "00000000" "00000000", ""),
    ],
)
def test_slot1_only_profile_reads_only_the_first_slot(
    slot1: FakeNeo4j, slots: str, reply: str
) -> None:
    client = RawBolt(slot1.address)
    try:
        answer = client.handshake(bytes.fromhex(slots))
        # No "00 00 00 00" on a mismatch: FalkorDB just hangs up.
        hung_up = not reply and client.sock.recv(1) == b""
    finally:
        client.close()
    assert answer.hex() == reply
    assert hung_up == (not reply)


def test_encode_proposals_agrees_with_slot1_profile(slot1: FakeNeo4j) -> None:
    client = RawBolt(slot1.address)
    try:
        assert client.handshake(encode_proposals([((5, 6), 0)])) == b"\x00\x00\x06\x05"
    finally:
        client.close()


def test_official_driver_talks_to_the_slot1_profile(slot1: FakeNeo4j) -> None:
    with neo4j.GraphDatabase.driver(slot1.uri, auth=AUTH) as client:
        assert client.execute_query("RETURN 5 AS x").records[0]["x"] == 5
        info = client.get_server_info()
    assert info.protocol_version == (5, 7)
    assert info.agent == "Neo4j/5.13.0"


# ----------------------------------------------------------------------------- faults


def test_refused_connections_make_the_driver_fail(fake: FakeNeo4j) -> None:
    fake.refuse_connections = True
    with (
        neo4j.GraphDatabase.driver(fake.uri, auth=AUTH, connection_timeout=2) as client,
        pytest.raises(ServiceUnavailable),
    ):
        client.verify_connectivity()
    assert fake.connections and all(c.closed_by == "fault" for c in fake.connections)


def test_silent_handshake_times_the_driver_out(fake: FakeNeo4j) -> None:
    fake.silent_handshake = True
    with (
        neo4j.GraphDatabase.driver(
            fake.uri, auth=AUTH, connection_timeout=0.5, connection_acquisition_timeout=1
        ) as client,
        pytest.raises(ServiceUnavailable),
    ):
        client.verify_connectivity()
    assert all(c.version is None for c in fake.connections)


def test_delayed_handshake_still_negotiates(fake: FakeNeo4j) -> None:
    fake.delay_handshake = 0.2
    fake.reply_delay = 0.05
    with neo4j.GraphDatabase.driver(fake.uri, auth=AUTH, connection_timeout=10) as client:
        assert client.execute_query("RETURN 4 AS x").records[0]["x"] == 4


def test_close_after_records_cuts_the_stream(fake: FakeNeo4j) -> None:
    fake.close_after_records = 5
    client = RawBolt(fake.address)
    try:
        client.login()
        client.send(Tag.RUN, "UNWIND range(1, 100) AS i RETURN i", {}, {})
        assert client.summary()[0] == Tag.SUCCESS
        client.send(Tag.PULL, {"n": 3})
        assert client.records_then_summary()[0] == [[1], [2], [3]]
        client.send(Tag.PULL, {"n": -1})
        received = []
        while (message := client.receive()) is not None:
            received.append(message)
    finally:
        client.close()
    assert received == [(Tag.RECORD, [[4]]), (Tag.RECORD, [[5]])]
    assert fake.close_after_records is None  # one-shot
    assert fake.connections[-1].closed_by == "fault"


def test_close_after_records_surfaces_in_the_driver(fake: FakeNeo4j, driver: neo4j.Driver) -> None:
    driver.verify_connectivity()
    fake.close_after_records = 10
    with (
        driver.session() as session,
        pytest.raises((ServiceUnavailable, SessionExpired)),
    ):
        list(session.run("UNWIND range(1, 5000) AS i RETURN i"))


# ------------------------------------------------------------------------- scripted misbehaviour


def _rest_of_stream(client: RawBolt) -> bytes | type[ConnectionResetError]:
    """What arrives until the server hangs up: bytes after a clean close, or the reset."""
    data = b""
    try:
        while piece := client.sock.recv(65536):
            data += piece
    except ConnectionResetError:
        return ConnectionResetError
    return data


@pytest.mark.parametrize(("how", "seen"), [(Hangup.ABORT, ConnectionResetError), (Hangup.FIN, b"")])
def test_drop_after_a_request_hangs_up_unanswered(
    fake: FakeNeo4j, raw: RawBolt, how: Hangup, seen: object
) -> None:
    fake.drop_after(Tag.RUN, how, nth=2)
    raw.send(Tag.RUN, "RETURN 1 AS x", {}, {})
    raw.send(Tag.PULL, {"n": -1})
    assert raw.summary()[0] == Tag.SUCCESS
    records, (tag, _) = raw.records_then_summary()
    assert (records, tag) == ([[1]], Tag.SUCCESS)
    # In one write: the hang-up may come before a second write could be made.
    raw.sock.sendall(
        chunk(messages.encode(Tag.RUN, "RETURN 2 AS x", {}, {}))
        + chunk(messages.encode(Tag.PULL, {"n": -1}))
    )
    assert _rest_of_stream(raw) == seen
    connection = fake.connections[-1]
    assert connection.closed_by == "fault"
    assert connection.request_names[-3:] == ["RUN", "PULL", "RUN"]  # the last PULL: never read


def test_drop_after_commit_can_commit_first(fake: FakeNeo4j, raw: RawBolt) -> None:
    fake.drop_after(Tag.COMMIT, execute=True)
    raw.send(Tag.BEGIN, {})
    assert raw.summary()[0] == Tag.SUCCESS
    raw.send(Tag.COMMIT)
    assert _rest_of_stream(raw) is ConnectionResetError
    assert [t.outcome for t in fake.connections[-1].transactions] == ["committed"]


def test_fail_request_answers_a_failure_and_may_hang_up(fake: FakeNeo4j) -> None:
    fake.fail_request(Tag.LOGON, token_expired(), hang_up=True)
    client = RawBolt(fake.address)
    try:
        assert client.handshake(b"\x00\x00\x08\x05" + bytes(12)) == b"\x00\x00\x08\x05"
        client.send(Tag.HELLO, {"user_agent": "raw/1.0"})
        assert client.summary()[0] == Tag.SUCCESS
        client.send(Tag.LOGON, {"scheme": "basic", "principal": "neo4j",
                                "credentials": "password"})
        tag, failure = client.summary()
        assert client.receive() is None  # then a clean close
    finally:
        client.close()
    assert tag == Tag.FAILURE
    assert failure["neo4j_code"] == "Neo.ClientError.Security.TokenExpired"
    assert fake.connections[-1].closed_by == "fault"


def test_transient_failure_once_then_the_query_answers(fake: FakeNeo4j, raw: RawBolt) -> None:
    fake.fail_request(Tag.RUN, deadlock())
    raw.send(Tag.RUN, "RETURN 1 AS x", {}, {})
    tag, failure = raw.summary()
    assert (tag, failure["gql_status"]) == (Tag.FAILURE, "50N05")
    raw.send(Tag.RESET)
    assert raw.summary()[0] == Tag.SUCCESS
    raw.send(Tag.RUN, "RETURN 1 AS x", {}, {})
    assert raw.summary()[0] == Tag.SUCCESS


@pytest.mark.parametrize("how", [Hangup.ABORT, Hangup.FIN])
def test_drop_after_records_delivers_exactly_n(fake: FakeNeo4j, raw: RawBolt, how: Hangup) -> None:
    fake.drop_after_records(2, how)
    raw.send(Tag.RUN, "UNWIND range(1, 9) AS i RETURN i", {}, {})
    assert raw.summary()[0] == Tag.SUCCESS
    raw.send(Tag.PULL, {"n": -1})
    framer = MessageReader()
    rest = _rest_of_stream(raw)
    if how is Hangup.FIN:
        assert isinstance(rest, bytes)
        framer.receive_data(rest)
        records = []
        while isinstance(event := framer.next_event(), Message):
            records.append(messages.decode(event.payload))
        assert records == [(Tag.RECORD, [[1]]), (Tag.RECORD, [[2]])]
    else:
        assert rest is ConnectionResetError  # a reset may also discard what was in flight
    assert fake.connections[-1].closed_by == "fault"


def test_noops_tiny_chunks_and_split_writes_reach_the_wire(fake: FakeNeo4j, raw: RawBolt) -> None:
    fake.noops_between_messages = 1
    fake.max_chunk = 2
    fake.write_size = 3
    raw.send(Tag.RUN, "RETURN 1 AS x", {}, {})
    raw.send(Tag.PULL, {"n": -1})
    raw.send(Tag.GOODBYE)
    wire = _rest_of_stream(raw)
    assert isinstance(wire, bytes)
    assert wire.startswith(b"\x00\x00\x00\x02")  # a NOOP, then a 2-byte chunk
    framer = MessageReader()
    framer.receive_data(wire)
    events = []
    while not isinstance(event := framer.next_event(), NeedData):
        events.append(messages.decode(event.payload)[0] if isinstance(event, Message) else "NOOP")
    assert events == ["NOOP", Tag.SUCCESS, "NOOP", Tag.RECORD, "NOOP", Tag.SUCCESS]


def test_keepalives_while_a_result_is_computed(fake: FakeNeo4j, raw: RawBolt) -> None:
    fake.noop_interval = 0.05
    fake.script.on("CALL slow()", Result(["x"], [[1]], delay=0.3))
    raw.send(Tag.RUN, "CALL slow()", {}, {})
    assert raw.summary()[0] == Tag.SUCCESS
    raw.send(Tag.PULL, {"n": -1})
    raw.send(Tag.GOODBYE)
    wire = _rest_of_stream(raw)
    assert isinstance(wire, bytes)
    noops = 0
    while wire.startswith(b"\x00\x00"):
        noops, wire = noops + 1, wire[2:]
    assert noops >= 3
    framer = MessageReader()
    framer.receive_data(wire)
    tags = []
    while isinstance(event := framer.next_event(), Message):
        tags.append(messages.decode(event.payload)[0])
    assert tags == [Tag.RECORD, Tag.SUCCESS]
