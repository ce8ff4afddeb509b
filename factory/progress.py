"""Console output and progress bars shared by every stage (rich), so long stages show rate and ETA.

At a terminal a bar is one live line (count, rate, elapsed, ETA). Elsewhere (a log file, a cluster
job's output, CI) the same progress comes as plain lines, at most one per PLAIN_EVERY_S seconds and at
the end, e.g. `generate (hf): 96/480 samples, 3.2 samples/s, ETA 2m00s`. FACTORY_QUIET=1 silences both
(the parallel scheduler's children, whose parent owns the terminal).
"""

from __future__ import annotations

import os
import sys
import time
from contextlib import contextmanager

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

console = Console(stderr=True, highlight=False)
PLAIN_EVERY_S = 30.0


@contextmanager
def progress_bar(description: str, total: int | None, unit: str = "items"):
    """Yield `advance(n=1, **fields)`; shows count, rate and ETA (a live bar, or plain lines off a terminal)."""
    if os.environ.get("FACTORY_QUIET"):
        yield lambda n=1, **_: None
        return
    if not sys.stderr.isatty():
        with _plain_lines(description, total, unit) as advance:
            yield advance
        return
    columns = [TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
               TextColumn("{task.fields[rate]}"), TimeElapsedColumn(), TimeRemainingColumn()]
    with Progress(*columns, console=console, transient=True) as prog:
        task = prog.add_task(description, total=total, rate="")

        def advance(n: int = 1, **fields):
            rate = fields.pop("rate", None)
            prog.update(task, advance=n, **({"rate": rate} if rate else {}), **fields)

        yield advance


@contextmanager
def _plain_lines(description: str, total: int | None, unit: str):
    started = last = time.monotonic()
    done = 0

    def line() -> str:
        elapsed = time.monotonic() - started
        rate = done / elapsed if elapsed > 0 else 0.0
        text = f"{description}: {done}/{total if total is not None else '?'} {unit}, {rate:.1f} {unit}/s"
        if total and rate > 0 and done < total:
            text += f", ETA {format_eta((total - done) / rate)}"
        return text

    def advance(n: int = 1, **_):
        nonlocal done, last
        done += n
        if time.monotonic() - last >= PLAIN_EVERY_S:
            last = time.monotonic()
            console.print(line())

    yield advance
    if done:
        console.print(line())


def format_eta(seconds: float) -> str:
    seconds = int(round(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}h{minutes:02d}m" if hours else f"{minutes}m{secs:02d}s"
