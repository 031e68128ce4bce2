"""The routing state and audit log shared by several proxy replicas through Redis.

Layout under the key prefix ``P`` (``[control] redis_key_prefix``):

- ``P:control:state``   the routing state as JSON (what ``RoutingState.dumps`` writes)
- ``P:control:changes`` pub/sub channel: each new state, as written
- ``P:control:audit``   stream of audit entries (field ``entry``: JSON)

A change is applied with optimistic locking (WATCH, then MULTI/EXEC): the
transition runs on the freshest stored state and is retried if another
replica wrote in between, so two replicas flipping at once cannot leave a
state that neither computed. Redis is the only authority; there is no
consensus of our own. Replicas hear of a change through pub/sub at once and,
should a subscription drop, through polling within ``redis_poll_interval``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from redis import exceptions as redis_errors
from redis.asyncio import Redis

from boltproxy.control.audit import AuditEntry
from boltproxy.control.state import RoutingState, StateFormatError
from boltproxy.control.store import Change, ControlStoreError, StateCallback, usable
from boltproxy.tasks import spawn

log = logging.getLogger("boltproxy.control.redis")

_ATTEMPTS = 20  # optimistic retries before a change gives up (only under a write storm)
_TIMEOUT = 2.0
_LISTEN_WAIT = 0.25  # seconds a pub/sub read waits before checking for close


def redacted(url: str) -> str:
    """``url`` without its password, for logs and status."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    user = parts.username or ""
    host = parts.hostname or ""
    netloc = f"{user}:***@{host}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=netloc))


def _connect(url: str) -> Redis:
    client: Redis = Redis.from_url(
        url, socket_connect_timeout=_TIMEOUT, socket_timeout=_TIMEOUT, decode_responses=True
    )
    return client


def _failed(description: str, what: str, exc: Exception) -> ControlStoreError:
    return ControlStoreError(f"{what} {description}: {exc}")


class RedisStateStore:
    def __init__(self, url: str, prefix: str = "boltproxy", poll_interval: float = 0.5) -> None:
        self.description = f"redis {redacted(url)}"
        self._url = url
        self._redis = _connect(url)
        self._key = f"{prefix}:control:state"
        self._channel = f"{prefix}:control:changes"
        self._poll_interval = poll_interval
        self._tasks: list[asyncio.Task[None]] = []
        self._on_state: StateCallback | None = None
        self._configured: RoutingState | None = None
        self._unhealthy = False
        self._closing = asyncio.Event()

    # --- start ------------------------------------------------------------------

    async def restore(self, configured: RoutingState) -> RoutingState:
        """The shared state; the first replica to start stores ``configured``."""
        self._configured = configured
        try:
            # SET NX: of several replicas starting at once, one seeds the state.
            await self._redis.set(self._key, configured.dumps(), nx=True)
            raw = await self._redis.get(self._key)
        except redis_errors.RedisError as exc:
            raise _failed(self.description, "cannot reach the control store", exc) from None
        state = self._parse(raw, configured) or configured
        if state is not configured:
            log.info("routing state from %s: %s", self.description, state.describe())
        return state

    def _parse(self, raw: str | bytes | None, configured: RoutingState) -> RoutingState | None:
        """The stored state, or None (logged) when there is none or it cannot be used."""
        if raw is None:
            return None
        try:
            state = RoutingState.loads(raw)
        except StateFormatError as exc:
            log.error(
                "routing state in %s key %s is unreadable (%s): using the configured primary"
                " %s; the key is replaced at the next change",
                self.description,
                self._key,
                exc,
                configured.primary,
            )
            return None
        return state if usable(state, configured, f"{self.description} key {self._key}") else None

    # --- changes ----------------------------------------------------------------

    async def update(self, change: Change, current: RoutingState) -> RoutingState:
        configured = self._configured or current
        try:
            for _ in range(_ATTEMPTS):
                async with self._redis.pipeline(transaction=True) as pipe:
                    try:
                        await pipe.watch(self._key)
                        raw = await pipe.get(self._key)
                        # An empty or unreadable key: go on from the state this replica holds.
                        state = change(self._parse(raw, configured) or current)
                        pipe.multi()  # type: ignore[no-untyped-call]
                        text = state.dumps()
                        pipe.set(self._key, text)
                        pipe.publish(self._channel, text)
                        await pipe.execute()
                    except redis_errors.WatchError:
                        continue  # another replica wrote first: redo on its state
                    return state
        except redis_errors.RedisError as exc:
            raise _failed(self.description, "cannot write to the control store", exc) from None
        raise ControlStoreError(
            f"the control store {self.description} kept changing under this change; retry"
        )

    # --- hearing of others' changes ---------------------------------------------

    async def watch(self, on_state: StateCallback) -> None:
        self._on_state = on_state
        self._tasks.append(spawn(self._listen(), "control-redis-pubsub"))
        self._tasks.append(spawn(self._poll(), "control-redis-poll"))

    def _deliver(self, raw: str | bytes) -> None:
        if self._on_state is None:
            return
        try:
            state = RoutingState.loads(raw)
        except StateFormatError:
            return  # logged when restored or polled; a stray publish must not spam
        self._on_state(state)

    async def _listen(self) -> None:
        while not self._closing.is_set():
            pubsub = self._redis.pubsub(ignore_subscribe_messages=True)
            try:
                await pubsub.subscribe(self._channel)
                # Short waits rather than ``listen()``: the loop sees ``close`` promptly
                # and never has to be cancelled inside the client's read.
                while not self._closing.is_set():
                    message = await pubsub.get_message(
                        ignore_subscribe_messages=True, timeout=_LISTEN_WAIT
                    )
                    if message is not None and message.get("type") == "message":
                        self._deliver(message["data"])
            except redis_errors.RedisError as exc:
                self._report(exc)
            finally:
                with contextlib.suppress(redis_errors.RedisError):
                    await pubsub.aclose()  # type: ignore[no-untyped-call,unused-ignore]
            # Polling keeps the replica in step while the subscription is down.
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._closing.wait(), self._poll_interval)

    async def _poll(self) -> None:
        while not self._closing.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._closing.wait(), self._poll_interval)
                return
            try:
                raw = await self._redis.get(self._key)
            except redis_errors.RedisError as exc:
                self._report(exc)
                continue
            if self._unhealthy:
                self._unhealthy = False
                log.warning("control store %s is reachable again", self.description)
            if raw is not None:
                self._deliver(raw)

    def _report(self, exc: Exception) -> None:
        # One message per outage, not one per poll.
        if not self._unhealthy:
            self._unhealthy = True
            log.error(
                "control store %s unreachable (%s): keeping the last routing state and retrying",
                self.description,
                exc,
            )

    async def close(self) -> None:
        self._closing.set()
        if self._tasks:
            _, late = await asyncio.wait(self._tasks, timeout=2 * _LISTEN_WAIT + _TIMEOUT)
            for task in late:
                task.cancel()
        self._tasks.clear()
        await self._redis.aclose()


class RedisAuditLog:
    """The audit log as a Redis stream that every replica appends to."""

    def __init__(self, url: str, prefix: str = "boltproxy", max_entries: int = 100_000) -> None:
        self.description = f"redis {redacted(url)}"
        self._redis = _connect(url)
        self._key = f"{prefix}:control:audit"
        self._max_entries = max_entries

    async def append(self, entry: AuditEntry) -> None:
        try:
            await self._redis.xadd(
                self._key, {"entry": entry.dumps()}, maxlen=self._max_entries, approximate=True
            )
        except redis_errors.RedisError as exc:
            raise _failed(self.description, "cannot append to the audit log in", exc) from None

    async def recent(self, limit: int) -> list[AuditEntry]:
        try:
            rows: list[Any] = await self._redis.xrevrange(self._key, count=limit) or []
        except redis_errors.RedisError as exc:
            raise _failed(self.description, "cannot read the audit log in", exc) from None
        entries = []
        for _id, fields in rows:
            with contextlib.suppress(ValueError, TypeError, AttributeError):
                entries.append(AuditEntry.from_json(json.loads(fields["entry"])))
        return entries

    async def close(self) -> None:
        await self._redis.aclose()
