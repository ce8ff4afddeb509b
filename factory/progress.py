"""Console output and progress bars shared by every stage (rich), so long stages show rate and ETA."""

from __future__ import annotations

import os
import sys
from contextlib import contextmanager

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

console = Console(stderr=True, highlight=False)


@contextmanager
def progress_bar(description: str, total: int | None, unit: str = "items"):
    """Yield `advance(n=1, **fields)`; the bar shows count, rate and ETA. Quiet when not a terminal."""
    quiet = not sys.stderr.isatty() or os.environ.get("FACTORY_QUIET")
    if quiet:
        yield lambda n=1, **_: None
        return
    columns = [TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
               TextColumn("{task.fields[rate]}"), TimeElapsedColumn(), TimeRemainingColumn()]
    with Progress(*columns, console=console, transient=True) as prog:
        task = prog.add_task(description, total=total, rate="")

        def advance(n: int = 1, **fields):
            rate = fields.pop("rate", None)
            prog.update(task, advance=n, **({"rate": rate} if rate else {}), **fields)

        yield advance
