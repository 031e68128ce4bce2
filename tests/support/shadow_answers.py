"""Answers and exchanges built from Python values, as a server would encode them."""

from __future__ import annotations

from typing import Any

from boltproxy.bolt import messages, packstream, values
from boltproxy.bolt.messages import Tag
from boltproxy.shadow.exchange import Answer, Exchange

V58 = (5, 8)


def answer(
    columns: list[str],
    rows: list[list[Any]],
    *,
    stats: dict[str, int] | None = None,
    statuses: list[dict[str, Any]] | None = None,
    failure: dict[str, Any] | None = None,
    latency: float = 0.001,
    version: tuple[int, int] = V58,
) -> Answer:
    if failure is not None:
        return Answer(failure=failure, latency=latency, version=version)
    records = [
        messages.encode(Tag.RECORD, values.dehydrate(list(row), version)) for row in rows
    ]
    summary: dict[str, Any] = {"type": "r", "t_last": 1}
    if stats:
        summary["stats"] = stats
    if statuses:
        summary["statuses"] = statuses
    return Answer(
        run_metadata={"fields": columns, "t_first": 1},
        records=records,
        summary=summary,
        latency=latency,
        version=version,
        record_count=len(records),
    )


def status(gql: str, code: str | None = None, classification: str = "") -> dict[str, Any]:
    item: dict[str, Any] = {"gql_status": gql, "status_description": f"info: {gql}"}
    if code:
        item["neo4j_code"] = code
        item["title"] = f"title of {code}"
    if classification:
        item["diagnostic_record"] = {"_classification": classification}
    return item


def gql_failure(code: str, gql: str, message: str = "failed") -> dict[str, Any]:
    return {"neo4j_code": code, "gql_status": gql, "message": message}


def exchange(
    query: str,
    primary: Answer,
    candidate: Answer | None,
    *,
    parameters: dict[str, Any] | None = None,
    session: str = "s1",
    **fields: Any,
) -> Exchange:
    return Exchange(
        session_id=session,
        query=query,
        parameters=packstream.pack(parameters or {}),
        primary=primary,
        candidate=candidate,
        **fields,
    )
