"""The Bolt message catalogue (4.4 to 6.0), cheap peeks and reply builders."""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from boltproxy.bolt import packstream
from boltproxy.bolt.packstream import Buffer, PackStreamError, Structure

Version = tuple[int, int]


class Tag(enum.IntEnum):
    HELLO = 0x01
    GOODBYE = 0x02
    RESET = 0x0F
    RUN = 0x10
    BEGIN = 0x11
    COMMIT = 0x12
    ROLLBACK = 0x13
    DISCARD = 0x2F
    PULL = 0x3F
    TELEMETRY = 0x54
    ROUTE = 0x66
    LOGON = 0x6A
    LOGOFF = 0x6B
    SUCCESS = 0x70
    RECORD = 0x71
    IGNORED = 0x7E
    FAILURE = 0x7F


REQUESTS = frozenset(
    {
        Tag.HELLO,
        Tag.GOODBYE,
        Tag.RESET,
        Tag.RUN,
        Tag.BEGIN,
        Tag.COMMIT,
        Tag.ROLLBACK,
        Tag.DISCARD,
        Tag.PULL,
        Tag.TELEMETRY,
        Tag.ROUTE,
        Tag.LOGON,
        Tag.LOGOFF,
    }
)
RESPONSES = frozenset({Tag.SUCCESS, Tag.RECORD, Tag.IGNORED, Tag.FAILURE})
SUMMARIES = frozenset({Tag.SUCCESS, Tag.IGNORED, Tag.FAILURE})

# Status codes the proxy sends itself. GQL statuses follow the GQLSTATUS list of
# the Neo4j status-code manual: 08N* are connection exceptions, 50N42 is the
# general "unexpected error" and 22N* data exceptions.
DATABASE_UNAVAILABLE = "Neo.TransientError.General.DatabaseUnavailable"
DATABASE_UNAVAILABLE_GQL = "08N00"
INVALID_FORMAT = "Neo.ClientError.Request.InvalidFormat"
INVALID_FORMAT_GQL = "22N01"
PROTOCOL_VIOLATION = "Neo.ClientError.Request.Invalid"
PROTOCOL_VIOLATION_GQL = "50N42"
GENERAL_GQL = "50N42"


@dataclass(frozen=True, slots=True)
class MessageSpec:
    tag: int
    name: str
    min_fields: int
    max_fields: int
    since: Version
    until: Version | None = None  # last version that has it
    kinds: str = ""  # per field: s string, m map, l list, i integer, a anything


_CATALOGUE: tuple[MessageSpec, ...] = (
    MessageSpec(Tag.HELLO, "HELLO", 1, 1, (4, 4), kinds="m"),
    MessageSpec(Tag.GOODBYE, "GOODBYE", 0, 0, (4, 4)),
    MessageSpec(Tag.RESET, "RESET", 0, 0, (4, 4)),
    MessageSpec(Tag.RUN, "RUN", 3, 3, (4, 4), kinds="smm"),
    MessageSpec(Tag.BEGIN, "BEGIN", 1, 1, (4, 4), kinds="m"),
    MessageSpec(Tag.COMMIT, "COMMIT", 0, 0, (4, 4)),
    MessageSpec(Tag.ROLLBACK, "ROLLBACK", 0, 0, (4, 4)),
    MessageSpec(Tag.DISCARD, "DISCARD", 1, 1, (4, 4), kinds="m"),
    MessageSpec(Tag.PULL, "PULL", 1, 1, (4, 4), kinds="m"),
    MessageSpec(Tag.TELEMETRY, "TELEMETRY", 1, 1, (5, 4), kinds="i"),
    MessageSpec(Tag.ROUTE, "ROUTE", 3, 3, (4, 4), kinds="mla"),
    MessageSpec(Tag.LOGON, "LOGON", 1, 1, (5, 1), kinds="m"),
    MessageSpec(Tag.LOGOFF, "LOGOFF", 0, 0, (5, 1)),
    MessageSpec(Tag.SUCCESS, "SUCCESS", 1, 1, (4, 4)),
    MessageSpec(Tag.RECORD, "RECORD", 1, 1, (4, 4)),
    MessageSpec(Tag.IGNORED, "IGNORED", 0, 0, (4, 4)),
    MessageSpec(Tag.FAILURE, "FAILURE", 1, 1, (4, 4)),
)
_BY_TAG = {spec.tag: spec for spec in _CATALOGUE}


def spec_for(tag: int, version: Version) -> MessageSpec | None:
    spec = _BY_TAG.get(tag)
    if spec is not None and spec.since <= version and spec.until is None:
        return spec
    if spec is None or version < spec.since or (spec.until and version > spec.until):
        return None
    return spec


class MessageError(ValueError):
    """A message that is not what its tag promises."""


def _header(payload: Buffer) -> tuple[int, int]:
    if len(payload) < 2 or not 0xB0 <= payload[0] <= 0xBF:
        raise MessageError("a message must be one PackStream structure")
    return payload[0] & 0x0F, payload[1]


def peek_tag(payload: Buffer) -> int:
    return _header(payload)[1]


def peek_run_query(payload: Buffer) -> str:
    size, tag = _header(payload)
    if tag != Tag.RUN or size < 1:
        raise MessageError("not a RUN message")
    try:
        query, _ = packstream.unpack(payload, 2)
    except PackStreamError as exc:
        raise MessageError(f"malformed RUN: {exc}") from None
    if not isinstance(query, str):
        raise MessageError("RUN's query is not a string")
    return query


_MARKER_KINDS: dict[str, Callable[[int], bool]] = {
    "s": lambda m: 0x80 <= m <= 0x8F or 0xD0 <= m <= 0xD2,
    "m": lambda m: 0xA0 <= m <= 0xAF or 0xD8 <= m <= 0xDA,
    "l": lambda m: 0x90 <= m <= 0x9F or 0xD4 <= m <= 0xD6,
    "i": lambda m: m < 0x80 or m >= 0xF0 or 0xC8 <= m <= 0xCB,
    "a": lambda m: True,
}
_KIND_NAMES = {"s": "a string", "m": "a map", "l": "a list", "i": "an integer", "a": "a value"}


def check_request(payload: Buffer, version: Version) -> int:
    """Validate a client message cheaply and return its tag."""
    size, tag = _header(payload)
    spec = spec_for(tag, version)
    if spec is None or tag not in REQUESTS:
        raise MessageError(f"unknown request 0x{tag:02X} for Bolt {version[0]}.{version[1]}")
    if not spec.min_fields <= size <= spec.max_fields:
        raise MessageError(f"{spec.name} takes {spec.min_fields} fields, not {size}")
    end = len(payload)
    offset = 2
    kinds = spec.kinds
    for index in range(size):
        if offset < end:
            kind = kinds[index] if index < len(kinds) else "a"
            if not _MARKER_KINDS[kind](payload[offset]):
                raise MessageError(f"{spec.name} field {index + 1} must be {_KIND_NAMES[kind]}")
        try:
            offset = packstream.skip(payload, offset)
        except PackStreamError as exc:
            raise MessageError(f"malformed {spec.name}: {exc}") from None
    if offset != end:
        raise MessageError(f"{spec.name} has {end - offset} bytes after its fields")
    return tag


def encode(tag: int, *fields: Any) -> bytes:
    return packstream.pack(Structure(tag, fields))


def decode(payload: Buffer) -> tuple[int, list[Any]]:
    try:
        value = packstream.unpack_all(payload)
    except PackStreamError as exc:
        raise MessageError(f"malformed message: {exc}") from None
    if not isinstance(value, Structure):
        raise MessageError("a message must be one PackStream structure")
    return value.tag, value.fields


def success(metadata: dict[str, Any]) -> bytes:
    return encode(Tag.SUCCESS, metadata)


def record(values: list[Any]) -> bytes:
    return encode(Tag.RECORD, values)


def ignored() -> bytes:
    return encode(Tag.IGNORED)


def failure(
    code: str,
    message: str,
    version: Version,
    *,
    gql_status: str | None = None,
    description: str | None = None,
    classification: str | None = None,
) -> bytes:
    """A FAILURE as Neo4j shapes it for ``version``.

    Before Bolt 5.7 it carries ``code`` and ``message``. From 5.7 it carries the
    GQL-aware form: ``neo4j_code``, ``message``, ``gql_status``, ``description``
    and a ``diagnostic_record`` whose keys default as the server fills them.
    """
    if version < (5, 7):
        return encode(Tag.FAILURE, {"code": code, "message": message})
    status = gql_status or GENERAL_GQL
    if classification is None:
        classification = "CLIENT_ERROR" if ".ClientError." in code else "DATABASE_ERROR"
        if ".TransientError." in code:
            classification = "TRANSIENT_ERROR"
    return encode(
        Tag.FAILURE,
        {
            "neo4j_code": code,
            "message": message,
            "gql_status": status,
            "description": description or f"error: {message}",
            "diagnostic_record": {
                "OPERATION": "",
                "OPERATION_CODE": "0",
                "CURRENT_SCHEMA": "/",
                "_classification": classification,
            },
        },
    )


def failure_code(metadata: dict[str, Any]) -> str | None:
    code = metadata.get("code", metadata.get("neo4j_code"))
    return code if isinstance(code, str) else None
