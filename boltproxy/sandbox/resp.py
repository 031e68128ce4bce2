"""A minimal Redis (RESP2) command client, for FalkorDB's housekeeping commands.

The sandbox needs only a handful of admin commands (GRAPH.LIST, GRAPH.DELETE,
SHUTDOWN), so a redis client library would be a dependency for very little.
"""

from __future__ import annotations

import socket
from typing import BinaryIO

RespValue = str | int | bytes | None | list["RespValue"]


class RespError(Exception):
    """The server answered a command with an error reply."""


def command(
    port: int, *args: str, host: str = "127.0.0.1", timeout: float = 2.0, attempts: int = 3
) -> RespValue:
    """Send one command and return its decoded reply.

    FalkorDB often leaves the first connection accepted after a Bolt client has
    closed unanswered, on any of its ports, so an unanswered try is retried.
    """
    payload = [f"*{len(args)}\r\n".encode()]
    for arg in args:
        data = arg.encode()
        payload.append(b"$%d\r\n%s\r\n" % (len(data), data))
    for attempt in range(1, attempts + 1):
        try:
            with socket.create_connection((host, port), timeout=timeout) as conn:
                conn.sendall(b"".join(payload))
                with conn.makefile("rb") as reader:
                    return _read(reader)
        except (TimeoutError, ConnectionError):
            if attempt == attempts:
                raise
    raise AssertionError("unreachable")


def _read(reader: BinaryIO) -> RespValue:
    line = reader.readline()
    if not line:
        raise ConnectionError("the server closed the connection without a reply")
    kind, rest = line[:1], line[1:].rstrip(b"\r\n")
    if kind == b"+":
        return rest.decode()
    if kind == b"-":
        raise RespError(rest.decode(errors="replace"))
    if kind == b":":
        return int(rest)
    if kind == b"$":
        size = int(rest)
        if size < 0:
            return None
        data = reader.read(size + 2)
        return data[:-2]
    if kind == b"*":
        count = int(rest)
        return None if count < 0 else [_read(reader) for _ in range(count)]
    raise ConnectionError(f"not a RESP reply: {line[:20]!r}")
