"""One client connection on the socket side: handshake, then the relay.

The protocol object only moves bytes and carries out the commands the
sans-I/O :class:`~boltproxy.proxy.session.ClientSession` returns. Flow control
is end to end: when one side's write buffer passes its high-water mark, the
other side stops being read until it drains.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
from typing import TYPE_CHECKING, cast

from boltproxy import metrics
from boltproxy.bolt.framing import NeedData
from boltproxy.bolt.handshake import HandshakeFailed, Negotiated, SendBytes, ServerHandshake
from boltproxy.control.routing import SessionInfo
from boltproxy.proxy import link
from boltproxy.proxy.session import (
    ClientSession,
    CloseBackend,
    CloseClient,
    Command,
    SendToBackend,
    SendToClient,
)
from boltproxy.tasks import spawn

if TYPE_CHECKING:
    from boltproxy.proxy.server import ProxyServer

log = logging.getLogger("boltproxy.connection")
_ids = itertools.count(1)
_CLIENT_OPEN = metrics.OPEN_CONNECTIONS.labels(side="client")
_BACKEND_OPEN = metrics.OPEN_CONNECTIONS.labels(side="backend")


class ClientConnection(asyncio.Protocol):
    def __init__(self, server: ProxyServer) -> None:
        self._server = server
        self.id = next(_ids)
        self.prefix = f"[#{self.id}] "
        self._transport: asyncio.Transport | None = None
        self._handshake: ServerHandshake | None = None
        self._early = bytearray()  # client bytes that arrived while the primary was probed
        self._session: ClientSession | None = None
        self._backend: asyncio.Transport | None = None
        self._link_task: asyncio.Task[None] | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._client_paused = False  # we stopped reading the client
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
        transport.set_write_buffer_limits(high=self._server.settings.relay.high_water_bytes)
        _CLIENT_OPEN.inc()
        if not self._server.admit(self):
            log.warning("%srefused: the proxy is at its connection limit", self.prefix)
            metrics.ERRORS.labels(side="proxy", kind="connection_limit").inc()
            transport.abort()
            return
        loop = asyncio.get_running_loop()
        self._timer = loop.call_later(
            self._server.settings.relay.client_handshake_timeout, self._handshake_timed_out
        )
        primary = self._server.backends[self._server.router.primary]
        if primary.capabilities is None:
            # Nothing is known of the primary (down at the last probe): ask it
            # before offering versions, so the client cannot settle on one that
            # the backend does not speak.
            spawn(self._probe_then_listen(), f"probe-{self.id}")
        else:
            self._handshake = ServerHandshake(self._server.offered_versions())

    async def _probe_then_listen(self) -> None:
        await self._server.backends[self._server.router.primary].probe()
        if self._closed:
            return
        self._handshake = ServerHandshake(self._server.offered_versions())
        if self._early:
            self._handshake.receive_data(bytes(self._early))
            self._early.clear()
            self._drive_handshake()

    def data_received(self, data: bytes) -> None:
        if self._session is not None:
            self._execute(self._session.client_data(data))
        elif self._handshake is not None:
            self._handshake.receive_data(data)
            self._drive_handshake()
        elif len(self._early) < 64:  # a handshake is 20 bytes; more is not waited for
            self._early += data

    def eof_received(self) -> bool | None:
        return None  # close our side too

    def connection_lost(self, exc: Exception | None) -> None:
        _CLIENT_OPEN.dec()
        self._closed = True
        self._server.release(self)
        if self._timer is not None:
            self._timer.cancel()
        if self._session is not None:
            self._execute(self._session.client_eof())
        self._close_backend()

    def pause_writing(self) -> None:
        # The client reads slower than the backend sends: stop reading the backend.
        if self._backend is not None:
            self._backend.pause_reading()

    def resume_writing(self) -> None:
        if self._backend is not None and not self._backend.is_closing():
            self._backend.resume_reading()

    # --- handshake -------------------------------------------------------

    def _drive_handshake(self) -> None:
        assert self._handshake is not None and self._transport is not None
        while True:
            event = self._handshake.next_event()
            if isinstance(event, NeedData):
                return
            if isinstance(event, SendBytes):
                self._transport.write(event.data)
            elif isinstance(event, HandshakeFailed):
                log.warning("%sclient error (handshake): %s", self.prefix, event.reason)
                metrics.ERRORS.labels(side="client", kind="handshake").inc()
                if event.reply:
                    self._transport.write(event.reply)
                self._handshake = None
                self._transport.close()
                return
            elif isinstance(event, Negotiated):
                self._start_session(event)
                return

    def _handshake_timed_out(self) -> None:
        if self._session is None and self._transport is not None:
            log.warning("%sclient error (handshake): no handshake within the timeout", self.prefix)
            metrics.ERRORS.labels(side="client", kind="timeout").inc()
            self._transport.abort()

    def _start_session(self, negotiated: Negotiated) -> None:
        assert self._transport is not None
        if self._timer is not None:
            self._timer.cancel()
        self._handshake = None
        server = self._server
        info = SessionInfo(self.id, self.peer)
        backend = server.router.backend_for_session(info)
        log.debug("%sBolt %d.%d via %s", self.prefix, *negotiated.version, backend)
        self._session = ClientSession(
            negotiated.version,
            backend=backend,
            advertised_address=server.advertised_address,
            max_message_size=server.settings.relay.max_message_bytes,
            log_prefix=self.prefix,
        )
        self._link_task = spawn(self._open_backend(backend, negotiated), f"link-{self.id}")
        if negotiated.leftover:
            self._execute(self._session.client_data(negotiated.leftover))

    # --- backend link ----------------------------------------------------

    async def _open_backend(self, name: str, negotiated: Negotiated) -> None:
        assert self._session is not None
        backend = self._server.backends[name]
        try:
            if backend.capabilities is None:
                await backend.probe()
            transport, protocol = await backend.open(negotiated.version)
        except link.LinkError as exc:
            if not self._closed:
                self._execute(self._session.backend_unavailable(str(exc)))
            return
        if self._closed or self._session.closed:
            transport.close()
            return
        _BACKEND_OPEN.inc()
        transport.set_write_buffer_limits(high=self._server.settings.relay.high_water_bytes)
        self._backend = transport
        protocol.attach(self)
        self._execute(self._session.backend_ready())

    def on_backend_data(self, data: bytes) -> None:
        if self._session is not None:
            self._execute(self._session.backend_data(data))

    def on_backend_lost(self, exc: Exception | None) -> None:
        if self._backend is not None:
            _BACKEND_OPEN.dec()
            self._backend = None
        if self._session is not None:
            reason = f"the backend connection was lost ({exc})" if exc else "the backend closed"
            self._execute(self._session.backend_eof(reason))

    def on_backend_pause(self, paused: bool) -> None:
        # The backend reads slower than the client sends: stop reading the client.
        if self._transport is None or self._transport.is_closing():
            return
        if paused and not self._client_paused:
            self._transport.pause_reading()
        elif not paused and self._client_paused:
            self._transport.resume_reading()
        self._client_paused = paused

    # --- commands ----------------------------------------------------------

    def _execute(self, commands: list[Command]) -> None:
        for command in commands:
            if isinstance(command, SendToClient):
                if self._transport is not None and not self._transport.is_closing():
                    self._transport.write(command.data)
            elif isinstance(command, SendToBackend):
                if self._backend is not None and not self._backend.is_closing():
                    self._backend.write(command.data)
            elif isinstance(command, CloseClient):
                if self._transport is not None:
                    self._transport.close()  # flushes what was written first
            elif isinstance(command, CloseBackend):
                self._close_backend()

    def _close_backend(self) -> None:
        if self._link_task is not None and not self._link_task.done():
            self._link_task.cancel()
        if self._backend is not None:
            self._backend.close()

    def close(self) -> None:
        """Shut this connection down (proxy shutdown)."""
        if self._transport is not None:
            self._transport.close()
        self._close_backend()
