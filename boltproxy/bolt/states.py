"""The Bolt server state machine, as a relay sees it from both directions.

Drivers pipeline requests (BEGIN, RUN and PULL go out before any answer), so
the client's requests are checked against the states they *could* lead to if
every pending request succeeds, while the server's summaries drive the
authoritative state. The transitions are data (one table), as in the Neo4j
drivers, not branches spread through the code.
"""

from __future__ import annotations

import enum
from collections import deque
from dataclasses import dataclass

from boltproxy.bolt.messages import Tag, Version, spec_for


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


class ProtocolViolation(Exception):
    """A message that is illegal where the conversation stands."""


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


@dataclass(frozen=True, slots=True)
class Completed:
    request: int
    outcome: Outcome
    before: ServerState
    after: ServerState
    began_transaction: bool
    ended_transaction: bool


# A position in the conversation: the state and how many results are open.
_Position = tuple[ServerState, int]


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
    return (target, 0 if target not in (S.TX_STREAMING,) else open_results)


def _legal(position: _Position, request: int) -> bool:
    state = position[0]
    if request in (Tag.RESET, Tag.GOODBYE):
        return state is not S.DEFUNCT
    if state in (S.FAILED, S.INTERRUPTED):
        return request in _IGNORABLE
    return (state, request) in _ON_SUCCESS


class Conversation:
    """One connection's server state, driven by requests and summaries."""

    def __init__(self, version: Version) -> None:
        self.version = version
        self._position: _Position = (S.CONNECTED, 0)
        self._pending: deque[int] = deque()
        # Every position the pending requests can lead to if they all succeed
        # (a PULL may or may not leave more records).
        self._predicted: set[_Position] = {self._position}

    @property
    def state(self) -> ServerState:
        return self._position[0]

    @property
    def predicted(self) -> frozenset[ServerState]:
        return frozenset(state for state, _ in self._predicted)

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
        spec = spec_for(tag, self.version)
        if spec is None:
            raise ProtocolViolation(
                f"0x{tag:02X} is not a request of Bolt {self.version[0]}.{self.version[1]}"
            )
        if not any(_legal(position, tag) for position in self._predicted):
            states = "/".join(sorted(state.value for state, _ in self._predicted))
            raise ProtocolViolation(f"{spec.name} is not allowed in state {states}")
        self._pending.append(tag)
        self._predicted = self._advance(self._predicted, tag)

    def _advance(self, positions: set[_Position], tag: int) -> set[_Position]:
        if len(positions) == 1 and tag not in (Tag.PULL, Tag.DISCARD):
            # The usual case, without the set algebra.
            (position,) = positions
            if position[0] not in (S.FAILED, S.INTERRUPTED) or tag in (Tag.RESET, Tag.GOODBYE):
                after = _after_success(position, tag, self.version, False)
                return {after} if after is not None else set()
        following: set[_Position] = set()
        for position in positions:
            if not _legal(position, tag):
                continue
            if position[0] in (S.FAILED, S.INTERRUPTED) and tag not in (Tag.RESET, Tag.GOODBYE):
                following.add(position)
                continue
            for more in (False, True) if tag in (Tag.PULL, Tag.DISCARD) else (False,):
                after = _after_success(position, tag, self.version, more)
                if after is not None:
                    following.add(after)
        return following

    def on_summary(self, tag: int, *, has_more: bool = False) -> Completed:
        if not self._pending:
            raise ProtocolViolation("the server answered a request that was never sent")
        request = self._pending.popleft()
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
            self._predicted = {after}
        elif outcome is not Outcome.SUCCESS:
            # Predictions assumed success; after anything else they start over.
            # (After a success they still hold, at worst a little too wide.)
            self._repredict()
        was_tx = before[0] in (S.TX_READY, S.TX_STREAMING)
        now_tx = after[0] in (S.TX_READY, S.TX_STREAMING)
        return Completed(
            request=request,
            outcome=outcome,
            before=before[0],
            after=after[0],
            began_transaction=not was_tx and now_tx,
            ended_transaction=was_tx and not now_tx,
        )

    def _repredict(self) -> None:
        positions = {self._position}
        for tag in self._pending:
            positions = self._advance(positions, tag) or positions
        self._predicted = positions
