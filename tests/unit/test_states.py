"""The server state machine as a relay follows it."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from boltproxy.bolt import states
from boltproxy.bolt.errors import PipelineLimitExceeded
from boltproxy.bolt.messages import Tag, spec_for
from boltproxy.bolt.states import (
    DEFAULT_MAX_PENDING,
    Conversation,
    Outcome,
    ProtocolViolation,
    ServerState,
)

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


# --- cost and limits -----------------------------------------------------------


class _Budget:
    """Counts evaluations of the transition functions; fails fast past a budget."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, limit: int) -> None:
        self.calls = 0
        self.limit = limit
        states._STEPS.clear()  # count the table's construction too
        for name in ("_legal", "_after_success"):
            monkeypatch.setattr(states, name, self._counted(getattr(states, name)))

    def _counted(self, function: Callable[..., Any]) -> Callable[..., Any]:
        def counted(*args: Any) -> Any:
            self.calls += 1
            if self.calls > self.limit:
                raise AssertionError(f"more than {self.limit} transition evaluations")
            return function(*args)

        return counted


PAIRS = 20_000
PER_MESSAGE = 40  # evaluations allowed per message, on average


def _pipeline(c: Conversation, head: tuple[int, ...], pairs: int) -> None:
    for tag in head:
        c.on_request(tag)
    for _ in range(pairs):
        c.on_request(Tag.RUN)
        c.on_request(Tag.PULL)


def test_pipelined_transaction_costs_constant_work_per_message(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    messages = 2 * (3 + 2 * PAIRS)
    budget = _Budget(monkeypatch, PER_MESSAGE * messages)
    c = Conversation((5, 8), max_pending=10 * PAIRS)
    _pipeline(c, (Tag.HELLO, Tag.LOGON, Tag.BEGIN), PAIRS)
    for _ in range(3 + 2 * PAIRS):
        c.on_summary(S)
    assert c.state is ServerState.TX_READY and c.pending == 0
    assert budget.calls <= PER_MESSAGE * messages


def test_wrong_password_then_deep_pipeline_costs_constant_work_per_message(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    messages = 2 * (2 + 2 * PAIRS)
    budget = _Budget(monkeypatch, PER_MESSAGE * messages)
    c = Conversation((5, 8), max_pending=10 * PAIRS)
    _pipeline(c, (Tag.HELLO, Tag.LOGON), PAIRS)
    c.on_summary(S)
    assert c.on_summary(F).after is ServerState.DEFUNCT
    for _ in range(2 * PAIRS):
        assert c.on_summary(IGN).after is ServerState.DEFUNCT
    assert budget.calls <= PER_MESSAGE * messages


def test_failure_inside_a_deep_pipeline_costs_constant_work_per_message(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    messages = 2 * (4 + 2 * PAIRS)
    budget = _Budget(monkeypatch, PER_MESSAGE * messages)
    c = Conversation((5, 8), max_pending=10 * PAIRS)
    _pipeline(c, (Tag.HELLO, Tag.LOGON, Tag.BEGIN), PAIRS)
    c.on_request(Tag.RESET)
    for _ in range(3):
        c.on_summary(S)
    assert c.on_summary(F).after is ServerState.FAILED
    for _ in range(2 * PAIRS - 1):
        assert c.on_summary(IGN).after is ServerState.FAILED
    assert c.on_summary(S).after is ServerState.READY
    assert budget.calls <= PER_MESSAGE * messages


def test_pipelining_beyond_the_limit_is_refused_clearly() -> None:
    c = logged_in()
    c.max_pending = 4
    for tag in (Tag.BEGIN, Tag.RUN, Tag.PULL, Tag.RUN):
        c.on_request(tag)
    with pytest.raises(PipelineLimitExceeded, match="more than 4 requests") as refused:
        c.on_request(Tag.PULL)
    assert isinstance(refused.value, ProtocolViolation)
    assert refused.value.code == "Neo.ClientError.Request.Invalid"
    c.on_summary(S)
    c.on_request(Tag.PULL)  # one answer makes room for one request
    assert Conversation((5, 8)).max_pending == DEFAULT_MAX_PENDING


def test_illegal_request_says_so_like_neo4j() -> None:
    with pytest.raises(ProtocolViolation) as refused:
        logged_in().on_request(Tag.COMMIT)
    error = refused.value
    assert str(error) == "Message 'COMMIT' cannot be handled by session in the READY state"
    assert (error.code, error.gql_status, error.cause_gql_status) == (
        "Neo.ClientError.Request.Invalid",
        "08N06",
        "08N10",
    )


# --- the same verdicts as exact tracking ------------------------------------------


class _Exact:
    """Reference: every (state, open results) position pending requests can reach."""

    def __init__(self, version: tuple[int, int]) -> None:
        self.version = version
        self.position = (ServerState.CONNECTED, 0)
        self.pending: deque[int] = deque()
        self.predicted = {self.position}

    def on_request(self, tag: int) -> bool:
        if spec_for(tag, self.version) is None:
            return False
        if not any(states._legal(p, tag) for p in self.predicted):
            return False
        self.pending.append(tag)
        self.predicted = self._advance(self.predicted, tag)
        return True

    def _advance(self, positions: set[Any], tag: int) -> set[Any]:
        following = set()
        for position in positions:
            if not states._legal(position, tag):
                continue
            if position[0] in (ServerState.FAILED, ServerState.INTERRUPTED) and tag not in (
                Tag.RESET,
                Tag.GOODBYE,
            ):
                following.add(position)
                continue
            for more in (False, True) if tag in (Tag.PULL, Tag.DISCARD) else (False,):
                after = states._after_success(position, tag, self.version, more)
                if after is not None:
                    following.add(after)
        return following

    def on_summary(self, tag: int, has_more: bool) -> ServerState:
        request = self.pending.popleft()
        before = self.position
        if tag == S:
            after = states._after_success(before, request, self.version, has_more) or before
        elif tag == F:
            fatal = request in (Tag.HELLO, Tag.LOGON, Tag.RESET)
            after = (
                ServerState.DEFUNCT
                if fatal or before[0] is ServerState.CONNECTED
                else ServerState.FAILED,
                0,
            )
        else:
            after = before
        self.position = after
        if not self.pending:
            self.predicted = {after}
        elif tag != S:
            positions = {after}
            for pending in self.pending:
                positions = self._advance(positions, pending) or positions
            self.predicted = positions
        return after[0]


_REQUESTS = [tag for tag in Tag if tag not in (S, F, IGN, Tag.RECORD)]
_ACTIONS = st.lists(
    st.one_of(
        st.tuples(st.just("request"), st.sampled_from(_REQUESTS), st.just(False)),
        st.tuples(st.just("summary"), st.sampled_from([S, S, S, F, IGN]), st.booleans()),
    ),
    max_size=40,
)


@settings(max_examples=400)
@given(st.sampled_from([(4, 4), (5, 0), (5, 4), (5, 8)]), _ACTIONS)
def test_same_verdicts_as_exact_position_tracking(
    version: tuple[int, int], actions: list[tuple[str, int, bool]]
) -> None:
    c, exact = Conversation(version), _Exact(version)
    for kind, tag, has_more in actions:
        if kind == "request":
            accepted = exact.on_request(tag)
            if accepted:
                c.on_request(tag)
            else:
                with pytest.raises(ProtocolViolation):
                    c.on_request(tag)
        elif exact.pending:
            assert c.on_summary(tag, has_more=has_more).after is exact.on_summary(tag, has_more)
        assert c.state is exact.position[0] and c.pending == len(exact.pending)
