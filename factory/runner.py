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


def run(recipe: Recipe, until: str | None = None, force: tuple[str, ...] = ()) -> list[PlannedStage]:
    planned = plan(recipe, full_check=True)
    names = [p.stage.name for p in planned]
    for f in (*force, *([until] if until else [])):
        if f not in names:
            raise KeyError(f"unknown stage '{f}' (stages: {', '.join(names)})")
    wanted = upstream([p.stage for p in planned], until) if until else set(names)
    by_name = {p.stage.name: p for p in planned}
    with run_lock(recipe.run_root):
        for p in planned:
            if p.stage.name not in wanted:
                continue
            if p.cached and p.stage.name not in force:
                console.print(f"[green]cached[/green]  {p.stage.name}  [dim]{p.dir.name}[/dim]")
                continue
            if p.status.startswith("corrupt"):
                console.print(f"[yellow]rebuild[/yellow] {p.stage.name}: {p.status}")
            _run_stage(recipe, p, by_name)
            p.status = "cached"
    return planned


def _run_stage(recipe: Recipe, p: PlannedStage, by_name: dict[str, PlannedStage]) -> None:
    s = p.stage
    work = p.dir.with_name(p.dir.name + ".partial")
    work.mkdir(parents=True, exist_ok=True)
    inputs = {role: by_name[up].dir for role, up in s.inputs.items()}
    ctx = StageContext(s.name, s.kind, s.config, inputs, work, recipe,
                       {role: read_manifest(d) or {} for role, d in inputs.items()})
    console.print(f"[bold cyan]run[/bold cyan]     {s.name}  [dim]{p.dir.name}[/dim]")
    _set_threads(recipe.torch_threads)
    started = time.time()
    fn = stage_function(s.kind)
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
        "command": _redacted_argv(),
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

