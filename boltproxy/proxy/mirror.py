"""The candidate side of a shadowed session, with no sockets.

A mirror link replays the client's conversation on the candidate in the same
order: the client's own authentication, then BEGIN/RUN/PULL/DISCARD/COMMIT/
ROLLBACK/RESET. Requests are rewritten only where shadowing needs it: a marker
in the transaction metadata (so the candidate's query log shows shadow traffic),
notification filters of its own (deprecations must never be hidden from the
comparison), bookmarks translated to the candidate's chain, and, in ``reads``
mode, writes compiled with EXPLAIN instead of run. Its answers are consumed
here and never reach the client.

The mirror never holds the client back: what it sends is bounded (requests
awaiting an answer, bytes); past a bound, or when the candidate is slow to
read, fails or stops answering, the mirror is dropped for the rest of the
session — cleanly, never half-mirrored — and what it still owed is reported as
missing.

Candidate work is also capped over all sessions (``max_concurrent``): while
that many sessions have the candidate working for them, a session whose mirror
is idle does not start a new unit of work (a transaction or an auto-commit
query) there. The whole unit is shed and counted, and only where skipping it
changes nothing on the candidate: any unit in ``reads`` mode, read units in
``all`` mode (dual writes are never shed). Without this the candidate, when it
shares the machine, takes the CPU the primary needs.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from boltproxy.bolt import messages, packstream
from boltproxy.bolt.errors import BoltError
from boltproxy.bolt.framing import chunk, unchunk
from boltproxy.bolt.messages import Tag, Version
from boltproxy.bolt.scanner import RECORD_TAG, ResponseScanner
from boltproxy.bolt.states import Conversation, Outcome, ServerState
from boltproxy.proxy.bookmarks import BookmarkMap, translate_extra
from boltproxy.shadow import metrics, rules
from boltproxy.shadow.classify import classify, explain_form
from boltproxy.shadow.exchange import (
    DROPPED,
    NOT_MIRRORED,
    AccessMode,
    Answer,
    AnswerBuilder,
    Exchange,
    summary_metadata,
)
from boltproxy.shadow.settings import ShadowSettings

SHADOW_MARKER = {"boltproxy": "shadow"}
_FILTER_KEYS = (
    "notifications_minimum_severity",
    "notifications_disabled_categories",
    "notifications_disabled_classifications",
)
# Requests that are between the client and the primary only.
_NOT_MIRRORED = frozenset({Tag.ROUTE, Tag.TELEMETRY})
_RUN_EXTRAS_KEPT = 1024
# The requests of a unit of work: what shedding a unit leaves out.
_UNIT_REQUESTS = frozenset({Tag.BEGIN, Tag.RUN, Tag.PULL, Tag.DISCARD, Tag.COMMIT, Tag.ROLLBACK})


class MirrorPolicy:
    """What is mirrored: the ``[shadow]`` settings applied to sessions and queries."""

    def __init__(self, settings: ShadowSettings) -> None:
        self.settings = settings
        # Over all sessions of this policy: mirrors the candidate owes answers
        # (``max_concurrent`` caps them) and units of work shed at that cap.
        self.busy = 0
        self.shed = 0
        # A RUN's extra map as the client packed it → (decoded, rewritten for the
        # candidate): applications send the same few again and again.
        self.run_extras: dict[tuple[bytes, bool, Version], tuple[dict[str, Any], bytes]] = {}
        # With sampling per session, a sampled session mirrors every query the
        # rules let through: the per-query decision then samples nothing.
        per_query = (
            settings.model_copy(update={"sample_rate": 1.0})
            if settings.sticky == "session"
            else settings
        )

        # The same texts come again and again: classifying one costs a tokenizer pass.
        @lru_cache(maxsize=4096)
        def decide(
            query: str, database: str | None, user: str | None, access_mode: str | None
        ) -> rules.Mirror:
            return rules.decide(
                per_query,
                session_id="",
                query=query,
                database=database,
                user=user,
                access_mode=access_mode,
            )

        self.decide = decide

    def session_sampled(self, session_id: int) -> bool:
        settings = self.settings
        if settings.mode == "off":
            return False
        return settings.sticky != "session" or rules.sampled(str(session_id), settings.sample_rate)


@dataclass(slots=True)
class Capture:
    """One mirrored query: the primary's answer and the candidate's, as they come."""

    query: str
    parameters: bytes
    database: str | None
    access_mode: AccessMode | None
    impersonated_user: str | None
    in_transaction: bool
    explained: bool
    primary: AnswerBuilder
    candidate: AnswerBuilder | None = None
    primary_answer: Answer | None = None
    candidate_answer: Answer | None = None
    candidate_missing: str | None = None
    primary_backend: str | None = None

    @property
    def complete(self) -> bool:
        return self.primary_answer is not None and (
            self.candidate_answer is not None or self.candidate_missing is not None
        )

    def exchange(self, session_id: str) -> Exchange:
        assert self.primary_answer is not None
        return Exchange(
            session_id=session_id,
            query=self.query,
            parameters=self.parameters,
            primary=self.primary_answer,
            candidate=self.candidate_answer,
            candidate_missing=self.candidate_missing,
            candidate_explained=self.explained,
            database=self.database,
            access_mode=self.access_mode,
            impersonated_user=self.impersonated_user,
            in_transaction=self.in_transaction,
            primary_backend=self.primary_backend,
        )


@dataclass(frozen=True, slots=True)
class Mirrored:
    """What one client request becomes on the candidate."""

    data: bytes
    capture: Capture | None = None
    commit: _Commit | None = None


@dataclass(slots=True)
class _Segment:
    """Requests held from a boundary (new work, RESET, GOODBYE) until their turn."""

    requests: list[tuple[bytes, _Sent]] = field(default_factory=list)


@dataclass(slots=True)
class _Sent:
    """A request on the candidate awaiting its summary."""

    tag: int
    capture: Capture | None = None
    commit: _Commit | None = None
    size: int = 0
    at: float = 0.0  # when it was queued, for the candidate's latency
    own: bool = False  # the proxy's (a RESET after a candidate-only failure)


@dataclass(slots=True)
class _Commit:
    """A commit both sides make: their bookmarks name the same point."""

    primary: str | None = None
    candidate: str | None = None
    done: bool = field(default=False)


class Mirror:
    """The candidate link of one session: rewrites, bounds and the answers it gets."""

    def __init__(
        self,
        link_id: int,
        backend: str,
        primary_backend: str,
        version: Version,
        policy: MirrorPolicy,
        bookmarks: BookmarkMap,
        clock: Callable[[], float] = time.perf_counter,
        logged_in: bool = False,
    ) -> None:
        self.link_id = link_id
        self.backend = backend
        self.version = version
        self.ready = False
        self.dropped: str | None = None  # why mirroring stopped
        self.released: list[Capture] = []  # captures the candidate will not answer
        self._primary_backend = primary_backend
        self._policy = policy
        self._settings = policy.settings
        self._in_transaction = False  # as the client's requests say
        self._transaction: dict[str, Any] = {}  # the open transaction's BEGIN extra
        self._user: str | None = None  # the principal, for include/exclude rules
        self._bookmarks = bookmarks
        self._clock = clock
        self._conversation = Conversation(version)
        # Following the client from its first request, or (a former primary's
        # link, already logged in) from the next transaction the session starts.
        self.following = not logged_in
        if logged_in:
            self.ready = True
            for tag in (Tag.HELLO, Tag.LOGON) if version >= (5, 1) else (Tag.HELLO,):
                self._conversation.on_request(tag)
                self._conversation.on_summary(Tag.SUCCESS)
        self._scanner = ResponseScanner()
        self._scanner.collect_records(True)
        self._sent: deque[_Sent] = deque()
        self._outstanding = 0  # bytes sent that are not answered yet
        self._unsent = bytearray()  # before the link is ready
        self._busy = False  # counted in the policy's busy mirrors
        self._shedding = False  # the current unit of work is not mirrored
        # Requests from each boundary on, until the candidate has caught up.
        self._segments: deque[_Segment] = deque()
        self._held = 0  # requests in the segments
        # The client's requests given to the candidate, and those it has answered.
        self._requested = 0
        self._answered = 0
        # Results the candidate opened and has not finished, oldest first; None
        # for a query that is mirrored but not compared.
        self._streams: deque[Capture | None] = deque()

    # --- what goes to the candidate ----------------------------------------

    def request(self, tag: int, raw: bytes, payload: bytes) -> Mirrored:
        """What to send the candidate for one client request (empty: not mirrored)."""
        mirrored = self._request(tag, raw, payload)
        self._count_busy()
        return mirrored

    def _request(self, tag: int, raw: bytes, payload: bytes) -> Mirrored:
        """See :meth:`request`.

        Every RUN is mirrored so that the candidate's
        conversation stays the client's; a write in ``reads`` mode (or a query
        the rules exclude) is compiled with EXPLAIN instead of run, and only the
        RUNs the rules include are captured for comparison.
        """
        if self.dropped is not None or tag in _NOT_MIRRORED:
            return Mirrored(b"")
        capture: Capture | None = None
        commit: _Commit | None = None
        if tag == Tag.HELLO:
            raw = self._rewrite_hello(raw)
        elif tag == Tag.LOGON:
            self._user = _principal(payload)
        starts_unit = tag == Tag.BEGIN or (tag == Tag.RUN and not self._in_transaction)
        if starts_unit:
            self._shedding = self._sheds(tag, payload)
        if tag in _UNIT_REQUESTS:
            if self._shedding:
                return self._shed(tag)
        else:
            self._shedding = False
        if tag == Tag.BEGIN:
            raw = self._rewrite_begin(payload)
            self._in_transaction = True
        elif tag == Tag.RUN:
            raw, capture = self._rewrite_run(payload)
        elif tag == Tag.COMMIT:
            commit = _Commit()
        if tag in (Tag.COMMIT, Tag.ROLLBACK, Tag.RESET):
            self._in_transaction = False
            self._transaction = {}
        # A new unit of work (a transaction, an auto-commit query), a RESET (which
        # interrupts what the server is doing) and a GOODBYE (which closes at once)
        # wait until the slower candidate has answered all before them: only then
        # is it known whether the candidate failed where the primary did not.
        self._requested += tag != Tag.GOODBYE
        boundary = tag in (Tag.RESET, Tag.GOODBYE) or starts_unit
        if self._segments or (boundary and self._sent):
            if boundary:
                self._segments.append(_Segment())
            self._segments[-1].requests.append((raw, _Sent(tag, capture, commit=commit)))
            self._held += 1
            if self._held + len(self._sent) > self._settings.queue_entries:
                self.drop("the candidate fell too far behind")
                return Mirrored(b"")
            return Mirrored(b"", capture, commit)
        data = self._emit(raw, _Sent(tag, capture, commit=commit))
        if self.dropped is not None:
            return Mirrored(b"")
        return Mirrored(data, capture, commit)

    def _sheds(self, tag: int, payload: bytes) -> bool:
        """Is the unit of work this request starts left out (the candidate's work is capped)?"""
        settings = self._settings
        if self._busy or self._policy.busy < settings.max_concurrent:
            return False  # an idle candidate, or this session's own queue: no more concurrency
        if settings.mode == "all":  # dual writes: only a unit that cannot write is shed
            if tag == Tag.BEGIN:
                _, fields = messages.decode(payload)
                extra = fields[0] if fields and isinstance(fields[0], dict) else {}
                if extra.get("mode") != "r":
                    return False
            else:
                query, _, _, extra = parse_run(payload)
                if extra.get("mode") != "r" and classify(query).write:
                    return False
        self._policy.shed += 1
        metrics.SHED.inc()
        return True

    def _shed(self, tag: int) -> Mirrored:
        """A request of a shed unit: the client's transaction state is still followed."""
        if tag == Tag.BEGIN:
            self._in_transaction = True
        elif tag in (Tag.COMMIT, Tag.ROLLBACK):
            self._in_transaction = False
            self._transaction = {}
        return Mirrored(b"")

    def _count_busy(self) -> None:
        """Keep the policy's count of mirrors the candidate owes answers."""
        busy = self.dropped is None and (bool(self._sent) or bool(self._segments))
        if busy != self._busy:
            self._busy = busy
            self._policy.busy += 1 if busy else -1

    def _emit(self, data: bytes, sent: _Sent) -> bytes:
        """Send one request now (or, before the link is ready, as soon as it is)."""
        prefix = b""
        if ServerState.FAILED in self._conversation.predicted and sent.tag not in (
            Tag.RESET,
            Tag.GOODBYE,
        ):
            # The candidate failed where the primary did not: the client will not
            # reset it, so the proxy does (its answer is consumed like the rest).
            prefix = self._emit(chunk(messages.encode(Tag.RESET)), _Sent(Tag.RESET, own=True))
        try:
            self._conversation.on_request(sent.tag)
        except BoltError as exc:
            self.drop(f"the candidate's conversation diverged: {exc}")
            return b""
        sent.size = len(data)
        sent.at = self._clock()
        if sent.tag != Tag.GOODBYE:  # the one request never answered
            self._sent.append(sent)
            self._outstanding += len(data)
        if (
            len(self._sent) + self._held > self._settings.queue_entries
            or self._outstanding > self._settings.queue_bytes
        ):
            self.drop("the candidate fell too far behind")
            return b""
        if not self.ready:
            self._unsent += data
            return prefix
        return prefix + data

    def release_held(self) -> bytes:
        """The held requests whose turn has come: a segment once all before it is answered."""
        out = b""
        while self._segments and not self._sent and self.dropped is None:
            segment = self._segments.popleft()
            self._held -= len(segment.requests)
            for data, sent in segment.requests:
                out += self._emit(data, sent)
        self._count_busy()
        return out

    def link_ready(self) -> bytes:
        self.ready = True
        # The candidate's latency counts from now: its link was not up before.
        now = self._clock()
        for sent in self._sent:
            sent.at = now
        data, self._unsent = bytes(self._unsent), bytearray()
        return data

    def _rewrite_hello(self, raw: bytes) -> bytes:
        tag, fields = messages.decode(unchunk(raw))
        extra = dict(fields[0]) if fields and isinstance(fields[0], dict) else {}
        for key in _FILTER_KEYS:
            extra.pop(key, None)
        return chunk(messages.encode(tag, extra, *fields[1:]))

    def _rewrite_begin(self, payload: bytes) -> bytes:
        _, fields = messages.decode(payload)
        extra = fields[0] if fields and isinstance(fields[0], dict) else {}
        self._transaction = extra
        return chunk(messages.encode(Tag.BEGIN, self._shadow_extra(extra, True)))

    def _rewrite_run(self, payload: bytes) -> tuple[bytes, Capture | None]:
        # Parameters stay the bytes the client packed: only query and extra change.
        query, offset = packstream.unpack(payload, 2)
        query = str(query)
        params_end = packstream.skip(payload, offset)
        extra, shadow_extra = self._run_extra(payload, params_end)
        context = self._transaction if self._in_transaction else extra
        database = _text(context.get("db"))
        mode = _text(context.get("mode"))
        decision = self._policy.decide(query, database, self._user, mode)
        # A query the rules skip still goes to the candidate, compiled only, so
        # that its conversation stays the client's; it is not compared.
        explain = decision is not rules.Mirror.RUN
        capture = None
        if decision is not rules.Mirror.SKIP:
            capture = Capture(
                query=query,
                parameters=bytes(payload[offset:params_end]),
                database=database,
                access_mode="r" if mode == "r" else "w" if mode == "w" else None,
                impersonated_user=_text(context.get("imp_user")),
                in_transaction=self._in_transaction,
                explained=explain,
                primary=AnswerBuilder(
                    self.version,
                    max_records=self._settings.max_records,
                    max_bytes=self._settings.max_record_bytes,
                    started=self._clock(),
                ),
                primary_backend=self._primary_backend,
            )
        shadow_query = explain_form(query) if explain else query
        body = bytearray(payload[:2])
        packstream.pack_into(body, shadow_query)
        body += payload[offset:params_end]
        body += shadow_extra
        return chunk(bytes(body)), capture

    def _run_extra(self, payload: bytes, start: int) -> tuple[dict[str, Any], bytes]:
        """A RUN's extra map and its candidate form, packed (cached unless it has bookmarks)."""
        starts_transaction = not self._in_transaction
        key = (payload[start:], starts_transaction, self.version)
        cache = self._policy.run_extras
        cached = cache.get(key)
        if cached is not None:
            return cached
        extra, _ = packstream.unpack(payload, start)
        extra = extra if isinstance(extra, dict) else {}
        shadow_extra = packstream.pack(self._shadow_extra(extra, starts_transaction))
        # Bookmarks are translated through the map as it is now: never reused.
        if not (starts_transaction and extra.get("bookmarks")):
            if len(cache) >= _RUN_EXTRAS_KEPT:
                cache.clear()
            cache[key] = (extra, shadow_extra)
        return extra, shadow_extra

    def _shadow_extra(self, extra: dict[str, Any], starts_transaction: bool) -> dict[str, Any]:
        extra = dict(extra)
        for key in _FILTER_KEYS:
            extra.pop(key, None)
        if self.version >= (5, 2):
            extra["notifications_minimum_severity"] = "INFORMATION"
        if starts_transaction:
            metadata = extra.get("tx_metadata")
            extra["tx_metadata"] = {**(metadata if isinstance(metadata, dict) else {}),
                                    **SHADOW_MARKER}  # fmt: skip
            # A bookmark with no counterpart is left out: the candidate then
            # reads without waiting for that commit, which it may not have had.
            translated, _missing = translate_extra(
                extra, self._bookmarks, self._primary_backend, self.backend
            )
            if translated is not None:
                return translated
        return extra

    # --- what the candidate answers --------------------------------------

    def link_data(self, data: bytes) -> list[Capture]:
        """Follow the candidate's answers; returns captures whose candidate side is done."""
        done = self._link_data(data)
        self._count_busy()
        return done

    def _link_data(self, data: bytes) -> list[Capture]:
        if self.dropped is not None:
            return []
        scanner = self._scanner
        try:
            scanner.feed(data)
            found, scanner.messages = scanner.messages, []
            done: list[Capture] = []
            for message in found:
                capture = self._on_message(message.tag, message.payload)
                if capture is not None:
                    done.append(capture)
            return done
        except BoltError as exc:
            self.drop(f"the candidate broke the protocol: {exc}")
            return []

    def _on_message(self, tag: int, payload: bytes) -> Capture | None:
        if tag == RECORD_TAG:
            head = self._streams[0] if self._streams else None
            if head is not None and head.candidate is not None:
                head.candidate.record(payload)
            return None
        if not self._sent:
            raise BoltError("the candidate answered a request that was never sent")
        sent = self._sent[0]
        has_more = (
            tag == Tag.SUCCESS
            and sent.tag in (Tag.PULL, Tag.DISCARD)
            and messages.summary_has_more(payload)
        )
        completed = self._conversation.on_summary(tag, has_more=has_more)
        if not has_more:
            self._sent.popleft()
            self._outstanding -= sent.size
            self._answered += not sent.own
        if sent.tag == Tag.RUN:
            return self._on_run_reply(sent, tag, payload)
        if sent.tag in (Tag.PULL, Tag.DISCARD):
            if has_more or not self._streams or tag == Tag.IGNORED:
                return None
            capture = self._streams.popleft()
            if capture is None or capture.candidate is None:
                return None
            builder = capture.candidate
            capture.candidate_answer = (
                builder.failed(summary_metadata(payload))
                if tag == Tag.FAILURE
                else builder.finished_raw(payload)  # decoded in the worker
            )
            return capture
        if sent.commit is not None and completed.outcome is Outcome.SUCCESS:
            sent.commit.candidate = summary_bookmark(payload)
            self._pair(sent.commit)
        if tag == Tag.FAILURE and self._streams:
            self._streams.clear()  # a failure ends every open result
        return None

    def _on_run_reply(self, sent: _Sent, tag: int, payload: bytes) -> Capture | None:
        capture = sent.capture
        if tag == Tag.SUCCESS:
            if capture is not None:
                capture.candidate = AnswerBuilder(
                    self.version,
                    max_records=self._settings.max_records,
                    max_bytes=self._settings.max_record_bytes,
                    started=sent.at,
                )
                capture.candidate.run_succeeded_raw(payload)  # decoded in the worker
            self._streams.append(capture)
            return None
        if capture is None:
            return None
        if tag == Tag.FAILURE:
            builder = AnswerBuilder(self.version, started=sent.at)
            capture.candidate_answer = builder.failed(summary_metadata(payload))
        else:
            capture.candidate_missing = "error: ignored after an earlier failure on the candidate"
        return capture

    # --- bookmarks -------------------------------------------------------------

    def primary_committed(self, commit: _Commit, bookmark: str | None) -> None:
        commit.primary = bookmark
        self._pair(commit)

    def _pair(self, commit: _Commit) -> None:
        if commit.done or commit.primary is None or commit.candidate is None:
            return
        commit.done = True
        self._bookmarks.record(
            self._primary_backend, commit.primary, self.backend, commit.candidate
        )

    # --- dropping ----------------------------------------------------------------

    def drop(self, reason: str, missing: str = DROPPED) -> None:
        """Stop mirroring this session; the captures still owed are marked missing."""
        if self.dropped is not None:
            return
        self.dropped = reason
        held = [sent for segment in self._segments for _, sent in segment.requests]
        owed = [s.capture for s in [*self._sent, *held] if s.capture is not None]
        owed += [c for c in self._streams if c is not None and c not in owed]
        self._sent.clear()
        self._streams.clear()
        self._segments.clear()
        self._held = 0
        for capture in owed:
            if capture.candidate_answer is None and capture.candidate_missing is None:
                capture.candidate_missing = missing
        self.released = owed
        self._count_busy()

    def mark(self) -> int:
        """A point in the client's conversation: see :meth:`caught_up`."""
        return self._requested

    def caught_up(self, mark: int) -> bool:
        """Has the candidate answered every request up to ``mark`` (or stopped mirroring)?"""
        return self.dropped is not None or self._answered >= mark

    @property
    def awaiting(self) -> bool:
        """Does the candidate owe an answer (or has requests still to be sent)?"""
        return bool(self._sent) or bool(self._segments)


def parse_run(payload: bytes) -> tuple[str, int, int, dict[str, Any]]:
    """A RUN's query, where its parameters start and end, and its extra map."""
    query, offset = packstream.unpack(payload, 2)
    params_end = packstream.skip(payload, offset)
    extra, _ = packstream.unpack(payload, params_end)
    return str(query), offset, params_end, extra if isinstance(extra, dict) else {}


def relayed_only(
    payload: bytes, version: Version, in_transaction: bool, settings: ShadowSettings,
    clock: Callable[[], float],
) -> Capture:  # fmt: skip
    """A query that is captured (``[shadow] capture``) but not mirrored."""
    query, offset, params_end, extra = parse_run(payload)
    mode = _text(extra.get("mode"))
    return Capture(
        query=query,
        parameters=bytes(payload[offset:params_end]),
        database=_text(extra.get("db")),
        access_mode="r" if mode == "r" else "w" if mode == "w" else None,
        impersonated_user=_text(extra.get("imp_user")),
        in_transaction=in_transaction,
        explained=False,
        primary=AnswerBuilder(
            version,
            max_records=settings.max_records,
            max_bytes=settings.max_record_bytes,
            started=clock(),
        ),
        candidate_missing=NOT_MIRRORED,
    )


def summary_bookmark(payload: bytes | None) -> str | None:
    """The ``bookmark`` of a SUCCESS payload, read without decoding the rest of it."""
    if payload is None:
        return None
    try:
        value = messages.summary_value(payload, b"bookmark")
    except BoltError:
        return None  # walked once already as it passed: never expected here
    return value if isinstance(value, str) else None


def _text(value: object) -> str | None:
    return value if isinstance(value, str) else None


def _principal(payload: bytes) -> str | None:
    _, fields = messages.decode(payload)
    auth = fields[0] if fields and isinstance(fields[0], dict) else {}
    return _text(auth.get("principal"))
