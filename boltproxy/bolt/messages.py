"""The Bolt message catalogue (4.4 to 6.1), cheap peeks and reply builders."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any

from boltproxy.bolt import packstream
from boltproxy.bolt.errors import BoltError, PackStreamError
from boltproxy.bolt.errors import MessageError as MessageError
from boltproxy.bolt.packstream import Buffer, Structure

# Status codes and GQL statuses of the proxy's own FAILUREs (defined in status.py,
# which errors.py shares without importing the message catalogue).
from boltproxy.bolt.status import DATABASE_UNAVAILABLE as DATABASE_UNAVAILABLE
from boltproxy.bolt.status import DATABASE_UNAVAILABLE_GQL as DATABASE_UNAVAILABLE_GQL
from boltproxy.bolt.status import GENERAL_GQL as GENERAL_GQL
from boltproxy.bolt.status import GQL_FOR_CODE, describe
from boltproxy.bolt.status import INVALID_FORMAT as INVALID_FORMAT
from boltproxy.bolt.status import INVALID_FORMAT_GQL as INVALID_FORMAT_GQL
from boltproxy.bolt.status import INVALID_SERVER_STATE_GQL as INVALID_SERVER_STATE_GQL
from boltproxy.bolt.status import MESSAGE_TOO_LARGE_GQL as MESSAGE_TOO_LARGE_GQL
from boltproxy.bolt.status import PROTOCOL_VIOLATION as PROTOCOL_VIOLATION
from boltproxy.bolt.status import PROTOCOL_VIOLATION_GQL as PROTOCOL_VIOLATION_GQL
from boltproxy.bolt.status import UNKNOWN_ERROR as UNKNOWN_ERROR

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


@dataclass(frozen=True, slots=True)
class MessageSpec:
    tag: int
    name: str
    min_fields: int
    max_fields: int
    since: Version
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
    if spec is None or version < spec.since:
        return None
    return spec


def _header(payload: Buffer) -> tuple[int, int]:
    if len(payload) < 2 or not 0xB0 <= payload[0] <= 0xBF:
        raise MessageError("a message must be one PackStream structure")
    return payload[0] & 0x0F, payload[1]


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


def _marker_fits(kind: str, m: int) -> bool:
    """Does a value starting with marker ``m`` have the field's kind?"""
    # One branch per kind, no call through a table: this runs for every field.
    if kind == "m":
        return 0xA0 <= m <= 0xAF or 0xD8 <= m <= 0xDA
    if kind == "s":
        return 0x80 <= m <= 0x8F or 0xD0 <= m <= 0xD2
    if kind == "l":
        return 0x90 <= m <= 0x9F or 0xD4 <= m <= 0xD6
    if kind == "i":
        return m < 0x80 or m >= 0xF0 or 0xC8 <= m <= 0xCB
    return True  # "a": anything

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
            if not _marker_fits(kind, payload[offset]):
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
    cause: dict[str, Any] | None = None,
) -> bytes:
    """A FAILURE as Neo4j shapes it for ``version``.

    Before Bolt 5.7 it carries ``code`` and ``message``. From 5.7 it carries the
    GQL-aware form: ``neo4j_code``, ``message``, ``gql_status``, ``description``
    and a ``diagnostic_record`` whose keys default as the server fills them.
    Without ``gql_status`` the status that Neo4j pairs with ``code`` is used, and
    without ``description`` that status's condition text followed by ``message``.
    ``cause`` is a nested GQL error object (see :func:`gql_error`).
    """
    if version < (5, 7):
        return encode(Tag.FAILURE, {"code": code, "message": message})
    metadata = gql_error(code, message, gql_status, description, classification)
    if cause is not None:
        metadata["cause"] = cause
    return encode(Tag.FAILURE, metadata)


def gql_error(
    code: str,
    message: str,
    gql_status: str | None = None,
    description: str | None = None,
    classification: str | None = None,
) -> dict[str, Any]:
    """The metadata of a Bolt 5.7+ FAILURE (also the shape of its ``cause``)."""
    status = gql_status or GQL_FOR_CODE.get(code, GENERAL_GQL)
    if classification is None:
        classification = "CLIENT_ERROR" if ".ClientError." in code else "DATABASE_ERROR"
        if ".TransientError." in code:
            classification = "TRANSIENT_ERROR"
    return {
        "neo4j_code": code,
        "message": message,
        "gql_status": status,
        "description": description or describe(status, message),
        "diagnostic_record": {
            "OPERATION": "",
            "OPERATION_CODE": "0",
            "CURRENT_SCHEMA": "/",
            "_classification": classification,
        },
    }


def failure_for(error: BoltError, version: Version, message: str | None = None) -> bytes:
    """A FAILURE about ``error`` with its code and GQL status; ``message`` replaces its text."""
    text = error.message if message is None else message
    cause = None
    if error.cause_gql_status is not None:
        cause = gql_error(error.code, error.message, error.cause_gql_status)
    return failure(error.code, text, version, gql_status=error.gql_status, cause=cause)


def failure_code(metadata: dict[str, Any]) -> str | None:
    code = metadata.get("code", metadata.get("neo4j_code"))
    return code if isinstance(code, str) else None


_HAS_MORE_KEY = b"has_more"


def summary_has_more(payload: Buffer) -> bool:
    """Whether a SUCCESS says ``has_more: true`` at the top level of its metadata."""
    offset = _summary_value_at(payload, _HAS_MORE_KEY)
    return offset >= 0 and payload[offset] == 0xC3


def summary_value(payload: Buffer, key: bytes) -> Any:
    """The value of one top-level key of a SUCCESS's metadata (None when absent).

    Only that value is decoded: the rest of the map is walked, as for ``has_more``.
    """
    offset = _summary_value_at(payload, key)
    if offset < 0:
        return None
    try:
        return packstream.unpack(payload, offset)[0]
    except PackStreamError as exc:
        raise MessageError(f"malformed SUCCESS metadata: {exc}") from None


def _summary_value_at(payload: Buffer, key: bytes) -> int:
    """Where the value of ``key`` starts in a SUCCESS's top-level metadata (-1: absent).

    Walks the map's keys and skips the values, so that the same bytes inside a
    notification, a label or a bookmark cannot be mistaken for the key; only
    the key strings' bytes are looked at.
    """
    if len(payload) < 3 or payload[0] != 0xB1 or payload[1] != Tag.SUCCESS:
        raise MessageError("not a SUCCESS with one field")
    found = -1
    try:
        entries, offset = _map_header(payload, 2)
        for _ in range(entries):
            key_start, key_end = _string_span(payload, offset)
            if key_end - key_start == len(key) and payload[key_start:key_end] == key:
                found = key_end
            # The backend's bytes go on as received: walked, its text not decoded.
            offset = packstream.skip(payload, key_end, check_text=False)
    except (IndexError, PackStreamError) as exc:
        raise MessageError(f"malformed SUCCESS metadata: {exc}") from None
    return found


def _map_header(data: Buffer, offset: int) -> tuple[int, int]:
    """The entry count of the map at ``offset`` and where its first key starts."""
    marker = data[offset]
    if 0xA0 <= marker <= 0xAF:
        return marker & 0x0F, offset + 1
    width = {0xD8: 1, 0xD9: 2, 0xDA: 4}.get(marker)
    if width is None:
        raise MessageError("SUCCESS metadata is not a map")
    end = offset + 1 + width
    if end > len(data):
        raise MessageError("truncated SUCCESS metadata")
    return int.from_bytes(data[offset + 1 : end], "big"), end


def _string_span(data: Buffer, offset: int) -> tuple[int, int]:
    """Start and end of the bytes of the string at ``offset`` (a map key)."""
    marker = data[offset]
    if 0x80 <= marker <= 0x8F:
        start, size = offset + 1, marker & 0x0F
    else:
        width = {0xD0: 1, 0xD1: 2, 0xD2: 4}.get(marker)
        if width is None:
            raise MessageError(f"map key at {offset} is not a string")
        start = offset + 1 + width
        size = int.from_bytes(data[offset + 1 : start], "big")
    if start + size > len(data):
        raise MessageError(f"truncated map key at {offset}")
    return start, start + size
