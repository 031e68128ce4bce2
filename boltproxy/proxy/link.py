"""Connections to backends: TCP (and TLS), the Bolt handshake, then relay.

A backend may be unreachable, refuse, or accept the TCP connection and never
answer the handshake (FalkorDB does this under connection churn). Every
attempt is therefore bounded by the configured timeouts and retried a
configured number of times before the session is told the backend is
unavailable.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
from collections.abc import Sequence
from typing import Protocol, cast

from boltproxy.bolt.framing import NeedData
from boltproxy.bolt.handshake import (
    ClientHandshake,
    HandshakeFailed,
    Negotiated,
    SendBytes,
)
from boltproxy.bolt.messages import Version
from boltproxy.config import BackendSettings
from boltproxy.proxy.probe import Answer, Proposal

log = logging.getLogger("boltproxy.link")


class LinkOwner(Protocol):
    """Who receives a backend link's traffic once the handshake is done."""

    def on_backend_data(self, data: bytes) -> None: ...
    def on_backend_lost(self, exc: Exception | None) -> None: ...
    def on_backend_pause(self, paused: bool) -> None: ...


class LinkError(Exception):
    """The backend could not be reached or refused the handshake."""


def backend_ssl_context(settings: BackendSettings) -> ssl.SSLContext | None:
    if settings.tls == "none":
        return None
    context = ssl.create_default_context(cafile=str(settings.ca_file) if settings.ca_file else None)
    if settings.tls == "self-signed":
        # bolt+ssc: encrypted, certificate not verified (as the drivers do).
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


class BackendProtocol(asyncio.Protocol):
    """A backend connection: handshake first, then bytes to the owner."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self._handshake: ClientHandshake | None = None
        self._result: asyncio.Future[Negotiated] = asyncio.get_running_loop().create_future()
        self._owner: LinkOwner | None = None
        self._early: list[bytes] = []  # data that arrived before the owner attached
        self._lost = False
        self.offered: tuple[Version, ...] | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports implement the interface without subclassing it.
        self.transport = cast(asyncio.Transport, transport)

    def begin(self, handshake: ClientHandshake) -> asyncio.Future[Negotiated]:
        assert self.transport is not None
        self._handshake = handshake
        # One write: FalkorDB mishandles a preamble split across TCP segments.
        self.transport.write(handshake.initial_bytes())
        return self._result

    def data_received(self, data: bytes) -> None:
        if self._owner is not None:
            self._owner.on_backend_data(data)
        elif self._result.done():
            self._early.append(data)
        elif self._handshake is not None:
            self._handshake.receive_data(data)
            self._drive_handshake()

    def _drive_handshake(self) -> None:
        assert self._handshake is not None and self.transport is not None
        while not self._result.done():
            event = self._handshake.next_event()
            if isinstance(event, NeedData):
                return
            if isinstance(event, SendBytes):
                self.transport.write(event.data)
            elif isinstance(event, Negotiated):
                self.offered = self._handshake.offered
                if event.leftover:
                    self._early.append(event.leftover)
                self._result.set_result(event)
            elif isinstance(event, HandshakeFailed):
                self._result.set_exception(LinkError(f"handshake refused: {event.reason}"))

    def attach(self, owner: LinkOwner) -> None:
        self._owner = owner
        for data in self._early:
            owner.on_backend_data(data)
        self._early.clear()
        if self._lost:
            owner.on_backend_lost(None)

    def connection_lost(self, exc: Exception | None) -> None:
        self._lost = True
        if not self._result.done():
            self._result.set_exception(LinkError("connection closed during the handshake"))
        if self._owner is not None:
            self._owner.on_backend_lost(exc)

    def pause_writing(self) -> None:
        if self._owner is not None:
            self._owner.on_backend_pause(True)

    def resume_writing(self) -> None:
        if self._owner is not None:
            self._owner.on_backend_pause(False)


async def _attempt(
    settings: BackendSettings, proposals: Sequence[Proposal], manifest: bool
) -> tuple[asyncio.Transport, BackendProtocol, Negotiated]:
    loop = asyncio.get_running_loop()
    context = backend_ssl_context(settings)
    try:
        transport, protocol = await asyncio.wait_for(
            loop.create_connection(
                BackendProtocol,
                settings.host,
                settings.port,
                ssl=context,
                server_hostname=settings.host if context else None,
            ),
            settings.connect_timeout,
        )
    except (OSError, TimeoutError, ssl.SSLError) as exc:
        raise LinkError(f"cannot connect to {settings.address}: {_describe(exc)}") from None
    try:
        negotiated = await asyncio.wait_for(
            protocol.begin(ClientHandshake(proposals, manifest=manifest)),
            settings.handshake_timeout,
        )
    except TimeoutError:
        transport.abort()
        raise LinkError(
            f"{settings.address} did not answer the Bolt handshake within "
            f"{settings.handshake_timeout:g} s"
        ) from None
    except LinkError:
        transport.abort()
        raise
    return transport, protocol, negotiated


async def open_link(
    settings: BackendSettings, version: Version, *, manifest: bool
) -> tuple[asyncio.Transport, BackendProtocol]:
    """Connect and negotiate exactly ``version``, retrying within the configured budget."""
    last: LinkError | None = None
    for attempt in range(settings.connect_attempts):
        try:
            transport, protocol, negotiated = await _attempt(settings, [(version, 0)], manifest)
        except LinkError as exc:
            last = exc
            if attempt + 1 < settings.connect_attempts:
                await asyncio.sleep(min(0.05 * 2**attempt, 1.0))
            continue
        if negotiated.version != version:
            transport.abort()
            raise LinkError(f"{settings.address} chose Bolt {negotiated.version}, not {version}")
        return transport, protocol
    assert last is not None
    raise last


async def probe_attempt(
    settings: BackendSettings, proposals: Sequence[Proposal], manifest: bool
) -> Answer:
    """One probing connection (see :mod:`boltproxy.proxy.probe`)."""
    try:
        transport, protocol, negotiated = await _attempt(settings, proposals, manifest)
    except LinkError as exc:
        refused = "refused" in str(exc)
        return Answer(refused=refused)
    transport.close()
    return Answer(version=negotiated.version, offered=protocol.offered)


def _describe(exc: BaseException) -> str:
    if isinstance(exc, TimeoutError):
        return "timed out"
    return exc.strerror or str(exc) if isinstance(exc, OSError) else str(exc)
