"""`factory status`: each stage's cluster job and its state, from `<run>/jobs.json` and the engine.

The watching `factory run` keeps jobs.json current; when it is gone (closed laptop, lost login
session) a Slurm job's state is asked of Slurm itself, through submitit. A record for an older hash of a
stage (the recipe changed since) is not shown.
"""

from __future__ import annotations

from pathlib import Path

from factory.executors.base import FINAL, read_jobs
from factory.stage_run import PlannedStage


def job_states(planned: list[PlannedStage], root: Path) -> dict[str, tuple[str, str]]:
    """stage name -> (job label, state) for the stages a cluster run submitted."""
    records = read_jobs(root)
    out = {}
    for p in planned:
        rec = records.get(p.stage.name)
        if not rec or rec.get("hash") != p.stage.hash:
            continue
        state = rec.get("state", "")
        if state not in FINAL and rec.get("engine") == "slurm":
            state = _slurm_state(p, rec) or state
        detail = rec.get("detail")
        out[p.stage.name] = (f"{rec.get('engine')} {rec.get('job_id')}",
                             state + (f" ({detail})" if detail and state in ("failed", "cancelled") else ""))
    return out


def _slurm_state(p: PlannedStage, rec: dict) -> str | None:
    try:
        import submitit

        from factory.executors.slurm import job_folder, job_state
    except ImportError:
        return None
    job = submitit.SlurmJob(folder=job_folder(p), job_id=str(rec["job_id"]))
    try:
        return job_state(job)[0]
    except (OSError, FileNotFoundError):
        return None
