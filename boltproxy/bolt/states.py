"""The Bolt server state machine, as a relay sees it from both directions.

Drivers pipeline requests (BEGIN, RUN and PULL go out before any answer), so
the client's requests are checked against the states they *could* lead to if
every pending request succeeds, while the server's summaries drive the
authoritative state. The transitions after SUCCESS are one table, as in the
Neo4j drivers; open-result counting and version differences sit beside it.
"""

from __future__ import annotations

import enum
from collections import deque
from dataclasses import dataclass

from boltproxy.bolt.errors import InvalidServerState, PipelineLimitExceeded
from boltproxy.bolt.errors import ProtocolViolation as ProtocolViolation
from boltproxy.bolt.messages import Tag, Version, spec_for

#: Unanswered requests a client may pipeline before the session refuses it.
DEFAULT_MAX_PENDING = 1000


class ServerState(enum.Enum):
    CONNECTED = "CONNECTED"
    AUTHENTICATION = "AUTHENTICATION"
    READY = "READY"
    STREAMING = "STREAMING"
    TX_READY = "TX_READY"
    TX_STREAMING = "TX_STREAMING"
    FAILED = "FAILED"
    INTERRUPTED = "INTERRUPTED"
    DEFUNCT = "DEFUNCT"

    # Identity hashing in C: these are dictionary keys on the relay's hot path.
    __hash__ = object.__hash__


class Outcome(enum.Enum):
    SUCCESS = "SUCCESS"
    FAILURE = "FAILURE"
    IGNORED = "IGNORED"


S = ServerState
# (state, request) → state after SUCCESS. PULL/DISCARD "close one result" and
# RUN inside a transaction "opens one"; those are resolved by _after_success.
_ON_SUCCESS: dict[tuple[ServerState, int], ServerState] = {
    (S.CONNECTED, Tag.HELLO): S.READY,  # AUTHENTICATION from 5.1, see below
    (S.AUTHENTICATION, Tag.LOGON): S.READY,
    (S.READY, Tag.RUN): S.STREAMING,
    (S.READY, Tag.BEGIN): S.TX_READY,
    (S.READY, Tag.ROUTE): S.READY,
    (S.READY, Tag.TELEMETRY): S.READY,
    (S.READY, Tag.LOGOFF): S.AUTHENTICATION,
    (S.STREAMING, Tag.PULL): S.READY,
    (S.STREAMING, Tag.DISCARD): S.READY,
    (S.TX_READY, Tag.RUN): S.TX_STREAMING,
    (S.TX_READY, Tag.COMMIT): S.READY,
    (S.TX_READY, Tag.ROLLBACK): S.READY,
    (S.TX_STREAMING, Tag.RUN): S.TX_STREAMING,
    (S.TX_STREAMING, Tag.PULL): S.TX_READY,
    (S.TX_STREAMING, Tag.DISCARD): S.TX_READY,
    # Servers accept ending a transaction with results still open.
    (S.TX_STREAMING, Tag.COMMIT): S.READY,
    (S.TX_STREAMING, Tag.ROLLBACK): S.READY,
}
# Requests the server answers with IGNORED in FAILED/INTERRUPTED (legal, no effect).
_IGNORABLE = frozenset(
    {
        Tag.RUN,
        Tag.PULL,
        Tag.DISCARD,
        Tag.BEGIN,
        Tag.COMMIT,
        Tag.ROLLBACK,
        Tag.ROUTE,
        Tag.TELEMETRY,
        Tag.LOGOFF,
        Tag.LOGON,
    }
)
# Failing these leaves the connection unusable.
_FATAL_ON_FAILURE = frozenset({Tag.HELLO, Tag.LOGON, Tag.RESET})
_IN_TRANSACTION = frozenset({S.TX_READY, S.TX_STREAMING})
# The prediction once nothing is pending, one per state: built once, not per summary.
_ONLY: dict[ServerState, frozenset[ServerState]] = {state: frozenset({state}) for state in S}


# Not frozen: one is made per summary on the relay path, and a frozen dataclass
# costs four times as much to build. Treat it as read-only. init=False: compiled,
# a dataclass's generated __init__ stays interpreted Python; a written one is compiled.
@dataclass(slots=True, init=False)
class Completed:
    request: int
    outcome: Outcome
    before: ServerState
    after: ServerState
    began_transaction: bool
    ended_transaction: bool

    def __init__(
        self,
        request: int,
        outcome: Outcome,
        before: ServerState,
        after: ServerState,
        began_transaction: bool,
        ended_transaction: bool,
    ) -> None:
        self.request = request
        self.outcome = outcome
        self.before = before
        self.after = after
        self.began_transaction = began_transaction
        self.ended_transaction = ended_transaction


# A position in the conversation: the state and how many results are open.
_Position = tuple[ServerState, int]
# The states the pending requests can lead to. Open-result counts are left out:
# no request's legality depends on them, and without them the set has at most
# nine members, whatever the client pipelines.
_Predicted = frozenset[ServerState]


def _after_success(
    position: _Position, request: int, version: Version, has_more: bool
) -> _Position | None:
    state, open_results = position
    if request == Tag.RESET:
        return (S.READY, 0)
    if request == Tag.GOODBYE:
        return (S.DEFUNCT, 0)
    target = _ON_SUCCESS.get((state, request))
    if target is None:
        return None
    if request == Tag.HELLO and version >= (5, 1):
        return (S.AUTHENTICATION, 0)
    if request in (Tag.PULL, Tag.DISCARD):
        if has_more:
            return position
        if state is S.TX_STREAMING and open_results > 1:
            return (S.TX_STREAMING, open_results - 1)
        return (target, 0)
    if request == Tag.RUN:
        return (target, open_results + 1)
    return (target, 0)


def _legal(position: _Position, request: int) -> bool:
    state = position[0]
    if request in (Tag.RESET, Tag.GOODBYE):
        return state is not S.DEFUNCT
    if state in (S.FAILED, S.INTERRUPTED):
        return request in _IGNORABLE
    return (state, request) in _ON_SUCCESS


def _successors(state: ServerState, request: int, version: Version) -> tuple[ServerState, ...]:
    """The states ``request`` can lead to from ``state`` if it succeeds; () if illegal."""
    if not _legal((state, 0), request):
        return ()
    if state in (S.FAILED, S.INTERRUPTED) and request not in (Tag.RESET, Tag.GOODBYE):
        return (state,)  # answered IGNORED, no effect
    # One open result stands for any number: PULL then may leave results open.
    after = _after_success((state, 1), request, version, False)
    if after is None:
        return ()
    if request in (Tag.PULL, Tag.DISCARD):
        return (state, after[0])  # has_more keeps the result streaming
    return (after[0],)


def _step(predicted: _Predicted, request: int, version: Version) -> _Predicted:
    if spec_for(request, version) is None:
        return frozenset()
    following: set[ServerState] = set()
    for state in predicted:
        following.update(_successors(state, request, version))
    return frozenset(following)


# Per version, predicted set → request → next predicted set (empty: illegal).
# Finite (subsets of nine states, thirteen requests), shared by all connections.
_STEPS: dict[Version, dict[_Predicted, dict[int, _Predicted]]] = {}


def _steps_for(version: Version) -> dict[_Predicted, dict[int, _Predicted]]:
    steps = _STEPS.get(version)
    if steps is None:
        steps = _STEPS[version] = {}
    return steps


class Conversation:
    """One connection's server state, driven by requests and summaries.

    Each request and each summary costs constant time, however deep the client
    pipelines; ``max_pending`` bounds how deep that may be.
    """

    def __init__(self, version: Version, *, max_pending: int = DEFAULT_MAX_PENDING) -> None:
        if max_pending < 1:
            raise ValueError("max_pending must be at least 1")
        self.version = version
        self.max_pending = max_pending
        self._position: _Position = (S.CONNECTED, 0)
        self._pending: deque[int] = deque()
        self._pending_resets = 0
        self._pending_goodbyes = 0
        self._predicted: _Predicted = frozenset({S.CONNECTED})
        self._steps = _steps_for(version)

    @property
    def state(self) -> ServerState:
        return self._position[0]

    @property
    def predicted(self) -> frozenset[ServerState]:
        return self._predicted

    @property
    def pending(self) -> int:
        return len(self._pending)

    @property
    def in_transaction(self) -> bool:
        return self.state in (S.TX_READY, S.TX_STREAMING)

    @property
    def at_boundary(self) -> bool:
        return self.state is S.READY and not self._pending

    @property
    def next_request(self) -> int | None:
        """The request the server's next summary will answer."""
        return self._pending[0] if self._pending else None

    def on_request(self, tag: int) -> None:
        if len(self._pending) >= self.max_pending:
            raise PipelineLimitExceeded(
                f"more than {self.max_pending} requests pipelined without an answer"
            )
        row = self._steps.get(self._predicted)
        if row is None:
            row = self._steps[self._predicted] = {}
        following = row.get(tag)
        if following is None:
            following = row[tag] = _step(self._predicted, tag, self.version)
        if not following:
            raise self._refusal(tag)
        self._pending.append(tag)
        if tag == Tag.RESET:
            self._pending_resets += 1
        elif tag == Tag.GOODBYE:
            self._pending_goodbyes += 1
        self._predicted = following

    def _refusal(self, tag: int) -> ProtocolViolation:
        spec = spec_for(tag, self.version)
        if spec is None:
            major, minor = self.version
            return ProtocolViolation(f"0x{tag:02X} is not a request of Bolt {major}.{minor}")
        states = "/".join(sorted(state.value for state in self._predicted))
        return InvalidServerState(
            f"Message '{spec.name}' cannot be handled by session in the {states} state"
        )

    def on_summary(self, tag: int, *, has_more: bool = False) -> Completed:
        if not self._pending:
            raise ProtocolViolation("the server answered a request that was never sent")
        request = self._pending.popleft()
        if request == Tag.RESET:
            self._pending_resets -= 1
        elif request == Tag.GOODBYE:
            self._pending_goodbyes -= 1
        before = self._position
        if tag == Tag.SUCCESS:
            outcome = Outcome.SUCCESS
            after = _after_success(before, request, self.version, has_more)
            if after is None:  # the server accepted what we thought illegal: follow it
                after = before
        elif tag == Tag.FAILURE:
            outcome = Outcome.FAILURE
            fatal = request in _FATAL_ON_FAILURE or before[0] is S.CONNECTED
            after = (S.DEFUNCT if fatal else S.FAILED, 0)
        elif tag == Tag.IGNORED:
            outcome = Outcome.IGNORED
            after = before
        else:
            raise ProtocolViolation(f"0x{tag:02X} is not a summary message")
        self._position = after
        if not self._pending:
            self._predicted = _ONLY[after[0]]
        elif outcome is not Outcome.SUCCESS:
            # Predictions assumed success. (After a success they still hold.)
            self._predicted = self._predict_after_setback(after[0])
        was_tx = before[0] in _IN_TRANSACTION
        now_tx = after[0] in _IN_TRANSACTION
        # Positional: compiled, a call with keywords goes through the generic protocol.
        return Completed(
            request, outcome, before[0], after[0], not was_tx and now_tx, was_tx and not now_tx
        )

    def _predict_after_setback(self, state: ServerState) -> _Predicted:
        """Predictions once a request failed or was ignored, without re-reading the queue."""
        if state is S.DEFUNCT:
            return frozenset({S.DEFUNCT})
        if self._pending_resets:
            # A RESET leads to READY from anywhere: what follows the last pending
            # one was predicted independently of the outcomes before it.
            return self._predicted
        if self._pending_goodbyes:
            return frozenset({S.DEFUNCT})
        if state in (S.FAILED, S.INTERRUPTED):
            return frozenset({state})  # everything pending is IGNORED until a RESET
        # IGNORED where the server does not ignore requests (no RESET is pending):
        # a server off the protocol. Walk the queue, at most max_pending requests.
        predicted: _Predicted = frozenset({state})
        for request in self._pending:
            predicted = _step(predicted, request, self.version) or predicted
        return predicted
