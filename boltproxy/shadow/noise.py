"""Noise learned from the primary itself: result paths that differ between two runs.

Some answers differ every time on one and the same server (a transaction id,
an elapsed time, the rows an unordered ``LIMIT`` happens to return). Compared
with the candidate they look like breaking changes. The shadow worker re-runs
a sample of compared reads on the primary (:class:`PrimaryRerun`, a connection
of its own) and :class:`NoiseLearner` keeps, per query shape, the result paths
that differed between the two runs; once a path has differed often enough it
is disregarded when that shape's answers are compared with the candidate's.

Only reads are re-run, each on its own: running a write twice would change
data, and a read inside a transaction that may write (no read access mode) may
see that transaction's own writes. Reads in read transactions are re-run
alone: nothing before them in the transaction can have changed what they see.
"""

from __future__ import annotations

import asyncio
import logging
import random
import re
import time
from collections import Counter
from collections.abc import Callable
from typing import Protocol

from boltproxy.bolt import packstream
from boltproxy.config import BackendSettings
from boltproxy.proxy.link import backend_ssl_context
from boltproxy.shadow.classify import classify
from boltproxy.shadow.client import ClientError, RawBoltClient, basic_auth
from boltproxy.shadow.compare import CompareOptions, compare
from boltproxy.shadow.exchange import Answer, Exchange
from boltproxy.shadow.settings import NoiseSettings

log = logging.getLogger("boltproxy.shadow")

_ROW_INDEX = re.compile(r"\[\d+\]")
_RETRY_AFTER = 30.0  # seconds without re-runs after the primary could not be reached
# Enough differences to see every noisy column of a row, not only the first few.
_LEARNING_DIFFERENCES = 100
_MARKER = {"boltproxy": "shadow-noise"}
# Shapes learned about: the worker's memory stays bounded whatever the traffic.
_MAX_SHAPES = 10_000


def general_path(path: str) -> str:
    """A difference's path for every row: ``rows[3].n.id`` → ``rows[*].n.id``."""
    return _ROW_INDEX.sub("[*]", path)


class NoiseLearner:
    """Which exchanges to re-run, and the paths learned noisy per shape (no I/O)."""

    def __init__(self, settings: NoiseSettings, coin: Callable[[], float] = random.random) -> None:
        self.settings = settings
        self._coin = coin
        self._runs: Counter[str] = Counter()  # re-runs per shape
        self._seen: dict[str, Counter[str]] = {}  # shape → path → runs it differed in
        self._learned: dict[str, tuple[str, ...]] = {}

    def wants(self, exchange: Exchange, shape_id: str) -> bool:
        """Is this exchange one to run again on the primary?"""
        settings = self.settings
        if settings.sample_rate <= 0.0 or self._runs[shape_id] >= settings.runs_per_shape:
            return False
        if shape_id not in self._runs and len(self._runs) >= _MAX_SHAPES:
            return False
        if exchange.primary.failed or exchange.primary.truncated:
            return False
        if exchange.in_transaction and exchange.access_mode != "r":
            return False
        if exchange.candidate is None or exchange.candidate_explained:
            return False  # nothing of it is compared: learning would not be used
        if exchange.access_mode == "w" or (
            exchange.access_mode is None and classify(exchange.query).write
        ):
            return False
        return self._coin() < settings.sample_rate

    def learn(self, shape_id: str, first: Answer, second: Answer, ordered: bool) -> list[str]:
        """Compare two runs of one query on the primary; returns the paths newly learned."""
        self._runs[shape_id] += 1
        if second.failed:
            return []  # a failed re-run says nothing about the first answer's fields
        outcome = compare(
            Exchange(session_id="", query="", parameters=b"", primary=first, candidate=second),
            CompareOptions(ordered=ordered, max_differences=_LEARNING_DIFFERENCES),
        )
        seen = self._seen.setdefault(shape_id, Counter())
        seen.update({general_path(d.path) for d in outcome.differences})
        known = set(self._learned.get(shape_id, ()))
        learned = sorted(p for p, n in seen.items() if n >= self.settings.confirmations)
        self._learned[shape_id] = tuple(learned)
        return [path for path in learned if path not in known]

    def patterns(self, shape_id: str) -> tuple[str, ...]:
        """The paths learned noisy for a shape, as ignore patterns."""
        return self._learned.get(shape_id, ())


class Rerun(Protocol):
    """Runs an exchange's query again on the backend that answered it as the primary."""

    def run(self, backend: str | None, exchange: Exchange) -> Answer | None: ...

    def close(self) -> None: ...


class PrimaryRerun:
    """Runs a query again on a primary, over one connection per backend, synchronously.

    The worker compares one exchange at a time, so it simply waits for the
    re-run (bounded by ``timeout``). A primary that cannot be reached is left
    alone for a while rather than tried on every sampled exchange.
    """

    def __init__(
        self,
        backends: dict[str, BackendSettings],
        settings: NoiseSettings,
        password: str | None,
        timeout: float,
        *,
        max_records: int,
        max_bytes: int,
    ) -> None:
        self._backends = backends
        self._auth = basic_auth(settings.user, password)
        self._timeout = timeout
        self._max_records = max_records
        self._max_bytes = max_bytes
        self._loop = asyncio.new_event_loop()
        self._clients: dict[str, RawBoltClient] = {}
        self._resting_until: dict[str, float] = {}

    def run(self, backend: str | None, exchange: Exchange) -> Answer | None:
        """The primary's second answer, or None when it could not be had."""
        settings = self._backends.get(backend or "")
        if settings is None:
            return None
        uri = settings.uri
        if time.monotonic() < self._resting_until.get(uri, 0.0):
            return None
        try:
            return self._loop.run_until_complete(
                asyncio.wait_for(self._run(settings, exchange), self._timeout)
            )
        except (ClientError, OSError, TimeoutError) as exc:
            # Never the query or its values: which server, and why.
            log.warning("noise re-run on %s failed: %s", backend, type(exc).__name__)
            self._resting_until[uri] = time.monotonic() + _RETRY_AFTER
            self._forget(uri)
            return None

    async def _run(self, backend: BackendSettings, exchange: Exchange) -> Answer:
        client = self._clients.get(backend.uri)
        if client is None:
            # TLS as the relay reaches this backend: its scheme and its own CA.
            tls = backend_ssl_context(backend)
            client = await RawBoltClient.connect(backend.uri, self._auth, ssl_context=tls)
            self._clients[backend.uri] = client
        extra: dict[str, object] = {"mode": "r", "tx_metadata": _MARKER}
        if exchange.database is not None:
            extra["db"] = exchange.database
        if exchange.impersonated_user is not None:
            extra["imp_user"] = exchange.impersonated_user
        parameters = exchange.parameters or packstream.pack({})
        return await client.run(
            exchange.query,
            parameters,
            extra,
            max_records=self._max_records,
            max_bytes=self._max_bytes,
        )

    def _forget(self, uri: str) -> None:
        client = self._clients.pop(uri, None)
        if client is not None:
            self._loop.run_until_complete(client.close())

    def close(self) -> None:
        for uri in list(self._clients):
            self._forget(uri)
        self._loop.close()
