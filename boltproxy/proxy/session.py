"""One client connection's relay logic, with no sockets: events in, commands out.

The asyncio side (:mod:`boltproxy.proxy.connection`) feeds bytes and link
events in and carries out the commands that come back. Keeping the logic here,
free of I/O, lets tests play whole conversations as scripts.

What the session does on the relay path:
- client → backend: cuts the stream into messages, checks each one (known
  request for the version, well-formed PackStream, legal in the state), keeps
  what re-authentication will need, and forwards the bytes it received;
- backend → client: walks chunk headers to find message ends, counts RECORDs
  without decoding them, decodes only summaries (to follow the state machine)
  and forwards the received bytes cut at message ends, so that the proxy can
  always answer with a clean FAILURE when the backend fails;
- rewrites the few answers that would reveal a backend's address: ROUTE, the
  routing-table procedures and ``advertised_address`` in HELLO/LOGON replies.
"""

from __future__ import annotations

import logging
import re
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from boltproxy import metrics
from boltproxy.bolt import messages
from boltproxy.bolt.framing import FramingError, Message, MessageReader, NeedData, chunk
from boltproxy.bolt.messages import MessageError, Tag, Version
from boltproxy.bolt.packstream import PackStreamError
from boltproxy.bolt.scanner import RECORD_TAG, ResponseScanner, ScanError, ScannedMessage
from boltproxy.bolt.states import Completed, Conversation, Outcome, ProtocolViolation

log = logging.getLogger("boltproxy.session")

NOOP = b"\x00\x00"
ROUTING_ROLES = ("WRITE", "READ", "ROUTE")
# Drivers before ROUTE (and some tools) ask for a routing table through these.
_ROUTING_PROCEDURE = re.compile(
    r"^\s*CALL\s+dbms\.(?:cluster\.)?routing\.getRoutingTable\s*\(", re.IGNORECASE
)
_TAG_NAMES = {int(tag): tag.name for tag in Tag}
# Replies decoded in full: the ones the proxy reads or rewrites. Other SUCCESS
# metadata is never decoded on the relay path.
_DECODED_REPLIES = frozenset({Tag.HELLO, Tag.LOGON, Tag.ROUTE})
_HAS_MORE = b"\x88has_more\xc3"


def _message_counters(direction: str) -> dict[int, Any]:
    # Resolved once: a labels() lookup per message would cost more than the relay.
    return {
        tag: metrics.MESSAGES.labels(direction=direction, type=name)
        for tag, name in _TAG_NAMES.items()
    }


_CLIENT_MESSAGES = _message_counters("client_to_server")
_SERVER_MESSAGES = _message_counters("server_to_client")
_BYTES_IN = metrics.BYTES.labels(direction="client_to_server")
_BYTES_OUT = metrics.BYTES.labels(direction="server_to_client")
FLUSH_SECONDS = 1.0


class _Tally:
    """Relay counts, handed to Prometheus at most once a second.

    A Prometheus increment takes a lock; several per query would cost more
    than the rest of the relay's bookkeeping.
    """

    __slots__ = ("bytes_in", "bytes_out", "client", "due", "server")

    def __init__(self, now: float) -> None:
        self.client: dict[int, int] = {}
        self.server: dict[int, int] = {}
        self.bytes_in = 0
        self.bytes_out = 0
        self.due = now + FLUSH_SECONDS

    def flush(self, now: float) -> None:
        for counts, counters in ((self.client, _CLIENT_MESSAGES), (self.server, _SERVER_MESSAGES)):
            for tag, count in counts.items():
                counter = counters.get(tag)
                if counter is not None:
                    counter.inc(count)
            counts.clear()
        if self.bytes_in:
            _BYTES_IN.inc(self.bytes_in)
        if self.bytes_out:
            _BYTES_OUT.inc(self.bytes_out)
        self.bytes_in = self.bytes_out = 0
        self.due = now + FLUSH_SECONDS


# --- commands ---------------------------------------------------------------


@dataclass(slots=True)
class SendToClient:
    data: bytes | memoryview


@dataclass(slots=True)
class SendToBackend:
    data: bytes | memoryview


@dataclass(slots=True)
class CloseClient:
    """Close the client connection once what was sent has been flushed."""

    reason: str


@dataclass(slots=True)
class CloseBackend:
    reason: str


Command = SendToClient | SendToBackend | CloseClient | CloseBackend


class HeldAuth:
    """The client's HELLO and LOGON as received, kept in memory only.

    A later traffic-control step replays them to log the same client in on
    another backend. ``repr`` never shows the contents: they carry credentials.
    """

    __slots__ = ("hello", "logon")

    def __init__(self) -> None:
        self.hello: bytes | None = None
        self.logon: bytes | None = None

    def __repr__(self) -> str:
        return f"HeldAuth(hello={self.hello is not None}, logon={self.logon is not None})"


@dataclass(frozen=True, slots=True)
class Refusal:
    """Why the proxy ends a session with a FAILURE of its own."""

    side: str  # "client" (bad input) or "primary" (the backend broke)
    kind: str  # short class for metrics and the log line
    code: str
    message: str
    gql_status: str | None = None


class ClientSession:
    """The relay state of one client connection, after the Bolt handshake."""

    def __init__(
        self,
        version: Version,
        *,
        backend: str,
        advertised_address: str,
        max_message_size: int,
        log_prefix: str = "",
        clock: Callable[[], float] = time.perf_counter,
    ) -> None:
        self.version = version
        self.backend = backend
        self.auth = HeldAuth()
        self.conversation = Conversation(version)
        self._advertised = advertised_address
        self._reader = MessageReader(max_message_size)
        self._scanner = ResponseScanner()
        self._clock = clock
        self._prefix = log_prefix
        self._backend_ready = False
        self._backend_gone: Refusal | None = None
        self._unsent = bytearray()  # client bytes waiting for the backend link
        self._max_unsent = max_message_size
        self._held = b""  # backend bytes after the last complete message
        self._refusal: Refusal | None = None  # end the session once pending answers are in
        self._closed = False
        # Per pending RUN: is it a routing-table procedure call (rewrite its records)?
        self._run_is_routing: deque[bool] = deque()
        self._routing_result_open = False
        self._run_started: deque[float] = deque()
        self._stream_started: deque[float] = deque()
        self._latency = metrics.QUERY_LATENCY.labels(backend=backend)
        self.server_agent: str | None = None
        self._tally = _Tally(clock())

    # --- events from the client ------------------------------------------

    def client_data(self, data: bytes) -> list[Command]:
        if self._closed or self._refusal is not None:
            return []  # the session is ending; what the client sends now is dropped
        self._tally.bytes_in += len(data)
        self._reader.receive_data(data)
        out = bytearray()
        commands: list[Command] = []
        while True:
            try:
                event = self._reader.next_event()
            except FramingError as exc:
                self._refuse_client("framing", messages.INVALID_FORMAT, str(exc))
                break
            if isinstance(event, NeedData):
                break
            if not isinstance(event, Message):
                out += NOOP  # a keep-alive: pass it on
                continue
            if self._backend_gone is not None:
                # The backend is unavailable: the first request gets the answer.
                return [*self._send_backend(out), *self._end_with(self._backend_gone)]
            tag = self._accept_request(event)
            if tag is None:
                break
            out += event.raw
            if tag == Tag.GOODBYE:
                commands += self._send_backend(out)
                self._mark_closed()
                return [*commands, CloseBackend("client said GOODBYE"), CloseClient("GOODBYE")]
        commands += self._send_backend(out)
        commands += self._maybe_end()
        return commands

    def _accept_request(self, message: Message) -> int | None:
        """Check one client message and return its tag; None when the session must end."""
        try:
            tag = messages.check_request(message.payload, self.version)
        except (MessageError, PackStreamError) as exc:
            self._refuse_client("malformed", messages.INVALID_FORMAT, str(exc))
            return None
        try:
            self.conversation.on_request(tag)
        except ProtocolViolation as exc:
            self._refuse_client("protocol", messages.PROTOCOL_VIOLATION, str(exc))
            return None
        client_counts = self._tally.client
        client_counts[tag] = client_counts.get(tag, 0) + 1
        if log.isEnabledFor(logging.DEBUG):
            log.debug("%sC: %s", self._prefix, _TAG_NAMES.get(tag, hex(tag)))
        if tag == Tag.HELLO:
            self.auth.hello = message.raw
        elif tag == Tag.LOGON:
            self.auth.logon = message.raw
        elif tag == Tag.LOGOFF:
            self.auth.logon = None
        elif tag == Tag.RUN:
            routing = bool(_ROUTING_PROCEDURE.match(messages.peek_run_query(message.payload)))
            self._run_is_routing.append(routing)
            self._run_started.append(self._clock())
            if routing:
                # Its rows may arrive in the same read as its RUN's SUCCESS:
                # the scanner must hand records over from now on.
                self._scanner.collect_records(True)
        return tag

    def client_eof(self) -> list[Command]:
        if self._closed:
            return []
        self._mark_closed()
        if self._reader.buffered:
            self._log_refusal("client", "truncated", "connection closed in the middle of a message")
        return [CloseBackend("client closed the connection")]

    # --- events from the backend link ------------------------------------

    def backend_ready(self) -> list[Command]:
        """The backend link is connected and speaks this session's version."""
        self._backend_ready = True
        metrics.BACKEND_UP.labels(backend=self.backend).set(1)
        if not self._unsent:
            return []
        data, self._unsent = bytes(self._unsent), bytearray()
        return [SendToBackend(data)]

    def backend_unavailable(self, reason: str) -> list[Command]:
        """The backend could not be reached within the configured timeouts."""
        metrics.BACKEND_UP.labels(backend=self.backend).set(0)
        self._unsent.clear()
        self._backend_gone = Refusal(
            "primary",
            "unreachable",
            messages.DATABASE_UNAVAILABLE,
            f"boltproxy: the {self.backend} backend is unavailable ({reason})",
            messages.DATABASE_UNAVAILABLE_GQL,
        )
        if self.conversation.pending or self._refusal is not None:
            return self._end_with(self._backend_gone)
        return []

    def backend_data(self, data: bytes) -> list[Command]:
        if self._closed:
            return []
        self._tally.bytes_out += len(data)
        scanner = self._scanner
        try:
            scanner.feed(data)
        except ScanError as exc:
            return self._backend_broke("framing", f"the backend broke Bolt framing: {exc}")
        buf = self._held + data if self._held else data
        base = scanner.offset - len(buf)
        parts: list[bytes | memoryview] = []
        cursor = 0
        view = memoryview(buf)
        ending: list[Command] = []
        found, scanner.messages = scanner.messages, []
        for found_message in found:
            try:
                replacement = self._on_backend_message(found_message)
            except (MessageError, PackStreamError, ProtocolViolation) as exc:
                return self._backend_broke("protocol", f"unexpected answer from the backend: {exc}")
            if replacement is not None:
                parts.append(view[cursor : found_message.start - base])
                parts.append(replacement)
                cursor = found_message.end - base
        if scanner.records:
            server_counts = self._tally.server
            server_counts[RECORD_TAG] = server_counts.get(RECORD_TAG, 0) + scanner.records
            scanner.records = 0
        boundary = scanner.last_boundary - base
        parts.append(view[cursor:boundary])
        self._held = bytes(view[boundary:]) if boundary < len(buf) else b""
        if self._refusal is not None and not self.conversation.pending:
            ending = self._end_with(self._refusal)
        payload: bytes | memoryview = parts[0] if len(parts) == 1 else b"".join(parts)
        commands: list[Command] = [SendToClient(payload)] if len(payload) else []
        now = self._clock()
        if now >= self._tally.due:
            self._tally.flush(now)
        return commands + ending

    def backend_eof(self, reason: str = "the backend closed the connection") -> list[Command]:
        if self._closed:
            return []
        metrics.BACKEND_UP.labels(backend=self.backend).set(0)
        if not self.conversation.pending:
            # Nothing is owed to the client; Neo4j closing an idle connection
            # looks the same to a driver.
            self._mark_closed()
            metrics.ERRORS.labels(side="primary", kind="closed").inc()
            return [CloseClient(reason)]
        return self._backend_broke("closed", reason)

    # --- internals -------------------------------------------------------

    def _on_backend_message(self, found: ScannedMessage) -> bytes | None:
        """Follow one non-RECORD message; returns its rewritten bytes, if any."""
        tag = found.tag
        server_counts = self._tally.server
        server_counts[tag] = server_counts.get(tag, 0) + 1
        if tag == RECORD_TAG:  # only collected while a routing procedure streams
            return (
                self._rewrite_routing_record(found.payload) if self._routing_result_open else None
            )
        metadata: dict[str, Any] = {}
        request = self.conversation.next_request
        if tag == Tag.FAILURE or (tag == Tag.SUCCESS and request in _DECODED_REPLIES):
            _, fields = messages.decode(found.payload)
            if fields and isinstance(fields[0], dict):
                metadata = fields[0]
        elif tag == Tag.SUCCESS and _HAS_MORE in found.payload:
            # Only PULL/DISCARD replies can say has_more; the key followed by
            # true can occur nowhere else in a flat SUCCESS map.
            metadata = {"has_more": True}
        completed = self.conversation.on_summary(
            tag, has_more=bool(metadata.get("has_more", False))
        )
        if log.isEnabledFor(logging.DEBUG):
            log.debug(
                "%sS: %s for %s",
                self._prefix,
                _TAG_NAMES.get(tag),
                _TAG_NAMES.get(completed.request),
            )
        if tag == Tag.FAILURE:
            kind = _failure_kind(messages.failure_code(metadata) or "unknown")
            # A ClientError is the query's fault (the client side); the rest the backend's.
            side = "client" if kind == "ClientError" else "primary"
            metrics.ERRORS.labels(side=side, kind=kind).inc()
        self._time_query(completed, metadata)
        return self._rewrite_summary(completed, metadata)

    def _time_query(self, completed: Completed, metadata: dict[str, Any]) -> None:
        """Query latency: RUN sent → the last summary of its result.

        Results are assumed to finish in the order they were started, which is
        exact outside explicit transactions that interleave several results.
        """
        request = completed.request
        if request == Tag.RUN:
            started = self._run_started.popleft() if self._run_started else None
            routing = self._run_is_routing.popleft() if self._run_is_routing else False
            if completed.outcome is Outcome.SUCCESS:
                if started is not None:
                    self._stream_started.append(started)
                if routing:
                    self._routing_result_open = True
                return
            self._stop_collecting()
            if started is not None and completed.outcome is Outcome.FAILURE:
                self._latency.observe(self._clock() - started)
        elif request in (Tag.PULL, Tag.DISCARD):
            if completed.outcome is Outcome.SUCCESS and metadata.get("has_more"):
                return
            if self._stream_started:
                self._latency.observe(self._clock() - self._stream_started.popleft())
            if self._routing_result_open:
                self._routing_result_open = False
                self._stop_collecting()

    def _stop_collecting(self) -> None:
        if not any(self._run_is_routing):
            self._scanner.collect_records(False)

    def _rewrite_summary(self, completed: Completed, metadata: dict[str, Any]) -> bytes | None:
        request = completed.request
        if request not in (Tag.HELLO, Tag.LOGON, Tag.ROUTE):
            return None
        if completed.outcome is not Outcome.SUCCESS:
            return None
        if request == Tag.HELLO:
            agent = metadata.get("server")
            self.server_agent = agent if isinstance(agent, str) else None
        if request == Tag.ROUTE:
            table = metadata.get("rt")
            if not isinstance(table, dict):
                return None
            servers = [{"addresses": [self._advertised], "role": role} for role in ROUTING_ROLES]
            rewritten = {**metadata, "rt": {**table, "servers": servers}}
        elif "advertised_address" in metadata:
            rewritten = {**metadata, "advertised_address": self._advertised}
        else:
            return None
        return chunk(messages.success(rewritten))

    def _rewrite_routing_record(self, payload: bytes) -> bytes | None:
        """A routing-table procedure row is ``[ttl, servers]``: point every role at us."""
        _, fields = messages.decode(payload)
        values = fields[0] if fields else None
        if not (isinstance(values, list) and len(values) == 2):
            return None
        servers = [{"addresses": [self._advertised], "role": role} for role in ROUTING_ROLES]
        return chunk(messages.record([values[0], servers]))

    def _send_backend(self, out: bytearray) -> list[Command]:
        if not out:
            return []
        if self._backend_ready:
            return [SendToBackend(bytes(out))]
        if self._backend_gone is None:
            self._unsent += out
            if len(self._unsent) > self._max_unsent:
                self._unsent.clear()
                self._refuse_client(
                    "oversize", messages.INVALID_FORMAT, "too much data before the backend answered"
                )
        return []

    def _refuse_client(self, kind: str, code: str, message: str) -> None:
        """Bad input: answer what is pending, then a FAILURE, then close."""
        if self._refusal is None:
            self._refusal = Refusal("client", kind, code, f"boltproxy: {message}")

    def _maybe_end(self) -> list[Command]:
        if self._refusal is None:
            return []
        if self._backend_gone is not None:
            return self._end_with(self._backend_gone)
        if self.conversation.pending:
            return []  # the answers to earlier requests go out first
        return self._end_with(self._refusal)

    def _backend_broke(self, kind: str, reason: str) -> list[Command]:
        refusal = Refusal(
            "primary",
            kind,
            messages.DATABASE_UNAVAILABLE,
            f"boltproxy: the {self.backend} backend failed ({reason})",
            messages.DATABASE_UNAVAILABLE_GQL,
        )
        # Only complete messages were forwarded, so a FAILURE can follow cleanly.
        self._held = b""
        return self._end_with(refusal)

    def _end_with(self, refusal: Refusal) -> list[Command]:
        if self._closed:
            return []
        self._mark_closed()
        self._log_refusal(refusal.side, refusal.kind, refusal.message)
        failure = messages.failure(
            refusal.code, refusal.message, self.version, gql_status=refusal.gql_status
        )
        return [
            SendToClient(chunk(failure)),
            CloseBackend(refusal.message),
            CloseClient(refusal.message),
        ]

    def _log_refusal(self, side: str, kind: str, message: str) -> None:
        metrics.ERRORS.labels(side=side, kind=kind).inc()
        log.warning("%s%s error (%s): %s", self._prefix, side, kind, message)

    def _mark_closed(self) -> None:
        self._closed = True
        self._tally.flush(self._clock())

    @property
    def closed(self) -> bool:
        return self._closed


def _failure_kind(code: str) -> str:
    """``Neo.ClientError.Statement.SyntaxError`` → ``ClientError``: a bounded label set."""
    parts = code.split(".")
    return parts[1] if len(parts) > 2 and parts[0] == "Neo" else "unknown"
