"""A lean Bolt client for load generation, built on ``boltproxy.bolt``.

The official drivers spend far more CPU per query than a proxy does, so a
benchmark driven by them measures the driver. This client does the minimum:
handshake, HELLO/LOGON, then RUN+PULL pipelined in one write, counting records
with the response scanner instead of decoding them.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import Any

from boltproxy.bolt import messages
from boltproxy.bolt.framing import NeedData, chunk
from boltproxy.bolt.handshake import ClientHandshake, HandshakeFailed, Negotiated, SendBytes
from boltproxy.bolt.messages import Tag
from boltproxy.bolt.scanner import ResponseScanner

PROPOSALS = [((5, 8), 8), ((4, 4), 0)]


class BoltClient:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.scanner = ResponseScanner()
        self.version: tuple[int, int] = (0, 0)

    @classmethod
    async def connect(
        cls, host: str, port: int, auth: dict[str, Any], attempts: int = 10
    ) -> BoltClient:
        """Connect, retrying: FalkorDB drops a share of new connections at the handshake."""
        for attempt in range(attempts):
            try:
                return await asyncio.wait_for(cls._connect(host, port, auth), 2.0)
            except (ConnectionError, TimeoutError, OSError):
                if attempt + 1 == attempts:
                    raise
                await asyncio.sleep(0.05)
        raise AssertionError("unreachable")

    @classmethod
    async def _connect(cls, host: str, port: int, auth: dict[str, Any]) -> BoltClient:
        reader, writer = await asyncio.open_connection(host, port)
        client = cls(reader, writer)
        handshake = ClientHandshake(PROPOSALS)
        writer.write(handshake.initial_bytes())
        while not client.version[0]:
            data = await reader.read(64)
            if not data:
                raise ConnectionError("server closed the connection during the handshake")
            handshake.receive_data(data)
            while not isinstance(event := handshake.next_event(), NeedData):
                if isinstance(event, SendBytes):
                    writer.write(event.data)
                elif isinstance(event, Negotiated):
                    client.version = event.version
                elif isinstance(event, HandshakeFailed):
                    raise ConnectionError(f"handshake failed: {event.reason}")
        hello: dict[str, Any] = {"user_agent": "boltproxy-bench/1"}
        if client.version >= (5, 3):  # Neo4j refuses a HELLO without it from 5.3 on
            hello["bolt_agent"] = {"product": "boltproxy-bench/1"}
        if client.version >= (5, 1):
            await client.request(chunk(messages.encode(Tag.HELLO, hello)))
            await client.request(chunk(messages.encode(Tag.LOGON, auth)))
        else:
            await client.request(chunk(messages.encode(Tag.HELLO, {**hello, **auth})))
        return client

    async def request(self, data: bytes, summaries: int = 1) -> int:
        """Send ``data``; wait for ``summaries`` summary messages; return records seen."""
        self.writer.write(data)
        scanner = self.scanner
        seen = 0
        records = 0
        while seen < summaries:
            block = await self.reader.read(1 << 18)
            if not block:
                raise ConnectionError("server closed the connection")
            scanner.feed(block)
            records += scanner.records
            scanner.records = 0
            for found in scanner.messages:
                if found.tag == Tag.FAILURE:
                    raise RuntimeError(f"query failed: {messages.decode(found.payload)[1]}")
                seen += 1
            scanner.messages.clear()
        return records

    async def query(self, text: str) -> tuple[float, int]:
        """Run ``text`` and pull everything; return (seconds, records)."""
        data = chunk(messages.encode(Tag.RUN, text, {}, {})) + chunk(
            messages.encode(Tag.PULL, {"n": -1})
        )
        started = time.perf_counter()
        records = await self.request(data, summaries=2)
        return time.perf_counter() - started, records

    async def close(self) -> None:
        self.writer.write(chunk(messages.encode(Tag.GOODBYE)))
        self.writer.close()
        with contextlib.suppress(ConnectionError):
            await self.writer.wait_closed()
