"""One side's ``validate`` scan in a child process of its own.

Scanning is CPU-bound in Python (decoding, tagging and hashing every entity), so
the two sides scanned in one process share one core. Each side in its own
process uses one core each. The child fills the side's SQLite store (created by
the parent, which refines and compares afterwards) and sends back only the
per-group aggregates, never per-entity data. Failures come back as their
message and exit code, already naming the side.
"""

from __future__ import annotations

import asyncio
import multiprocessing
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from neo4j.exceptions import DriverError, Neo4jError

from boltproxy.migrate import errors
from boltproxy.migrate.codec import UnsupportedValue
from boltproxy.migrate.connect import Endpoint, Flavor, OnSide, classify, open_driver
from boltproxy.migrate.identity import GraphFingerprint
from boltproxy.migrate.reader import GraphReader

if TYPE_CHECKING:
    from boltproxy.migrate.validate import SideScan

T = TypeVar("T")


@dataclass(frozen=True)
class ScanJob:
    endpoint: Endpoint
    flavor: Flavor
    page: int
    workers: int
    read_timeout: float
    store: Path  # the side's SQLite store, created by the parent


@dataclass(frozen=True)
class Failure:
    """A child's failure as plain data (exception objects do not all survive pickling)."""

    kind: str  # the MigrateError subclass's name, or "unsupported"
    message: str
    hint: str | None = None

    def exception(self) -> Exception:
        if self.kind == "unsupported":
            return UnsupportedValue(self.message)
        cls = getattr(errors, self.kind, errors.MigrateError)
        if not (isinstance(cls, type) and issubclass(cls, errors.MigrateError)):
            cls = errors.MigrateError
        return cls(self.message, hint=self.hint)


def executor() -> ProcessPoolExecutor:
    """Two fresh interpreters (spawned: the parent's event loop and sockets stay its own)."""
    return ProcessPoolExecutor(2, mp_context=multiprocessing.get_context("spawn"))


async def scan_in(
    pool: ProcessPoolExecutor, job: ScanJob, fingerprint: GraphFingerprint
) -> SideScan:
    """Run ``job`` in ``pool``; the side's aggregates, bound to the parent's ``fingerprint``."""
    outcome = await asyncio.get_running_loop().run_in_executor(pool, run_job, job)
    if isinstance(outcome, Failure):
        raise outcome.exception()
    fingerprint.reload(outcome.colours)
    outcome.fingerprint = fingerprint
    return outcome


async def call_in(pool: ProcessPoolExecutor, function: Callable[..., T], *args: Any) -> T:
    """``function(*args)`` in one of ``pool``'s processes (both must pickle)."""
    return await asyncio.get_running_loop().run_in_executor(pool, function, *args)


def run_job(job: ScanJob) -> SideScan | Failure:
    """The child's entry point."""
    try:
        return asyncio.run(_scan(job))
    except errors.MigrateError as exc:
        return Failure(type(exc).__name__, exc.message, exc.hint)
    except UnsupportedValue as exc:
        return Failure("unsupported", str(exc))
    except (Neo4jError, DriverError, OnSide, ConnectionError, TimeoutError) as exc:
        failure = classify(exc, job.endpoint)
        return Failure(type(failure).__name__, failure.message, failure.hint)


async def _scan(job: ScanJob) -> SideScan:
    from boltproxy.migrate.validate import scan  # validate imports this module

    driver = await open_driver(job.endpoint)
    try:
        with GraphFingerprint(path=job.store) as fingerprint:
            reader = GraphReader(driver, job.endpoint.database, job.flavor,
                                 side=job.endpoint.side, timeout=job.read_timeout)  # fmt: skip
            side = await scan(reader, job.page, fingerprint, job.workers)
            side.fingerprint = None  # type: ignore[assignment]  # the parent binds its own
            return side
    finally:
        await driver.close()
