"""Bolt itself against real Neo4j, byte by byte: straight to the server vs through the proxy.

What FalkorDB could never show: the manifest handshake (5.26 offers up to Bolt
5.8, 2026.x up to 6.1), the legacy handshake's choice among proposals, and
LOGON / LOGOFF / LOGON as another user on one connection. The proxy negotiates
for itself, so its offer is compared with the server's as a set of versions.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from boltproxy.bolt.messages import Tag
from tests.support.neo4j import Neo4jHandle
from tests.support.proxy import ThreadedProxy, proxy_settings, running_proxy
from tests.support.rawbolt import RawBolt, decode_all, msg
from tests.support.real_bolt import (
    MANIFEST_V1,
    choose,
    handshake_bytes,
    hello,
    logon,
    proposal,
    read_manifest,
    run_pull,
    summary_shape,
)
from tests.support.real_clients import temporary_user

pytestmark = pytest.mark.e2e

TOP_VERSION = {"blue": (5, 8), "green": (6, 1)}
LOWEST_PROXIED = (4, 4)  # the proxy speaks Bolt 4.4 and later (see README)
# Keys that differ from one connection (or transaction) to the next, not between paths.
PER_CONNECTION = ("connection_id", "advertised_address", "t_first", "t_last", "bookmark")


@dataclass
class Side:
    name: str
    handle: Neo4jHandle
    proxy: ThreadedProxy

    def ports(self) -> dict[str, int]:
        return {"direct": self.handle.bolt_port, "proxy": self.proxy.port}


@pytest.fixture(scope="module")
def real_proxies(
    neo4j_blue: Neo4jHandle, neo4j_green: Neo4jHandle
) -> Iterator[dict[str, ThreadedProxy]]:
    with (
        running_proxy(proxy_settings(neo4j_blue.uri)) as blue,
        running_proxy(proxy_settings(neo4j_green.uri)) as green,
    ):
        yield {"blue": blue, "green": green}


@pytest.fixture(params=["blue", "green"])
def side(request: pytest.FixtureRequest, real_proxies: dict[str, ThreadedProxy]) -> Side:
    handle: Neo4jHandle = request.getfixturevalue(f"neo4j_{request.param}")
    return Side(request.param, handle, real_proxies[request.param])


def test_manifest_offer_is_the_servers_from_bolt_4_4_on(side: Side) -> None:
    offers = {}
    for path, port in side.ports().items():
        with RawBolt(port) as bolt:
            offers[path] = read_manifest(bolt)
    direct, proxied = offers["direct"], offers["proxy"]
    assert direct.echo == proxied.echo == MANIFEST_V1
    assert max(direct.versions) == max(proxied.versions) == TOP_VERSION[side.name]
    assert proxied.versions == {v for v in direct.versions if v >= LOWEST_PROXIED}
    assert proxied.capabilities == direct.capabilities


def _manifest_conversation(port: int, auth: tuple[str, str], top: tuple[int, int]) -> list[Any]:
    with RawBolt(port) as bolt:
        offer = read_manifest(bolt)
        choose(bolt, max(offer.versions))
        bolt.send(hello() + logon(*auth))
        replies = bolt.read_messages(2)
        bolt.send(run_pull("RETURN 1 AS one, $p AS p, date('2024-02-29') AS d", {"p": [1.5, "x"]}))
        replies += bolt.read_messages(3)
        bolt.send(msg(Tag.GOODBYE))
        assert bolt.read_until_closed() == b""
    assert max(offer.versions) == top
    shapes: list[Any] = [summary_shape(reply, *PER_CONNECTION) for reply in replies]
    shapes[3] = replies[3]  # the RECORD, whole
    return shapes


def test_conversation_after_a_manifest_handshake_is_the_same(side: Side) -> None:
    top = TOP_VERSION[side.name]
    seen = {path: _manifest_conversation(port, side.handle.auth, top)
            for path, port in side.ports().items()}
    assert seen["direct"] == seen["proxy"]
    tags = [shape[0] for shape in seen["proxy"]]
    assert tags == [Tag.SUCCESS, Tag.SUCCESS, Tag.SUCCESS, Tag.RECORD, Tag.SUCCESS]
    hello_reply = seen["proxy"][0][1]
    assert hello_reply["server"] == f"Neo4j/{side.handle.version}"
    assert hello_reply["protocol_version"] == "{}.{}".format(*top)


LEGACY_PROPOSALS = {
    "5.8 range 8, 4.4": [proposal(5, 8, 8), proposal(4, 4)],
    "6.1 range 1, 5.8 range 8, 4.4": [proposal(6, 1, 1), proposal(5, 8, 8), proposal(4, 4)],
    "6.0 only": [proposal(6, 0)],
    "5.4 range 4": [proposal(5, 4, 4)],
    "4.4 only": [proposal(4, 4)],
    "5.5 only (never released)": [proposal(5, 5)],
    "9.9 then 5.7": [proposal(9, 9), proposal(5, 7)],
}


@pytest.mark.parametrize("proposals", LEGACY_PROPOSALS.values(), ids=LEGACY_PROPOSALS.keys())
def test_legacy_handshake_picks_what_the_server_picks(side: Side, proposals: list[bytes]) -> None:
    replies = {}
    for path, port in side.ports().items():
        with RawBolt(port) as bolt:
            bolt.send(handshake_bytes(*proposals))
            replies[path] = bolt.read_exactly(4)
    assert replies["proxy"] == replies["direct"], replies


def test_bolt_4_3_and_older_stop_at_the_proxy(side: Side) -> None:
    """A known difference: the server still speaks Bolt 4.0-4.3; the proxy starts at 4.4."""
    replies = {}
    for path, port in side.ports().items():
        with RawBolt(port) as bolt:
            bolt.send(handshake_bytes(proposal(4, 3, 3)))
            replies[path] = bolt.read_exactly(4)
    assert replies == {"direct": bytes([0, 0, 3, 4]), "proxy": bytes(4)}


def _logoff_logon(port: int, auth: tuple[str, str], other: tuple[str, str]) -> list[Any]:
    """LOGON, LOGOFF, LOGON as another user, then a LOGON with a wrong password.

    The query behind the wrong LOGON goes in the same write: Neo4j answers the LOGON
    with FAILURE and hangs up, leaving it unanswered.
    """
    who = run_pull("SHOW CURRENT USER YIELD user RETURN user")
    with RawBolt(port) as bolt:
        bolt.send(handshake_bytes(proposal(5, 8, 8)))
        assert bolt.read_exactly(4) == bytes([0, 0, 8, 5])
        bolt.send(hello() + logon(*auth) + who)
        replies = bolt.read_messages(5)
        bolt.send(msg(Tag.LOGOFF) + logon(*other) + who)
        replies += bolt.read_messages(5)
        bolt.send(msg(Tag.LOGOFF) + logon(other[0], other[1] + "-wrong") + who)
        replies += decode_all(bolt.read_until_closed())
    shapes: list[Any] = []
    for tag, fields in replies:
        if tag == Tag.RECORD:  # the user's name, the other one's as a placeholder
            shapes.append((tag, ["<other>" if fields[0] == [other[0]] else fields[0]]))
        else:
            shapes.append(summary_shape((tag, fields), *PER_CONNECTION))
    return shapes


def test_logoff_and_logon_as_another_user_on_one_connection(side: Side) -> None:
    seen = {}
    for path, port in side.ports().items():
        # A user per path: a wrong password counts towards Neo4j's lockout (3 in a row).
        with temporary_user(side.handle) as other:
            seen[path] = _logoff_logon(port, side.handle.auth, other)
    assert seen["direct"] == seen["proxy"]
    users = [fields[0] for tag, fields in seen["proxy"] if tag == Tag.RECORD]
    assert users == [[side.handle.auth[0]], "<other>"]
    assert [tag for tag, _ in seen["proxy"][10:]] == [Tag.SUCCESS, Tag.FAILURE]  # then closed
    failure = seen["proxy"][11]
    assert failure[1].get("neo4j_code", failure[1].get("code")) == (
        "Neo.ClientError.Security.Unauthorized"
    )
