"""Primary answer vs candidate answer → one Outcome with a small structured diff.

Runs in the shadow worker. Precedence when both servers answered: failures
first (who failed, and whether alike), then result mismatches, then statuses
the candidate adds, then latency. Differences whose path an ignore rule
matches are dropped before the kind is decided.
"""

from __future__ import annotations

import enum
from collections import Counter
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from typing import Any

from boltproxy.bolt.messages import failure_code
from boltproxy.shadow import exchange as ex
from boltproxy.shadow.statuses import Status, new_statuses, statuses
from boltproxy.shadow.values import (
    UndecodableRecord,
    canonical,
    decode_records,
    floats_equal,
    render,
    sort_key,
    type_name,
)


class OutcomeKind(enum.StrEnum):
    MATCH = "match"
    MISMATCH = "mismatch"
    CANDIDATE_ERROR = "candidate_error"
    PRIMARY_ERROR = "primary_error"
    BOTH_FAILED_ALIKE = "both_failed_alike"
    BOTH_FAILED_DIFFERENTLY = "both_failed_differently"
    NEW_STATUS = "new_status"
    SLOWER = "slower"
    DROPPED = "dropped"
    TIMEOUT = "timeout"


#: Kinds that are findings (a pipeline gating on the report fails on them).
DIFFERENCE_KINDS = frozenset(
    {
        OutcomeKind.MISMATCH,
        OutcomeKind.CANDIDATE_ERROR,
        OutcomeKind.PRIMARY_ERROR,
        OutcomeKind.BOTH_FAILED_DIFFERENTLY,
        OutcomeKind.NEW_STATUS,
    }
)
# One slow answer is noise (a cold plan cache, a busy machine): a shape is judged
# slower by its p95 over many answers (see report.verdicts), not by one.
# Mismatches that a nondeterministic query is expected to show.
_NOISY_DETAILS = frozenset({"value", "order", "type"})
# Failures found when compiling: an EXPLAIN on the candidate can reproduce only these.
_COMPILE_TIME = (".Statement.SyntaxError", ".Statement.ArgumentError", ".Statement.TypeError")


@dataclass(frozen=True, slots=True)
class Difference:
    path: str
    primary: str
    candidate: str


@dataclass(slots=True)
class Outcome:
    kind: OutcomeKind
    #: For mismatch: columns, row_count, value, type, order or counters; for
    #: dropped: the reason; otherwise empty.
    detail: str = ""
    differences: list[Difference] = field(default_factory=list)
    new_statuses: list[Status] = field(default_factory=list)
    nondeterministic: tuple[str, ...] = ()

    @property
    def is_difference(self) -> bool:
        if self.kind not in DIFFERENCE_KINDS:
            return False
        # rand() and friends differ by design: only structure counts for them.
        return not (
            self.kind is OutcomeKind.MISMATCH
            and self.nondeterministic
            and self.detail in _NOISY_DETAILS
        )

    @property
    def deprecations(self) -> list[Status]:
        return [s for s in self.new_statuses if s.deprecation]


@dataclass(frozen=True, slots=True)
class CompareOptions:
    float_tolerance: float = 1e-9
    latency_flag_multiple: float = 2.0
    latency_flag_floor: float = 0.005
    #: fnmatch patterns of result paths to disregard (those applying to this shape).
    ignore: tuple[str, ...] = ()
    #: The query orders its results (ORDER BY on the final RETURN).
    ordered: bool = False
    nondeterministic: tuple[str, ...] = ()
    max_differences: int = 10


class _Diff:
    """Collects differences, skipping ignored paths and keeping only the first few."""

    def __init__(self, options: CompareOptions) -> None:
        self.options = options
        self.items: list[Difference] = []
        self.count = 0

    def ignored(self, path: str) -> bool:
        return any(fnmatchcase(path, _literal_brackets(p)) for p in self.options.ignore)

    def add(self, path: str, primary: Any, candidate: Any) -> bool:
        if self.ignored(path):
            return False
        self.count += 1
        if len(self.items) < self.options.max_differences:
            self.items.append(Difference(path, _show(primary), _show(candidate)))
        return True


def _literal_brackets(pattern: str) -> str:
    """Brackets in paths are indexes: ``rows[*].age`` means any row, not a character class."""
    return "".join("[[]" if c == "[" else "[]]" if c == "]" else c for c in pattern)


def _show(value: Any) -> str:
    return value if isinstance(value, str) else render(value)


def compare(exchange: ex.Exchange, options: CompareOptions | None = None) -> Outcome:
    options = options or CompareOptions()
    outcome = _compare(exchange, options)
    outcome.nondeterministic = options.nondeterministic
    return outcome


def _compare(exchange: ex.Exchange, options: CompareOptions) -> Outcome:
    primary, candidate = exchange.primary, exchange.candidate
    if candidate is None:
        reason = exchange.candidate_missing or ex.DROPPED
        if reason == ex.TIMEOUT:
            return Outcome(OutcomeKind.TIMEOUT)
        return Outcome(OutcomeKind.DROPPED, detail=reason)
    diff = _Diff(options)
    if primary.failure is not None or candidate.failure is not None:
        failed = _compare_failures(primary, candidate, exchange.candidate_explained, diff)
        if failed is not None:
            return failed
    if not exchange.candidate_explained:
        detail = _compare_results(primary, candidate, options, diff)
        if detail:
            return Outcome(OutcomeKind.MISMATCH, detail, diff.items)
    added = [
        s
        for s in new_statuses(statuses(primary.summary), statuses(candidate.summary))
        if diff.add(f"status.{s.key}", "", s.title or s.key)
    ]
    if added:
        return Outcome(OutcomeKind.NEW_STATUS, differences=diff.items, new_statuses=added)
    if _slower(primary, candidate, options) and not exchange.candidate_explained:
        latency = Difference("latency", f"{primary.latency:.4f}s", f"{candidate.latency:.4f}s")
        return Outcome(OutcomeKind.SLOWER, differences=[latency])
    return Outcome(OutcomeKind.MATCH)


def _slower(primary: ex.Answer, candidate: ex.Answer, options: CompareOptions) -> bool:
    return (
        candidate.latency > options.latency_flag_multiple * primary.latency
        and candidate.latency - primary.latency > options.latency_flag_floor
    )


# --- failures ------------------------------------------------------------------------


def _failure_parts(metadata: dict[str, Any]) -> tuple[str, str]:
    code = failure_code(metadata) or "?"
    gql = metadata.get("gql_status")
    return code, gql if isinstance(gql, str) else ""


def _describe_failure(metadata: dict[str, Any]) -> str:
    code, gql = _failure_parts(metadata)
    message = metadata.get("message")
    text = f"{code} {gql}".strip()
    if isinstance(message, str) and message:
        text += f": {message}"
    return text if len(text) <= 240 else text[:239] + "…"


def _compare_failures(
    primary: ex.Answer, candidate: ex.Answer, explained: bool, diff: _Diff
) -> Outcome | None:
    p, c = primary.failure, candidate.failure
    if p is not None and c is not None:
        p_code, p_gql = _failure_parts(p)
        c_code, c_gql = _failure_parts(c)
        alike = p_code == c_code and (not p_gql or not c_gql or p_gql == c_gql)
        if alike or not diff.add("failure", _describe_failure(p), _describe_failure(c)):
            return Outcome(OutcomeKind.BOTH_FAILED_ALIKE)
        return Outcome(OutcomeKind.BOTH_FAILED_DIFFERENTLY, differences=diff.items)
    if c is not None:
        if not diff.add("failure", "SUCCESS", _describe_failure(c)):
            return None
        return Outcome(OutcomeKind.CANDIDATE_ERROR, differences=diff.items)
    assert p is not None
    # A runtime failure (a constraint, a missing file) cannot show in a compiled-only
    # candidate; only compile-time errors are comparable then.
    if explained and not any(part in _failure_parts(p)[0] for part in _COMPILE_TIME):
        return Outcome(OutcomeKind.MATCH)
    if not diff.add("failure", _describe_failure(p), "SUCCESS"):
        return None
    return Outcome(OutcomeKind.PRIMARY_ERROR, differences=diff.items)


# --- results ---------------------------------------------------------------------------


def _compare_results(
    primary: ex.Answer, candidate: ex.Answer, options: CompareOptions, diff: _Diff
) -> str:
    """The mismatch detail, or "" when the results agree."""
    p_fields = (primary.run_metadata or {}).get("fields")
    c_fields = (candidate.run_metadata or {}).get("fields")
    if p_fields != c_fields and diff.add("columns", repr(p_fields), repr(c_fields)):
        return "columns"
    detail = _compare_rows(primary, candidate, options, diff)
    if detail:
        return detail
    p_stats = (primary.summary or {}).get("stats") or {}
    c_stats = (candidate.summary or {}).get("stats") or {}
    changed = False
    for key in sorted(set(p_stats) | set(c_stats)):
        if p_stats.get(key) != c_stats.get(key):
            changed |= diff.add(f"stats.{key}", repr(p_stats.get(key)), repr(c_stats.get(key)))
    return "counters" if changed else ""


def _rows(answer: ex.Answer, columns: list[str], diff: _Diff, side: str) -> list[Any] | None:
    """Rows as canonical maps by column name, so that diff paths read ``rows[i].name``."""
    try:
        decoded = decode_records(answer)
    except UndecodableRecord as exc:
        reason = f"undecodable: {exc}"
        primary = side == "primary"
        diff.add("records", reason if primary else "", "" if primary else reason)
        return None
    named = []
    for row in decoded:
        keys = columns if len(columns) == len(row) else [str(i) for i in range(len(row))]
        named.append(canonical(dict(zip(keys, row, strict=True))))
    return named


def _compare_rows(
    primary: ex.Answer, candidate: ex.Answer, options: CompareOptions, diff: _Diff
) -> str:
    fields = (primary.run_metadata or {}).get("fields")
    columns = [str(name) for name in fields] if isinstance(fields, list) else []
    p_rows = _rows(primary, columns, diff, "primary")
    c_rows = _rows(candidate, columns, diff, "candidate")
    if p_rows is None or c_rows is None:
        return "value" if diff.count else ""
    truncated = primary.truncated or candidate.truncated
    if primary.record_count != candidate.record_count or (
        not truncated and len(p_rows) != len(c_rows)
    ):
        p_count = primary.record_count or len(p_rows)
        c_count = candidate.record_count or len(c_rows)
        if diff.add("row_count", str(p_count), str(c_count)):
            _list_missing(p_rows, c_rows, diff)
            return "row_count"
        return ""
    if truncated:
        # Only a prefix of each side is kept: comparable when the order is fixed.
        if not options.ordered:
            return ""
        size = min(len(p_rows), len(c_rows))
        p_rows, c_rows = p_rows[:size], c_rows[:size]
    if options.ordered:
        detail = _pairwise(p_rows, c_rows, options, diff, probe=True)
        if not detail:
            return ""
        p_sorted, c_sorted = sorted(p_rows, key=sort_key), sorted(c_rows, key=sort_key)
        if not _pairwise(p_sorted, c_sorted, options, _Diff(options), probe=True):
            return "order" if diff.add("order", "ordered as primary", "other order") else ""
        return _pairwise(p_rows, c_rows, options, diff, probe=False)
    p_sorted, c_sorted = sorted(p_rows, key=sort_key), sorted(c_rows, key=sort_key)
    return _pairwise(p_sorted, c_sorted, options, diff, probe=False)


def _list_missing(p_rows: list[Any], c_rows: list[Any], diff: _Diff) -> None:
    p_keys = Counter(sort_key(row) for row in p_rows)
    c_keys = Counter(sort_key(row) for row in c_rows)
    for row in p_rows:
        key = sort_key(row)
        if c_keys[key] < p_keys[key]:
            diff.add("rows.missing", row, "")
            c_keys[key] += 1
    c_keys = Counter(sort_key(row) for row in c_rows)
    for row in c_rows:
        key = sort_key(row)
        if p_keys[key] < c_keys[key]:
            diff.add("rows.extra", "", row)
            p_keys[key] += 1


def _pairwise(
    p_rows: list[Any], c_rows: list[Any], options: CompareOptions, diff: _Diff, *, probe: bool
) -> str:
    """"value" or "type" at the first differing rows ("" when equal); probe adds nothing."""
    detail = ""
    for index, (p_row, c_row) in enumerate(zip(p_rows, c_rows, strict=True)):
        found: list[tuple[str, Any, Any]] = []
        _walk(p_row, c_row, f"rows[{index}]", options.float_tolerance, found)
        for path, p_value, c_value in found:
            if diff.ignored(path):
                continue
            if probe:
                return "value"
            diff.add(path, render(p_value), render(c_value))  # strings keep their quotes
            if type_name(p_value) != type_name(c_value):
                detail = "type"
            elif not detail:
                detail = "value"
    return detail


def _walk(p: Any, c: Any, path: str, tolerance: float, found: list[tuple[str, Any, Any]]) -> None:
    """Append (path, primary, candidate) for each leaf where the two differ."""
    if type_name(p) != type_name(c):
        found.append((path, p, c))
        return
    if isinstance(p, float):
        if not floats_equal(p, c, tolerance):
            found.append((path, p, c))
        return
    if not isinstance(p, tuple) or not p or not isinstance(p[0], str):
        if p != c:
            found.append((path, p, c))
        return
    tag = p[0]
    if tag == "map":
        p_map, c_map = dict(p[1]), dict(c[1])
        for key in sorted(set(p_map) | set(c_map)):
            if key not in p_map or key not in c_map:
                absent = "<absent>"
                found.append((f"{path}.{key}", p_map.get(key, absent), c_map.get(key, absent)))
            else:
                _walk(p_map[key], c_map[key], f"{path}.{key}", tolerance, found)
    elif tag == "list":
        if len(p[1]) != len(c[1]):
            found.append((path, p, c))
            return
        for index, (p_item, c_item) in enumerate(zip(p[1], c[1], strict=True)):
            _walk(p_item, c_item, f"{path}[{index}]", tolerance, found)
    elif tag == "node":
        if p[1] != c[1]:
            found.append((f"{path}.labels", ":".join(p[1]), ":".join(c[1])))
        _walk(p[2], c[2], f"{path}.properties", tolerance, found)
    elif tag == "relationship":
        if p[1] != c[1]:
            found.append((f"{path}.type", p[1], c[1]))
        _walk(p[2], c[2], f"{path}.properties", tolerance, found)
    elif p != c:
        found.append((path, p, c))
