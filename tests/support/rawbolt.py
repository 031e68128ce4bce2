"""A raw Bolt socket for feeding a server exact (and bad) bytes."""

from __future__ import annotations

import socket
from typing import Any

from boltproxy.bolt import messages
from boltproxy.bolt.framing import Message, MessageReader, NeedData, chunk
from boltproxy.bolt.handshake import MAGIC, encode_proposals
from boltproxy.bolt.messages import Tag

PROPOSAL_58 = MAGIC + encode_proposals([((5, 8), 8)])


def msg(tag: int, *fields: Any) -> bytes:
    return chunk(messages.encode(tag, *fields))


HELLO = msg(Tag.HELLO, {"user_agent": "raw/1"})
LOGON = msg(Tag.LOGON, {"scheme": "basic", "principal": "neo4j", "credentials": "password"})


class RawBolt:
    def __init__(self, port: int, timeout: float = 10.0) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def handshake(self, proposal: bytes = PROPOSAL_58) -> bytes:
        self.send(proposal)
        return self.read_exactly(4)

    def login(self) -> None:
        """Handshake, HELLO and LOGON; both answered with SUCCESS."""
        assert self.handshake() == b"\x00\x00\x08\x05"
        self.send(HELLO + LOGON)
        replies = self.read_messages(2)
        assert [tag for tag, _ in replies] == [Tag.SUCCESS, Tag.SUCCESS], replies

    def read_exactly(self, size: int) -> bytes:
        data = b""
        while len(data) < size:
            part = self.sock.recv(size - len(data))
            if not part:
                break
            data += part
        return data

    def read_messages(self, count: int) -> list[tuple[int, list[Any]]]:
        reader = MessageReader()
        out: list[tuple[int, list[Any]]] = []
        while len(out) < count:
            event = reader.next_event()
            if isinstance(event, NeedData):
                data = self.sock.recv(65536)
                if not data:
                    break
                reader.receive_data(data)
            elif isinstance(event, Message):
                out.append(messages.decode(event.payload))
        return out

    def read_until_closed(self) -> bytes:
        data = b""
        while True:
            try:
                part = self.sock.recv(65536)
            except ConnectionResetError:
                return data
            if not part:
                return data
            data += part

    def close(self) -> None:
        self.sock.close()

    def __enter__(self) -> RawBolt:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def decode_all(data: bytes) -> list[tuple[int, list[Any]]]:
    reader = MessageReader()
    reader.receive_data(data)
    out = []
    while not isinstance(event := reader.next_event(), NeedData):
        if isinstance(event, Message):
            out.append(messages.decode(event.payload))
    return out
