"""Bad input and backend failures: clear answers, clean closes, nothing else affected."""

from __future__ import annotations

import logging
import os
import random
import socket
import time
from collections.abc import Callable, Iterator

import neo4j
import pytest
from neo4j.exceptions import DriverError, Neo4jError

from boltproxy import metrics
from boltproxy.bolt import messages
from boltproxy.bolt.framing import chunk
from boltproxy.bolt.handshake import MAGIC, encode_proposals
from boltproxy.bolt.messages import Tag
from boltproxy.sandbox.ports import free_port
from tests.support.fakeneo import NEO4J_5_26, FakeNeo4j, run_in_thread
from tests.support.proxy import ThreadedProxy, proxy_settings, running_proxy
from tests.support.rawbolt import HELLO, LOGON, RawBolt, decode_all, msg

AUTH = ("neo4j", "password")
MAX_MESSAGE = 1 << 16


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeNeo4j]:
    with run_in_thread(FakeNeo4j(profile=NEO4J_5_26)) as server:
        yield server


@pytest.fixture(scope="module")
def proxy(fake: FakeNeo4j) -> Iterator[ThreadedProxy]:
    settings = proxy_settings(
        fake.uri, relay={"max_message_bytes": MAX_MESSAGE, "client_handshake_timeout": 2}
    )
    with running_proxy(settings) as running:
        yield running


@pytest.fixture(autouse=True)
def _clear_faults(fake: FakeNeo4j) -> Iterator[None]:
    fake.reset_faults()
    yield
    fake.reset_faults()


def served_correctly(proxy: ThreadedProxy) -> None:
    """A well-behaved driver still gets right answers."""
    with neo4j.GraphDatabase.driver(proxy.uri, auth=AUTH, connection_timeout=5) as driver:
        records = driver.execute_query("UNWIND range(1, 1000) AS i RETURN i").records
    assert [r["i"] for r in records] == list(range(1, 1001))


def proxy_warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        r.getMessage()
        for r in caplog.records
        if r.name.startswith("boltproxy") and r.levelno >= logging.WARNING
    ]


def failure_code(data: bytes) -> str | None:
    replies = decode_all(data)
    assert replies and replies[-1][0] == Tag.FAILURE, replies
    return messages.failure_code(replies[-1][1][0])


def test_wrong_preamble_is_closed_with_one_log_line(
    proxy: ThreadedProxy, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING), RawBolt(proxy.port) as raw:
        raw.send(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        assert raw.read_until_closed() == b""
    time.sleep(0.2)
    lines = proxy_warnings(caplog)
    assert len(lines) == 1 and "preamble" in lines[0]
    served_correctly(proxy)


def test_no_common_version_gets_zeros(proxy: ThreadedProxy) -> None:
    with RawBolt(proxy.port) as raw:
        raw.send(MAGIC + encode_proposals([((3, 0), 0), ((2, 0), 0)]))
        assert raw.read_until_closed() == b"\x00\x00\x00\x00"
    served_correctly(proxy)


def test_silent_client_is_dropped_after_the_handshake_timeout(proxy: ThreadedProxy) -> None:
    with RawBolt(proxy.port) as raw:
        raw.send(MAGIC)
        started = time.monotonic()
        assert raw.read_until_closed() == b""
        assert time.monotonic() - started < 8
    served_correctly(proxy)


@pytest.mark.parametrize(
    ("name", "data", "code"),
    [
        ("malformed packstream", chunk(b"\xb3\x10\xd0\xff"), messages.INVALID_FORMAT),
        ("not a structure", chunk(b"\x91\x01"), messages.INVALID_FORMAT),
        ("unknown message", msg(0x55, {}), messages.INVALID_FORMAT),
        ("wrong field count", msg(Tag.PULL), messages.INVALID_FORMAT),
        ("illegal in state", msg(Tag.COMMIT), messages.PROTOCOL_VIOLATION),
        ("oversize", msg(Tag.RUN, "x" * (MAX_MESSAGE + 10), {}, {}), messages.PROTOCOL_VIOLATION),
    ],
)
def test_bad_message_gets_a_failure_then_close(
    proxy: ThreadedProxy, caplog: pytest.LogCaptureFixture, name: str, data: bytes, code: str
) -> None:
    with caplog.at_level(logging.WARNING), RawBolt(proxy.port) as raw:
        raw.login()
        raw.send(data)
        assert failure_code(raw.read_until_closed()) == code
    time.sleep(0.2)
    assert len(proxy_warnings(caplog)) == 1, name
    served_correctly(proxy)


def test_truncated_message_closes_quietly(
    proxy: ThreadedProxy, fake: FakeNeo4j, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING), RawBolt(proxy.port) as raw:
        raw.login()
        raw.send(msg(Tag.RUN, "RETURN 1 AS x", {}, {})[:7])
    time.sleep(0.3)
    lines = proxy_warnings(caplog)
    assert len(lines) == 1 and "truncated" in lines[0]
    served_correctly(proxy)


def test_credentials_and_parameters_never_reach_the_log(
    proxy: ThreadedProxy, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.DEBUG, logger="boltproxy"), RawBolt(proxy.port) as raw:
        raw.login()
        raw.send(msg(Tag.RUN, "RETURN $secret AS x", {"secret": "hunter2-param"}, {}))
        raw.send(chunk(b"\xb1\x10\xc7"))  # and a bad message, so something is logged
        raw.read_until_closed()
    text = "\n".join(r.getMessage() for r in caplog.records)
    assert "password" not in text and "hunter2-param" not in text


def open_files() -> int:
    return len(os.listdir("/proc/self/fd"))


def backend_links() -> float:
    return metrics.REGISTRY.get_sample_value(
        "boltproxy_open_connections", {"side": "backend"}
    ) or 0.0


def wait_for(condition: Callable[[], bool], seconds: float = 10) -> bool:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


def test_fuzzed_input_leaves_the_proxy_serving_and_leaks_nothing(proxy: ThreadedProxy) -> None:
    served_correctly(proxy)  # the driver's pool is closed again: a baseline without clients
    assert wait_for(lambda: not proxy.server._connections)
    files, links = open_files(), backend_links()
    rng = random.Random(20261124)
    valid = (
        MAGIC
        + encode_proposals([((5, 8), 8)])
        + HELLO
        + LOGON
        + msg(Tag.RUN, "RETURN 1 AS x", {"a": [1, 2.5, "x"]}, {})
        + msg(Tag.PULL, {"n": -1})
    )
    deadline = time.monotonic() + 6
    cases = 0
    while time.monotonic() < deadline:
        data = bytearray(valid)
        kind = rng.randrange(4)
        if kind == 0:
            data = bytearray(rng.randbytes(rng.randrange(1, 200)))
        elif kind == 1:
            for _ in range(rng.randrange(1, 6)):
                data[rng.randrange(len(data))] = rng.randrange(256)
        elif kind == 2:
            data = data[: rng.randrange(len(data))]
        else:
            cut = rng.randrange(20, len(data))
            data[cut:cut] = rng.randbytes(rng.randrange(1, 30))
        with RawBolt(proxy.port, timeout=5) as raw:
            try:
                raw.send(bytes(data))
                raw.sock.shutdown(socket.SHUT_WR)
                raw.read_until_closed()
            except OSError:
                pass
        cases += 1
    assert cases > 50
    # Every client is gone: so must be every backend link and socket it caused,
    # including links still connecting when their client left.
    assert wait_for(lambda: not proxy.server._connections)
    assert wait_for(lambda: backend_links() == links), (backend_links(), links)
    assert wait_for(lambda: open_files() <= files), (open_files(), files)
    served_correctly(proxy)


def test_clients_leaving_during_the_backend_handshake_leak_no_socket(
    fake: FakeNeo4j, proxy: ThreadedProxy
) -> None:
    assert wait_for(lambda: not proxy.server._connections)
    files = open_files()
    fake.delay_handshake = 0.3
    for _ in range(40):
        with RawBolt(proxy.port) as raw:
            raw.send(MAGIC + encode_proposals([((5, 8), 8)]))
    assert wait_for(lambda: not proxy.server._connections)
    assert wait_for(lambda: open_files() <= files), (open_files(), files)


# --- backend failures -----------------------------------------------------------------


def test_unreachable_primary_closes_the_handshake_unanswered() -> None:
    # Directly, a driver cannot connect; through the proxy it must see the same,
    # not a handshake answered by the proxy and then an error it would retry.
    dead = f"bolt://127.0.0.1:{free_port()}"
    settings = proxy_settings(dead)
    settings.backends["blue"].connect_attempts = 2
    with running_proxy(settings) as proxy, RawBolt(proxy.port) as raw:
        started = time.monotonic()
        assert raw.handshake() == b""
        assert time.monotonic() - started < 10
        health = proxy.call(proxy.server.health())
        assert health["status"] == "unavailable"


def test_unreachable_primary_makes_drivers_fail_fast() -> None:
    settings = proxy_settings(f"bolt://127.0.0.1:{free_port()}")
    with (
        running_proxy(settings) as proxy,
        neo4j.GraphDatabase.driver(
            proxy.uri, auth=AUTH, connection_timeout=5, max_transaction_retry_time=2
        ) as driver,
    ):
        started = time.monotonic()
        with pytest.raises((DriverError, Neo4jError)):
            driver.execute_query("RETURN 1 AS x")
        assert time.monotonic() - started < 20


def test_silent_backend_handshake_leaves_the_client_unanswered(
    fake: FakeNeo4j, proxy: ThreadedProxy, caplog: pytest.LogCaptureFixture
) -> None:
    backend = proxy.server.backends["blue"]
    fake.silent_handshake = True
    with caplog.at_level(logging.WARNING), RawBolt(proxy.port, timeout=30) as raw:
        started = time.monotonic()
        assert raw.handshake() == b""
        budget = backend.settings.handshake_timeout * backend.settings.connect_attempts + 5
        assert time.monotonic() - started < budget
    # The log blames the backend that was waited for, not the client.
    assert any("primary error" in line for line in proxy_warnings(caplog))
    fake.reset_faults()
    served_correctly(proxy)


def test_backend_dying_mid_stream(fake: FakeNeo4j, proxy: ThreadedProxy) -> None:
    with RawBolt(proxy.port) as raw:
        raw.login()
        fake.close_after_records = 500
        raw.send(msg(Tag.RUN, "UNWIND range(1, 100000) AS i RETURN i", {}, {}))
        raw.send(msg(Tag.PULL, {"n": -1}))
        replies = decode_all(raw.read_until_closed())
    tags = [tag for tag, _ in replies]
    # What the backend sent, then the connection ends: no FAILURE of the proxy's own.
    assert tags[0] == Tag.SUCCESS
    assert set(tags[1:]) == {Tag.RECORD}
    served_correctly(proxy)


def test_driver_retries_a_managed_transaction_after_a_backend_death(
    fake: FakeNeo4j, proxy: ThreadedProxy
) -> None:
    fake.close_after_records = 10
    with (
        neo4j.GraphDatabase.driver(proxy.uri, auth=AUTH, connection_timeout=5) as driver,
        driver.session() as session,
    ):
        count = session.execute_read(
            lambda tx: len(list(tx.run("UNWIND range(1, 5000) AS i RETURN i")))
        )
    assert count == 5000


def test_refusing_backend_closes_the_handshake_unanswered(
    fake: FakeNeo4j, proxy: ThreadedProxy
) -> None:
    fake.refuse_connections = True
    with RawBolt(proxy.port, timeout=30) as raw:
        assert raw.handshake() == b""
    fake.reset_faults()
    served_correctly(proxy)


def test_a_backend_that_comes_up_later_is_probed_and_used() -> None:
    port = free_port()
    settings = proxy_settings(f"bolt://127.0.0.1:{port}")
    with running_proxy(settings) as proxy:
        assert not proxy.server.backends["blue"].up
        with run_in_thread(FakeNeo4j(profile=NEO4J_5_26, port=port)):
            with neo4j.GraphDatabase.driver(proxy.uri, auth=AUTH) as driver:
                assert driver.get_server_info().protocol_version == (5, 8)
                assert driver.execute_query("RETURN 1 AS x").records[0]["x"] == 1
            assert wait_for(lambda: proxy.server.backends["blue"].up)


def test_a_client_that_goes_quiet_after_the_handshake_is_dropped(fake: FakeNeo4j) -> None:
    settings = proxy_settings(
        fake.uri, relay={"client_handshake_timeout": 0.5, "client_idle_before_auth_timeout": 0.5}
    )
    with running_proxy(settings) as proxy:
        with RawBolt(proxy.port) as raw:
            assert raw.handshake() == b"\x00\x00\x08\x05"
            started = time.monotonic()
            assert raw.read_until_closed() == b""  # never sent HELLO
            assert time.monotonic() - started < 5
        with RawBolt(proxy.port) as raw:
            raw.handshake()
            raw.send(HELLO + LOGON[:5])  # stops inside a message before logging in
            hello_reply = raw.read_messages(1)
            assert hello_reply[0][0] == Tag.SUCCESS
            assert raw.read_until_closed() == b""
        assert wait_for(lambda: not proxy.server._connections)
        assert wait_for(lambda: backend_links() == 0)


def test_everything_sent_before_the_backend_answered_is_relayed(fake: FakeNeo4j) -> None:
    # The handshake waits for the backend; a client pipelining in many packets
    # meanwhile loses nothing.
    fake.delay_handshake = 0.5
    settings = proxy_settings(fake.uri)
    with running_proxy(settings) as proxy, RawBolt(proxy.port) as raw:
        for part in (
            MAGIC + encode_proposals([((5, 8), 8)]),
            HELLO,
            LOGON,
            msg(Tag.RUN, "RETURN 1 AS x", {}, {}),
            msg(Tag.PULL, {"n": -1}),
        ):
            raw.send(part)
        assert raw.read_exactly(4) == b"\x00\x00\x08\x05"
        tags = [tag for tag, _ in raw.read_messages(5)]
        assert tags == [Tag.SUCCESS, Tag.SUCCESS, Tag.SUCCESS, Tag.RECORD, Tag.SUCCESS]


def test_health_follows_a_dying_backend_and_answers_at_once() -> None:
    port = free_port()
    settings = proxy_settings(f"bolt://127.0.0.1:{port}", relay={"health_check_interval": 0.2})
    proxy = ThreadedProxy(settings)
    try:
        with run_in_thread(FakeNeo4j(profile=NEO4J_5_26, port=port)):
            proxy.start()
            assert proxy.call(proxy.server.health())["status"] == "ok"
        # The backend has stopped: the background checks notice without any client.
        backend = proxy.server.backends["blue"]
        assert wait_for(lambda: not backend.up)
        started = time.monotonic()
        assert proxy.call(proxy.server.health())["status"] == "unavailable"
        assert time.monotonic() - started < 0.5  # no probe on the request's path
        # A refused connection is named as such on every loop, not as a version problem.
        assert "cannot connect" in (backend.last_error or "")
    finally:
        proxy.stop()
