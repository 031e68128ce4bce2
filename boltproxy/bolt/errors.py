"""The errors of the Bolt layer, split by which side broke the protocol (as in h11).

:class:`RemoteProtocolError`: the peer sent something Bolt does not allow (a
client's malformed request, a server's broken framing). :class:`LocalProtocolError`:
we were about to produce something wrong (a value PackStream cannot carry).
Every error carries the Neo4j status code and GQL status a FAILURE about it
should have, so a session can answer any of them without a table of its own.
"""

from __future__ import annotations

from boltproxy.bolt import status


class BoltError(Exception):
    """Base of every error the Bolt layer raises about protocol content."""

    #: Neo4j status code for a FAILURE about this error.
    code: str = status.UNKNOWN_ERROR
    #: GQL status for a FAILURE about this error.
    gql_status: str = status.GENERAL_GQL
    #: GQL status of the more specific cause Neo4j attaches, if any.
    cause_gql_status: str | None = None

    def __init__(
        self, message: str, *, code: str | None = None, gql_status: str | None = None
    ) -> None:
        super().__init__(message)
        if code is not None:
            self.code = code
        if gql_status is not None:
            self.gql_status = gql_status

    @property
    def message(self) -> str:
        return str(self)

    @property
    def description(self) -> str:
        """The GQL description: the status's condition text and this error's message."""
        return status.describe(self.gql_status, self.message)


class LocalProtocolError(BoltError):
    """We were about to break the protocol; the peer did nothing wrong."""


class RemoteProtocolError(BoltError):
    """The peer broke the protocol."""


class FramingError(RemoteProtocolError, ValueError):
    """The byte stream breaks the chunking rules."""

    code = status.INVALID_FORMAT
    gql_status = status.INVALID_FORMAT_GQL


class MessageTooLarge(FramingError):
    """A message announced more bytes than the reader accepts (Neo4j: 22N56)."""

    code = status.PROTOCOL_VIOLATION
    gql_status = status.MESSAGE_TOO_LARGE_GQL


class PackStreamError(RemoteProtocolError, ValueError):
    """Malformed PackStream input."""

    code = status.INVALID_FORMAT
    gql_status = status.INVALID_FORMAT_GQL


class PackingError(LocalProtocolError, ValueError):
    """A value that PackStream cannot carry was given to be packed."""


class MessageError(RemoteProtocolError, ValueError):
    """A message that is not what its tag promises."""

    code = status.INVALID_FORMAT
    gql_status = status.INVALID_FORMAT_GQL


class ProtocolViolation(RemoteProtocolError):
    """A message that is illegal where the conversation stands."""

    code = status.PROTOCOL_VIOLATION
    gql_status = status.PROTOCOL_VIOLATION_GQL


class InvalidServerState(ProtocolViolation):
    """A request the server cannot handle in the state the conversation is in."""

    cause_gql_status = status.INVALID_SERVER_STATE_GQL


class PipelineLimitExceeded(ProtocolViolation):
    """The client pipelined more unanswered requests than the session accepts."""


class ScanError(RemoteProtocolError, ValueError):
    """A server's stream is not valid Bolt chunking, or holds an oversize message."""


class HandshakeError(RemoteProtocolError, ValueError):
    """Handshake bytes that cannot be understood."""

    code = status.PROTOCOL_VIOLATION
    gql_status = status.PROTOCOL_VIOLATION_GQL
