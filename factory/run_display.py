"""One live display for a whole `factory run`: a line per running stage with its steps or samples, rate and ETA.

Stages report through their progress file (factory/progress.py), whichever process or machine runs them,
so the same display serves the sequential runner, the parallel scheduler and the cluster executors: they
only say when a stage starts and ends. At a terminal the lines are a rich `Live` region under the run's
permanent log (`run` / `done` / `failed`); elsewhere (a log file, CI, a cluster job's output) every
running stage prints one plain line per PLAIN_EVERY_S instead, so a log still shows how far a run is.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from rich.console import Console
from rich.live import Live
from rich.progress_bar import ProgressBar
from rich.table import Table

from factory import progress
from factory.progress import format_eta, read_progress

PROGRESS_NAME = ".progress-live.json"  # in the stage's `.partial` folder; removed before its manifest


def progress_file(work: Path) -> Path:
    return Path(work) / PROGRESS_NAME


@dataclass
class _Running:
    name: str
    file: Path
    started: float = field(default_factory=time.time)


class RunDisplay:
    """Context manager; `started(name, work_dir)` / `finished(name)` as stages come and go."""

    def __init__(self, console: Console | None = None, live: bool | None = None):
        self.console = console or progress.console
        self.live = self.console.is_terminal if live is None else live
        self._running: dict[str, _Running] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._live: Live | None = None
        self._thread: threading.Thread | None = None

    def started(self, name: str, work: Path) -> None:
        with self._lock:
            self._running[name] = _Running(name, progress_file(work))

    def finished(self, name: str) -> None:
        with self._lock:
            self._running.pop(name, None)

    # ------------------------------------------------------------ what a line says
    def lines(self) -> list[dict]:
        """Per running stage: name, what it is doing, done/total, rate, elapsed and ETA (None when unknown)."""
        with self._lock:
            running = list(self._running.values())
        out = []
        for r in running:
            state = read_progress(r.file) or {}
            done, total = state.get("done", 0), state.get("total")
            spent = max(1e-9, state.get("updated", time.time()) - state.get("started", time.time()))
            rate = done / spent if done else None
            eta = (total - done) / rate if rate and total and total > done else None
            out.append({"name": r.name, "what": state.get("description", "starting"), "done": done, "total": total,
                        "unit": state.get("unit", ""), "rate": rate, "note": state.get("note", ""),
                        "elapsed": time.time() - r.started, "eta": eta})
        return out

    @staticmethod
    def plain(line: dict) -> str:
        count = f"{line['done']:g}/{line['total'] if line['total'] is not None else '?'} {line['unit']}"
        text = f"{line['name']}: {line['what']} {count}"
        if line["rate"]:
            text += f", {line['rate']:.1f} {line['unit']}/s"
        if line["note"]:
            text += f", {line['note']}"
        text += f", {format_eta(line['elapsed'])} elapsed"
        if line["eta"] is not None:
            text += f", ETA {format_eta(line['eta'])}"
        return text

    def __rich__(self) -> Table:
        table = Table.grid(padding=(0, 1))
        for line in self.lines():
            total = line["total"] or None
            table.add_row(f"[bold]{line['name']}[/bold]", f"[dim]{line['what']}[/dim]",
                          ProgressBar(total=total, completed=line["done"], width=24),
                          f"{line['done']:g}/{total if total else '?'} {line['unit']}",
                          f"{line['rate']:.1f}/s" if line["rate"] else "",
                          line["note"], format_eta(line["elapsed"]),
                          f"ETA {format_eta(line['eta'])}" if line["eta"] is not None else "")
        return table

    # ------------------------------------------------------------ lifecycle
    def __enter__(self) -> "RunDisplay":
        if progress.quiet():
            return self
        if self.live:
            self._live = Live(self, console=self.console, refresh_per_second=4, transient=True)
            self._live.start()
        else:
            self._thread = threading.Thread(target=self._plain_loop, name="run-display", daemon=True)
            self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        if self._live is not None:
            self._live.stop()
        if self._thread is not None:
            self._thread.join(timeout=2)

    def _plain_loop(self) -> None:
        while not self._stop.wait(progress.PLAIN_EVERY_S):
            for line in self.lines():
                self.console.print(self.plain(line), highlight=False)
