"""What the relay hands to shadowing: one query and what each server answered.

The relay builds these from bytes it already holds, on the client's path, so
nothing here decodes records or successes: RECORD and SUCCESS payloads stay raw
bytes and are decoded in the shadow worker process (:meth:`Answer.decode_payloads`).
Only a FAILURE, which the relay reads anyway, travels decoded. Everything is
plain data, picklable for the worker.
"""

from __future__ import annotations

import hashlib
import operator
import time
from dataclasses import dataclass, field, fields
from typing import Any, Literal

from boltproxy.bolt import messages

Version = tuple[int, int]
AccessMode = Literal["r", "w"]

#: ``Exchange.candidate_missing`` values (an "error: ..." text is also allowed).
DROPPED = "dropped"  # the mirror queue was full, or the mirrored session was abandoned
TIMEOUT = "timeout"  # the candidate did not answer within the per-query timeout
#: The query was relayed but not mirrored (mode, sampling, rules): capture only.
NOT_MIRRORED = "not_mirrored"

DEFAULT_MAX_RECORDS = 10_000
DEFAULT_MAX_RECORD_BYTES = 16 << 20


@dataclass(slots=True)
class Answer:
    """What one server answered to one query (RUN and its PULL/DISCARD)."""

    run_metadata: dict[str, Any] | None = None
    #: Raw RECORD message payloads (``B1 71 …``, framing removed), undecoded.
    records: list[bytes] = field(default_factory=list)
    #: True when records were left out because of the per-query cap.
    truncated: bool = False
    #: The final PULL/DISCARD SUCCESS metadata.
    summary: dict[str, Any] | None = None
    failure: dict[str, Any] | None = None
    #: Seconds from the RUN sent to the last summary received.
    latency: float = 0.0
    #: The Bolt version the answer was encoded in (record structures depend on it).
    version: Version = (5, 0)
    utc_patch: bool = False
    #: How many RECORDs the server sent, including any left out by the cap.
    record_count: int = 0
    #: The RUN's and the last SUCCESS's payloads as received, until decoded.
    run_payload: bytes | None = None
    summary_payload: bytes | None = None

    @property
    def failed(self) -> bool:
        return self.failure is not None

    def __reduce__(self) -> tuple[type[Answer], tuple[Any, ...]]:
        # Answers cross to the worker pickled, in the proxy's feeder thread, which
        # holds the interpreter lock the event loop needs: the fields in order
        # pickle three times faster than the default state of a slots class.
        return Answer, _answer_fields(self)

    def decode_payloads(self) -> None:
        """Turn the raw SUCCESS payloads into ``run_metadata`` and ``summary`` (in the worker)."""
        if self.run_payload is not None:
            self.run_metadata, self.run_payload = summary_metadata(self.run_payload), None
        if self.summary_payload is not None:
            self.summary, self.summary_payload = summary_metadata(self.summary_payload), None


_answer_fields = operator.attrgetter(*(f.name for f in fields(Answer)))


def summary_metadata(payload: bytes) -> dict[str, Any]:
    """The metadata map of a summary payload (SUCCESS ``B1 70 …`` or FAILURE)."""
    _, fields = messages.decode(payload)
    return fields[0] if fields and isinstance(fields[0], dict) else {}


class AnswerBuilder:
    """Collects one answer message by message, keeping within a record cap.

    For the relay and the replay client alike: feed RECORD payloads as they
    pass, then the summaries. Only references to payloads are kept.
    """

    __slots__ = ("_answer", "_bytes", "_max_bytes", "_max_records", "_started")

    def __init__(
        self,
        version: Version,
        *,
        utc_patch: bool = False,
        max_records: int = DEFAULT_MAX_RECORDS,
        max_bytes: int = DEFAULT_MAX_RECORD_BYTES,
        started: float | None = None,
    ) -> None:
        self._answer = Answer(version=version, utc_patch=utc_patch)
        self._max_records = max_records
        self._max_bytes = max_bytes
        self._bytes = 0
        self._started = time.perf_counter() if started is None else started

    def run_succeeded(self, metadata: dict[str, Any]) -> None:
        self._answer.run_metadata = metadata

    def run_succeeded_raw(self, payload: bytes) -> None:
        """The RUN's SUCCESS payload, left for the worker to decode."""
        self._answer.run_payload = payload

    def record(self, payload: bytes) -> None:
        answer = self._answer
        answer.record_count += 1
        if answer.truncated:
            return
        if len(answer.records) >= self._max_records or self._bytes + len(payload) > self._max_bytes:
            answer.truncated = True
            return
        self._bytes += len(payload)
        answer.records.append(payload)

    def finished(self, metadata: dict[str, Any]) -> Answer:
        self._answer.summary = metadata
        return self._done()

    def finished_raw(self, payload: bytes) -> Answer:
        """The last SUCCESS payload, left for the worker to decode."""
        self._answer.summary_payload = payload
        return self._done()

    def failed(self, metadata: dict[str, Any]) -> Answer:
        self._answer.failure = metadata
        return self._done()

    def _done(self) -> Answer:
        self._answer.latency = time.perf_counter() - self._started
        return self._answer


def hash_parameters(raw: bytes) -> str:
    """A stable, short digest of the RUN parameters' PackStream bytes."""
    return hashlib.blake2b(raw, digest_size=10).hexdigest()


@dataclass(slots=True)
class Exchange:
    """One mirrored (or merely relayed) query with both answers."""

    session_id: str
    query: str
    #: The RUN parameters map exactly as the client packed it.
    parameters: bytes
    primary: Answer
    candidate: Answer | None = None
    #: Why ``candidate`` is None: DROPPED, TIMEOUT, NOT_MIRRORED or "error: <reason>".
    candidate_missing: str | None = None
    #: The candidate compiled the query with EXPLAIN instead of running it (a write
    #: in ``reads`` mode): only failures and statuses are comparable.
    candidate_explained: bool = False
    database: str | None = None
    access_mode: AccessMode | None = None
    impersonated_user: str | None = None
    #: The authenticated user (for include/exclude rules), when known.
    user: str | None = None
    #: The backend that answered as the primary (noise learning re-runs reads there).
    primary_backend: str | None = None
    in_transaction: bool = False
    #: Wall-clock epoch seconds when the RUN arrived and when the primary finished.
    started_at: float = field(default_factory=time.time)
    finished_at: float = 0.0

    def __post_init__(self) -> None:
        if not self.finished_at:
            self.finished_at = self.started_at + self.primary.latency

    def __reduce__(self) -> tuple[type[Exchange], tuple[Any, ...]]:
        return Exchange, _exchange_fields(self)  # as Answer's

    @property
    def size(self) -> int:
        """Approximate bytes held, for the queue's byte bound."""
        total = len(self.query) + len(self.parameters) + 512
        for answer in (self.primary, self.candidate):
            if answer is not None:
                total += sum(len(r) + 33 for r in answer.records)
                total += len(answer.run_payload or b"") + len(answer.summary_payload or b"")
        return total


_exchange_fields = operator.attrgetter(*(f.name for f in fields(Exchange)))
