"""Statuses and notifications from a summary, in one form for both Bolt generations.

Bolt 5.6+ servers send GQL ``statuses``; older ones ``notifications``. Completion
statuses (00xxx success, 02xxx no data) say nothing the records do not, so they
are left out; what remains are warnings and information, deprecations first
among them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class Status:
    gql_status: str | None
    code: str | None  # the Neo4j notification code
    title: str
    deprecation: bool

    @property
    def key(self) -> str:
        return self.gql_status or self.code or self.title

    def same_as(self, other: Status) -> bool:
        if self.gql_status and other.gql_status:
            return self.gql_status == other.gql_status
        return self.code is not None and self.code == other.code


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def statuses(summary: dict[str, Any] | None) -> list[Status]:
    """The noteworthy statuses of a summary, one per key."""
    if not summary:
        return []
    found: dict[str, Status] = {}
    for item in summary.get("statuses") or []:
        if not isinstance(item, dict):
            continue
        gql = _text(item.get("gql_status")) or None
        if gql is not None and gql[:2] in ("00", "02"):
            continue
        record = item.get("diagnostic_record")
        classification = _text(record.get("_classification")) if isinstance(record, dict) else ""
        code = _text(item.get("neo4j_code")) or None
        deprecation = classification == "DEPRECATION" or (gql or "").startswith("01N0")
        title = _text(item.get("title")) or _text(item.get("status_description"))
        status = Status(gql, code, title, deprecation or "Deprecat" in (code or ""))
        found.setdefault(status.key, status)
    for item in summary.get("notifications") or []:
        if not isinstance(item, dict):
            continue
        code = _text(item.get("code")) or None
        category = _text(item.get("category"))
        deprecation = category == "DEPRECATION" or "Deprecat" in (code or "")
        status = Status(None, code, _text(item.get("title")), deprecation)
        found.setdefault(status.key, status)
    return list(found.values())


def new_statuses(primary: list[Status], candidate: list[Status]) -> list[Status]:
    """What the candidate reports that the primary does not."""
    return [s for s in candidate if not any(s.same_as(p) for p in primary)]
