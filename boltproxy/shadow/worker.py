"""The shadow sink: a never-blocking hand-off to a worker process that compares and stores.

The relay calls :meth:`ShadowSink.submit` on the event loop. It only checks two
bounds (entries and bytes waiting) and adds the exchange to a batch; a full
queue drops and counts instead of waiting. Batches go onto a multiprocessing
queue a few times a second, not one exchange at a time: every put wakes the
queue's feeder thread, and that hand-over of the interpreter lock cost the loop
more than all of the mirror's own work per query. Decoding, comparing and
writing the store happen in a separate process (spawned, so it shares no state
with the loop), so CPU spent on diffs does not add to client latency.

The worker reports progress through a small shared array of counters (written
only by the worker): entries and bytes consumed, and outcomes by kind. A
daemon thread in the proxy turns them into Prometheus counters.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import multiprocessing
import os
import queue
import signal
import threading
import time
from typing import Any

from boltproxy.config import BackendSettings
from boltproxy.shadow import metrics
from boltproxy.shadow.capture import CaptureWriter
from boltproxy.shadow.classify import nondeterminism, orders_results
from boltproxy.shadow.compare import CompareOptions, Outcome, OutcomeKind, compare
from boltproxy.shadow.exchange import NOT_MIRRORED, Exchange
from boltproxy.shadow.fingerprint import fingerprint
from boltproxy.shadow.noise import NoiseLearner, PrimaryRerun, Rerun
from boltproxy.shadow.rules import ignore_patterns
from boltproxy.shadow.settings import ShadowSettings
from boltproxy.shadow.store import ShadowStore

log = logging.getLogger("boltproxy.shadow")

KINDS = tuple(OutcomeKind)
# Shared counter slots: consumed entries, consumed bytes, worker errors, then one per kind.
_CONSUMED, _CONSUMED_BYTES, _ERRORS, _FIRST_KIND = 0, 1, 2, 3
_COMMIT_EVERY = 500  # exchanges
_COMMIT_INTERVAL = 1.0  # seconds
_BATCH_WINDOW = 0.02  # seconds an exchange may wait for others to share its put
_BATCH_MAX = 256  # exchanges: a fuller batch goes at once
_STOP = None
_WORKER_NICENESS = 19


class ShadowSink:
    """Bounded, non-blocking entry to the shadow worker process."""

    def __init__(
        self,
        settings: ShadowSettings,
        *,
        metrics_interval: float = 1.0,
        primaries: dict[str, BackendSettings] | None = None,
    ) -> None:
        self._settings = settings
        # The backends by name, for noise learning's re-runs on the primary.
        self._primaries = primaries or {}
        self._context = multiprocessing.get_context("spawn")
        self._queue: Any = self._context.Queue()
        self._counters: Any = self._context.Array("q", _FIRST_KIND + len(KINDS), lock=False)
        self._process: Any = None
        self._submitted = 0
        self._submitted_bytes = 0
        self._dropped = 0
        self._batch: list[Exchange] = []
        self._batch_lock = threading.Lock()  # drain() and close() flush from other threads
        self._flush_scheduled = False
        self._closed = False
        self._reported = [0] * (_FIRST_KIND + len(KINDS))
        self._metrics_interval = metrics_interval
        self._metrics_stop = threading.Event()
        self._metrics_thread: threading.Thread | None = None
        self._primary_latency = metrics.LATENCY.labels("primary")
        self._candidate_latency = metrics.LATENCY.labels("candidate")

    def start(self) -> None:
        """Spawn the worker (seconds of interpreter start-up: call it at proxy start)."""
        if self._process is not None:
            return
        secret = self._settings.noise.password
        # The JSON form masks secrets: the password travels on its own.
        password = secret.get_secret_value() if secret is not None else None
        self._process = self._context.Process(
            target=_worker_main,
            args=(
                self._queue,
                self._counters,
                self._settings.model_dump_json(),
                self._primaries,
                password,
            ),
            name="boltproxy-shadow-worker",
            daemon=True,
        )
        self._process.start()
        self._metrics_thread = threading.Thread(
            target=self._metrics_loop, name="boltproxy-shadow-metrics", daemon=True
        )
        self._metrics_thread.start()

    def reconfigure(self, settings: ShadowSettings) -> None:
        """Settings changed at run time: the bounds apply at once, the comparison rules
        to what the worker takes next (the store, the capture and the noise login
        stay as the worker started with them)."""
        self._settings = settings
        self.flush()  # what was submitted before is compared under the old rules
        with contextlib.suppress(ValueError, OSError):  # closed under us at shutdown
            self._queue.put_nowait(settings.model_dump_json())

    # --- the client's path ---------------------------------------------------------------

    def submit(self, exchange: Exchange) -> bool:
        """Queue ``exchange`` for comparison; False (and counted) when it must be dropped."""
        counters = self._counters
        waiting = self._submitted - counters[_CONSUMED]
        waiting_bytes = self._submitted_bytes - counters[_CONSUMED_BYTES]
        size = exchange.size
        if (
            self._closed
            or waiting >= self._settings.queue_entries
            or waiting_bytes + size > self._settings.queue_bytes
        ):
            self._dropped += 1
            metrics.QUEUE_DROPS.inc()
            metrics.OUTCOMES.labels(OutcomeKind.DROPPED.value).inc()
            return False
        self._submitted += 1
        self._submitted_bytes += size
        with self._batch_lock:
            self._batch.append(exchange)
            full = len(self._batch) >= _BATCH_MAX
        if full:
            self.flush()
        elif not self._flush_scheduled:
            self._schedule_flush()
        self._primary_latency.observe(exchange.primary.latency)
        if exchange.candidate is not None and not exchange.candidate_explained:
            self._candidate_latency.observe(exchange.candidate.latency)
        return True

    def _schedule_flush(self) -> None:
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # called outside an event loop: nothing would flush later
            self.flush()
            return
        self._flush_scheduled = True
        loop.call_later(_BATCH_WINDOW, self.flush)

    def flush(self) -> None:
        """Hand the exchanges batched so far to the worker."""
        with self._batch_lock:
            batch, self._batch = self._batch, []
            self._flush_scheduled = False
        if batch:
            with contextlib.suppress(ValueError, OSError):  # closed under us at shutdown
                self._queue.put_nowait(batch)

    @property
    def dropped(self) -> int:
        return self._dropped

    @property
    def waiting(self) -> int:
        return int(self._submitted - self._counters[_CONSUMED])

    # --- metrics and shutdown ------------------------------------------------------------

    def poll_metrics(self) -> None:
        """Add what the worker counted since the last poll to the Prometheus counters."""
        snapshot = list(self._counters)
        for index, kind in enumerate(KINDS, _FIRST_KIND):
            delta = snapshot[index] - self._reported[index]
            if delta > 0:
                metrics.OUTCOMES.labels(kind.value).inc(delta)
        errors = snapshot[_ERRORS] - self._reported[_ERRORS]
        if errors > 0:
            metrics.WORKER_ERRORS.inc(errors)
        self._reported = snapshot
        metrics.QUEUE_ENTRIES.set(self._submitted - snapshot[_CONSUMED])

    def outcome_counts(self) -> dict[str, int]:
        """Outcomes the worker has produced so far, by kind."""
        counters = self._counters
        return {kind.value: int(counters[i]) for i, kind in enumerate(KINDS, _FIRST_KIND)}

    def _metrics_loop(self) -> None:
        while not self._metrics_stop.wait(self._metrics_interval):
            self.poll_metrics()

    def drain(self, timeout: float = 30.0) -> bool:
        """Wait until the worker has consumed everything submitted (for tests and replay)."""
        self.flush()
        deadline = time.monotonic() + timeout
        while self._counters[_CONSUMED] < self._submitted:
            if time.monotonic() > deadline or not self._alive():
                return False
            time.sleep(0.01)
        return True

    def _alive(self) -> bool:
        return self._process is not None and bool(self._process.is_alive())

    def close(self, timeout: float = 10.0) -> None:
        """Stop accepting, let the worker finish what is queued and flush its store."""
        if self._closed:
            return
        self._closed = True
        self.flush()
        if self._process is not None:
            with contextlib.suppress(ValueError, OSError):
                self._queue.put(_STOP)
            self._process.join(timeout)
            if self._process.is_alive():
                log.warning("shadow worker did not stop within %.0fs; terminating it", timeout)
                self._process.terminate()
                self._process.join(5.0)
        self._metrics_stop.set()
        if self._metrics_thread is not None:
            self._metrics_thread.join(timeout)
        self.poll_metrics()
        if self._process is None:
            self._queue.cancel_join_thread()  # nobody will read what is queued
        self._queue.close()
        self._queue.join_thread()


# --- the worker process -------------------------------------------------------------------


class Processor:
    """Fingerprint, compare, store and capture one exchange (in the worker, or inline)."""

    def __init__(self, settings: ShadowSettings, rerun: Rerun | None = None) -> None:
        self.settings = settings
        self.noise = NoiseLearner(settings.noise)
        self._rerun = rerun
        self.store = (
            ShadowStore(
                settings.store,
                keep_parameters=settings.keep_parameters,
                examples_per_kind=settings.examples_per_kind,
            )
            if settings.store is not None
            else None
        )
        self.capture = CaptureWriter(settings.capture) if settings.capture is not None else None
        self._last_commit = time.monotonic()

    def reconfigure(self, settings: ShadowSettings) -> None:
        """New comparison rules (ignore rules, tolerances, noise learning) from now on."""
        self.settings = settings.model_copy(
            update={"store": self.settings.store, "capture": self.settings.capture}
        )
        self.noise.settings = settings.noise

    def process(self, exchange: Exchange) -> Outcome | None:
        for answer in (exchange.primary, exchange.candidate):
            if answer is not None:
                answer.decode_payloads()
        if self.capture is not None:
            self.capture.write(exchange)
        if exchange.candidate is None and exchange.candidate_missing == NOT_MIRRORED:
            return None
        shape = fingerprint(exchange.query)
        ordered = orders_results(exchange.query)
        if self._rerun is not None and self.noise.wants(exchange, shape.id):
            second = self._rerun.run(exchange.primary_backend, exchange)
            if second is not None:
                learned = self.noise.learn(shape.id, exchange.primary, second, ordered)
                if learned and self.store is not None:
                    self.store.record_noise(shape.id, learned)
        options = CompareOptions(
            float_tolerance=self.settings.float_tolerance,
            latency_flag_multiple=self.settings.latency_flag_multiple,
            latency_flag_floor=self.settings.latency_flag_floor,
            ignore=ignore_patterns(self.settings.ignore, shape) + self.noise.patterns(shape.id),
            ordered=ordered,
            nondeterministic=nondeterminism(exchange.query),
        )
        outcome = compare(exchange, options)
        if self.store is not None:
            self.store.record(exchange, shape, outcome, ordered=ordered)
        return outcome

    def tick(self, force: bool = False) -> None:
        """Commit the store and flush the capture now and then, not per exchange."""
        now = time.monotonic()
        pending = self.store.pending if self.store is not None else 0
        if force or pending >= _COMMIT_EVERY or now - self._last_commit >= _COMMIT_INTERVAL:
            if self.store is not None:
                self.store.commit()
            if self.capture is not None:
                self.capture.flush()
            self._last_commit = now

    def close(self) -> None:
        if self._rerun is not None:
            self._rerun.close()
        if self.store is not None:
            self.store.close()
        if self.capture is not None:
            self.capture.close()


def _worker_main(
    jobs: Any,
    counters: Any,
    settings_json: str,
    primaries: dict[str, BackendSettings],
    password: str | None,
) -> None:
    # The proxy decides when the worker stops (a sentinel), not a Ctrl-C to the group.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # Comparing is never urgent: on a busy machine the relay and the servers go
    # first, and a worker that falls behind fills its bounded queue, which drops
    # and counts instead of slowing anyone down.
    with contextlib.suppress(OSError):
        os.nice(_WORKER_NICENESS)
    settings = ShadowSettings.model_validate_json(settings_json)
    rerun = None
    if primaries:  # connects on its first re-run, if noise learning is ever turned on
        rerun = PrimaryRerun(
            primaries,
            settings.noise,
            password,
            settings.query_timeout,
            max_records=settings.max_records,
            max_bytes=settings.max_record_bytes,
        )
    processor = Processor(settings, rerun)
    try:
        while True:
            try:
                batch = jobs.get(timeout=_COMMIT_INTERVAL)
            except queue.Empty:
                processor.tick()
                continue
            if batch is _STOP:
                break
            if isinstance(batch, str):  # settings changed at run time
                processor.reconfigure(ShadowSettings.model_validate_json(batch))
                continue
            for exchange in batch:
                _handle(processor, exchange, counters)
                processor.tick()
    finally:
        processor.close()


def _handle(processor: Processor, exchange: Exchange, counters: Any) -> None:
    try:
        outcome = processor.process(exchange)
    except Exception as exc:  # one bad exchange must not stop shadowing
        counters[_ERRORS] += 1
        # Never the values: only which kind of failure, and of which query shape.
        log.error(
            "shadow worker failed on shape %s: %s",
            fingerprint(exchange.query).id,
            type(exc).__name__,
        )
        outcome = None
    if outcome is not None:
        counters[_FIRST_KIND + KINDS.index(outcome.kind)] += 1
    counters[_CONSUMED_BYTES] += exchange.size
    counters[_CONSUMED] += 1

