"""A minimal Bolt client that keeps answers as the server sent them, for replay.

The official drivers turn records into Python values, and round some of them
(zoned date-times with second-fraction offsets, for one); replay compares
what each server really sent, so it keeps the raw RECORD payloads, exactly as
the proxy's relay does, and decodes them only in the comparer.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from boltproxy import __version__
from boltproxy.bolt import messages, packstream
from boltproxy.bolt.framing import Message, MessageReader, NeedData, chunk
from boltproxy.bolt.handshake import (
    ClientHandshake,
    HandshakeFailed,
    Negotiated,
    Proposal,
    SendBytes,
)
from boltproxy.bolt.messages import Tag
from boltproxy.shadow.exchange import Answer, AnswerBuilder

PROPOSALS = [((6, 0), 0), ((5, 8), 8), ((4, 4), 0)]
# For a server that hangs up on a proposal it does not know (FalkorDB on 6.0).
PROPOSALS_BEFORE_6 = [((5, 8), 8), ((4, 4), 0)]
USER_AGENT = f"boltproxy-replay/{__version__}"


class ClientError(Exception):
    """The connection failed or the server broke the protocol (not a query FAILURE)."""


def tls_context(uri: str, ca_file: Path | None = None) -> ssl.SSLContext | None:
    """TLS as ``uri``'s scheme asks: none for ``bolt://``; ``+ssc`` encrypts unverified.

    ``+s`` verifies the server against the system trust store and, when
    ``ca_file`` (PEM) is given, that CA too: a server with a private CA and
    one with a public certificate can be replayed side by side. Raises
    ``ssl.SSLError`` or ``OSError`` when ``ca_file`` cannot be used.
    """
    scheme = urlsplit(uri).scheme
    if scheme.endswith("+s"):
        context = ssl.create_default_context()
        if ca_file is not None:
            context.load_verify_locations(cafile=str(ca_file))
        return context
    if scheme.endswith("+ssc"):
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        return context
    return None


def basic_auth(user: str | None, password: str | None) -> dict[str, Any]:
    if user is None:
        return {"scheme": "none"}
    return {"scheme": "basic", "principal": user, "credentials": password or ""}


class _Unanswered(ClientError):
    """The server closed the connection without answering the handshake."""


class RawBoltClient:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._reader = reader
        self._writer = writer
        self._messages = MessageReader()
        self.version: tuple[int, int] = (0, 0)
        self.agent = ""

    @classmethod
    async def connect(
        cls,
        uri: str,
        auth: dict[str, Any],
        connect_timeout: float = 10.0,
        *,
        handshake_timeout: float = 5.0,
        attempts: int = 3,
        ssl_context: ssl.SSLContext | None = None,
    ) -> RawBoltClient:
        """Connect and log in; a handshake left unanswered is tried again on a new connection.

        Some servers (FalkorDB after connection churn) accept a connection and
        never answer its handshake, or close it unanswered; a fresh connection
        usually is answered. A server that hangs up on the handshake is offered
        Bolt 5 and 4 only the next time: some close on a version they do not know.
        TLS follows the URI's scheme unless ``ssl_context`` is given (a backend's own CA).
        """
        parts = urlsplit(uri)
        where = f"{parts.hostname}:{parts.port or 7687}"
        last = ""
        proposals = PROPOSALS
        for _ in range(attempts):
            try:
                reader, writer = await asyncio.wait_for(
                    asyncio.open_connection(
                        parts.hostname,
                        parts.port or 7687,
                        ssl=ssl_context or tls_context(uri),
                    ),
                    connect_timeout,
                )
            except (OSError, TimeoutError) as exc:
                raise ClientError(f"cannot connect to {where}: {exc or 'timed out'}") from None
            client = cls(reader, writer)
            try:
                await asyncio.wait_for(client._open(auth, proposals), handshake_timeout)
            except (TimeoutError, _Unanswered) as exc:
                await client.close()
                if isinstance(exc, _Unanswered):
                    proposals = PROPOSALS_BEFORE_6
                last = str(exc) or f"no answer within {handshake_timeout:g} s"
                continue
            except BaseException:
                await client.close()
                raise
            return client
        raise ClientError(f"{where} did not answer the handshake: {last} ({attempts} attempts)")

    async def _open(self, auth: dict[str, Any], proposals: list[Proposal]) -> None:
        handshake = ClientHandshake(proposals)
        self._writer.write(handshake.initial_bytes())
        leftover = b""
        while not self.version[0]:
            data = await self._reader.read(64)
            if not data:
                raise _Unanswered("the server closed the connection during the handshake")
            handshake.receive_data(data)
            while not isinstance(event := handshake.next_event(), NeedData):
                if isinstance(event, SendBytes):
                    self._writer.write(event.data)
                elif isinstance(event, Negotiated):
                    self.version, leftover = event.version, event.leftover
                elif isinstance(event, HandshakeFailed):
                    raise ClientError(f"handshake failed: {event.reason}")
        self._messages.receive_data(leftover)
        hello: dict[str, Any] = {"user_agent": USER_AGENT}
        if self.version >= (5, 3):
            hello["bolt_agent"] = {"product": USER_AGENT}
        if self.version >= (5, 1):
            replies = await self._request([(Tag.HELLO, hello), (Tag.LOGON, auth)])
        else:
            replies = await self._request([(Tag.HELLO, {**hello, **auth})])
        for tag, fields in replies:
            if tag != Tag.SUCCESS:
                raise ClientError(f"login refused: {messages.failure_code(fields[0]) or tag}")
        self.agent = str(replies[0][1][0].get("server", ""))

    async def _request(self, requests: list[tuple[int, dict[str, Any]]]) -> list[Any]:
        for tag, fields in requests:
            self._writer.write(chunk(messages.encode(tag, fields)))
        return [messages.decode((await self._next()).payload) for _ in requests]

    async def _next(self) -> Message:
        while True:
            event = self._messages.next_event()
            if isinstance(event, Message):
                return event
            if isinstance(event, NeedData):
                data = await self._reader.read(1 << 16)
                if not data:
                    raise ClientError("the server closed the connection")
                self._messages.receive_data(data)

    async def run(
        self,
        query: str,
        parameters: bytes,
        extra: dict[str, Any],
        *,
        max_records: int,
        max_bytes: int,
    ) -> Answer:
        """RUN then PULL everything; the answer as sent (a FAILURE is an answer too)."""
        run = bytes((0xB3, Tag.RUN)) + packstream.pack(query) + parameters + packstream.pack(extra)
        builder = AnswerBuilder(
            self.version, max_records=max_records, max_bytes=max_bytes, started=time.perf_counter()
        )
        self._writer.write(chunk(run) + chunk(messages.encode(Tag.PULL, {"n": -1})))
        tag, fields = messages.decode((await self._next()).payload)
        if tag == Tag.FAILURE:
            answer = builder.failed(fields[0])
            await self._next()  # the PULL's IGNORED
            await self._reset()
            return answer
        builder.run_succeeded(fields[0])
        while True:
            message = await self._next()
            payload = message.payload
            if payload[1] == Tag.RECORD:
                builder.record(payload)
                continue
            tag, fields = messages.decode(payload)
            if tag == Tag.FAILURE:
                answer = builder.failed(fields[0])
                await self._reset()
                return answer
            return builder.finished(fields[0] if fields else {})

    async def _reset(self) -> None:
        """Back to READY after a FAILURE, as a driver does."""
        self._writer.write(chunk(messages.encode(Tag.RESET)))
        tag, _ = messages.decode((await self._next()).payload)
        if tag != Tag.SUCCESS:
            raise ClientError("RESET was not accepted")

    async def close(self) -> None:
        with contextlib.suppress(OSError, RuntimeError):
            self._writer.write(chunk(messages.encode(Tag.GOODBYE)))
            self._writer.close()
            await self._writer.wait_closed()
