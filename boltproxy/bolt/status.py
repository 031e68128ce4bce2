"""Neo4j status codes and GQL statuses that the proxy puts in its own FAILUREs.

Each GQL status comes with the condition text of the Neo4j status-code manual;
a FAILURE's ``description`` is that text followed by the particular reason, as
Neo4j shapes it. The names are re-exported by :mod:`boltproxy.bolt.messages`.
"""

from __future__ import annotations

from typing import Final

# Neo4j status codes (the pre-GQL ``code`` / ``neo4j_code`` of a FAILURE).
DATABASE_UNAVAILABLE: Final = "Neo.TransientError.General.DatabaseUnavailable"
INVALID_FORMAT: Final = "Neo.ClientError.Request.InvalidFormat"
PROTOCOL_VIOLATION: Final = "Neo.ClientError.Request.Invalid"
UNKNOWN_ERROR: Final = "Neo.DatabaseError.General.UnknownError"

# GQL statuses.
DATABASE_UNAVAILABLE_GQL: Final = "08N00"  # connection exception - unable to connect
PROTOCOL_VIOLATION_GQL: Final = "08N06"  # connection exception - protocol error
INVALID_SERVER_STATE_GQL: Final = "08N10"  # cause of 08N06 for a message illegal in a state
INVALID_FORMAT_GQL: Final = "22N01"  # data exception - invalid type
MESSAGE_TOO_LARGE_GQL: Final = "22N56"  # data exception - message length limit overflow
GENERAL_GQL: Final = "50N42"  # general processing exception - unexpected error

GQL_DESCRIPTIONS: Final[dict[str, str]] = {
    DATABASE_UNAVAILABLE_GQL: "error: connection exception - unable to connect to database.",
    PROTOCOL_VIOLATION_GQL: (
        "error: connection exception - protocol error. General network protocol error."
    ),
    INVALID_SERVER_STATE_GQL: "error: connection exception - invalid server state.",
    INVALID_FORMAT_GQL: "error: data exception - invalid type.",
    MESSAGE_TOO_LARGE_GQL: "error: data exception - protocol message length limit overflow.",
    GENERAL_GQL: "error: general processing exception - unexpected error.",
}

# The GQL status a FAILURE carries when only its Neo4j code is given.
GQL_FOR_CODE: Final[dict[str, str]] = {
    DATABASE_UNAVAILABLE: DATABASE_UNAVAILABLE_GQL,
    INVALID_FORMAT: INVALID_FORMAT_GQL,
    PROTOCOL_VIOLATION: PROTOCOL_VIOLATION_GQL,
}


def describe(gql_status: str, reason: str) -> str:
    """A FAILURE ``description``: the status's condition text, then the reason."""
    condition = GQL_DESCRIPTIONS.get(gql_status, GQL_DESCRIPTIONS[GENERAL_GQL])
    return f"{condition} {reason}" if reason else condition
