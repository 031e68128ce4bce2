"""The replay's own Bolt client: a handshake left unanswered is tried again, then named."""

from __future__ import annotations

import asyncio

import pytest

from boltproxy.shadow.client import ClientError, RawBoltClient
from tests.support.fakeneo import NEO4J_5_26, FakeNeo4j

AUTH = {"scheme": "basic", "principal": "neo4j", "credentials": "password"}


def test_an_unanswered_handshake_is_retried_on_a_new_connection() -> None:
    # FalkorDB, after connection churn, accepts a connection and never answers it.
    async def scenario() -> None:
        async with FakeNeo4j(profile=NEO4J_5_26) as server:
            server.silent_handshakes = 1
            client = await RawBoltClient.connect(server.uri, AUTH, handshake_timeout=0.5)
            try:
                assert client.version >= (5, 0)
            finally:
                await client.close()
            assert len(server.connections) == 2

    asyncio.run(scenario())


def test_a_server_that_never_answers_is_named_in_the_error() -> None:
    async def scenario() -> None:
        async with FakeNeo4j(profile=NEO4J_5_26) as server:
            server.silent_handshake = True
            with pytest.raises(ClientError, match=r"did not answer the handshake.*\(2 attempts\)"):
                await RawBoltClient.connect(server.uri, AUTH, handshake_timeout=0.2, attempts=2)

    asyncio.run(scenario())
