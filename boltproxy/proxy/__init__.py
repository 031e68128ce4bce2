"""The socket side of the relay: listener, client connections, backend links."""
