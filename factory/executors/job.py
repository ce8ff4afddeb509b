"""The body of every cluster job: check the stage's inputs are complete, then run it like a local stage.

A job runs `factory.stage_run.run_stage` (work folder -> manifest -> rename), the very path of a local
run, so the artifact is the same whichever engine ran it. It refuses to start when an input artifact
is not complete: the engine's dependency (Slurm afterok, Ray object refs) should make that impossible,
and the check turns a broken dependency into one clear failure instead of a stage reading half a
folder. A requeued job whose stage already published returns at once; an interrupted one resumes from
its `.partial` folder (shards, checkpoints). Off a terminal, progress comes as plain lines in the job's log.
"""

from __future__ import annotations

import os
from pathlib import Path

from core.manifest import check_artifact
from factory.stage_run import PlannedStage, StageFailed, log_traceback, run_stage


def run_job(recipe, p: PlannedStage, inputs: dict[str, PlannedStage], fn, command: list[str], cwd: str,
            *upstream_results) -> str:
    """Run stage `p` on this machine; 'done' or 'cached'. `upstream_results` only carry Ray's ordering."""
    os.chdir(cwd)  # relative paths in the recipe mean the same as where `factory run` was started
    name = p.stage.name
    missing = {up: problem for up, q in inputs.items()
               if (problem := check_artifact(q.dir, q.stage.hash, full=False)) is not None}
    if missing:
        raise StageFailed(f"stage {name} started before its inputs were complete: "
                          + "; ".join(f"{up}: {why}" for up, why in sorted(missing.items())))
    if check_artifact(p.dir, p.stage.hash, full=False) is None:
        return "cached"  # a resubmitted or requeued job whose stage already published
    try:
        run_stage(recipe, p, inputs, fn=fn, command=command)
    except BaseException:
        log_traceback(p)
        raise
    return "done"

