"""Connections to backends: TCP (and TLS), the Bolt handshake, then relay.

A backend may be unreachable, refuse, or accept the TCP connection and never
answer the handshake (FalkorDB does this under connection churn). Every
attempt is bounded by the configured timeouts; a connection that fails before
the backend answered is retried a configured number of times. Whatever ends an
attempt (a timeout, a refusal, or the caller giving up and cancelling), the
socket is closed before the error leaves this module.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
from collections.abc import Sequence
from typing import Protocol, cast

from boltproxy.bolt.framing import NeedData
from boltproxy.bolt.greeting import BackendGreeting, BackendOffered
from boltproxy.bolt.handshake import HandshakeFailed, Negotiated, Proposal
from boltproxy.bolt.messages import Version
from boltproxy.config import BackendSettings

log = logging.getLogger("boltproxy.link")

Answer = BackendOffered | Negotiated


class LinkOwner(Protocol):
    """The protocol a link's transport is handed to once negotiated (a buffered one
    may be), and what arrived before that is passed to."""

    def data_received(self, data: bytes) -> None: ...
    def connection_lost(self, exc: Exception | None) -> None: ...


class LinkError(Exception):
    """The backend could not be used; the subclass says how far it got."""


class BackendUnreachable(LinkError):
    """No TCP (or TLS) connection, or it closed or stayed silent in the handshake."""


class HandshakeRefused(LinkError):
    """The backend answered the handshake with no version in common (or not as Bolt)."""


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
    """A backend connection until its owner attaches: the handshake, and what follows it."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self._greeting: BackendGreeting | None = None
        self._answer: asyncio.Future[Answer] = asyncio.get_running_loop().create_future()
        self._early: list[bytes] = []  # data that arrived before the owner attached
        self._lost = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports implement the interface without subclassing it.
        self.transport = cast(asyncio.Transport, transport)

    def begin(self, greeting: BackendGreeting) -> asyncio.Future[Answer]:
        assert self.transport is not None
        self._greeting = greeting
        # One write: FalkorDB mishandles a preamble split across TCP segments.
        self.transport.write(greeting.initial_bytes())
        return self._answer

    def choose(self, version: Version) -> None:
        """Pass the client's choice to a backend that answered with its manifest."""
        assert self._greeting is not None and self.transport is not None
        self.transport.write(self._greeting.choose(version))
        leftover = self._greeting.leftover()
        if leftover:
            self._early.insert(0, leftover)

    def data_received(self, data: bytes) -> None:
        if self._answer.done():
            self._early.append(data)
        elif self._greeting is not None:
            self._greeting.receive_data(data)
            self._drive_greeting()

    def _drive_greeting(self) -> None:
        assert self._greeting is not None
        event = self._greeting.next_event()
        if isinstance(event, NeedData):
            return
        if isinstance(event, HandshakeFailed):
            self._answer.set_exception(HandshakeRefused(event.reason))
            return
        if isinstance(event, Negotiated) and event.leftover:
            self._early.append(event.leftover)
        self._answer.set_result(event)

    def attach(self, owner: LinkOwner) -> None:
        """Hand the transport over once the handshake is done: ``owner`` becomes its
        protocol, so that the event loop calls it with no hop through this one per read."""
        assert self.transport is not None
        early, self._early = self._early, []
        if not self._lost:
            self.transport.set_protocol(cast(asyncio.BaseProtocol, owner))
        for data in early:
            owner.data_received(data)
        if self._lost:
            owner.connection_lost(None)

    def connection_lost(self, exc: Exception | None) -> None:
        self._lost = True
        if not self._answer.done():
            self._answer.set_exception(
                BackendUnreachable("the connection closed during the handshake")
            )


async def _connect(settings: BackendSettings) -> tuple[asyncio.Transport, BackendProtocol]:
    loop = asyncio.get_running_loop()
    context = backend_ssl_context(settings)
    try:
        async with asyncio.timeout(settings.connect_timeout):
            transport, protocol = await loop.create_connection(
                BackendProtocol,
                settings.host,
                settings.port,
                ssl=context,
                server_hostname=settings.host if context else None,
            )
    except (OSError, TimeoutError, ssl.SSLError) as exc:
        reason = f"cannot connect to {settings.address}: {_describe(exc)}"
        raise BackendUnreachable(reason) from None
    return transport, protocol


async def _attempt(
    settings: BackendSettings, proposals: Sequence[Proposal], manifest: bool, within: float
) -> tuple[asyncio.Transport, BackendProtocol, Answer]:
    transport, protocol = await _connect(settings)
    try:
        async with asyncio.timeout(within):
            answer = await protocol.begin(BackendGreeting(proposals, manifest=manifest))
    except TimeoutError:
        transport.abort()
        raise BackendUnreachable(
            f"{settings.address} did not answer the Bolt handshake within {within:g} s"
        ) from None
    except BaseException:
        # A refusal, or the caller gave up (cancelled): never leave the socket open.
        transport.abort()
        raise
    return transport, protocol, answer


async def open_link(
    settings: BackendSettings, proposals: Sequence[Proposal], *, manifest: bool
) -> tuple[asyncio.Transport, BackendProtocol, Answer]:
    """Connect and negotiate, retrying a backend that did not answer."""
    last: LinkError | None = None
    for attempt in range(settings.connect_attempts):
        try:
            return await _attempt(settings, proposals, manifest, settings.handshake_timeout)
        except BackendUnreachable as exc:
            last = exc
            if attempt + 1 < settings.connect_attempts:
                await asyncio.sleep(min(0.05 * 2**attempt, 1.0))
    assert last is not None
    raise last


async def probe_attempt(
    settings: BackendSettings, proposals: Sequence[Proposal], manifest: bool
) -> Answer:
    """One probing connection (see :mod:`boltproxy.proxy.probe`); closed at once."""
    transport, _protocol, answer = await _attempt(
        settings, proposals, manifest, settings.probe_timeout
    )
    transport.close()
    return answer


def _describe(exc: BaseException) -> str:
    if isinstance(exc, TimeoutError):
        return "timed out"
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return str(exc) or type(exc).__name__
