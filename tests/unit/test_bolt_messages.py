"""Message-level helpers: has_more in a SUCCESS, and the proxy's own FAILUREs."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from boltproxy.bolt import messages
from boltproxy.bolt.errors import (
    BoltError,
    FramingError,
    InvalidServerState,
    MessageError,
    MessageTooLarge,
)
from boltproxy.bolt.messages import Tag

TRAP = b"\x88has_more\xc3"  # what a byte search for the key followed by true finds


def _has_more(metadata: dict[str, Any]) -> bool:
    return messages.summary_has_more(messages.success(metadata))


@pytest.mark.parametrize(
    "metadata",
    [
        {"bookmark": TRAP.decode("latin-1"), "t_last": 3},
        {"statuses": [{"status_description": "has_more", "diagnostic_record": {"has_more": True}}]},
        {"notifications": [{"description": TRAP.decode("latin-1"), "title": "x"}]},
        {"fields": ["has_more"], "labels": [TRAP.decode("latin-1")]},
        {"x": TRAP},
        {"nested": {"has_more": True}},
    ],
)
def test_has_more_bytes_inside_values_are_not_the_key(metadata: dict[str, Any]) -> None:
    assert TRAP in messages.success(metadata)
    assert _has_more(metadata) is False


@pytest.mark.parametrize(
    ("metadata", "expected"),
    [
        ({}, False),
        ({"has_more": True}, True),
        ({"has_more": False}, False),
        ({"db": "neo4j", "bookmark": "FB:x", "has_more": True}, True),
    ],
)
def test_has_more_at_the_top_level(metadata: dict[str, Any], expected: bool) -> None:
    assert _has_more(metadata) is expected


keys = st.one_of(st.sampled_from(["has_more", "has_mor", "has_moree", "t_last", "db"]), st.text())
leaves = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**63), 2**63 - 1),
    st.sampled_from([TRAP.decode("latin-1"), "has_more", TRAP]),
    st.text(max_size=300),  # long enough for the 8- and 16-bit size forms
    st.binary(max_size=20),
)
trees = st.recursive(
    leaves,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(keys, inner, max_size=4),
    max_leaves=20,
)


@given(st.dictionaries(keys, trees, max_size=20))
def test_has_more_agrees_with_decoding(metadata: dict[str, Any]) -> None:
    assert _has_more(metadata) is (metadata.get("has_more") is True)


@pytest.mark.parametrize(
    "payload",
    [
        b"",
        b"\xb1\x70",
        b"\xb1\x71\xa0",
        b"\xb1\x70\x91\x01",
        b"\xb1\x70\xa1\x01\x01",
        b"\xb1\x70\xa1\x88has_more",
        b"\xb1\x70\xd8",
        b"\xb1\x70\xa1\xd0\x09has_more\xc3",
    ],
)
def test_malformed_summaries_are_message_errors(payload: bytes) -> None:
    with pytest.raises(MessageError):
        messages.summary_has_more(payload)


# --- the proxy's own FAILUREs ------------------------------------------------------


def _metadata(failure: bytes) -> dict[str, Any]:
    tag, fields = messages.decode(failure)
    assert tag == Tag.FAILURE
    metadata: dict[str, Any] = fields[0]
    return metadata


def test_malformed_client_input_is_22n01_invalid_format() -> None:
    metadata = _metadata(messages.failure(messages.INVALID_FORMAT, "bad RUN", (5, 8)))
    assert metadata["gql_status"] == "22N01" == messages.INVALID_FORMAT_GQL
    assert metadata["description"] == "error: data exception - invalid type. bad RUN"
    assert metadata["diagnostic_record"]["_classification"] == "CLIENT_ERROR"


def test_protocol_violation_is_08n06_with_an_08n10_cause() -> None:
    error = InvalidServerState("Message 'COMMIT' cannot be handled by session in the READY state")
    metadata = _metadata(messages.failure_for(error, (5, 8)))
    assert metadata["neo4j_code"] == messages.PROTOCOL_VIOLATION
    assert metadata["gql_status"] == "08N06"
    assert metadata["description"].startswith("error: connection exception - protocol error.")
    cause = metadata["cause"]
    assert cause["gql_status"] == "08N10"
    assert cause["description"] == (
        "error: connection exception - invalid server state. Message 'COMMIT' cannot be"
        " handled by session in the READY state"
    )


def test_oversize_message_is_22n56_like_neo4j() -> None:
    metadata = _metadata(messages.failure_for(MessageTooLarge("limit 1000"), (5, 8)))
    assert (metadata["neo4j_code"], metadata["gql_status"]) == (
        "Neo.ClientError.Request.Invalid",
        "22N56",
    )


@pytest.mark.parametrize("error", [FramingError("x"), MessageError("y"), BoltError("z")])
def test_any_bolt_error_makes_a_failure_before_and_after_5_7(error: BoltError) -> None:
    old = _metadata(messages.failure_for(error, (5, 6), "boltproxy: refused"))
    assert old == {"code": error.code, "message": "boltproxy: refused"}
    new = _metadata(messages.failure_for(error, (5, 7)))
    assert (new["neo4j_code"], new["gql_status"]) == (error.code, error.gql_status)
    assert "cause" not in new
