"""What running one stage *is*: plan a stage's status, run it in its work folder, write its manifest, publish.

Every way of running a recipe uses `run_stage`: the sequential runner (factory/runner.py), the local
parallel scheduler (factory/scheduler.py) and the cluster executors (factory/executors/), so an
artifact is the same whichever engine made it. This module imports no orchestration (no cycle):
the runner and the schedulers import it, never the other way round.

A stage runs in `<artifact>.partial/` (kept across crashes so the stage can resume), then a
manifest with file checksums is written and the folder is renamed into place.
"""

from __future__ import annotations

import os
import sys
import time
import traceback
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from factory import __version__
from core.atomic import publish_dir
from factory.graph import Stage, artifact_dir, build_graph
from core.hashing import library_versions
from core.manifest import check_artifact, read_manifest, write_manifest
from factory.progress import PROGRESS_ENV, console, folded_library_bars
from factory.run_display import progress_file
from factory.recipe import Recipe
from factory.stages import StageContext, stage_function


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


def completed_stages(recipe: Recipe) -> dict[str, Path]:
    """name -> folder of every stage whose artifact is complete: what `factory push` releases from."""
    return {p.stage.name: p.dir for p in plan(recipe) if p.cached}


def needs_run(p: PlannedStage, force: tuple[str, ...]) -> bool:
    """False (and say so) for a reusable artifact; True for a stage to run (saying why if corrupt)."""
    if p.cached and p.stage.name not in force:
        console.print(f"[green]cached[/green]  {p.stage.name}  [dim]{p.dir.name}[/dim]")
        return False
    if p.status.startswith("corrupt"):
        console.print(f"[yellow]rebuild[/yellow] {p.stage.name}: {p.status}")
    return True


def run_stage(recipe: Recipe, p: PlannedStage, by_name: dict[str, PlannedStage],
               fn: Callable[[StageContext], dict] | None = None, command: list[str] | None = None) -> None:
    """Run one stage in its `.partial` folder, write its manifest, publish it. Every run mode uses this:
    in a child process or a cluster job `fn` and `command` come from the parent (`by_name` needs only
    the inputs)."""
    s = p.stage
    work = work_dir(p)
    work.mkdir(parents=True, exist_ok=True)
    inputs = {role: by_name[up].dir for role, up in s.inputs.items()}
    ctx = StageContext(s.name, s.kind, s.config, inputs, work, recipe,
                       {role: read_manifest(d) or {} for role, d in inputs.items()})
    console.print(f"[bold cyan]run[/bold cyan]     {s.name}  [dim]{p.dir.name}[/dim]")
    _set_threads(recipe.torch_threads)
    started = time.time()
    fn = fn or stage_function(s.kind)
    try:
        with _reporting_to(progress_file(work)), folded_library_bars():
            summary = fn(ctx) or {}
    except (KeyboardInterrupt, OSError):
        raise
    except Exception as e:
        raise StageFailed(f"stage {s.name} failed: {type(e).__name__}: {e}") from e
    progress_file(work).unlink(missing_ok=True)  # the run display's, not part of the artifact
    wall = time.time() - started
    record = {
        "stage": s.name, "kind": s.kind, "hash": s.hash, "config": s.config,
        "inputs": {role: {"stage": up, "hash": by_name[up].stage.hash, "dir": by_name[up].dir.name}
                   for role, up in s.inputs.items()},
        "versions": library_versions(), "factory_version": __version__,
        "summary": summary, "started_at": started, "wall_s": round(wall, 3),
        "command": command if command is not None else redacted_argv(),
    }
    write_manifest(work, record)
    publish_dir(work, p.dir)
    console.print(f"[green]done[/green]    {s.name} in {wall:.1f}s")


def work_dir(p: PlannedStage) -> Path:
    """Where a stage runs until it is published (kept across crashes so it can resume)."""
    return p.dir.with_name(p.dir.name + ".partial")


def output_log(p: PlannedStage) -> Path:
    """Where a stage run in a child process prints (factory/scheduler.py): `<run>/logs/<stage>-<hash>.log`."""
    return p.dir.parent / "logs" / f"{p.dir.name}.log"


@contextmanager
def _reporting_to(path: Path):
    """Progress bars of this stage, in this process and in the processes it starts, write to `path`."""
    before = os.environ.get(PROGRESS_ENV)
    os.environ[PROGRESS_ENV] = str(path)
    try:
        yield
    finally:
        if before is None:
            os.environ.pop(PROGRESS_ENV, None)
        else:
            os.environ[PROGRESS_ENV] = before


def _set_threads(n: int | None) -> None:
    """Apply the recipe's CPU thread count (also inherited by worker subprocesses via OMP_NUM_THREADS)."""
    if not n:
        return
    os.environ["OMP_NUM_THREADS"] = str(n)
    import torch

    torch.set_num_threads(n)


def redacted_argv() -> list[str]:
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



def log_traceback(p: PlannedStage) -> None:
    """A stage's traceback goes to its log (the CLI points there), not a shared terminal; used where the
    stage runs away from the runner (a forkserver child, a cluster job)."""
    try:
        with open(work_dir(p) / "stage.log", "a", encoding="utf-8") as f:
            f.write(traceback.format_exc())
    except OSError:
        pass
