"""Run one official-driver workload against a scripted backend, directly or through the proxy.

A :class:`Scenario` names a backend behaviour (``arm`` scripts a fresh
:class:`FakeNeo4j`) and a workload the driver runs against it. :func:`observe`
runs the workload against a URI and returns what the driver's user could see
(:class:`Outcome`); :func:`observe_direct` and :func:`observe_through_proxy` give
each side its own fresh fake server with the same script, so a test is one
comparison: ``assert_same(observe_direct(s), observe_through_proxy(s))``.

The proxy runs on uvloop (the loop production uses) or asyncio's own loop.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, fields, replace
from typing import Any

import neo4j
from neo4j.auth_management import AuthManagers, ExpiringAuth
from neo4j.exceptions import Neo4jError

from tests.support.fakeneo import NEO4J_5_26, FakeNeo4j, Profile, Result, run_in_thread
from tests.support.proxy import ThreadedProxy, proxy_settings

AUTH = ("neo4j", "password")
WORKLOADS = ("auto", "write", "explicit", "rollback", "connect")

READ_QUERY = "UNWIND range(1, 5) AS i RETURN i"
WRITE_QUERY = "CREATE (t:Thing {id: $id}) RETURN t.id AS id"
WRITE_STATS = {"nodes-created": 1, "labels-added": 1, "properties-set": 1}

# Short deadlines, so a failing case ends in about a second or two.
DRIVER_CONFIG: dict[str, Any] = {
    "connection_timeout": 2,
    "connection_acquisition_timeout": 3,
    "max_transaction_retry_time": 2,
}

# Named explicitly, whatever loop tests/support/proxy.py would pick by default.
LOOPS: dict[str, Callable[[], asyncio.AbstractEventLoop]] = {"asyncio": asyncio.SelectorEventLoop}
try:
    import uvloop
except ImportError:  # pragma: no cover - uvloop is a dependency off Windows
    pass
else:
    LOOPS["uvloop"] = uvloop.new_event_loop


@dataclass(frozen=True)
class Outcome:
    """What a driver's user observes of one workload."""

    keys: tuple[str, ...] = ()
    records: tuple[tuple[Any, ...], ...] = ()
    counters: tuple[tuple[str, Any], ...] = ()
    statuses: tuple[str, ...] = ()  # GQL statuses of the summary
    error: str | None = None  # the exception class the workload raised
    code: str | None = None  # its Neo4j code (server errors only)
    gql_status: str | None = None
    message: str | None = None  # server errors only: driver messages name addresses
    retryable: bool | None = None
    attempts: int = 0  # calls of the work function (managed transactions)
    commits: int | None = None  # transactions the backend committed (filled by the harness)

    def differences(self, other: Outcome) -> list[str]:
        return [
            f"{f.name}: {getattr(self, f.name)!r} != {getattr(other, f.name)!r}"
            for f in fields(self)
            if getattr(self, f.name) != getattr(other, f.name)
        ]


class OutcomeDiffers(AssertionError):
    """The driver observed something else through the proxy than directly."""


def assert_same(direct: Outcome, proxied: Outcome) -> None:
    differences = direct.differences(proxied)
    if differences:
        raise OutcomeDiffers("direct vs proxy: " + "; ".join(differences))


def _no_script(fake: FakeNeo4j) -> None:
    pass


@dataclass(frozen=True)
class Scenario:
    name: str
    arm: Callable[[FakeNeo4j], None] = _no_script  # the backend behaviour
    work: str = "auto"  # auto | write | explicit | rollback | connect
    routing: bool = False  # neo4j:// instead of bolt://
    profile: Profile = NEO4J_5_26
    auth: str = "basic"  # basic | wrong | expiring (an auth manager that refreshes)
    driver_config: dict[str, Any] = field(default_factory=dict)
    proxy_backend: dict[str, Any] = field(default_factory=dict)  # backend settings overrides
    expect: dict[str, Any] = field(default_factory=dict)  # what the driver sees directly

    def __str__(self) -> str:
        return self.name


def script_queries(fake: FakeNeo4j) -> None:
    """What every scenario's backend answers besides the built-ins."""
    fake.script.on(WRITE_QUERY, Result(["id"], [[1]], query_type="w", stats=dict(WRITE_STATS)))


# --------------------------------------------------------------------------- the driver side


def _auth(scenario: Scenario) -> Any:
    if scenario.auth == "wrong":
        return ("neo4j", "wrong")
    if scenario.auth == "expiring":
        # The manager for SSO tokens: TokenExpired makes it fetch a new one, and the
        # driver retries the managed transaction.
        return AuthManagers.bearer(lambda: ExpiringAuth(neo4j.basic_auth(*AUTH)))
    return AUTH


def _counters(summary: neo4j.ResultSummary) -> tuple[tuple[str, Any], ...]:
    counters = summary.counters
    names = sorted(
        name
        for name in dir(type(counters))
        if not name.startswith("_") and isinstance(getattr(type(counters), name), property)
    )
    public = [name for name in vars(counters) if not name.startswith("_")]
    return tuple((name, getattr(counters, name)) for name in sorted({*names, *public}))


def _from_result(result: neo4j.Result) -> dict[str, Any]:
    keys = tuple(result.keys())
    records = tuple(tuple(record.values()) for record in result)
    summary = result.consume()
    return {
        "keys": keys,
        "records": records,
        "counters": _counters(summary),
        "statuses": tuple(status.gql_status for status in summary.gql_status_objects),
    }


def _from_error(error: Exception) -> dict[str, Any]:
    seen: dict[str, Any] = {
        "error": type(error).__name__,
        "gql_status": getattr(error, "gql_status", None),
    }
    if isinstance(error, Neo4jError):
        seen["code"] = error.code
        seen["message"] = error.message
    is_retryable = getattr(error, "is_retryable", None)
    if callable(is_retryable):
        seen["retryable"] = bool(is_retryable())
    return seen


def observe(uri: str, scenario: Scenario) -> Outcome:
    """Run the scenario's workload with the official (sync) driver against ``uri``."""
    attempts = 0
    seen: dict[str, Any] = {}

    def query(tx: neo4j.ManagedTransaction | neo4j.Transaction) -> dict[str, Any]:
        if scenario.work == "write" or scenario.work == "explicit":
            return _from_result(tx.run(WRITE_QUERY, id=1))
        return _from_result(tx.run(READ_QUERY))

    def work(tx: neo4j.ManagedTransaction) -> dict[str, Any]:
        nonlocal attempts
        attempts += 1
        return query(tx)

    if scenario.work not in WORKLOADS:
        raise ValueError(f"unknown workload {scenario.work!r}")
    config = {**DRIVER_CONFIG, **scenario.driver_config}
    try:
        with neo4j.GraphDatabase.driver(uri, auth=_auth(scenario), **config) as driver:
            if scenario.work == "connect":
                driver.verify_connectivity()
            else:
                with driver.session(database="neo4j") as session:
                    if scenario.work == "auto":
                        seen = _from_result(session.run(READ_QUERY))
                    elif scenario.work == "write":
                        seen = session.execute_write(work)
                    else:
                        with session.begin_transaction() as tx:
                            seen = query(tx)
                            if scenario.work == "explicit":
                                tx.commit()
                            else:
                                tx.rollback()
    except Exception as error:
        seen = {**seen, **_from_error(error)}
    return Outcome(attempts=attempts, **seen)


# --------------------------------------------------------------------------- the two sides


def committed(fake: FakeNeo4j) -> int:
    return sum(t.outcome == "committed" for c in fake.connections for t in c.transactions)


@contextmanager
def scripted_backend(scenario: Scenario) -> Iterator[FakeNeo4j]:
    with run_in_thread(FakeNeo4j(profile=scenario.profile)) as fake:
        script_queries(fake)
        yield fake


class LoopProxy(ThreadedProxy):
    """:class:`ThreadedProxy` on the event loop ``loop_factory`` makes."""

    def __init__(self, settings: Any, loop_factory: Callable[[], asyncio.AbstractEventLoop]):
        super().__init__(settings)
        self.loop.close()
        self.loop = loop_factory()
        self._thread = threading.Thread(target=self.loop.run_forever, name="proxy", daemon=True)


@contextmanager
def proxy_on(backend_uri: str, loop: str, **backend: Any) -> Iterator[ThreadedProxy]:
    settings = proxy_settings(backend_uri)
    for key, value in backend.items():
        setattr(settings.backends["blue"], key, value)
    proxy = LoopProxy(settings, LOOPS[loop])
    proxy.start()
    try:
        yield proxy
    finally:
        proxy.stop()


def observe_direct(scenario: Scenario) -> Outcome:
    with scripted_backend(scenario) as fake:
        scenario.arm(fake)
        outcome = observe(fake.routing_uri if scenario.routing else fake.uri, scenario)
        return replace(outcome, commits=committed(fake))


def observe_through_proxy(scenario: Scenario, loop: str = "uvloop") -> Outcome:
    with (
        scripted_backend(scenario) as fake,
        proxy_on(fake.uri, loop, **scenario.proxy_backend) as proxy,
    ):
        # Armed once the proxy has probed the backend: the fault is for the driver's turn.
        scenario.arm(fake)
        outcome = observe(proxy.routing_uri() if scenario.routing else proxy.uri, scenario)
        return replace(outcome, commits=committed(fake))


def check_expected(outcome: Outcome, expect: dict[str, Any]) -> None:
    """The direct outcome is what the scenario says Neo4j's driver sees (else the fake is off)."""
    wrong = {key: getattr(outcome, key) for key in expect if getattr(outcome, key) != expect[key]}
    assert not wrong, f"direct outcome {outcome} differs from the expected {expect}: {wrong}"
