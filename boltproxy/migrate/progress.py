"""Progress reporting: a rich bar on a terminal, plain lines otherwise, nothing for tests.

Progress goes to stderr so that ``--json`` output on stdout stays machine-readable.
The export/import code calls :meth:`Progress.advance` after each batch is durably
recorded, which also makes a progress object the natural place for a test to
simulate an interruption after exactly N batches.
"""

from __future__ import annotations

import sys
import time
from typing import Protocol, TextIO

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.progress import Progress as RichBar


class Progress(Protocol):
    def phase(self, name: str, total: int | None, done: int = 0) -> None:
        """A new phase starts (``done`` is > 0 when it resumes)."""

    def advance(self, count: int) -> None:
        """``count`` more items of the current phase are done."""

    def note(self, message: str) -> None:
        """A one-line remark (never values or credentials)."""

    def close(self) -> None: ...


class NullProgress:
    def phase(self, name: str, total: int | None, done: int = 0) -> None:
        pass

    def advance(self, count: int) -> None:
        pass

    def note(self, message: str) -> None:
        pass

    def close(self) -> None:
        pass


class PlainProgress:
    """One line per phase start and at most one line per ``interval`` seconds."""

    def __init__(self, stream: TextIO, interval: float = 2.0) -> None:
        self.stream = stream
        self.interval = interval
        self.name = ""
        self.total: int | None = None
        self.done = 0
        self._last = 0.0

    def phase(self, name: str, total: int | None, done: int = 0) -> None:
        self._flush_phase()
        self.name, self.total, self.done = name, total, done
        self._last = time.monotonic()
        self._line("started" if done == 0 else "resumed")

    def advance(self, count: int) -> None:
        self.done += count
        now = time.monotonic()
        if now - self._last >= self.interval:
            self._last = now
            self._line("")

    def note(self, message: str) -> None:
        print(message, file=self.stream, flush=True)

    def close(self) -> None:
        self._flush_phase()

    def _flush_phase(self) -> None:
        if self.name:
            self._line("done")
            self.name = ""

    def _line(self, status: str) -> None:
        of = f"/{self.total}" if self.total is not None else ""
        suffix = f" {status}" if status else ""
        print(f"{self.name}: {self.done}{of}{suffix}", file=self.stream, flush=True)


class BarProgress:
    def __init__(self, stream: TextIO) -> None:
        self.bar = RichBar(
            TextColumn("{task.description:<14}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            console=Console(file=stream),
        )
        self.bar.start()
        self.task: TaskID | None = None

    def phase(self, name: str, total: int | None, done: int = 0) -> None:
        self.task = self.bar.add_task(name, total=total, completed=done)

    def advance(self, count: int) -> None:
        if self.task is not None:
            self.bar.advance(self.task, count)

    def note(self, message: str) -> None:
        self.bar.console.print(message)

    def close(self) -> None:
        self.bar.stop()


def for_terminal(stream: TextIO | None = None) -> Progress:
    """A bar when ``stream`` (stderr by default) is a terminal, plain lines otherwise."""
    stream = stream or sys.stderr
    return BarProgress(stream) if stream.isatty() else PlainProgress(stream)
