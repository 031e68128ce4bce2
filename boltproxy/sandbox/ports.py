"""Free TCP ports for local backends and the proxy."""

from __future__ import annotations

import random
import socket


def port_free(port: int, host: str = "127.0.0.1") -> bool:
    """Whether a server could listen on ``port`` right now.

    The probe binds the way servers do (the proxy, Neo4j and redis all set
    SO_REUSEADDR): connections of an earlier server that linger in TIME_WAIT
    do not keep a port busy for them, so they must not for the probe either.
    A port another socket listens on stays taken even with SO_REUSEADDR.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError:
            return False
    return True


def free_port(low: int = 20000, high: int = 32767, host: str = "127.0.0.1") -> int:
    """A random port in ``low``..``high`` that binds on ``host`` right now.

    The default ceiling is FalkorDB's: its module silently leaves Bolt off on a
    port above 32767, and the OS's own ephemeral ports (port 0) are above it.
    """
    for _ in range(200):
        port = random.randint(low, high)
        if port_free(port, host):
            return port
    raise OSError(f"no free port between {low} and {high}")
