"""Opening a driver for the migrator, and turning driver failures into clear messages.

Connections are opened with a short timeout and retried: FalkorDB's Bolt listener
leaves a share of new connections unanswered after earlier ones closed, and a
real server that is still starting looks the same. Authentication failures are
never retried (a lockout policy may count them).

Messages name the server by its address only; credentials in a URI are removed.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import unquote, urlsplit, urlunsplit

import neo4j
from neo4j.exceptions import AuthError, DriverError, Neo4jError, ServiceUnavailable

from boltproxy.migrate.errors import (
    AuthenticationFailed,
    MigrateError,
    ServerUnreachable,
    UsageError,
)

log = logging.getLogger(__name__)

Flavor = Literal["neo4j", "falkordb"]


BOLT_SCHEMES = ("bolt", "bolt+s", "bolt+ssc", "neo4j", "neo4j+s", "neo4j+ssc")


class OnSide(Exception):
    """A failure while talking to one side, carried to where the endpoint is known."""

    def __init__(self, side: str, cause: BaseException) -> None:
        super().__init__(side, cause)
        self.side = side
        self.cause = cause


@dataclass(frozen=True)
class Endpoint:
    """Where and as whom to connect. ``repr`` never shows the password."""

    uri: str
    user: str | None = None
    password: str | None = None
    database: str | None = None
    side: str = "server"

    @classmethod
    def parse(
        cls, uri: str, user: str | None, password: str | None, database: str | None, side: str
    ) -> Endpoint:
        """Check a URI given on the command line; credentials in it move out of it."""
        parts = urlsplit(uri)
        if "://" not in uri or not parts.scheme:
            raise UsageError(
                f"{side}: {redact_uri(uri)!r} has no scheme",
                hint="give a Bolt URI such as bolt://host:7687 or neo4j://host:7687",
            )
        if parts.scheme.lower() not in BOLT_SCHEMES:
            raise UsageError(
                f"{side}: {parts.scheme}:// is not a Bolt URI scheme",
                hint="the migrator speaks Bolt: use bolt://host:7687 or neo4j://host:7687 "
                "(not the HTTP port)",
            )
        if parts.username is not None and user is None:
            user, password = unquote(parts.username), unquote(parts.password or "")
        if password is not None and user is None:
            raise UsageError(f"{side}: a password was given without a user", hint="add --user")
        return cls(redact_uri(uri), user, password, database, side)

    def scrub(self, text: str) -> str:
        """``text`` without this endpoint's password."""
        if self.password:
            text = text.replace(self.password, "***")
        return text

    def __repr__(self) -> str:
        return f"Endpoint({self.display!r}, user={self.user!r}, database={self.database!r})"

    @property
    def display(self) -> str:
        return redact_uri(self.uri)

    @property
    def auth(self) -> tuple[str, str] | None:
        return None if self.user is None else (self.user, self.password or "")

    def identity(self) -> str:
        """A stable name for this target (address and database, no credentials)."""
        return f"{self.display}#{self.database or ''}"


@dataclass(frozen=True)
class ServerInfo:
    agent: str
    protocol: str
    flavor: Flavor

    def to_dict(self) -> dict[str, Any]:
        return {"agent": self.agent, "protocol": self.protocol, "flavor": self.flavor}


def redact_uri(uri: str) -> str:
    """The URI without user information (``neo4j://user:pw@host`` → ``neo4j://host``)."""
    parts = urlsplit(uri)
    if parts.username is None and parts.password is None:
        return uri
    host = parts.hostname or ""
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


async def open_driver(
    endpoint: Endpoint, *, connect_timeout: float = 2.0, attempts: int = 6
) -> neo4j.AsyncDriver:
    """A verified driver for ``endpoint``; raises :class:`MigrateError` subclasses."""
    # The driver logs server notifications with the query text, and the migrator's
    # queries to FalkorDB carry property values as literals: never let them reach a log.
    logging.getLogger("neo4j.notifications").setLevel(logging.ERROR)
    last: BaseException | None = None
    for attempt in range(1, attempts + 1):
        try:
            driver = neo4j.AsyncGraphDatabase.driver(
                endpoint.uri,
                auth=endpoint.auth,
                connection_timeout=connect_timeout,
                # connection_timeout covers only the TCP connect; a handshake that is
                # never answered (FalkorDB under connection churn) waits for this one,
                # 60 s by default. Short, so that managed transactions retry soon.
                connection_acquisition_timeout=max(5.0, 2 * connect_timeout + 1.0),
                max_transaction_retry_time=30.0,
            )
        except (ValueError, DriverError) as exc:
            # The driver's text quotes the URI it was given: keep only its kind.
            raise UsageError(
                f"{endpoint.side} {endpoint.display}: the driver refused the URI "
                f"({type(exc).__name__})"
            ) from None
        try:
            await asyncio.wait_for(driver.verify_connectivity(), connect_timeout + 1.0)
            return driver
        except BaseException as exc:
            await driver.close()
            # No query has run yet, so a server error here is a refused login even
            # when the server mislabels it (FalkorDB's reaches the driver as an
            # UnknownError because it lacks the Bolt 5.7 ``neo4j_code`` field).
            error = classify(_AsAuthError() if isinstance(exc, Neo4jError) else exc, endpoint)
            if not isinstance(error, ServerUnreachable):
                raise error from None
            last = exc
            log.debug(
                "connect attempt %d to %s failed: %s", attempt, endpoint.display, type(exc).__name__
            )
    raise classify(last, endpoint) from None  # type: ignore[arg-type]


class _AsAuthError(AuthError):
    """Marks a server error during login as the authentication failure it is."""


def classify(exc: BaseException, endpoint: Endpoint) -> MigrateError:
    """One clear message for a failure talking to ``endpoint``, naming its side."""
    if isinstance(exc, OnSide):
        exc = exc.cause
    if isinstance(exc, MigrateError):
        return exc
    name = f"{endpoint.side} {endpoint.display}"
    if isinstance(exc, AuthError) or (
        isinstance(exc, Neo4jError) and "Unauthorized" in (exc.code or "")
    ):
        return AuthenticationFailed(
            f"{name} refused the credentials"
            + (f" of user {endpoint.user!r}" if endpoint.user else " (no user given)"),
            hint="check --user/--password or NEO4J_USER/NEO4J_PASSWORD",
        )
    if isinstance(
        exc, ServiceUnavailable | ConnectionError | TimeoutError | asyncio.TimeoutError
    ):
        return ServerUnreachable(
            f"cannot reach {name} ({type(exc).__name__})",
            hint="check the address and that the server is running",
        )
    if isinstance(exc, Neo4jError):
        detail = endpoint.scrub(exc.message or "")
        return MigrateError(f"{name} rejected a request: {exc.code}: {detail}")
    return MigrateError(f"{name}: {type(exc).__name__}: {endpoint.scrub(str(exc))}")


async def server_info(driver: neo4j.AsyncDriver, database: str | None) -> ServerInfo:
    """What the server is; FalkorDB calls itself Neo4j/5.13.0 but has no dbms.components."""
    info = await driver.get_server_info()
    protocol = ".".join(str(part) for part in info.protocol_version)
    agent = info.agent or "unknown"

    async def components(tx: neo4j.AsyncManagedTransaction) -> list[Any]:
        result = await tx.run("CALL dbms.components() YIELD name, versions RETURN name, versions")
        return await result.values()

    async with driver.session(database=database) as session:
        try:
            rows = await session.execute_read(components)
        except Neo4jError:
            return ServerInfo(agent=agent, protocol=protocol, flavor="falkordb")
    if rows and rows[0][1]:
        agent = f"{rows[0][0]}/{rows[0][1][0]}"
    return ServerInfo(agent=agent, protocol=protocol, flavor="neo4j")


async def database_identity(
    driver: neo4j.AsyncDriver, database: str | None, flavor: Flavor
) -> str | None:
    """The database's own id (Neo4j's ``db.info()``), or None where a server has none.

    Import progress is bound to this, never to the URI text: ``localhost`` and
    ``127.0.0.1`` are one database, and one URI may front another database later.
    """
    if flavor != "neo4j":
        return None

    async def work(tx: neo4j.AsyncManagedTransaction) -> list[Any]:
        result = await tx.run("CALL db.info() YIELD id, name RETURN id, name")
        return await result.values()

    async with driver.session(database=database) as session:
        try:
            rows = await session.execute_read(work)
        except Neo4jError:
            return None
    return f"neo4j:{rows[0][0]}:{rows[0][1]}" if rows else None
