"""Console output and progress bars shared by every stage (rich), so long stages show rate and ETA.

Inside a stage run by `factory run` the progress goes to the stage's progress file (FACTORY_PROGRESS_FILE,
set by factory/stage_run.py): the runner's one live display (factory/run_display.py) reads it, whichever
process writes it (a forkserver child, `accelerate launch`, a cluster job). The libraries' own tqdm bars
are folded into the same file (`folded_library_bars`), so they never draw on the terminal themselves.

Outside a run, at a terminal a bar is one live line (count, rate, elapsed, ETA). Elsewhere (a log file,
CI) the same progress comes as plain lines, at most one per PLAIN_EVERY_S seconds and at the end, e.g.
`generate (hf): 96/480 samples, 3.2 samples/s, ETA 2m00s`. FACTORY_QUIET=1 silences everything.
"""

from __future__ import annotations

import json
import os
import sys
import time
from contextlib import contextmanager
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

console = Console(stderr=True, highlight=False)
PLAIN_EVERY_S = 30.0
PROGRESS_ENV = "FACTORY_PROGRESS_FILE"
FILE_EVERY_S = 0.5  # how often a stage rewrites its progress file (the display redraws 4x a second)


def quiet() -> bool:
    return bool(os.environ.get("FACTORY_QUIET"))


@contextmanager
def progress_bar(description: str, total: int | None, unit: str = "items"):
    """Yield `advance(n=1, **fields)`; shows count, rate and ETA (a live bar, or plain lines off a terminal)."""
    if quiet():
        yield lambda n=1, **_: None
        return
    if os.environ.get(PROGRESS_ENV):
        with _file_reports(Path(os.environ[PROGRESS_ENV]), description, total, unit) as advance:
            yield advance
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


@contextmanager
def _file_reports(path: Path, description: str, total: int | None, unit: str):
    """Keep `path` holding this bar's state (at most every FILE_EVERY_S, and at the end); last writer wins."""
    state = {"description": description, "done": 0, "total": total, "unit": unit,
             "started": time.time(), "updated": time.time(), "note": ""}
    last = 0.0

    def write() -> None:
        state["updated"] = time.time()
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        try:  # no fsync: a progress file lost in a crash costs nothing
            tmp.write_text(json.dumps(state))
            os.replace(tmp, path)
        except OSError:
            pass  # the stage folder went away (published or removed): nothing left to report

    def advance(n: int = 1, **fields) -> None:
        nonlocal last
        state["done"] = fields["done"] if fields.get("done") is not None else state["done"] + n
        note = fields.get("note") or fields.get("rate")
        if note:
            state["note"] = str(note)
        if fields.get("total") is not None:
            state["total"] = fields["total"]
        if time.monotonic() - last >= FILE_EVERY_S:
            last = time.monotonic()
            write()

    write()
    try:
        yield advance
    finally:
        write()


def trainer_progress_callback(description: str = "train"):
    """A transformers TrainerCallback: optimizer steps (of `max_steps`) and the latest loss as a progress bar,
    from the main process only (so `accelerate launch` ranks do not race on the file)."""
    from transformers import TrainerCallback

    class StepProgress(TrainerCallback):
        def on_train_begin(self, args, state, control, **kwargs):
            self.bar = None
            if state.is_world_process_zero:
                self.bar = progress_bar(description, state.max_steps or None, "steps")
                self.advance = self.bar.__enter__()
                self.advance(0, done=state.global_step)  # a resumed run starts at its checkpoint's step

        def on_step_end(self, args, state, control, **kwargs):
            if self.bar is not None:
                self.advance(0, done=state.global_step, total=state.max_steps or None)

        def on_log(self, args, state, control, logs=None, **kwargs):
            loss = (logs or {}).get("loss")
            if self.bar is not None and loss is not None:
                self.advance(0, done=state.global_step, note=f"loss {loss:.3g}")

        def on_train_end(self, args, state, control, **kwargs):
            if self.bar is not None:
                self.bar.__exit__(None, None, None)
                self.bar = None

    return StepProgress()


def read_progress(path: Path) -> dict | None:
    """A stage's progress file, or None (not written yet, or replaced mid-read)."""
    try:
        return json.loads(Path(path).read_text())
    except (OSError, ValueError):
        return None


@contextmanager
def folded_library_bars():
    """While a stage runs, every tqdm bar (lm-eval's requests, vLLM's prompts, a dataset map) reports to
    the stage's progress file and draws nothing. Patched on tqdm's base class, so the many
    `from tqdm import tqdm` / `tqdm.auto` bindings the libraries hold are all covered; restored after."""
    if not os.environ.get(PROGRESS_ENV):
        yield
        return
    try:
        from tqdm import std
    except ImportError:
        yield
        return
    cls = std.tqdm
    original_init, original_update, original_close = cls.__init__, cls.update, cls.close
    saved = {name: cls.__dict__[name] for name in ("__init__", "update", "close")}  # descriptors as they were
    devnull = open(os.devnull, "w")

    def __init__(self, *args, **kwargs):
        kwargs["file"] = devnull
        original_init(self, *args, **kwargs)
        if not self.disable:
            self._factory_bar = progress_bar(self.desc or "working", self.total, self.unit or "it")
            self._factory_advance = self._factory_bar.__enter__()
            if self.n:
                self._factory_advance(self.n)

    def update(self, n=1):
        out = original_update(self, n)
        advance = getattr(self, "_factory_advance", None)
        if advance is not None:
            advance(0, done=self.n, total=self.total)
        return out

    def close(self):
        bar = self.__dict__.pop("_factory_bar", None)
        advance = self.__dict__.pop("_factory_advance", None)
        if bar is not None:
            advance(0, done=self.n, total=self.total)
            bar.__exit__(None, None, None)
        return original_close(self)

    cls.__init__, cls.update, cls.close = __init__, update, close
    try:
        yield
    finally:
        for name, value in saved.items():
            setattr(cls, name, value)
        devnull.close()


def format_eta(seconds: float) -> str:
    seconds = int(round(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}h{minutes:02d}m" if hours else f"{minutes}m{secs:02d}s"
