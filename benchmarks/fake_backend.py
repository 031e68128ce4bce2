"""Serve the scripted fake Neo4j (5.26 profile) on a port until killed.

A stable backend for load the FalkorDB sandbox cannot take: under 16
concurrent connections from several processes FalkorDB 4.16.3 aborts inside
its Bolt handler (BoltRunCommand).
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.support.fakeneo import NEO4J_5_26, FakeNeo4j


async def main(port: int) -> None:
    server = FakeNeo4j(profile=NEO4J_5_26, port=port)
    server.allow_no_auth = True
    await server.start()
    await asyncio.Event().wait()


if __name__ == "__main__":
    try:
        import uvloop

        uvloop.run(main(int(sys.argv[1])))
    except ImportError:
        asyncio.run(main(int(sys.argv[1])))
