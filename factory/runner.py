"""Run a recipe's stage graph: reuse complete artifacts, run stale stages, publish atomically.

What one stage run is (work folder -> manifest -> rename) lives in factory/stage_run.py; this module
picks *where* stages run: here one after another, in local child processes (factory/scheduler.py), or
as jobs on a cluster engine (factory/executors/). A lock file per run folder stops two runs from
writing the same artifacts; the kernel drops it if its holder dies.
"""

from __future__ import annotations

import fcntl
import os
from contextlib import contextmanager
from pathlib import Path

from factory.graph import upstream
from factory.recipe import Recipe
from factory.run_display import RunDisplay
from factory.scheduler import run_parallel
from factory.stage_run import (PlannedStage, StageFailed, completed_stages, needs_run,  # noqa: F401  (API)
                               plan, redacted_argv, run_stage, work_dir)
from factory.stages import stage_function

_redacted_argv = redacted_argv  # older names, kept for callers and tests
_run_stage = run_stage


class RunLocked(RuntimeError):
    pass


@contextmanager
def run_lock(root: Path):
    root.mkdir(parents=True, exist_ok=True)
    path = root / ".lock"
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = os.pread(fd, 64, 0).decode(errors="replace").strip() or "unknown"
        os.close(fd)
        raise RunLocked(f"{root}: another factory run (pid {holder}) is using this run folder; "
                        "wait for it to finish or stop it") from None
    os.ftruncate(fd, 0)
    os.pwrite(fd, str(os.getpid()).encode(), 0)
    try:
        yield
    finally:
        os.close(fd)  # closing drops the flock; a crashed holder's lock is dropped by the kernel


def run(recipe: Recipe, until: str | None = None, force: tuple[str, ...] = (),
        workers: int | None = None, executor: str = "local", options: dict | None = None) -> list[PlannedStage]:
    """Run the wanted stale stages; `workers` (default: the recipe's `stage_workers`) run at once.

    With one worker every stage runs here, in order; with more, independent stages run in child
    processes (factory/scheduler.py); with `executor` slurm or ray each stale stage becomes a job on that
    engine (factory/executors/, `options` are its settings). Every way publishes the same artifacts.
    """
    planned = plan(recipe, full_check=True)
    names = [p.stage.name for p in planned]
    for f in (*force, *([until] if until else [])):
        if f not in names:
            raise KeyError(f"unknown stage '{f}' (stages: {', '.join(names)})")
    wanted = upstream([p.stage for p in planned], until) if until else set(names)
    by_name = {p.stage.name: p for p in planned}
    chosen = [p for p in planned if p.stage.name in wanted]
    workers = workers if workers is not None else getattr(recipe, "stage_workers", 1)
    if workers < 1:
        raise ValueError(f"stage_workers must be at least 1 (got {workers})")
    with run_lock(recipe.run_root):
        if executor != "local":
            from factory.executors import run_on_engine  # lazy: submitit / ray are imported only when asked for

            run_on_engine(recipe, chosen, by_name, force, executor, options or {}, resolve=stage_function)
            return planned
        if workers > 1:
            run_parallel(recipe, chosen, by_name, force, workers, resolve=stage_function)
            return planned
        with RunDisplay() as display:
            for p in chosen:
                if needs_run(p, force):
                    display.started(p.stage.name, work_dir(p))
                    try:
                        run_stage(recipe, p, by_name, fn=stage_function(p.stage.kind))
                    finally:
                        display.finished(p.stage.name)
                    p.status = "cached"
    return planned
