"""Cluster executors: `factory run RECIPE --executor slurm|ray` submits each stale stage as one job.

base.py drives any engine (submit in graph order with dependencies, watch, record in jobs.json, cancel on
Ctrl-C); slurm.py (submitit) and ray.py are the engines; resources.py says what a stage asks for;
job.py is what every job runs (the local `run_stage`). `--executor local` is factory/runner.py itself.
"""

from factory.executors.base import JOBS_FILE, ExecutorError, read_jobs, run_on_engine

EXECUTORS = ("local", "slurm", "ray")

__all__ = ["EXECUTORS", "JOBS_FILE", "ExecutorError", "read_jobs", "run_on_engine"]
