"""The registry of student job kinds: one module per kind, listed once here.

A kind module exports
- `Job`: its pydantic config model (`kind: Literal["<name>"]`; trained kinds subclass
  students.job_base.TrainJob and name their TRL config class in `TRL_CONFIG`);
- `stages(job, wiring)`: its graph wiring, `[(stage name, extra config, {role: upstream stage})]` —
  trained kinds use job_base.train_stages with the roles they need (`data`, `teacher`), merge has no data;
- `run(ctx) -> dict`: the stage (heavy imports inside);
- `estimate(recipe, stage, job, hw, E) -> StageEstimate`: its resource estimate, built with the shared
  helpers `E` that factory/estimate.py passes in (students never import the orchestration above them).

From this list come the recipe's job union (students/config.py), the stage table (factory/stages.py), the
graph wiring (factory/graph.py) and the estimate dispatch (factory/estimate.py). Adding a kind = a module
+ one line below. Modules import only pydantic and the factory's base layer at import time.
"""

from __future__ import annotations

import importlib
from types import ModuleType

KIND_MODULES = {
    "sft": "students.sft",
    "dpo": "students.dpo",
    "simpo": "students.simpo",
    "orpo": "students.orpo",
    "grpo": "students.grpo",
    "distill": "students.distill",
    "merge": "students.merge",
}


def module(kind: str) -> ModuleType:
    if kind not in KIND_MODULES:
        raise KeyError(f"unknown student kind '{kind}' (known: {', '.join(sorted(KIND_MODULES))})")
    return importlib.import_module(KIND_MODULES[kind])


def job_models() -> list[type]:
    return [module(k).Job for k in KIND_MODULES]


def stage_entries() -> dict[str, str]:
    """kind -> "module:run" for factory.stages."""
    return {k: f"{m}:run" for k, m in KIND_MODULES.items()}


def stages(job, wiring) -> list[tuple[str, dict, dict]]:
    return module(job.kind).stages(job, wiring)


def estimate(recipe, stage, job, hw, E):
    """The kind's estimate; `E` is factory.estimate, handed down so the dependency points one way."""
    return module(job.kind).estimate(recipe, stage, job, hw, E)
