"""Sans-I/O Bolt protocol: handshake, chunk framing, PackStream, messages, states.

Nothing in this package touches sockets or imports asyncio: bytes go in, events
come out, so every piece is testable without I/O.
"""
