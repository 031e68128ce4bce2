"""One client connection's relay logic, with no sockets: events in, commands out.

The asyncio side (:mod:`boltproxy.proxy.connection`) feeds bytes and link
events in and carries out the commands that come back, so whole conversations
can be played as scripts in tests.

A session is one client connection over several backend links. Each link has
its own scanner and a role; commands name the link they are for. The primary
link answers the client; a mirror link replays the conversation on the
candidate (:mod:`boltproxy.proxy.mirror`); links logged in ahead of time wait
for a move. :mod:`boltproxy.control` says where each link goes, and at every
transaction boundary whether the primary role moves elsewhere.

What the session does:
- the handshake: reads the client's proposals, has the primary link negotiate
  with its backend, and answers the client only with what the backend agreed
  to, so a driver's deadlines and refusals work as they do directly;
- client → backend: cuts the stream into messages, checks each one (known
  request for the version, well-formed PackStream, legal in the state, within
  the size and pipelining limits), keeps what re-authentication will need, and
  forwards the bytes it received; keep-alives stay between client and proxy;
- backend → client: walks chunk headers to find message ends, counts RECORDs
  without decoding them, decodes only summaries it must follow and forwards
  the received bytes; it holds a message back only while it may have to
  rewrite it (ROUTE, the routing-table procedures and ``advertised_address``,
  which would otherwise reveal a backend's address);
- failure: when a backend is lost the client connection is closed, as a
  driver would see it directly; a request is never answered with an invented
  error that a driver would retry;
- shadowing: captures of the primary's answers (records handed over only for
  mirrored queries) paired with the candidate's, handed on as ``Shadowed``;
- moving: work from a boundary on is held while the old primary finishes,
  then sent to the new primary, bookmarks translated.
"""

from __future__ import annotations

import enum
import re
import time
from collections import deque
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from typing import Any

from boltproxy.bolt import messages
from boltproxy.bolt.errors import BoltError, PipelineLimitExceeded
from boltproxy.bolt.framing import FramingError, Message, MessageReader, NeedData, chunk
from boltproxy.bolt.greeting import ClientGreeting, ClientProposed
from boltproxy.bolt.handshake import HandshakeFailed, Negotiated, Proposal, SendBytes
from boltproxy.bolt.messages import MessageError, Tag, Version
from boltproxy.bolt.packstream import PackStreamError
from boltproxy.bolt.scanner import RECORD_TAG, ResponseScanner, ScanError, ScannedMessage
from boltproxy.bolt.states import Completed, Conversation, Outcome, ProtocolViolation, ServerState
from boltproxy.config import BackendName
from boltproxy.proxy.bookmarks import BookmarkMap, retarget
from boltproxy.proxy.mirror import (
    Capture,
    Mirror,
    MirrorPolicy,
    relayed_only,
    summary_bookmark,
)
from boltproxy.proxy.observer import SessionObserver
from boltproxy.shadow.exchange import DROPPED, TIMEOUT, Answer, Exchange
from boltproxy.shadow.settings import ShadowSettings

ROUTING_ROLES = ("WRITE", "READ", "ROUTE")
# Drivers before ROUTE (and some tools) ask for a routing table through these.
_ROUTING_PROCEDURE = re.compile(
    r"^\s*CALL\s+dbms\.(?:cluster\.)?routing\.getRoutingTable\s*\(", re.IGNORECASE
)
# Replies decoded in full: the ones the proxy reads or rewrites. Other SUCCESS
# metadata is never decoded on the relay path.
_DECODED_REPLIES = frozenset({Tag.HELLO, Tag.LOGON, Tag.ROUTE})
_SUMMARY_TAGS = frozenset({Tag.SUCCESS, Tag.FAILURE, Tag.IGNORED})
FLUSH_SECONDS = 1.0


# --- commands ---------------------------------------------------------------


class LinkRole(enum.Enum):
    PRIMARY = "primary"
    MIRROR = "mirror"



# init=False with a written __init__ on the objects made per query: compiled, a
# dataclass's generated __init__ stays interpreted Python (see bolt.scanner).
@dataclass(slots=True, init=False)
class SendToClient:
    data: bytes | memoryview

    def __init__(self, data: bytes | memoryview) -> None:
        self.data = data


@dataclass(slots=True)
class CloseClient:
    """Close the client connection once what was sent has been flushed."""

    reason: str


@dataclass(slots=True)
class OpenLink:
    """Connect to ``backend`` and start its handshake with these proposals."""

    link: int
    backend: BackendName
    proposals: list[Proposal]
    manifest: bool
    role: LinkRole = field(default_factory=lambda: LinkRole.PRIMARY)


@dataclass(slots=True)
class ChooseVersion:
    """Tell a manifest backend the version the client chose."""

    link: int
    version: Version


@dataclass(slots=True, init=False)
class SendToLink:
    link: int
    data: bytes | memoryview

    def __init__(self, link: int, data: bytes | memoryview) -> None:
        self.link = link
        self.data = data


@dataclass(slots=True)
class CloseLink:
    link: int
    reason: str


@dataclass(slots=True)
class SetDeadline:
    """Arm (or, with ``seconds`` None, disarm) one of the session's timers.

    ``waiting_for`` names what the session waits for, so that an expiry is
    logged against the side that was slow. The ``client`` timer bounds the
    client; the ``mirror`` timer bounds the candidate's answers.
    """

    seconds: float | None
    waiting_for: str
    timer: str = "client"


@dataclass(slots=True)
class Shadowed:
    """A mirrored query with both answers (or why the candidate's is missing)."""

    exchange: Exchange


Command = (
    SendToClient
    | CloseClient
    | OpenLink
    | ChooseVersion
    | SendToLink
    | CloseLink
    | SetDeadline
    | Shadowed
)


class LinkFailure(enum.Enum):
    """Why a link could not be opened."""

    UNREACHABLE = "unreachable"  # no TCP/TLS connection, or closed or silent in the handshake
    REFUSED = "refused"  # the backend has no Bolt version in common


@dataclass(frozen=True, slots=True)
class Limits:
    """What one client may make the proxy hold or do."""

    # How long a client may take to send its handshake, and then its first message.
    handshake_seconds: float = 10.0
    # Until it has logged in, a client that sends nothing for this long is dropped.
    idle_before_auth_seconds: float = 30.0
    max_message_bytes: int = 16 << 20
    max_message_bytes_before_auth: int = 1 << 20
    # Requests sent ahead of their answers: drivers pipeline a handful.
    max_pipelined: int = 1000


class HeldAuth:
    """The client's HELLO and LOGON as received, kept in memory only.

    Replayed to log the same client in on another backend link. ``repr`` never
    shows the contents: they carry credentials.
    """

    __slots__ = ("hello", "logon")

    def __init__(self) -> None:
        self.hello: bytes | None = None
        self.logon: bytes | None = None

    def __repr__(self) -> str:
        return f"HeldAuth(hello={self.hello is not None}, logon={self.logon is not None})"


@dataclass(frozen=True, slots=True)
class MirrorPlan:
    """Shadowing for this session: which backend, under which policy."""

    backend: BackendName
    policy: MirrorPolicy
    bookmarks: BookmarkMap
    manifest: bool


@dataclass(slots=True)
class _Move:
    """The primary role moving to another backend at a transaction boundary.

    The client's requests from the boundary on wait in ``outbox`` while the
    old primary finishes what it owes, a link to the target opens and the
    client's held login is replayed on it (its answers are the proxy's own).
    """

    target: BackendName
    link: _Link | None = None
    outbox: bytearray = field(default_factory=bytearray)
    # The client's messages as received, for the mirror the old primary becomes.
    messages: list[tuple[int, Message]] = field(default_factory=list)
    requests: int = 0  # client requests in the outbox
    logins: int = 0  # replayed HELLO/LOGON still unanswered


@dataclass(slots=True)
class _Warm:
    """A link to a backend the session may be moved to, logging in ahead of time."""

    link: _Link
    logins: int = 0  # replayed HELLO/LOGON still unanswered


@dataclass(slots=True, init=False)
class _Query:
    """One RUN, from its sending to the end of its result (made per query: see SendToClient)."""

    started: float
    routing: bool  # a routing-table procedure: its rows are rewritten
    capture: Capture | None  # mirrored and compared: its answer is kept

    def __init__(self, started: float, routing: bool, capture: Capture | None) -> None:
        self.started = started
        self.routing = routing
        self.capture = capture

    @property
    def collects(self) -> bool:
        return self.routing or self.capture is not None


class _Tally:
    """Relay counts, handed to the observer at most once a second (metrics take locks)."""

    __slots__ = ("bytes_in", "bytes_out", "client", "due", "server")

    def __init__(self, now: float) -> None:
        self.client: dict[int, int] = {}
        self.server: dict[int, int] = {}
        self.bytes_in = 0
        self.bytes_out = 0
        self.due = now + FLUSH_SECONDS

    def flush(self, observer: SessionObserver, now: float) -> None:
        if self.client or self.server or self.bytes_in or self.bytes_out:
            observer.traffic(self.client, self.server, self.bytes_in, self.bytes_out)
        self.client = {}
        self.server = {}
        self.bytes_in = self.bytes_out = 0
        self.due = now + FLUSH_SECONDS


class _Link:
    """One backend connection of the session."""

    __slots__ = ("backend", "held", "id", "ready", "role", "scanner")

    def __init__(
        self, link_id: int, backend: BackendName, role: LinkRole, max_message: int
    ) -> None:
        self.id = link_id
        self.backend = backend
        self.role = role
        self.ready = False
        self.scanner = ResponseScanner(max_message)
        # Received bytes not yet forwarded: only a message that may be rewritten.
        self.held = bytearray()


class ClientSession:
    """The relay state of one client connection, from the first handshake byte."""

    def __init__(
        self,
        *,
        primary: BackendName,
        relayable: Collection[Version],
        backend_manifest: bool,
        advertised_address: str,
        observer: SessionObserver,
        limits: Limits = Limits(),
        mirror: MirrorPlan | None = None,
        route: Callable[[BackendName], BackendName] | None = None,
        manifest_of: Callable[[BackendName], bool] = lambda _name: False,
        bookmarks: BookmarkMap | None = None,
        standby: Collection[BackendName] = (),
        capture: ShadowSettings | None = None,
        session_id: str = "",
        clock: Callable[[], float] = time.perf_counter,
    ) -> None:
        self.auth = HeldAuth()
        self.version: Version | None = None
        self.conversation: Conversation | None = None
        self.server_agent: str | None = None
        self._greeting: ClientGreeting | None = ClientGreeting(relayable)
        self._backend_manifest = backend_manifest
        self._primary_name = primary
        self._advertised = advertised_address
        self._observer = observer
        self._limits = limits
        self._clock = clock
        self._links: dict[int, _Link] = {}
        self._next_link = 1
        self._primary: _Link | None = None
        self._reader: MessageReader | None = None
        self._authenticated = False
        self._refusal: ClientRefusal | None = None  # end once pending answers are in
        self._server_ended = False  # a fatal FAILURE ended the conversation: no more answers
        self._goodbye = False
        self._closed = False
        self._queries: deque[_Query] = deque()  # RUNs awaiting their reply
        self._streams: deque[_Query] = deque()  # results open, oldest first
        self._collecting = 0  # queries among those whose records are handed over
        self._routing = 0  # routing-procedure queries among those
        self._mirror_plan = mirror
        self._mirror: Mirror | None = None
        self._session_id = session_id
        self._mirror_out = bytearray()  # what the client's latest requests become on it
        # Mirrored COMMITs awaiting the primary's reply (their bookmarks pair up).
        self._commits: deque[Any] = deque()
        self._shadowed: list[Capture] = []  # complete captures to hand over
        # Traffic control: asked at each transaction boundary where work goes next.
        # [shadow] capture: queries that are not mirrored are still recorded.
        self._capture = capture
        self._route = route
        self._manifest_of = manifest_of
        self._bookmarks = bookmarks
        self._move: _Move | None = None
        # Links to backends the session may be moved to, logged in and idle: former
        # primaries kept for a rollback, and the others logged in ahead of a flip.
        self._standby: dict[BackendName, _Link] = {}
        self._keep_warm = tuple(standby)
        self._warming: dict[BackendName, _Warm] = {}
        self._logins = 0  # logins completed on the primary (a re-login refreshes the rest)
        self._stale: list[_Link] = []  # logged in as a user the client has logged off
        self._in_transaction = False  # as the client's requests say
        self._lingering = False
        self._tally = _Tally(clock())

    @property
    def closed(self) -> bool:
        return self._closed

    @property
    def buffered(self) -> int:
        """Client bytes held that do not make a complete message yet."""
        if self._greeting is not None:
            return self._greeting.buffered
        return self._reader.buffered if self._reader is not None else 0

    def start(self) -> list[Command]:
        """The client connected: it has this long to send its handshake."""
        return [SetDeadline(self._limits.handshake_seconds, "the client's handshake")]

    # --- events from the client ------------------------------------------

    def client_data(self, data: bytes) -> list[Command]:
        if self._closed or self._goodbye or self._refusal is not None:
            return []  # the session is ending: what the client sends now is dropped
        self._tally.bytes_in += len(data)
        if self._greeting is not None:
            return self._greet(data)
        return self._client_messages(data)

    def client_eof(self) -> list[Command]:
        if self._closed:
            return []
        if self._reader is not None and self._reader.buffered:
            self._observer.error("client", "truncated", "connection closed inside a message")
        return self._close_all("the client closed the connection", tell_client=False)

    def link_congested(self, link_id: int) -> list[Command]:
        """A link reads slower than the session writes to it."""
        if self._is_mirror(link_id):
            # The candidate never holds the client back: it is dropped instead.
            return self._drop_mirror("the candidate reads too slowly")
        return []

    def deadline_expired(self, waiting_for: str, timer: str = "client") -> list[Command]:
        if timer == "mirror":
            return self._drop_mirror(f"no answer within {waiting_for}", missing=TIMEOUT)
        if self._closed:
            return []
        self._observer.error("client", "timeout", f"gave up waiting for {waiting_for}")
        return self._close_all(f"timed out waiting for {waiting_for}")

    # --- events from backend links ---------------------------------------

    def link_offered(self, link_id: int, versions: Collection[Version]) -> list[Command]:
        """A manifest backend listed its versions: the client may now choose."""
        if self._warm_of(link_id) is not None:
            return self._warm_login(link_id, self.version in versions, choose=True)
        if self._is_moving(link_id):
            if self.version not in versions:
                return self._abort_move("it does not speak the session's Bolt version")
            return self._replay_login(link_id, choose=True)
        if self._is_mirror(link_id):
            return self._mirror_ready(link_id, self.version in versions, manifest=True)
        if self._closed or self._greeting is None:
            return []
        self._greeting.backend_offers(versions)
        return self._drive_greeting()

    def link_negotiated(self, link_id: int, version: Version) -> list[Command]:
        """A legacy backend agreed on ``version`` (the link is ready)."""
        if self._warm_of(link_id) is not None:
            return self._warm_login(link_id, version == self.version, choose=False)
        if self._is_moving(link_id):
            if version != self.version:
                return self._abort_move("it does not speak the session's Bolt version")
            return self._replay_login(link_id, choose=False)
        if self._is_mirror(link_id):
            return self._mirror_ready(link_id, version == self.version, manifest=False)
        if self._closed or self._greeting is None:
            return []
        self._links[link_id].ready = True
        self._greeting.backend_chose(version)
        return self._drive_greeting()

    def link_failed(self, link_id: int, failure: LinkFailure, reason: str) -> list[Command]:
        """The link could not be opened."""
        if self._warm_of(link_id) is not None:
            return self._warm_failed(link_id, reason)
        if self._is_moving(link_id):
            return self._abort_move(reason)
        if self._is_mirror(link_id):
            return self._drop_mirror(f"cannot open: {reason}")
        if self._closed:
            return []
        link = self._links.pop(link_id, None)
        if link is None:
            return []
        self._observer.error(link.role.value, failure.value, reason)
        if failure is LinkFailure.REFUSED and self._greeting is not None:
            self._greeting.backend_refused()
            return self._drive_greeting()
        # Directly, the driver would have failed to connect: it sees the same
        # dead connection, which it treats as the server being unavailable.
        return self._close_all(reason)

    def link_data(self, link_id: int, data: bytes) -> list[Command]:
        link = self._links.get(link_id)
        if link is not None and link.role is LinkRole.MIRROR:
            return self._mirror_data(data)
        if self._is_moving(link_id) and link is not None:
            return self._login_answers(link, data)
        if self._warm_of(link_id) is not None and link is not None:
            return self._warm_answers(link, data)
        if self._closed or link is None:
            return []
        self._tally.bytes_out += len(data)
        try:
            out = self._relay_backend(link, data)
        except ScanError as exc:
            return self._backend_broke(link, "framing", f"the backend broke Bolt framing: {exc}")
        except (MessageError, PackStreamError, ProtocolViolation) as exc:
            return self._backend_broke(link, "protocol", f"unexpected answer: {exc}")
        now = self._clock()
        if now >= self._tally.due:
            self._tally.flush(self._observer, now)
        if self._shadowed:
            out += self._hand_over()
        if self._move is not None:
            out += self._advance_move()
        return out

    def link_eof(self, link_id: int, reason: str) -> list[Command]:
        if self._is_moving(link_id):
            return self._abort_move(reason)
        if self._warm_of(link_id) is not None:
            return self._warm_failed(link_id, reason)
        for name, standby in list(self._standby.items()):
            if standby.id == link_id:  # an idle former primary went away: nothing is owed
                del self._standby[name]
                self._links.pop(link_id, None)
                return []
        if self._is_mirror(link_id):
            mirror = self._mirror
            assert mirror is not None
            if mirror.awaiting:
                return self._drop_mirror(reason)
            self._lingering = False
            self._links.pop(link_id, None)
            return []
        link = self._links.pop(link_id, None)
        if self._closed or link is None:
            return []
        conversation = self.conversation
        if self._goodbye:
            return self._close_all("GOODBYE")
        if self._refusal is not None:
            return self._end_with_refusal()
        if conversation is not None and conversation.state is ServerState.DEFUNCT:
            # The backend hangs up after a failed login (or a fatal failure the
            # client has already been shown): nothing more is owed.
            return self._close_all(reason)
        if conversation is not None and conversation.pending:
            self._observer.error(link.role.value, "closed", f"{reason} with requests pending")
        else:
            self._observer.notice(f"{link.role.value} {link.backend}: {reason}")
        return self._close_all(reason)

    # --- handshake -------------------------------------------------------

    def _greet(self, data: bytes) -> list[Command]:
        greeting = self._greeting
        assert greeting is not None
        greeting.receive_data(data)
        if greeting.buffered > self._limits.max_message_bytes_before_auth:
            self._observer.error("client", "oversize", "too much data during the handshake")
            return self._close_all("too much data during the handshake")
        return self._drive_greeting()

    def _drive_greeting(self) -> list[Command]:
        greeting = self._greeting
        commands: list[Command] = []
        while greeting is not None:
            event = greeting.next_event()
            if isinstance(event, NeedData):
                break
            if isinstance(event, ClientProposed):
                commands += self._open_primary(event)
            elif isinstance(event, SendBytes):
                commands.append(SendToClient(event.data))
                deadline = self._limits.handshake_seconds
                commands.append(SetDeadline(deadline, "the client's first message"))
            elif isinstance(event, HandshakeFailed):
                self._observer.error("client", "handshake", event.reason)
                if event.reply:
                    commands.append(SendToClient(event.reply))
                return commands + self._close_all(event.reason)
            else:
                commands += self._negotiated(event)
                break
        return commands

    def _open_primary(self, proposed: ClientProposed) -> list[Command]:
        manifest = proposed.manifest and self._backend_manifest
        link = self._add_link(self._primary_name, LinkRole.PRIMARY)
        self._primary = link
        proposals = proposed.backend_proposals(3 if manifest else 4)
        # From here the wait is for the backend; the link's own timeouts bound it
        # and a driver's deadline still applies, as it would directly.
        return [
            SetDeadline(None, "the backend"),
            OpenLink(link.id, link.backend, proposals, manifest),
        ]

    def _add_link(self, backend: BackendName, role: LinkRole) -> _Link:
        link = _Link(self._next_link, backend, role, self._limits.max_message_bytes)
        self._links[link.id] = link
        self._next_link += 1
        return link

    def _negotiated(self, negotiated: Negotiated) -> list[Command]:
        self._greeting = None
        self.version = negotiated.version
        self.conversation = Conversation(
            negotiated.version, max_pending=self._limits.max_pipelined
        )
        self._reader = MessageReader(self._limits.max_message_bytes_before_auth)
        commands: list[Command] = []
        primary = self._primary
        assert primary is not None
        if not primary.ready:  # a manifest backend waits for the client's choice
            primary.ready = True
            commands.append(ChooseVersion(primary.id, negotiated.version))
        plan = self._mirror_plan
        if plan is not None:
            link = self._add_link(plan.backend, LinkRole.MIRROR)
            self._mirror = Mirror(
                link.id,
                plan.backend,
                self._primary_name,
                negotiated.version,
                plan.policy,
                plan.bookmarks,
                clock=self._clock,
            )
            proposal = [(negotiated.version, 0)]
            commands.append(OpenLink(link.id, plan.backend, proposal, plan.manifest, link.role))
        if negotiated.leftover:
            commands += self._client_messages(negotiated.leftover)
        return commands

    # --- client messages -------------------------------------------------

    def _client_messages(self, data: bytes) -> list[Command]:
        reader = self._reader
        primary = self._primary
        assert reader is not None and primary is not None
        # Nothing held from before: when every byte makes a forwarded message,
        # ``data`` itself goes on (the usual case), not a copy.
        whole = not reader.buffered
        reader.receive_data(data)
        out = bytearray()
        if self._mirror_out:
            self._mirror_out = bytearray()
        commands: list[Command] = []
        while True:
            try:
                event = reader.next_event()
            except FramingError as exc:
                self._refuse_client("framing", exc)
                break
            if isinstance(event, NeedData):
                break
            if not isinstance(event, Message):
                continue  # a keep-alive: between the client and the proxy only
            accepted = self._accept_request(event)
            if accepted is None:
                if self._server_ended:
                    return commands + self._close_all("the server ended the conversation")
                break
            tag, held = accepted
            if held:
                self._hold_for_move(tag, event)
            else:
                out += event.raw
            if tag == Tag.BEGIN:
                self._in_transaction = True
            elif tag in (Tag.COMMIT, Tag.ROLLBACK, Tag.RESET):
                self._in_transaction = False
            if tag == Tag.GOODBYE:
                self._goodbye = True
                break
        if out:
            forward = data if whole and len(out) == len(data) else bytes(out)
            commands.append(SendToLink(primary.id, forward))
            if self._mirror_out:
                commands += self._to_mirror(bytes(self._mirror_out))
            if not self._authenticated:
                # Until it has logged in, a client must keep talking: one that
                # goes quiet (or stops inside a message) would hold a backend link.
                commands.append(
                    SetDeadline(self._limits.idle_before_auth_seconds, "the client to log in")
                )
        mirror = self._mirror
        if mirror is not None and mirror.dropped is not None and mirror.link_id in self._links:
            commands += self._dropped_now()
        for stale in self._stale:
            self._links.pop(stale.id, None)
            commands.append(CloseLink(stale.id, "the client logged off"))
        self._stale.clear()
        commands += self._advance_move()
        if self._goodbye and not self._pending():
            return commands + self._close_all("GOODBYE")
        return commands + self._maybe_refuse()

    def _pending(self) -> int:
        """Requests still owed an answer (GOODBYE gets none)."""
        pending = self.conversation.pending if self.conversation is not None else 0
        return pending - 1 if self._goodbye else pending

    def _accept_request(self, message: Message) -> tuple[int, bool] | None:
        """Check one client message: its tag, and whether it waits for a move of the primary.

        None when the session must end.
        """
        conversation = self.conversation
        assert conversation is not None and self.version is not None
        try:
            tag = messages.check_request(message.payload, self.version)
        except (MessageError, PackStreamError) as exc:
            self._refuse_client("malformed", exc)
            return None
        try:
            conversation.on_request(tag)
        except PipelineLimitExceeded as exc:
            self._refuse_client("pipelining", exc)
            return None
        except ProtocolViolation as exc:
            if conversation.state is ServerState.DEFUNCT and not conversation.pending:
                # The server ended the conversation with a fatal FAILURE (a failed
                # login) and hangs up: a request now finds the connection closed,
                # as it would directly, not an answer the server never sends.
                self._server_ended = True
            else:
                self._refuse_client("protocol", exc)
            return None
        counts = self._tally.client
        counts[tag] = counts.get(tag, 0) + 1
        if self._observer.debugging:
            self._observer.debug("C", tag)
        # Work held for a move is not mirrored: where it runs is not decided yet.
        held = self._move is not None or self._starts_move(tag)
        capture = self._mirror_request(tag, message) if self._mirror and not held else None
        if tag == Tag.RUN and capture is None and self._capture is not None:
            capture = relayed_only(
                message.payload, self.version, self._in_transaction, self._capture, self._clock
            )
        if tag == Tag.RUN:
            routing = bool(_ROUTING_PROCEDURE.match(messages.peek_run_query(message.payload)))
            # Its rows may arrive in the same read as its RUN's SUCCESS: the
            # scanner hands records over from now on.
            self._track(_Query(self._clock(), routing, capture))
        elif tag == Tag.HELLO:
            self.auth.hello = message.raw
        elif tag == Tag.LOGON:
            self.auth.logon = message.raw
        elif tag == Tag.LOGOFF:
            self.auth.logon = None
            self._stale += [*self._standby.values(), *(w.link for w in self._warming.values())]
            self._standby.clear()
            self._warming.clear()
        return tag, held

    # --- backend messages ------------------------------------------------

    def _relay_backend(self, link: _Link, data: bytes) -> list[Command]:
        scanner = link.scanner
        scanner.feed(data)
        was_authenticated = self._authenticated
        logins = self._logins
        found, scanner.messages = scanner.messages, []
        if scanner.records:
            counts = self._tally.server
            counts[RECORD_TAG] = counts.get(RECORD_TAG, 0) + scanner.records
            scanner.records = 0
        replacements: list[tuple[ScannedMessage, bytes]] = []
        for message in found:
            replacement = self._on_backend_message(message)
            if replacement is not None:
                replacements.append((message, replacement))
        commands: list[Command] = []
        if self._authenticated and not was_authenticated:
            commands.append(SetDeadline(None, "nothing"))
        if self._logins != logins:
            commands += self._warm_up()
        payload = self._forwardable(link, data, replacements)
        if payload:
            commands.append(SendToClient(payload))
        if self._goodbye and not self._pending():
            return commands + self._close_all("GOODBYE")
        if self._refusal is not None and not self._pending() and scanner.at_boundary:
            commands += self._end_with_refusal()
        return commands

    def _forwardable(
        self, link: _Link, data: bytes, replacements: list[tuple[ScannedMessage, bytes]]
    ) -> bytes | memoryview:
        """The bytes to send the client now, with rewritten messages swapped in.

        The fast path forwards ``data`` as received. Bytes are held back only
        while a message that may be rewritten could be among them.
        """
        scanner = link.scanner
        hold_tail = self._may_rewrite()
        if not link.held and not replacements and not hold_tail:
            return data
        held = link.held
        held += data
        base = scanner.offset - len(held)  # absolute offset of held[0]
        end = scanner.last_boundary - base if hold_tail else len(held)
        parts: list[bytes] = []
        cursor = 0
        for message, replacement in replacements:
            parts.append(bytes(held[cursor : message.start - base]))
            parts.append(replacement)
            cursor = message.end - base
        parts.append(bytes(held[cursor:end]))
        del held[:end]
        return b"".join(parts)

    def _may_rewrite(self) -> bool:
        """Could a message now arriving be one the proxy rewrites?"""
        conversation = self.conversation
        if conversation is None:
            return False
        return (
            conversation.next_request in _DECODED_REPLIES
            or self._routing > 0
            or not self._authenticated
        )

    def _on_backend_message(self, found: ScannedMessage) -> bytes | None:
        """Follow one non-RECORD message; returns its rewritten bytes, if any."""
        tag = found.tag
        counts = self._tally.server
        counts[tag] = counts.get(tag, 0) + 1
        if tag == RECORD_TAG:  # collected for a routing procedure or a mirrored query
            head = self._streams[0] if self._streams else None
            if head is None:
                return None
            if head.routing:
                return self._rewrite_routing_record(found.payload)
            if head.capture is not None:
                head.capture.primary.record(found.payload)
            return None
        if tag not in _SUMMARY_TAGS:
            raise ProtocolViolation(f"0x{tag:02X} is not a response message")
        conversation = self.conversation
        assert conversation is not None
        metadata: dict[str, Any] = {}
        request = conversation.next_request
        has_more = False
        if tag == Tag.FAILURE or (tag == Tag.SUCCESS and self._decodes(request)):
            _, fields = messages.decode(found.payload)
            if fields and isinstance(fields[0], dict):
                metadata = fields[0]
            has_more = bool(metadata.get("has_more", False))
        elif tag == Tag.SUCCESS and request in (Tag.PULL, Tag.DISCARD):
            has_more = messages.summary_has_more(found.payload)
        completed = conversation.on_summary(tag, has_more=has_more)
        if self._observer.debugging:
            self._observer.debug("S", tag, f"for {_name(completed.request)}")
        if tag == Tag.FAILURE:
            kind = _failure_kind(messages.failure_code(metadata) or "unknown")
            # A ClientError is the query's fault (the client side); the rest the backend's.
            side = "client" if kind == "ClientError" else "primary"
            self._observer.server_failure(side, kind, self._primary_name)
        elif completed.after is ServerState.READY and completed.request in (Tag.HELLO, Tag.LOGON):
            self._logged_in()
        self._follow_query(completed, has_more, metadata, found.payload)
        return self._rewrite_summary(completed, metadata)

    def _decodes(self, request: int | None) -> bool:
        """Is this request's SUCCESS read in full? (Only where its content is used.)"""
        if request in _DECODED_REPLIES:
            return True
        # A mirrored query's SUCCESS payloads are handed over raw, for the
        # shadow worker to decode: only a mirrored COMMIT's bookmark is read here.
        return self._mirror is not None and request == Tag.COMMIT and bool(self._commits)

    def _logged_in(self) -> None:
        self._authenticated = True
        self._logins += 1
        if self._reader is not None:
            self._reader.max_message_size = self._limits.max_message_bytes

    def _follow_query(
        self, completed: Completed, has_more: bool, metadata: dict[str, Any], payload: bytes
    ) -> None:
        """Latency (RUN sent → the last summary of its result) and mirrored answers.

        Results are assumed to finish in the order they were started, which is
        exact outside explicit transactions that interleave several results.
        """
        request = completed.request
        outcome = completed.outcome
        if request == Tag.RUN and self._queries:
            query = self._queries.popleft()
            if outcome is Outcome.SUCCESS:
                if query.capture is not None:
                    query.capture.primary.run_succeeded_raw(payload)
                self._streams.append(query)
                return
            self._untrack(query)
            if outcome is Outcome.FAILURE:
                self._observer.query_latency(self._primary_name, self._clock() - query.started)
                if query.capture is not None:
                    self._primary_done(query.capture, query.capture.primary.failed(metadata))
        elif request in (Tag.PULL, Tag.DISCARD) and self._streams:
            if outcome is Outcome.SUCCESS and has_more:
                return
            query = self._streams.popleft()
            self._untrack(query)
            self._observer.query_latency(self._primary_name, self._clock() - query.started)
            capture = query.capture
            if capture is not None and outcome is not Outcome.IGNORED:
                builder = capture.primary
                answer = (
                    builder.failed(metadata)
                    if outcome is Outcome.FAILURE
                    else builder.finished_raw(payload)
                )
                self._primary_done(capture, answer)
        elif request == Tag.COMMIT and self._commits:
            commit = self._commits.popleft()
            if commit is not None and self._mirror is not None:
                bookmark = metadata.get("bookmark")
                self._mirror.primary_committed(
                    commit, bookmark if isinstance(bookmark, str) else None
                )

    def _track(self, query: _Query) -> None:
        self._queries.append(query)
        if query.collects:
            self._collecting += 1
            self._routing += query.routing
            if self._primary is not None:
                self._primary.scanner.collect_records(True)

    def _untrack(self, query: _Query) -> None:
        if query.collects:
            self._collecting -= 1
            self._routing -= query.routing
            if not self._collecting and self._primary is not None:
                self._primary.scanner.collect_records(False)

    def _rewrite_summary(self, completed: Completed, metadata: dict[str, Any]) -> bytes | None:
        request = completed.request
        if request not in _DECODED_REPLIES or completed.outcome is not Outcome.SUCCESS:
            return None
        if request == Tag.HELLO:
            agent = metadata.get("server")
            self.server_agent = agent if isinstance(agent, str) else None
        if request == Tag.ROUTE:
            table = metadata.get("rt")
            if not isinstance(table, dict):
                return None
            rewritten = {**metadata, "rt": {**table, "servers": self._routing_servers()}}
        elif "advertised_address" in metadata:
            rewritten = {**metadata, "advertised_address": self._advertised}
        else:
            return None
        return chunk(messages.success(rewritten))

    def _routing_servers(self) -> list[dict[str, Any]]:
        return [{"addresses": [self._advertised], "role": role} for role in ROUTING_ROLES]

    def _rewrite_routing_record(self, payload: bytes) -> bytes | None:
        """A routing-table procedure row is ``[ttl, servers]``: point every role at us."""
        _, fields = messages.decode(payload)
        values = fields[0] if fields else None
        if not (isinstance(values, list) and len(values) == 2):
            return None
        return chunk(messages.record([values[0], self._routing_servers()]))

    # --- moving the primary role -------------------------------------------

    def _starts_move(self, tag: int) -> bool:
        """Does this request start work that the router sends elsewhere?"""
        starts_work = tag == Tag.BEGIN or (tag == Tag.RUN and not self._in_transaction)
        if self._route is None or not starts_work or not self._authenticated:
            return False
        target = self._route(self._primary_name)
        if target == self._primary_name:
            return False
        self._move = _Move(target)
        return True

    def _hold_for_move(self, tag: int, message: Message) -> None:
        move = self._move
        assert move is not None
        raw = message.raw
        if self._bookmarks is not None:
            # The client's bookmarks name the old primary's commits.
            translated, missing = retarget(
                tag, message.payload, self._bookmarks, self._primary_name, move.target
            )
            if translated is not None:
                raw = translated
            if missing:
                note = f"{missing} bookmark(s) with no {move.target} counterpart left out"
                self._observer.error("proxy", "bookmark_unmapped", note)
        move.outbox += raw
        move.messages.append((tag, message))
        move.requests += tag != Tag.GOODBYE

    def _is_moving(self, link_id: int) -> bool:
        move = self._move
        return move is not None and move.link is not None and move.link.id == link_id

    def _advance_move(self) -> list[Command]:
        """Open the target's link once the old primary owes nothing more."""
        move = self._move
        if move is None or move.link is not None or self.version is None:
            return []
        if self._pending() > move.requests:
            return []  # e.g. a BEGIN pipelined right behind a COMMIT: held at the boundary
        mirror = self._mirror
        if mirror is not None and mirror.backend == move.target and mirror.dropped is None:
            if mirror.awaiting:
                # The candidate has not applied every mirrored request yet: wait
                # (its own timer bounds that), so no acknowledged write is missing.
                return []
            # The mirror becomes the primary, and the old primary its mirror.
            self._mirror = None
            link = self._links[mirror.link_id]
            link.role = LinkRole.PRIMARY
            return self._moved(link)
        standby = self._standby.pop(move.target, None)
        if standby is not None:
            return self._moved(standby)
        if move.target in self._warming:
            return []  # logging in ahead already: the move continues when it is done
        link = self._add_link(move.target, LinkRole.PRIMARY)
        move.link = link
        manifest = self._manifest_of(move.target)
        return [OpenLink(link.id, move.target, [(self.version, 0)], manifest, LinkRole.PRIMARY)]

    def _replay_login(self, link_id: int, *, choose: bool) -> list[Command]:
        move = self._move
        assert move is not None and self.version is not None
        login = [raw for raw in (self.auth.hello, self.auth.logon) if raw is not None]
        move.logins = len(login)
        commands: list[Command] = [ChooseVersion(link_id, self.version)] if choose else []
        return [*commands, SendToLink(link_id, b"".join(login))]

    def _login_answers(self, link: _Link, data: bytes) -> list[Command]:
        move = self._move
        assert move is not None
        scanner = link.scanner
        try:
            scanner.feed(data)
        except ScanError as exc:
            return self._abort_move(f"it broke Bolt framing: {exc}")
        found, scanner.messages = scanner.messages, []
        for message in found:
            if message.tag != Tag.SUCCESS:
                return self._abort_move("it refused the client's login")
            move.logins -= 1
        if move.logins > 0:
            return []
        return self._moved(link)

    def _moved(self, link: _Link) -> list[Command]:
        move = self._move
        old = self._primary
        assert move is not None and old is not None
        self._move = None
        self._observer.notice(f"primary moved from {self._primary_name} to {move.target}")
        old_name = self._primary_name
        self._primary, self._primary_name = link, move.target
        link.scanner.collect_records(self._collecting > 0)
        old.scanner.collect_records(False)
        commands: list[Command] = []
        if move.outbox:
            commands.append(SendToLink(link.id, bytes(move.outbox)))
        mirror = self._mirror
        if mirror is not None and mirror.backend == move.target and mirror.dropped is None:
            # Shadowing a backend against itself shows nothing.
            commands += self._drop_mirror(f"the primary moved to {move.target}")
        plan = self._mirror_plan
        if plan is not None and self.version is not None:
            # Shadowing continues the other way: the old primary, logged in and
            # idle, becomes the candidate from the next transaction on.
            old.role = LinkRole.MIRROR
            self._mirror = Mirror(
                old.id, old_name, move.target, self.version, plan.policy, plan.bookmarks,
                clock=self._clock, logged_in=True,
            )  # fmt: skip
            commands += self._mirror_held_work(move)
        else:
            self._standby[old_name] = old  # logged in and idle: a rollback reuses it
        return commands

    def _mirror_held_work(self, move: _Move) -> list[Command]:
        """The work held for the move, mirrored now that the old primary is the candidate.

        With dual writes this is what keeps the first transaction after a flip on
        both backends. Its RUNs are the queries now pending, in order: their
        answers are captured for comparison like any other.
        """
        mirror = self._mirror
        assert mirror is not None
        mirror.following = True
        self._mirror_out = bytearray()
        runs = []
        for tag, message in move.messages:
            capture = self._mirror_request(tag, message)
            if tag == Tag.RUN:
                runs.append(capture)
        for query, capture in zip(self._queries, runs, strict=False):
            if capture is not None and query.capture is None:
                if not query.collects:
                    self._collecting += 1
                query.capture = capture
        if self._collecting and self._primary is not None:
            self._primary.scanner.collect_records(True)
        return self._to_mirror(bytes(self._mirror_out)) if self._mirror_out else []

    def _warm_up(self) -> list[Command]:
        """Log in, ahead of any flip, on each backend the session may be moved to."""
        if self.version is None:
            return []
        commands: list[Command] = []
        mirror = self._mirror
        for name in self._keep_warm:
            if (
                name == self._primary_name
                or name in self._standby
                or name in self._warming
                or (mirror is not None and mirror.dropped is None and mirror.backend == name)
            ):
                continue
            link = self._add_link(name, LinkRole.PRIMARY)
            self._warming[name] = _Warm(link)
            proposal = [(self.version, 0)]
            commands.append(OpenLink(link.id, name, proposal, self._manifest_of(name)))
        return commands

    def _warm_of(self, link_id: int) -> _Warm | None:
        for warm in self._warming.values():
            if warm.link.id == link_id:
                return warm
        return None

    def _warm_login(self, link_id: int, usable: bool, *, choose: bool) -> list[Command]:
        warm = self._warm_of(link_id)
        assert warm is not None and self.version is not None
        if not usable:
            return self._warm_failed(link_id, "it does not speak the session's Bolt version")
        login = [raw for raw in (self.auth.hello, self.auth.logon) if raw is not None]
        warm.logins = len(login)
        commands: list[Command] = [ChooseVersion(link_id, self.version)] if choose else []
        return [*commands, SendToLink(link_id, b"".join(login))]

    def _warm_answers(self, link: _Link, data: bytes) -> list[Command]:
        warm = self._warm_of(link.id)
        assert warm is not None
        try:
            link.scanner.feed(data)
        except ScanError as exc:
            return self._warm_failed(link.id, f"it broke Bolt framing: {exc}")
        found, link.scanner.messages = link.scanner.messages, []
        for message in found:
            if message.tag != Tag.SUCCESS:
                return self._warm_failed(link.id, "it refused the client's login")
            warm.logins -= 1
        if warm.logins > 0:
            return []
        name = link.backend
        del self._warming[name]
        self._standby[name] = link
        return self._advance_move() if self._move is not None else []

    def _warm_failed(self, link_id: int, reason: str) -> list[Command]:
        """A backend could not be logged in to ahead of time: a move will try again."""
        warm = self._warm_of(link_id)
        assert warm is not None
        del self._warming[warm.link.backend]
        self._links.pop(link_id, None)
        self._observer.notice(f"no link kept ready on {warm.link.backend}: {reason}")
        commands: list[Command] = [CloseLink(link_id, reason)]
        if self._move is not None:
            commands += self._advance_move()
        return commands

    def _abort_move(self, reason: str) -> list[Command]:
        """The target cannot be used: the held work goes where the session was."""
        move = self._move
        primary = self._primary
        assert move is not None and primary is not None
        self._move = None
        self._observer.error("primary", "move", f"cannot move to {move.target}: {reason}")
        commands: list[Command] = []
        if move.link is not None and move.link.id in self._links:
            del self._links[move.link.id]
            commands.append(CloseLink(move.link.id, reason))
        if move.outbox:
            commands.append(SendToLink(primary.id, bytes(move.outbox)))
        return commands

    # --- the mirror ------------------------------------------------------

    def _is_mirror(self, link_id: int) -> bool:
        return self._mirror is not None and self._mirror.link_id == link_id

    def _mirror_request(self, tag: int, message: Message) -> Capture | None:
        """Queue what one client request becomes on the candidate; the capture to keep.

        The mirror exists from the handshake on, so it follows the conversation
        from its first message (queued until the candidate's link is ready).
        """
        mirror = self._mirror
        assert mirror is not None
        if mirror.dropped is not None:
            return None
        if not mirror.following:
            # A mirror that took over a former primary's link starts with the next
            # transaction, never inside one.
            starts_work = tag == Tag.BEGIN or (tag == Tag.RUN and not self._in_transaction)
            if not starts_work:
                return None
            mirror.following = True
        mirrored = mirror.request(tag, message.raw, message.payload)
        self._mirror_out += mirrored.data
        if tag == Tag.COMMIT:
            self._commits.append(mirrored.commit)
        return mirrored.capture

    def _to_mirror(self, data: bytes) -> list[Command]:
        mirror = self._mirror
        if mirror is None or mirror.dropped is not None or not mirror.ready:
            return []
        return [SendToLink(mirror.link_id, data), *self._mirror_deadline()]

    def _mirror_deadline(self) -> list[Command]:
        mirror = self._mirror
        assert mirror is not None
        if not mirror.awaiting or mirror.dropped is not None:
            return [SetDeadline(None, "nothing", "mirror")]
        seconds = self._mirror_plan.policy.settings.query_timeout if self._mirror_plan else None
        return [SetDeadline(seconds, f"{seconds:g} s for the candidate", "mirror")]

    def _mirror_ready(self, link_id: int, usable: bool, *, manifest: bool) -> list[Command]:
        mirror = self._mirror
        # A client may have finished its whole session before the candidate's
        # handshake did: the lingering mirror still replays it.
        if (self._closed and not self._lingering) or mirror is None or mirror.dropped is not None:
            return []
        if not usable or self.version is None:
            return self._drop_mirror("the candidate does not speak the session's Bolt version")
        commands: list[Command] = []
        if manifest:
            commands.append(ChooseVersion(link_id, self.version))
        self._links[link_id].ready = True
        data = mirror.link_ready()
        if data:
            commands += [SendToLink(link_id, data), *self._mirror_deadline()]
        return commands

    def _mirror_data(self, data: bytes) -> list[Command]:
        mirror = self._mirror
        assert mirror is not None
        for capture in mirror.link_data(data):
            self._candidate_done(capture)
        if mirror.dropped is not None:
            return self._dropped_now() if mirror.link_id in self._links else []
        commands: list[Command] = []
        released = mirror.release_held()
        if released:
            commands.append(SendToLink(mirror.link_id, released))
        if self._lingering and not mirror.awaiting:
            self._lingering = False
            del self._links[mirror.link_id]
            commands += [
                SetDeadline(None, "nothing", "mirror"),
                CloseLink(mirror.link_id, "the candidate has answered"),
            ]
        else:
            commands += self._mirror_deadline()
        commands += self._hand_over()
        if self._move is not None:
            commands += self._advance_move()  # a flip waiting for the candidate to catch up
        return commands

    def _drop_mirror(self, reason: str, missing: str = DROPPED) -> list[Command]:
        mirror = self._mirror
        if (self._closed and not self._lingering) or mirror is None or mirror.dropped is not None:
            return []
        mirror.drop(reason, missing)
        return self._dropped_now()

    def _dropped_now(self) -> list[Command]:
        """The mirror has just stopped: close its link, say so, hand over what is owed."""
        mirror = self._mirror
        assert mirror is not None and mirror.dropped is not None
        self._lingering = False
        for capture in mirror.released:
            self._candidate_done(capture)
        self._observer.error("candidate", "dropped", f"{mirror.backend}: {mirror.dropped}")
        self._links.pop(mirror.link_id, None)
        return [
            SetDeadline(None, "nothing", "mirror"),
            CloseLink(mirror.link_id, mirror.dropped),
            *self._hand_over(),
        ]

    def _primary_done(self, capture: Capture, answer: Answer) -> None:
        capture.primary_answer = answer
        self._candidate_done(capture)

    def _candidate_done(self, capture: Capture) -> None:
        if not capture.complete:
            return
        self._shadowed.append(capture)
        primary, candidate = capture.primary_answer, capture.candidate_answer
        mirror = self._mirror
        if capture.in_transaction or primary is None or candidate is None or mirror is None:
            return
        # An auto-commit query is a commit on both: its bookmarks name the same point.
        theirs = summary_bookmark(primary.summary_payload)
        ours = summary_bookmark(candidate.summary_payload)
        if isinstance(theirs, str) and isinstance(ours, str) and self._bookmarks is not None:
            self._bookmarks.record(self._primary_name, theirs, mirror.backend, ours)

    def _hand_over(self) -> list[Command]:
        if not self._shadowed:
            return []
        done, self._shadowed = self._shadowed, []
        return [Shadowed(capture.exchange(self._session_id)) for capture in done]

    # --- ending ----------------------------------------------------------

    def _refuse_client(self, kind: str, error: BoltError) -> None:
        """Bad input: answer what is pending, then a FAILURE, then close."""
        if self._refusal is None:
            self._refusal = ClientRefusal(kind, error)

    def _maybe_refuse(self) -> list[Command]:
        if self._refusal is None or self._pending():
            return []  # the answers to earlier requests go out first
        primary = self._primary
        if primary is not None and not primary.scanner.at_boundary:
            return []
        return self._end_with_refusal()

    def _end_with_refusal(self) -> list[Command]:
        refusal = self._refusal
        assert refusal is not None and self.version is not None
        message = f"boltproxy: {refusal.error}"
        self._observer.error("client", refusal.kind, message)
        failure = messages.failure_for(refusal.error, self.version, message)
        return [SendToClient(chunk(failure)), *self._close_all(message)]

    def _backend_broke(self, link: _Link, kind: str, reason: str) -> list[Command]:
        # Forwarding garbage would break the driver's framing; the driver sees
        # a dead connection instead, as it would if the server failed this way.
        self._observer.error(link.role.value, kind, f"{link.backend}: {reason}")
        return self._close_all(reason)

    def _close_all(self, reason: str, *, tell_client: bool = True) -> list[Command]:
        if self._closed:
            return []
        self._closed = True
        self._tally.flush(self._observer, self._clock())
        commands: list[Command] = [SetDeadline(None, "nothing")]
        mirror = self._mirror
        # A candidate that still owes answers is given its time (the mirror
        # timer) to finish, so that a short session is compared whole.
        self._lingering = mirror is not None and mirror.dropped is None and mirror.awaiting
        for link_id in list(self._links):
            if not (self._lingering and mirror is not None and link_id == mirror.link_id):
                commands.append(CloseLink(link_id, reason))
                del self._links[link_id]
        if self._lingering:
            commands += self._mirror_deadline()
        if tell_client:
            commands.append(CloseClient(reason))
        return commands

    def mirror_mark(self) -> tuple[Mirror, int] | None:
        """Where the candidate must have caught up to for what was sent so far."""
        mirror = self._mirror
        if mirror is None or mirror.dropped is not None:
            return None
        return mirror, mirror.mark()

    def mirror_caught_up(self, mark: tuple[Mirror, int]) -> bool:
        mirror, point = mark
        # A mirror that has since been replaced (a flip swapped roles) is done with it.
        return mirror is not self._mirror or self._mirror is None or self._mirror.caught_up(point)

    @property
    def lingering(self) -> bool:
        """The client is gone; the candidate is finishing what it owes."""
        return self._lingering


@dataclass(frozen=True, slots=True)
class ClientRefusal:
    """Why the proxy ends a session with a FAILURE of its own: the client's bad input."""

    kind: str  # short class for metrics and the log line
    error: BoltError


def _name(tag: int) -> str:
    try:
        return Tag(tag).name
    except ValueError:
        return hex(tag)


def _failure_kind(code: str) -> str:
    """``Neo.ClientError.Statement.SyntaxError`` → ``ClientError``: a bounded label set."""
    parts = code.split(".")
    return parts[1] if len(parts) > 2 and parts[0] == "Neo" else "unknown"
