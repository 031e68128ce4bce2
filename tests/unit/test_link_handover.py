"""A backend link's transport is handed to its owner once negotiated (no sockets)."""

from __future__ import annotations

import asyncio
from typing import Any, cast

from boltproxy.proxy.link import BackendProtocol


class FakeTransport:
    def __init__(self) -> None:
        self.protocol: Any = None

    def set_protocol(self, protocol: Any) -> None:
        self.protocol = protocol


class Owner(asyncio.Protocol):
    def __init__(self, transport: FakeTransport) -> None:
        self.transport = transport
        self.events: list[Any] = []

    def data_received(self, data: bytes) -> None:
        # Early data comes after the handover: later reads go to the same place.
        self.events.append((data, self.transport.protocol is self))

    def connection_lost(self, exc: Exception | None) -> None:
        self.events.append(("lost", exc))


def attached(*, lost: bool) -> tuple[FakeTransport, Owner]:
    async def run() -> tuple[FakeTransport, Owner]:
        protocol = BackendProtocol()
        transport = FakeTransport()
        protocol.connection_made(cast(asyncio.Transport, transport))
        protocol._answer.set_result(cast(Any, None))  # the handshake is over
        protocol.data_received(b"one")
        protocol.data_received(b"two")
        if lost:
            protocol.connection_lost(None)
        owner = Owner(transport)
        protocol.attach(owner)
        return transport, owner

    return asyncio.run(run())


def test_the_owner_takes_the_transport_and_gets_what_came_early_in_order() -> None:
    transport, owner = attached(lost=False)
    assert transport.protocol is owner
    assert owner.events == [(b"one", True), (b"two", True)]


def test_a_link_lost_before_the_handover_is_reported_after_its_data() -> None:
    transport, owner = attached(lost=True)
    assert transport.protocol is None
    assert owner.events == [(b"one", False), (b"two", False), ("lost", None)]
