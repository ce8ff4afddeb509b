"""Ray: one task per stale stage, taking its upstream stages' tasks as arguments (object refs).

    factory run RECIPE --executor ray                         # a local Ray instance on this machine's cores
    RAY_ADDRESS=head:6379 factory run RECIPE --executor ray    # or --ray-address: an existing cluster

Ray starts a task only once the object refs it was passed are ready, so a stage waits for its upstream
stages; when one fails, the tasks that take its ref fail without running. Each task asks for the
CPUs and GPUs its stage needs (factory/executors/resources.py; multi-node training wants Slurm) and
runs factory/executors/job.py, the same `run_stage` as a local run. A task whose worker or node died
(preemption, a lost spot node) is retried up to `max_retries` times and resumes from the stage's
`.partial` folder; an exception raised by the stage is not retried (it would fail again).

The job folder `<run>/<stage>-<hash12>.ray/` beside the artifact keeps the task's log (`task.log`).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import ray

from factory.executors.base import ExecutorError
from factory.executors.resources import Resources
from factory.stage_run import PlannedStage

MAX_RETRIES = 3


def job_folder(p: PlannedStage) -> Path:
    return p.dir.with_name(p.dir.name + ".ray")


def _run_logged(log: str, *args):
    """In the Ray worker: send this task's output to its log file, then run the stage."""
    from factory.executors.job import run_job

    Path(log).parent.mkdir(parents=True, exist_ok=True)
    saved = os.dup(1), os.dup(2)
    with open(log, "a", buffering=1) as f:
        os.dup2(f.fileno(), 1)
        os.dup2(f.fileno(), 2)
        try:
            return run_job(*args)
        finally:  # the worker process runs other tasks next: give it its own output back
            sys.stdout.flush()
            sys.stderr.flush()
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            os.close(saved[0])
            os.close(saved[1])


class _Task:
    def __init__(self, ref, log: Path):
        self.ref, self.log = ref, log


class RayEngine:
    name = "ray"

    def __init__(self, recipe, options: dict):
        address = options.get("ray_address") or os.environ.get("RAY_ADDRESS")
        self.owned = not ray.is_initialized()
        if self.owned:
            kwargs = {"address": address} if address else {
                "num_cpus": options.get("num_cpus") or os.cpu_count(), "include_dashboard": False}
            ray.init(log_to_driver=False, **kwargs)
        self.remote = ray.remote(_run_logged)

    def submit(self, p: PlannedStage, args: tuple, after: list, res: Resources) -> _Task:
        if res.nodes > 1:
            raise ExecutorError(f"stage {p.stage.name} needs {res.nodes} nodes: multi-node training runs under "
                             "--executor slurm (a Ray task is one process on one node)")
        log = job_folder(p) / "task.log"
        task = self.remote.options(num_cpus=res.cpus, num_gpus=res.gpus_per_node, max_retries=MAX_RETRIES,
                                   retry_exceptions=False, name=f"factory:{p.stage.name}")
        return _Task(task.remote(str(log), *args, *(t.ref for t in after)), log)

    def job_id(self, task: _Task) -> str:
        return task.ref.task_id().hex()[:16]

    def state(self, task: _Task) -> tuple[str, str]:
        ready, _ = ray.wait([task.ref], timeout=0)
        if not ready:
            return "pending", ""  # queued or running: Ray does not tell them apart cheaply
        try:
            ray.get(task.ref)
        except ray.exceptions.TaskCancelledError:
            return "cancelled", "ray task cancelled"
        except ray.exceptions.RayTaskError as e:
            return "failed", _error_line(e.cause if getattr(e, "cause", None) is not None else e)
        except ray.exceptions.RayError as e:
            return "failed", f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"
        return "completed", ""

    def cancel(self, tasks: list) -> None:
        for t in tasks:
            try:
                ray.cancel(t.ref, force=True)
            except Exception:  # already finished
                pass

    def logs(self, task: _Task) -> list[Path]:
        return [task.log]

    def reattach(self, record: dict, p: PlannedStage):
        return None  # tasks die with the driver that owns them: always submit again

    def close(self) -> None:
        if self.owned:
            ray.shutdown()


def _error_line(exc: BaseException) -> str:
    from factory.stage_run import StageFailed

    if isinstance(exc, StageFailed):
        return str(exc)
    return f"{type(exc).__name__}: {exc}"
