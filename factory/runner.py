"""Run a recipe's stage graph: reuse complete artifacts, run stale stages, publish atomically.

A stage runs in `<artifact>.partial/` (kept across crashes so the stage can resume), then a
manifest with file checksums is written and the folder is renamed into place. A lock file per run
folder stops two runs from writing the same artifacts; the kernel drops it if its holder dies.
"""

from __future__ import annotations

import fcntl
import os
import sys
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from factory import __version__
from factory.atomic import publish_dir
from factory.graph import Stage, artifact_dir, build_graph, upstream
from factory.hashing import library_versions
from factory.manifest import check_artifact, read_manifest, write_manifest
from factory.progress import console
from factory.recipe import Recipe
from factory.stages import StageContext, stage_function


class RunLocked(RuntimeError):
    pass


class StageFailed(RuntimeError):
    pass


@dataclass
class PlannedStage:
    stage: Stage
    dir: Path
    status: str  # cached | stale | partial | corrupt: <reason>

    @property
    def cached(self) -> bool:
        return self.status == "cached"


def plan(recipe: Recipe, full_check: bool = False) -> list[PlannedStage]:
    root = recipe.run_root
    out = []
    for s in build_graph(recipe):
        d = artifact_dir(root, s)
        problem = check_artifact(d, s.hash, full=full_check)
        if problem is None:
            status = "cached"
        elif problem == "missing":
            status = "partial" if d.with_name(d.name + ".partial").exists() else "stale"
        else:
            status = f"corrupt: {problem}"
        out.append(PlannedStage(s, d, status))
    return out


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
        workers: int | None = None) -> list[PlannedStage]:
    """Run the wanted stale stages; `workers` (default: the recipe's `stage_workers`) run at once.

    With one worker every stage runs here, in order; with more, independent stages run in child
    processes (factory/scheduler.py). Either way the same artifacts are published.
    """
    planned = plan(recipe, full_check=True)
    names = [p.stage.name for p in planned]
    for f in (*force, *([until] if until else [])):
        if f not in names:
            raise KeyError(f"unknown stage '{f}' (stages: {', '.join(names)})")
    wanted = upstream([p.stage for p in planned], until) if until else set(names)
    by_name = {p.stage.name: p for p in planned}
    workers = workers if workers is not None else getattr(recipe, "stage_workers", 1)
    if workers < 1:
        raise ValueError(f"stage_workers must be at least 1 (got {workers})")
    with run_lock(recipe.run_root):
        if workers > 1:
            from factory.scheduler import run_parallel

            run_parallel(recipe, [p for p in planned if p.stage.name in wanted], by_name, force, workers)
            return planned
        for p in planned:
            if p.stage.name not in wanted:
                continue
            if needs_run(p, force):
                _run_stage(recipe, p, by_name)
                p.status = "cached"
    return planned


def needs_run(p: PlannedStage, force: tuple[str, ...]) -> bool:
    """False (and say so) for a reusable artifact; True for a stage to run (saying why if corrupt)."""
    if p.cached and p.stage.name not in force:
        console.print(f"[green]cached[/green]  {p.stage.name}  [dim]{p.dir.name}[/dim]")
        return False
    if p.status.startswith("corrupt"):
        console.print(f"[yellow]rebuild[/yellow] {p.stage.name}: {p.status}")
    return True


def _run_stage(recipe: Recipe, p: PlannedStage, by_name: dict[str, PlannedStage],
               fn: Callable[[StageContext], dict] | None = None, command: list[str] | None = None) -> None:
    """Run one stage in its `.partial` folder, write its manifest, publish it. Both run modes use this:
    in a child process `fn` and `command` come from the parent (`by_name` needs only the inputs)."""
    s = p.stage
    work = p.dir.with_name(p.dir.name + ".partial")
    work.mkdir(parents=True, exist_ok=True)
    inputs = {role: by_name[up].dir for role, up in s.inputs.items()}
    ctx = StageContext(s.name, s.kind, s.config, inputs, work, recipe,
                       {role: read_manifest(d) or {} for role, d in inputs.items()})
    console.print(f"[bold cyan]run[/bold cyan]     {s.name}  [dim]{p.dir.name}[/dim]")
    _set_threads(recipe.torch_threads)
    started = time.time()
    fn = fn or stage_function(s.kind)
    try:
        summary = fn(ctx) or {}
    except (KeyboardInterrupt, OSError):
        raise
    except Exception as e:
        raise StageFailed(f"stage {s.name} failed: {type(e).__name__}: {e}") from e
    wall = time.time() - started
    record = {
        "stage": s.name, "kind": s.kind, "hash": s.hash, "config": s.config,
        "inputs": {role: {"stage": up, "hash": by_name[up].stage.hash, "dir": by_name[up].dir.name}
                   for role, up in s.inputs.items()},
        "versions": library_versions(), "factory_version": __version__,
        "summary": summary, "started_at": started, "wall_s": round(wall, 3),
        "command": command if command is not None else _redacted_argv(),
    }
    write_manifest(work, record)
    publish_dir(work, p.dir)
    console.print(f"[green]done[/green]    {s.name} in {wall:.1f}s")


def _set_threads(n: int | None) -> None:
    """Apply the recipe's CPU thread count (also inherited by worker subprocesses via OMP_NUM_THREADS)."""
    if not n:
        return
    os.environ["OMP_NUM_THREADS"] = str(n)
    import torch

    torch.set_num_threads(n)


def _redacted_argv() -> list[str]:
    # Secrets never reach manifests: values of any --token-like flag are dropped.
    out, skip = [], False
    for a in sys.argv:
        if skip:
            out.append("***")
            skip = False
            continue
        low = a.lower()
        if any(k in low for k in ("token", "api-key", "api_key", "secret")):
            if "=" in a:
                out.append(a.split("=", 1)[0] + "=***")
                continue
            skip = True
        out.append(a)
    return out

