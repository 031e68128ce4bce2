"""Transparency: a driver cannot tell the proxy from the backend, in failure as in success.

For each scripted backend behaviour (a hang-up after each request type or in
the middle of a result, a slow or silent handshake, authentication failure and
token expiry, failures with and without GQL fields, keep-alives, answers that
arrive in pieces) the official Python driver runs one workload against a fresh
fake server directly and against another, identically scripted, through the
proxy. What the driver's user observes (records, summary counters, exception
class, Neo4j code, GQL status, attempts of a managed transaction, and what the
backend committed) must be equal.

Each scenario also states what the driver sees directly, so a fake server that
stopped behaving like Neo4j fails the test instead of making it vacuous.
``xfail`` marks name what the relay still gets wrong; they are strict and only
accept :class:`OutcomeDiffers`, so a fix shows up as XPASS and any other error
still fails.
"""

from __future__ import annotations

from typing import Any

import pytest

from boltproxy.bolt.messages import Tag
from tests.support.fakeneo import (
    Failure,
    FakeNeo4j,
    Hangup,
    Profile,
    Result,
    deadlock,
    syntax_error,
    token_expired,
)
from tests.support.transparency import (
    READ_QUERY,
    OutcomeDiffers,
    Scenario,
    assert_same,
    check_expected,
    observe_direct,
    observe_through_proxy,
)

# Neo4j 5.13: Bolt 5.4, FAILUREs carry only code and message (GQL fields came in 5.7).
NO_GQL = Profile(name="neo4j-5.13", agent="Neo4j/5.13.0", versions=((5, 4),), manifest=False)

READ_ROWS = tuple((i,) for i in range(1, 6))
OK = {"error": None}
LOST = {"error": "ServiceUnavailable", "gql_status": "08000", "retryable": True}
# A connection lost while the driver acquires it (during HELLO/LOGON).
LOST_IN_ACQUISITION = {**LOST, "error": "SessionExpired"}
WRITTEN_ONCE = {"error": None, "records": ((1,),), "commits": 1}


def drop(request: int, how: Hangup = Hangup.ABORT, **options: Any) -> Any:
    def arm(fake: FakeNeo4j) -> None:
        fake.drop_after(request, how, **options)

    return arm


def fail(request: int, failure: Failure, **options: Any) -> Any:
    def arm(fake: FakeNeo4j) -> None:
        fake.fail_request(request, failure, **options)

    return arm


def knobs(**values: Any) -> Any:
    def arm(fake: FakeNeo4j) -> None:
        for name, value in values.items():
            setattr(fake, name, value)

    return arm


def records_then(count: int, how: Hangup) -> Any:
    def arm(fake: FakeNeo4j) -> None:
        fake.script.on(READ_QUERY, Result(["i"], [[i] for i in range(1, 101)]))
        fake.drop_after_records(count, how)

    return arm


def slow_result_with_keepalives(fake: FakeNeo4j) -> None:
    fake.noop_interval = 0.1
    fake.script.on(READ_QUERY, Result(["i"], [[i] for i in range(1, 6)], delay=0.5))


def constraint_violation(fake: FakeNeo4j) -> None:
    fake.script.on(
        READ_QUERY,
        Failure(
            code="Neo.ClientError.Schema.ConstraintValidationFailed",
            message="Node(1) already exists with label `Thing` and property `id` = 1",
            gql_status="22N41",
            description="error: data exception - node property uniqueness violation",
            classification="CLIENT_ERROR",
        ),
    )


def unscripted_query(fake: FakeNeo4j) -> None:
    fake.script.on(READ_QUERY, syntax_error("Invalid input 'UNWIND'"))


def relay(what: str) -> Any:
    return pytest.mark.xfail(strict=True, raises=OutcomeDiffers, reason=f"relay-core: {what}")


SCENARIOS = [
    # --- well-behaved backend -------------------------------------------------------------
    pytest.param(Scenario("success, auto-commit", expect={**OK, "records": READ_ROWS})),
    pytest.param(Scenario("success, managed write", work="write",
                          expect={**WRITTEN_ONCE, "attempts": 1})),
    pytest.param(Scenario("success, explicit transaction", work="explicit", expect=WRITTEN_ONCE)),
    pytest.param(Scenario("success, rolled back", work="rollback",
                          expect={**OK, "commits": 0})),
    pytest.param(Scenario("success, routing driver", routing=True,
                          expect={**OK, "records": READ_ROWS})),
    # --- the backend hangs up with a request pending ----------------------------------------
    pytest.param(Scenario("reset after HELLO", drop(Tag.HELLO),
                          expect=LOST_IN_ACQUISITION)),
    pytest.param(Scenario("FIN after HELLO", drop(Tag.HELLO, Hangup.FIN),
                          expect=LOST_IN_ACQUISITION)),
    pytest.param(Scenario("reset after LOGON", drop(Tag.LOGON),
                          expect=LOST_IN_ACQUISITION)),
    pytest.param(Scenario("reset after RUN", drop(Tag.RUN), expect=LOST)),
    pytest.param(Scenario("FIN after RUN", drop(Tag.RUN, Hangup.FIN), expect=LOST)),
    pytest.param(Scenario("reset after PULL", drop(Tag.PULL), expect=LOST)),
    pytest.param(Scenario("reset after RUN, managed write", drop(Tag.RUN), work="write",
                          expect={**WRITTEN_ONCE, "attempts": 2})),
    # The driver sends BEGIN before calling the work function, and retries it itself.
    pytest.param(Scenario("reset after BEGIN, managed write", drop(Tag.BEGIN), work="write",
                          expect={**WRITTEN_ONCE, "attempts": 1})),
    pytest.param(Scenario("reset after BEGIN, explicit transaction", drop(Tag.BEGIN),
                          work="explicit", expect=LOST)),
    # The key case: the COMMIT went through, its answer was lost. Retrying writes twice.
    pytest.param(Scenario("reset after COMMIT, managed write",
                          drop(Tag.COMMIT, execute=True), work="write",
                          expect={"error": "IncompleteCommit", "retryable": False,
                                  "attempts": 1, "commits": 1})),
    pytest.param(Scenario("FIN after COMMIT, managed write",
                          drop(Tag.COMMIT, Hangup.FIN, execute=True), work="write",
                          expect={"error": "IncompleteCommit", "attempts": 1, "commits": 1})),
    pytest.param(Scenario("reset after COMMIT, explicit transaction",
                          drop(Tag.COMMIT, execute=True), work="explicit",
                          expect={"error": "IncompleteCommit", "commits": 1})),
    pytest.param(Scenario("reset after ROLLBACK", drop(Tag.ROLLBACK), work="rollback",
                          expect={"commits": 0})),
    pytest.param(Scenario("reset after ROUTE", drop(Tag.ROUTE), routing=True,
                          expect={"error": "ServiceUnavailable"})),
    pytest.param(Scenario("reset after the 3rd RECORD", records_then(3, Hangup.ABORT),
                          expect=LOST)),
    pytest.param(Scenario("FIN after the 3rd RECORD", records_then(3, Hangup.FIN),
                          expect=LOST)),
    pytest.param(Scenario("reset after the 1st RECORD, managed write",
                          records_then(1, Hangup.ABORT), work="write",
                          driver_config={"fetch_size": 2},
                          expect={"error": None, "attempts": 2})),
    # --- handshakes -------------------------------------------------------------------------
    # The proxy waits for a slow backend as long as the driver would wait directly.
    pytest.param(Scenario("a 1.5 s backend handshake, within the driver's deadline",
                          knobs(delay_handshake=1.5),
                          proxy_backend={"handshake_timeout": 60, "connect_attempts": 1},
                          expect={**OK, "records": READ_ROWS})),
    pytest.param(Scenario("silent handshake", knobs(silent_handshake=True),
                          driver_config={"connection_acquisition_timeout": 1.5},
                          proxy_backend={"connect_attempts": 1},
                          expect={"error": "ServiceUnavailable"})),
    pytest.param(Scenario("refused connections", knobs(refuse_connections=True),
                          expect={"error": "ServiceUnavailable"})),
    # --- authentication ---------------------------------------------------------------------
    pytest.param(Scenario("wrong password", auth="wrong",
                          expect={"error": "AuthError",
                                  "code": "Neo.ClientError.Security.Unauthorized",
                                  "gql_status": "42NFF"})),
    pytest.param(Scenario("token expired at LOGON",
                          fail(Tag.LOGON, token_expired(), hang_up=True),
                          expect={"error": "TokenExpired", "gql_status": "42NFF"})),
    pytest.param(Scenario("token expired at RUN, managed write",
                          fail(Tag.RUN, token_expired()), work="write",
                          expect={"error": "TokenExpired", "attempts": 1, "commits": 0})),
    pytest.param(Scenario("token expired at RUN, auth manager refreshes",
                          fail(Tag.RUN, token_expired()), work="write", auth="expiring",
                          expect={**WRITTEN_ONCE, "attempts": 2})),
    # --- failures ---------------------------------------------------------------------------
    pytest.param(Scenario("failure with GQL fields", constraint_violation,
                          expect={"error": "ConstraintError", "gql_status": "22N41"})),
    pytest.param(Scenario("failure without GQL fields", constraint_violation, profile=NO_GQL,
                          expect={"error": "ConstraintError", "gql_status": "50N42"})),
    pytest.param(Scenario("syntax error", unscripted_query,
                          expect={"error": "CypherSyntaxError", "gql_status": "42001"})),
    pytest.param(Scenario("transient failure at RUN, managed write",
                          fail(Tag.RUN, deadlock()), work="write",
                          expect={**WRITTEN_ONCE, "attempts": 2})),
    pytest.param(Scenario("transient failure at COMMIT, managed write",
                          fail(Tag.COMMIT, deadlock()), work="write",
                          expect={**WRITTEN_ONCE, "attempts": 2})),
    pytest.param(Scenario("transient failure at COMMIT without GQL fields",
                          fail(Tag.COMMIT, deadlock()), work="explicit", profile=NO_GQL,
                          expect={"error": "TransientError", "commits": 0})),
    # --- keep-alives and answers in pieces --------------------------------------------------
    pytest.param(Scenario("NOOPs between all messages", knobs(noops_between_messages=2),
                          expect={**OK, "records": READ_ROWS})),
    pytest.param(Scenario("NOOPs while a result is computed", slow_result_with_keepalives,
                          expect={**OK, "records": READ_ROWS})),
    pytest.param(Scenario("one byte per write", knobs(write_size=1), work="write",
                          expect={**WRITTEN_ONCE, "attempts": 1})),
    pytest.param(Scenario("one-byte Bolt chunks", knobs(max_chunk=1),
                          expect={**OK, "records": READ_ROWS})),
    pytest.param(Scenario("tiny chunks, NOOPs and split writes",
                          knobs(max_chunk=2, noops_between_messages=1, write_size=3),
                          work="write", expect={**WRITTEN_ONCE, "attempts": 1})),
]


@pytest.mark.parametrize("scenario", SCENARIOS, ids=str)
def test_driver_sees_the_same_through_the_proxy(scenario: Scenario) -> None:
    direct = observe_direct(scenario)
    check_expected(direct, scenario.expect)
    assert_same(direct, observe_through_proxy(scenario, loop="uvloop"))


# Production runs the proxy on uvloop (above); a few scenarios on asyncio's own loop
# too, so neither loop's transports hide a difference.
ON_ASYNCIO = ["success, managed write", "reset after COMMIT, managed write", "reset after RUN",
              "one byte per write"]


@pytest.mark.parametrize(
    "scenario",
    [param for param in SCENARIOS if param.values[0].name in ON_ASYNCIO],  # type: ignore[union-attr]
    ids=str,
)
def test_same_on_asyncio_loop(scenario: Scenario) -> None:
    direct = observe_direct(scenario)
    check_expected(direct, scenario.expect)
    assert_same(direct, observe_through_proxy(scenario, loop="asyncio"))

