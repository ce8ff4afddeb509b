"""Slurm through submitit: one sbatch job per stale stage, held by `afterok` on its upstream jobs.

    factory run RECIPE --executor slurm [--partition gpu] [--time-min 1440] [--slurm-option account=my-acct]

Each job's folder sits beside the stage's artifact, `<run>/<stage>-<hash12>.slurm/`: submitit writes the
generated `<jobid>_submission.sh` there (read it, or `sbatch` it again by hand), the pickled call, and
the job's stdout/stderr (`<jobid>_0_log.out/.err`). The job runs factory/executors/job.py, i.e. the same
`run_stage` as a local run, in the directory `factory run` was started from; sbatch passes the
environment along (secrets are never written into the job folder).

Preemption and time limits: every job asks for `--signal=USR1@<signal_delay_s>` (submitit's own
checkpointing, on USR1 rather than its default USR2 because training stages save on USR1) and `--requeue`.
On USR1 submitit calls `StageJob.checkpoint`, which resubmits the same
call; the requeued job resumes the stage from its `.partial` folder (training checkpoints, shards). A
preempted job is requeued by Slurm itself and resumes the same way. `--kill-on-invalid-dep=yes` makes
Slurm drop jobs whose upstream job failed instead of leaving them pending forever.

A cluster without job accounting (no slurmdbd: `sacct` fails) still works: a job that left `squeue`
without a result is reported as failed.
"""

from __future__ import annotations

import functools
import logging
import os
import re
import shutil
import subprocess
import time
from pathlib import Path

import submitit

from factory.executors.base import ExecutorError
from factory.executors.resources import Resources
from factory.stage_run import PlannedStage

PREEMPT_SIGNAL_ENV = "SUBMITIT_PREEMPT_SIGNAL"  # submitit's default is USR2; training stages save on USR1
SIGNAL_DELAY_S = 120  # USR1 this long before the time limit: time for a training stage to save
DEFAULT_TIME_MIN = 24 * 60
PENDING = {"PENDING", "REQUEUED", "REQUEUE_HOLD", "REQUEUE_FED", "CONFIGURING", "SUSPENDED", "RESIZING", "UNKNOWN"}
RUNNING = {"RUNNING", "COMPLETING", "STAGE_OUT", "SIGNALING"}


class StageJob(submitit.helpers.Checkpointable):
    """The submitted callable: run one stage; on USR1 (time limit) submitit requeues the same call."""

    def __call__(self, *args):
        from factory.executors.job import run_job

        return run_job(*args)


def job_folder(p: PlannedStage) -> Path:
    return p.dir.with_name(p.dir.name + ".slurm")


class SlurmEngine:
    name = "slurm"

    def __init__(self, recipe, options: dict):
        if shutil.which("sbatch") is None:
            raise ExecutorError("--executor slurm: `sbatch` is not on PATH (run on a Slurm login node)")
        self.recipe = recipe
        self.partition = options.get("partition")
        self.time_min = int(options.get("time_min") or DEFAULT_TIME_MIN)
        self.signal_delay_s = int(options.get("signal_delay_s") or SIGNAL_DELAY_S)
        self.extra = dict(options.get("slurm_options") or {})
        logging.getLogger("submitit").setLevel(logging.ERROR)  # not a warning per failed sacct call
        os.environ.setdefault(PREEMPT_SIGNAL_ENV, "USR1")  # read by submitit here and, via sbatch, in the job

    def submit(self, p: PlannedStage, args: tuple, after: list, res: Resources) -> submitit.Job:
        ex = submitit.SlurmExecutor(folder=job_folder(p), max_num_timeout=3)
        ex.update_parameters(**self.parameters(p, [str(job.job_id) for job in after], res))
        job = ex.submit(StageJob(), *args)
        _QUEUE["at"] = 0.0  # the next look at the queue must see this job
        return job

    def parameters(self, p: PlannedStage, after_ids: list[str], res: Resources) -> dict:
        """submitit's SlurmExecutor parameters for one stage: its resources, dependency, signal, requeue."""
        extra = {"requeue": True, "kill-on-invalid-dep": "yes", "ntasks": 1,  # one process runs the stage
                 "signal": f"{os.environ[PREEMPT_SIGNAL_ENV]}@{self.signal_delay_s}"}
        if after_ids:
            extra["dependency"] = "afterok:" + ":".join(after_ids)
        extra.update(self.extra)
        params = dict(job_name=f"factory-{self.recipe.name}-{p.stage.name}", nodes=res.nodes,
                      cpus_per_task=res.cpus, time=self.time_min, signal_delay_s=self.signal_delay_s,
                      additional_parameters=extra)
        if res.gpus_per_node:
            params["gpus_per_node"] = res.gpus_per_node
        if res.nodes > 1:  # students/launch.py starts accelerate once per node of this allocation
            params["setup"] = multi_node_setup(res)
        if self.partition:
            params["partition"] = self.partition
        return params

    def job_id(self, job: submitit.Job) -> str:
        return str(job.job_id)

    def state(self, job: submitit.Job) -> tuple[str, str]:
        return job_state(job)

    def cancel(self, jobs: list) -> None:
        ids = [str(j.job_id) for j in jobs]
        if ids:
            subprocess.run(["scancel", *ids], capture_output=True)

    def logs(self, job: submitit.Job) -> list[Path]:
        return [job.paths.stderr, job.paths.stdout]

    def reattach(self, record: dict, p: PlannedStage) -> submitit.Job | None:
        """The job of an earlier `factory run` for the same stage hash, if still queued or running."""
        job = submitit.SlurmJob(folder=job_folder(p), job_id=str(record["job_id"]))
        state, _ = self.state(job)
        return job if state in ("pending", "running") else None

    def close(self) -> None:
        pass


def job_state(job: submitit.Job) -> tuple[str, str]:
    """(pending|running|completed|failed|cancelled, why) of a submitit Slurm job."""
    if job.paths.result_pickle.exists():
        err = job.exception()
        return ("completed", "") if err is None else ("failed", last_error_line(str(err)))
    raw = _raw_state(job)
    if raw in PENDING:
        return "pending", ""
    if raw in RUNNING:
        return "running", ""
    if raw.startswith("CANCELLED"):
        return "cancelled", f"slurm job {job.job_id} {raw.lower()}"
    if raw == "COMPLETED":  # the result file may lag on a network filesystem
        return ("completed", "") if job.paths.result_pickle.exists() else ("running", "")
    if raw == "GONE" and job.paths.result_pickle.exists():  # it wrote its result between our two looks
        return job_state(job)
    if raw == "GONE":
        return "failed", (f"slurm job {job.job_id} left the queue without a result "
                          "(killed, or cancelled outside the factory)")
    return "failed", f"slurm job {job.job_id} ended {raw}"  # FAILED, TIMEOUT, NODE_FAIL, OUT_OF_MEMORY, ...


def _raw_state(job: submitit.Job) -> str:
    """sacct's state through submitit; on a cluster without accounting, squeue's, or GONE once it left."""
    if has_accounting():
        raw = job.state.upper()
        if raw != "UNKNOWN":
            return raw
    return _queue().get(str(job.job_id), "GONE")


_QUEUE: dict = {"at": 0.0, "states": {}}


def _queue(max_age_s: float = 0.5) -> dict[str, str]:
    """job id -> state of every job in the queue: one squeue call per poll, not one per job."""
    if time.time() - _QUEUE["at"] > max_age_s:
        out = subprocess.run(["squeue", "--noheader", "-o", "%i %T"], capture_output=True, text=True)
        _QUEUE["states"] = dict(line.split(None, 1) for line in out.stdout.splitlines() if " " in line.strip())
        _QUEUE["at"] = time.time()
    return _QUEUE["states"]


@functools.lru_cache(maxsize=1)
def has_accounting() -> bool:
    """False on a cluster without slurmdbd, where every `sacct` call fails (and says so on stderr)."""
    out = subprocess.run(["scontrol", "show", "config"], capture_output=True, text=True)
    return "accounting_storage/none" not in out.stdout


def multi_node_setup(res: Resources) -> list[str]:
    """Environment for students/launch.py in a multi-node allocation (as recipes/slurm/train_zero3.sbatch)."""
    return [
        'HEAD=$(scontrol show hostnames "$SLURM_JOB_NODELIST" | head -n 1)',
        f'export FACTORY_LAUNCH_PREFIX="srun --overlap --nodes={res.nodes} --ntasks-per-node=1 '
        f'--gpus-per-node={res.gpus_per_node} --kill-on-bad-exit=1"',
        f'export FACTORY_ACCELERATE_ARGS="--num_machines {res.nodes} --num_processes {res.nodes * res.gpus_per_node} '
        '--main_process_ip $HEAD --main_process_port ${MASTER_PORT:-29500} --rdzv_backend c10d"',
        "export NCCL_ASYNC_ERROR_HANDLING=1",
    ]


def last_error_line(trace: str) -> str:
    """'ValueError: boom' from a job's error report (traceback, then submitit's list of log files);
    a StageFailed message is kept whole, so it reads as a local run's."""
    lines = [line.strip() for line in trace.splitlines() if line.strip()]
    for line in reversed(lines):
        if "StageFailed: " in line:
            return line.split("StageFailed: ", 1)[1]
    for line in reversed(lines):
        if re.match(r"^[\w.]+(Error|Exception|Interrupt|Exit)\b.*:", line):
            return line
    return lines[-1] if lines else trace
