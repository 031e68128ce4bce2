"""Free TCP ports for local backends."""

from __future__ import annotations

import random
import socket


def free_port(low: int = 20000, high: int = 32767, host: str = "127.0.0.1") -> int:
    """A random port in ``low``..``high`` that binds on ``host`` right now.

    The default ceiling is FalkorDB's: its module silently leaves Bolt off on a
    port above 32767, and the OS's own ephemeral ports (port 0) are above it.
    """
    for _ in range(200):
        port = random.randint(low, high)
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
            try:
                probe.bind((host, port))
            except OSError:
                continue
            return port
    raise OSError(f"no free port between {low} and {high}")
