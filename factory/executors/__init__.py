"""Cluster executors: `factory run RECIPE --executor slurm|ray` submits each stale stage as one job.

base.py drives any engine (submit in graph order with dependencies, watch, record in jobs.json, cancel on
Ctrl-C); slurm.py (submitit) and ray.py are the engines; resources.py says what a stage asks for;
job.py is what every job runs (the local `run_stage`). `--executor local` is factory/runner.py itself.
"""

from factory.executors import base
from factory.executors.base import JOBS_FILE, Engine, ExecutorError, read_jobs

EXECUTORS = ("local", "slurm", "ray")


def load_engine(name: str, recipe, options: dict) -> Engine:
    """The engine class by name, imported lazily (submitit / ray only when asked for). Here, not in base.py,
    so the engines import base and base never imports them (no cycle)."""
    if name == "slurm":
        from factory.executors.slurm import SlurmEngine

        return SlurmEngine(recipe, options)
    if name == "ray":
        from factory.executors.ray import RayEngine

        return RayEngine(recipe, options)
    raise ExecutorError(f"unknown executor '{name}' (known: local, slurm, ray)")


def run_on_engine(recipe, wanted, by_name, force: tuple[str, ...], engine_name: str, options: dict, resolve) -> None:
    """base.run_on_engine with the named engine (built only when a stage is stale)."""
    base.run_on_engine(recipe, wanted, by_name, force, lambda: load_engine(engine_name, recipe, options), resolve)

__all__ = ["EXECUTORS", "JOBS_FILE", "ExecutorError", "load_engine", "read_jobs", "run_on_engine"]
