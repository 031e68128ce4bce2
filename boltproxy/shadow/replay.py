"""Offline replay: a capture (or a Neo4j query log) played against blue and green.

Each captured session gets its own connection to each server, and its queries
run in their captured order, first on blue (the primary) and then on green, so
that neither side's latency includes the other's load. Sessions run side by
side up to a limit. Every query becomes an Exchange compared, stored and
reported exactly as shadow traffic is.
"""

from __future__ import annotations

import asyncio
import ssl
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from boltproxy.shadow.capture import CapturedQuery
from boltproxy.shadow.classify import classify, explain_form
from boltproxy.shadow.client import ClientError, RawBoltClient
from boltproxy.shadow.exchange import Answer, Exchange
from boltproxy.shadow.settings import ShadowMode
from boltproxy.shadow.worker import Processor


@dataclass(frozen=True, slots=True)
class Endpoint:
    uri: str
    auth: dict[str, Any]
    # TLS for this server (a private CA); None: as the URI's scheme asks.
    tls: ssl.SSLContext | None = None


@dataclass(slots=True)
class ReplayStats:
    queries: int = 0
    outcomes: dict[str, int] = field(default_factory=dict)
    skipped: int = 0


def sessions(queries: Iterable[CapturedQuery]) -> list[list[CapturedQuery]]:
    """Queries grouped by session, each group in captured order, groups by first query."""
    grouped: dict[str, list[CapturedQuery]] = {}
    for query in queries:
        grouped.setdefault(query.session, []).append(query)
    return list(grouped.values())


class _Side:
    """One server's connection for one session, reopened after a broken one."""

    def __init__(self, endpoint: Endpoint) -> None:
        self.endpoint = endpoint
        self.client: RawBoltClient | None = None

    async def run(self, query: str, parameters: bytes, extra: dict[str, Any], cap: int) -> Answer:
        if self.client is None:
            endpoint = self.endpoint
            self.client = await RawBoltClient.connect(
                endpoint.uri, endpoint.auth, ssl_context=endpoint.tls
            )
        try:
            return await self.client.run(query, parameters, extra, max_records=cap,
                                         max_bytes=16 << 20)  # fmt: skip
        except (ClientError, OSError):
            await self.close()
            raise

    async def close(self) -> None:
        if self.client is not None:
            await self.client.close()
            self.client = None


async def _replay_session(
    session: list[CapturedQuery],
    blue: Endpoint,
    green: Endpoint,
    processor: Processor,
    mode: ShadowMode,
    stats: ReplayStats,
    query_timeout: float,
) -> None:
    primary, candidate = _Side(blue), _Side(green)
    cap = processor.settings.max_records
    try:
        for captured in session:
            kind = classify(captured.query)
            if mode == "reads" and kind.write and kind.admin:
                stats.skipped += 1  # schema/admin commands cannot be compiled alone
                continue
            explain = mode == "reads" and kind.write and captured.access_mode != "r"
            extra: dict[str, Any] = {}
            if captured.database:
                extra["db"] = captured.database
            if captured.access_mode == "r":
                extra["mode"] = "r"
            if captured.impersonated_user:
                extra["imp_user"] = captured.impersonated_user
            started = time.time()
            first = await asyncio.wait_for(
                primary.run(captured.query, captured.parameters, extra, cap), query_timeout
            )
            second: Answer | None = None
            missing: str | None = None
            text = explain_form(captured.query) if explain else captured.query
            try:
                second = await asyncio.wait_for(
                    candidate.run(text, captured.parameters, extra, cap), query_timeout
                )
            except TimeoutError:
                await candidate.close()
                missing = "timeout"
            except (ClientError, OSError) as exc:
                missing = f"error: {exc}"
            exchange = Exchange(
                session_id=captured.session,
                query=captured.query,
                parameters=captured.parameters,
                primary=first,
                candidate=second,
                candidate_missing=missing,
                candidate_explained=explain and second is not None,
                database=captured.database,
                access_mode="r" if captured.access_mode == "r" else None,
                impersonated_user=captured.impersonated_user,
                started_at=started,
            )
            outcome = processor.process(exchange)
            stats.queries += 1
            if outcome is not None:
                stats.outcomes[outcome.kind.value] = stats.outcomes.get(outcome.kind.value, 0) + 1
    finally:
        await primary.close()
        await candidate.close()


async def replay(
    queries: Iterable[CapturedQuery],
    blue: Endpoint,
    green: Endpoint,
    processor: Processor,
    *,
    mode: ShadowMode = "all",
    concurrency: int = 4,
    query_timeout: float = 60.0,
) -> ReplayStats:
    """Play every session; blue failing to answer at all is an error (raised)."""
    stats = ReplayStats()
    limit = asyncio.Semaphore(concurrency)

    async def one(session: list[CapturedQuery]) -> None:
        async with limit:
            await _replay_session(session, blue, green, processor, mode, stats, query_timeout)

    async with asyncio.TaskGroup() as group:
        for session in sessions(queries):
            group.create_task(one(session))
    processor.tick(force=True)
    return stats
