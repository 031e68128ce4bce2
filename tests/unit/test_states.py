"""The server state machine as a relay follows it."""

from __future__ import annotations

import pytest

from boltproxy.bolt.messages import Tag
from boltproxy.bolt.states import Conversation, Outcome, ProtocolViolation, ServerState

S, F, IGN = Tag.SUCCESS, Tag.FAILURE, Tag.IGNORED


def logged_in(version: tuple[int, int] = (5, 8)) -> Conversation:
    conversation = Conversation(version)
    conversation.on_request(Tag.HELLO)
    if version >= (5, 1):
        conversation.on_request(Tag.LOGON)
    conversation.on_summary(S)
    if version >= (5, 1):
        conversation.on_summary(S)
    assert conversation.state is ServerState.READY
    return conversation


def test_auto_commit_query() -> None:
    c = logged_in()
    c.on_request(Tag.RUN)
    c.on_request(Tag.PULL)
    assert c.on_summary(S).after is ServerState.STREAMING
    assert c.on_summary(S, has_more=True).after is ServerState.STREAMING
    c.on_request(Tag.PULL)
    assert c.on_summary(S).after is ServerState.READY
    assert c.at_boundary


def test_pipelined_explicit_transaction_with_two_open_results() -> None:
    c = logged_in()
    for tag in (Tag.BEGIN, Tag.RUN, Tag.RUN, Tag.PULL):
        c.on_request(tag)
    begun = c.on_summary(S)
    assert begun.began_transaction and c.in_transaction
    c.on_summary(S)
    c.on_summary(S)
    assert c.on_summary(S).after is ServerState.TX_STREAMING  # one result still open
    c.on_request(Tag.PULL)
    assert c.on_summary(S).after is ServerState.TX_READY
    assert not c.at_boundary
    c.on_request(Tag.COMMIT)
    committed = c.on_summary(S)
    assert committed.ended_transaction and c.at_boundary


def test_failure_then_ignored_until_reset() -> None:
    c = logged_in()
    for tag in (Tag.BEGIN, Tag.RUN, Tag.PULL):
        c.on_request(tag)
    c.on_summary(S)
    failed = c.on_summary(F)
    assert failed.outcome is Outcome.FAILURE and failed.ended_transaction
    assert c.on_summary(IGN).after is ServerState.FAILED
    c.on_request(Tag.RESET)
    assert c.on_summary(S).after is ServerState.READY


def test_pre_5_1_hello_carries_auth_and_logon_does_not_exist() -> None:
    c = logged_in((4, 4))
    with pytest.raises(ProtocolViolation):
        c.on_request(Tag.LOGON)


def test_logoff_and_logon_again() -> None:
    c = logged_in()
    c.on_request(Tag.LOGOFF)
    c.on_request(Tag.LOGON)
    assert c.on_summary(S).after is ServerState.AUTHENTICATION
    assert c.on_summary(S).after is ServerState.READY


@pytest.mark.parametrize(
    "requests",
    [
        [Tag.RUN],  # before HELLO
        [Tag.HELLO, Tag.HELLO],
        [Tag.HELLO, Tag.LOGON, Tag.COMMIT],
        [Tag.HELLO, Tag.LOGON, Tag.PULL],
        [Tag.HELLO, Tag.LOGON, Tag.BEGIN, Tag.BEGIN],
        [Tag.HELLO, Tag.LOGON, Tag.BEGIN, Tag.ROUTE],
    ],
)
def test_illegal_requests(requests: list[int]) -> None:
    c = Conversation((5, 8))
    for tag in requests[:-1]:
        c.on_request(tag)
    with pytest.raises(ProtocolViolation):
        c.on_request(requests[-1])


def test_telemetry_needs_5_4() -> None:
    with pytest.raises(ProtocolViolation):
        logged_in((5, 3)).on_request(Tag.TELEMETRY)
    logged_in((5, 4)).on_request(Tag.TELEMETRY)


def test_failed_logon_is_fatal_and_a_stray_summary_is_refused() -> None:
    c = Conversation((5, 8))
    c.on_request(Tag.HELLO)
    c.on_request(Tag.LOGON)
    c.on_summary(S)
    assert c.on_summary(F).after is ServerState.DEFUNCT
    with pytest.raises(ProtocolViolation):
        c.on_summary(S)
