"""One client connection on the socket side: it carries out what the session decides.

The protocol object only moves bytes, opens and closes backend links and keeps
the session's one timer; every decision is the sans-I/O
:class:`~boltproxy.proxy.session.ClientSession`'s. Flow control is end to end:
when the client's write buffer passes its high-water mark the primary link
stops being read, and the other way round.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Callable
from typing import TYPE_CHECKING, cast

from boltproxy import metrics
from boltproxy.bolt.greeting import BackendOffered
from boltproxy.control.routing import SessionInfo
from boltproxy.proxy import link
from boltproxy.proxy.observer import MetricsObserver
from boltproxy.proxy.session import (
    ChooseVersion,
    ClientSession,
    CloseClient,
    CloseLink,
    Command,
    Limits,
    LinkFailure,
    LinkRole,
    OpenLink,
    SendToClient,
    SendToLink,
    SetDeadline,
    Shadowed,
)
from boltproxy.tasks import spawn

if TYPE_CHECKING:
    from boltproxy.proxy.server import ProxyServer

_ids = itertools.count(1)
# Every socket of the process reads into this one buffer (a buffered protocol's
# get_buffer): the loop fills it and calls buffer_updated at once, which copies
# the bytes out before anything else runs, so one buffer serves all connections.
# It saves the loop building a bytes object of its own per read.
_READ_SIZE = 256 * 1024
_READ_VIEW = memoryview(bytearray(_READ_SIZE))
_CLIENT_OPEN = metrics.OPEN_CONNECTIONS.labels(side="client")
_BACKEND_OPEN = metrics.OPEN_CONNECTIONS.labels(side="backend")


class _LinkSide(asyncio.BufferedProtocol):
    """The socket side of one backend link: once its handshake is done, the transport's
    protocol, delivering its events to the session."""

    __slots__ = ("_connection", "_id", "protocol", "role", "task", "transport")

    def __init__(self, connection: ClientConnection, link_id: int, role: LinkRole) -> None:
        self._connection = connection
        self._id = link_id
        self.role = role
        self.task: asyncio.Task[None] | None = None
        self.transport: asyncio.Transport | None = None
        self.protocol: link.BackendProtocol | None = None

    def get_buffer(self, sizehint: int) -> memoryview:
        return _READ_VIEW

    def buffer_updated(self, nbytes: int) -> None:
        # The relay's hottest callback: straight to the session, no closure per read.
        self.data_received(bytes(_READ_VIEW[:nbytes]))

    def data_received(self, data: bytes) -> None:
        connection = self._connection
        session = connection._session
        if session is not None and (not connection._closed or session.lingering):
            connection._execute(session.link_data(self._id, data))
            if connection._closed:
                connection._finish_if_done()

    def eof_received(self) -> bool | None:
        return None  # the transport closes; connection_lost tells the session

    def connection_lost(self, exc: Exception | None) -> None:
        if self.transport is not None:
            _BACKEND_OPEN.dec()
            self.transport = None
        reason = f"the backend connection was lost ({exc})" if exc else "the backend closed"
        self._connection.link_lost(self._id, reason)

    def pause_writing(self) -> None:
        if self.role is LinkRole.PRIMARY:
            self._connection.pause_client(True)
        else:  # a mirror never holds the client back
            self._connection.link_congested(self._id)

    def resume_writing(self) -> None:
        if self.role is LinkRole.PRIMARY:
            self._connection.pause_client(False)

    def close(self) -> None:
        if self.task is not None and not self.task.done():
            self.task.cancel()  # the link module closes a socket it had not handed over
        if self.transport is not None:
            self.transport.close()
            self.transport = None
            _BACKEND_OPEN.dec()


class ClientConnection(asyncio.BufferedProtocol):
    def __init__(self, server: ProxyServer) -> None:
        self._server = server
        self.id = next(_ids)
        self.prefix = f"[#{self.id}] "
        self._transport: asyncio.Transport | None = None
        self._session: ClientSession | None = None
        self._observer = MetricsObserver()
        self._links: dict[int, _LinkSide] = {}
        self._timers: dict[str, asyncio.TimerHandle] = {}
        self._client_paused = False  # we stopped reading the client
        self._buffered = 0  # this connection's share of the proxy's buffer budget
        self._closed = False
        self.peer = "?"

    # --- asyncio callbacks: client side ------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports implement the interface without subclassing it.
        transport = cast(asyncio.Transport, transport)
        self._transport = transport
        peer = transport.get_extra_info("peername")
        self.peer = f"{peer[0]}:{peer[1]}" if isinstance(peer, tuple) else str(peer)
        self.prefix = f"[#{self.id} {self.peer}] "
        self._observer.prefix = self.prefix
        server = self._server
        if server.control is not None:
            self._observer = MetricsObserver(self.prefix, server.control.guards)
        relay = server.settings.relay
        transport.set_write_buffer_limits(high=relay.high_water_bytes)
        _CLIENT_OPEN.inc()
        if not server.admit(self):
            self._observer.error("proxy", "connection_limit", "the proxy is at its limit")
            transport.abort()
            return
        info = SessionInfo(self.id, self.peer)
        primary = server.router.backend_for_session(info)
        capabilities = server.backends[primary].capabilities
        self._session = ClientSession(
            primary=primary,
            relayable=server.relayable_versions(),
            backend_manifest=capabilities.manifest if capabilities else True,
            advertised_address=server.advertised_address,
            observer=self._observer,
            limits=Limits(
                handshake_seconds=relay.client_handshake_timeout,
                idle_before_auth_seconds=relay.client_idle_before_auth_timeout,
                max_message_bytes=relay.max_message_bytes,
                max_message_bytes_before_auth=relay.max_message_bytes_before_auth,
                max_pipelined=relay.max_pipelined_requests,
            ),
            mirror=server.mirror_plan(info, primary),
            route=server.router.session_route(info),
            manifest_of=server.speaks_manifest,
            bookmarks=server.bookmarks,
            standby=server.router.watched(),
            capture=server.mirror_policy.settings if server.capturing else None,
            session_id=str(self.id),
        )
        self._execute(self._session.start())

    def get_buffer(self, sizehint: int) -> memoryview:
        return _READ_VIEW

    def buffer_updated(self, nbytes: int) -> None:
        session = self._session
        if session is None:
            return
        self._execute(session.client_data(bytes(_READ_VIEW[:nbytes])))
        if session.buffered != self._buffered:
            self._account_buffer(session)

    def eof_received(self) -> bool | None:
        return None  # close our side too

    def connection_lost(self, exc: Exception | None) -> None:
        _CLIENT_OPEN.dec()
        self._closed = True
        self._server.return_buffer(self._buffered)
        self._buffered = 0
        if self._session is not None:
            self._execute(self._session.client_eof())
        self._finish_if_done()

    @property
    def _active(self) -> bool:
        """The client is here, or a candidate lingers to finish what the client sent."""
        return not self._closed or (self._session is not None and self._session.lingering)

    def _finish_if_done(self) -> None:
        """Once the client is gone and no candidate lingers, nothing may stay open."""
        if self._active:
            return
        self._cancel_timers()
        for side in self._links.values():
            side.close()
        self._links.clear()
        self._server.release(self)

    def pause_writing(self) -> None:
        # The client reads slower than the backend sends: stop reading the backend.
        for side in self._links.values():
            if side.transport is not None and side.role is LinkRole.PRIMARY:
                side.transport.pause_reading()

    def resume_writing(self) -> None:
        for side in self._links.values():
            transport = side.transport
            if transport is not None and side.role is LinkRole.PRIMARY:
                transport.resume_reading()

    def _account_buffer(self, session: ClientSession) -> None:
        """Partly received messages count against what all connections may hold."""
        held = session.buffered
        if not self._server.take_buffer(held - self._buffered):
            self._observer.error(
                "proxy", "memory", "the proxy holds too much partly received data; dropping"
            )
            self.close()
            return
        self._buffered = held

    # --- backend links -----------------------------------------------------

    async def _open_link(self, command: OpenLink, side: _LinkSide) -> None:
        backend = self._server.backends[command.backend]
        try:
            transport, protocol, answer = await backend.open(command.proposals, command.manifest)
        except link.LinkError as exc:
            failure = (
                LinkFailure.REFUSED
                if isinstance(exc, link.HandshakeRefused)
                else LinkFailure.UNREACHABLE
            )
            reason = f"{command.backend}: {exc}"
            self._deliver(lambda s: s.link_failed(command.link, failure, reason))
            return
        if not self._active or command.link not in self._links:
            transport.close()
            return
        _BACKEND_OPEN.inc()
        transport.set_write_buffer_limits(high=self._server.settings.relay.high_water_bytes)
        side.transport = transport
        side.protocol = protocol
        if isinstance(answer, BackendOffered):
            self._deliver(lambda s: s.link_offered(command.link, answer.versions))
        else:
            self._deliver(lambda s: s.link_negotiated(command.link, answer.version))
        if command.link in self._links and self._active:
            protocol.attach(side)

    def link_data(self, link_id: int, data: bytes) -> None:
        self._deliver(lambda s: s.link_data(link_id, data))

    def link_lost(self, link_id: int, reason: str) -> None:
        self._links.pop(link_id, None)
        self._deliver(lambda s: s.link_eof(link_id, reason))

    def link_congested(self, link_id: int) -> None:
        self._deliver(lambda s: s.link_congested(link_id))

    def pause_client(self, paused: bool) -> None:
        # The backend reads slower than the client sends: stop reading the client.
        transport = self._transport
        if transport is None or transport.is_closing() or paused == self._client_paused:
            return
        if paused:
            transport.pause_reading()
        else:
            transport.resume_reading()
        self._client_paused = paused

    def _deliver(self, event: Callable[[ClientSession], list[Command]]) -> None:
        session = self._session
        if session is not None and self._active:
            self._execute(event(session))
            if self._closed:
                self._finish_if_done()

    # --- commands ----------------------------------------------------------

    def _execute(self, commands: list[Command]) -> None:
        for command in commands:
            # Forwarding is nearly every command: tested first.
            if isinstance(command, SendToClient):
                transport = self._transport
                if transport is not None and not transport.is_closing():
                    transport.write(command.data)
            elif isinstance(command, SendToLink):
                side = self._links.get(command.link)
                if side is not None and side.transport is not None:
                    side.transport.write(command.data)
            else:
                self._control(command)

    def _control(self, command: Command) -> None:
        """Every command but forwarding bytes."""
        if isinstance(command, OpenLink):
            opened = _LinkSide(self, command.link, command.role)
            self._links[command.link] = opened
            opened.task = spawn(self._open_link(command, opened), f"link-{self.id}-{command.link}")
        elif isinstance(command, ChooseVersion):
            side = self._links.get(command.link)
            if side is not None and side.protocol is not None:
                side.protocol.choose(command.version)
        elif isinstance(command, SetDeadline):
            self._set_deadline(command)
        elif isinstance(command, CloseLink):
            side = self._links.pop(command.link, None)
            if side is not None:
                side.close()
        elif isinstance(command, Shadowed):
            self._server.shadowed(command.exchange)
        elif isinstance(command, CloseClient) and self._transport is not None:
            self._transport.close()  # flushes what was written first

    def _set_deadline(self, command: SetDeadline) -> None:
        timer = command.timer
        handle = self._timers.pop(timer, None)
        if handle is not None:
            handle.cancel()
        if command.seconds is None:
            return
        waiting_for = command.waiting_for
        self._timers[timer] = asyncio.get_running_loop().call_later(
            command.seconds, lambda: self._deliver(lambda s: s.deadline_expired(waiting_for, timer))
        )

    def _cancel_timers(self) -> None:
        for handle in self._timers.values():
            handle.cancel()
        self._timers.clear()

    @property
    def session(self) -> ClientSession | None:
        return self._session

    def close(self) -> None:
        """Shut this connection down (proxy shutdown, or over the buffer budget)."""
        if self._transport is not None:
            self._transport.close()
        for side in self._links.values():
            side.close()
        self._links.clear()
