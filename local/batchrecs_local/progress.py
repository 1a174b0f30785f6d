"""Progress for long CLI work, with rich: shown on a terminal, quiet when stderr is piped or captured.

``BATCHRECS_PROGRESS=1`` forces it on (and ``0`` off), for terminals that do not say they are one.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Iterable, Iterator
from contextlib import AbstractContextManager, nullcontext
from typing import Any


def interactive() -> bool:
    """Whether progress is drawn: stderr is a terminal, unless BATCHRECS_PROGRESS says otherwise."""
    forced = os.environ.get("BATCHRECS_PROGRESS")
    if forced in ("0", "1"):
        return forced == "1"
    return sys.stderr.isatty()


def _console() -> Any:
    from rich.console import Console

    return Console(stderr=True, force_terminal=True)


def stage(message: str) -> AbstractContextManager[Any]:
    """A spinner with ``message`` while a stage runs (training, loading), on a terminal only."""
    if not interactive():
        return nullcontext()
    status: AbstractContextManager[Any] = _console().status(message)
    return status


def counted[T](items: Iterable[T], description: str, total: int | None = None) -> Iterator[T]:
    """``items`` unchanged, with a bar (or a count) of how many have gone by, on a terminal only."""
    if not interactive():
        yield from items
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=_console(), transient=True) as bar:
        task = bar.add_task(description, total=total)
        for item in items:
            yield item
            bar.advance(task)


class JobBoard:
    """Each dropped file's state and elapsed time, redrawn in place on a terminal; nothing when piped (the CLI
    prints its progress lines there instead)."""

    def __init__(self) -> None:
        self.started = time.monotonic()
        self.states: dict[str, str] = {}
        self._live: Any = None

    def __enter__(self) -> JobBoard:
        if interactive():
            from rich.live import Live

            self._live = Live(self._table(), console=_console(), refresh_per_second=4, transient=False)
            self._live.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._live is not None:
            self._live.update(self._table())
            self._live.__exit__(*exc)

    def log(self, line: str) -> None:
        """A progress line: above the board on a terminal, else plain on stderr."""
        if self._live is not None:
            self._live.console.print(line, highlight=False, markup=False)
        else:
            print(line, file=sys.stderr, flush=True)

    def update(self, name: str, state: str) -> None:
        self.states[name] = state
        if self._live is not None:
            self._live.update(self._table())

    def _table(self) -> Any:
        from rich.table import Table

        table = Table(title=f"batchrecs run · {time.monotonic() - self.started:,.0f} s", title_justify="left")
        table.add_column("file")
        table.add_column("state")
        for name, state in self.states.items():
            table.add_row(name, state)
        return table
