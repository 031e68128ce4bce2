"""Progress for long steps: a bar when the total is known, a counter otherwise."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
)


@contextmanager
def bar(console: Console, label: str, total: int | None) -> Iterator[Callable[[int], None]]:
    """Yields ``set_done(n)``; the bar disappears when the step ends (the step prints its line)."""
    columns = [SpinnerColumn(), TextColumn("{task.description}"), BarColumn(),
               MofNCompleteColumn(), TimeElapsedColumn()]  # fmt: skip
    with Progress(*columns, console=console, transient=True) as progress:
        task = progress.add_task(label, total=total)

        def set_done(done: int) -> None:
            progress.update(task, completed=done)

        yield set_done
