"""The stage graph: which stages a recipe has, what each consumes, and the content hash of each.

    prompts ─▶ [teacher bootstrap] ─▶ generate ─▶ verify ─▶ datasets ─▶ student.* ─▶ eval.* ─▶ report

A stage's hash covers its kind, its own resolved config, the hashes of its inputs and the versions
of the libraries that matter, so changing one recipe field re-runs only that stage and its
downstream stages.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from graphlib import TopologicalSorter
from pathlib import Path
from typing import Any

from eval.budget import default_budgets
from factory import __version__
from core.hashing import library_versions, stable_hash
from factory.recipe import Recipe
from factory.stages import STAGE_FORMATS
from students import kinds


@dataclass
class Stage:
    name: str
    kind: str
    config: dict[str, Any]
    inputs: dict[str, str] = field(default_factory=dict)  # role -> upstream stage name
    hash: str = ""

    @property
    def short(self) -> str:
        return self.hash[:12]


def _dump(model) -> dict:
    return model.model_dump(mode="json")


class Wiring:
    """What a kind's `stages(job, wiring)` may ask the graph for (students/kinds.py)."""

    def __init__(self, recipe: Recipe, stages: list[Stage], produced: dict[str, list[str]]):
        self.recipe, self._stages, self._produced = recipe, stages, produced

    def init(self, job) -> dict[str, str]:
        """The `init` input of a trained job (adds a tiny / bootstrap base stage when the job needs one)."""
        return _init_input(self.recipe, job, self._stages, self._produced)

    def student(self, name: str) -> str:
        """A student's stage; a merge sweep gives its middle candidate (the recipe can name a single weight)."""
        names = self._produced[name]
        return names[len(names) // 2]

    def source(self, role: str) -> str | None:
        """`data`: the datasets stage; `prompts`: the prompts stage; `teacher`: the teacher's weights when a stage
        makes them."""
        if role == "data":
            return "datasets"
        if role == "prompts":
            return "prompts"
        if role == "teacher":
            return "teacher" if self.recipe.teacher.bootstrap else None
        raise KeyError(f"unknown input role '{role}' (known: data, prompts, teacher)")


class _Names(Wiring):
    """A wiring that only answers names (to list the stages a job produces, before the graph exists)."""

    def init(self, job) -> dict[str, str]:
        return {}

    def student(self, name: str) -> str:
        return f"student.{name}"


def student_stage_names(recipe: Recipe) -> dict[str, list[str]]:
    """Student job name -> the stage names it produces (merges produce one per sweep weight)."""
    dry = _Names(recipe, [], {})
    return {job.name: [name for name, _, _ in kinds.stages(job, dry)] for job in recipe.students}


def _init_input(recipe: Recipe, job, stages: list[Stage], produced: dict[str, list[str]]) -> dict[str, str]:
    ref = job.init
    if ref.student:
        # A merge sweep used as init: take its middle candidate (the recipe can name a single weight).
        names = produced[ref.student]
        return {"init": names[len(names) // 2]}
    if ref.teacher:
        return {"init": "teacher"} if recipe.teacher.bootstrap else {}
    if ref.tiny is not None:
        base = Stage(f"base.{job.name}", "tiny", {"tiny": _dump(ref.tiny), "seed": job.seed,
                                                  "tokenizer_from": recipe.teacher.model},
                     {"tokenizer": "teacher"} if recipe.teacher.bootstrap else {})
        stages.append(base)
        return {"init": base.name}
    if ref.bootstrap is not None:
        # A pretrained stand-in base costs minutes: jobs that name the same one share a single stage. Built from
        # scratch beside a bootstrapped teacher, it takes the teacher's tokenizer (same family, as Qwen3's small
        # models share the big one's), so on-policy distillation can score its tokens.
        cfg = {"base": _dump(ref.bootstrap)}
        if recipe.teacher.bootstrap and not ref.bootstrap.init_path:
            cfg["tokenizer_of"] = _dump(recipe.teacher.bootstrap)
        same = next((s for s in stages if s.kind == "bootstrap" and s.config == cfg), None)
        if same is None:
            same = Stage(f"base.{job.name}", "bootstrap", cfg, {"prompts": "prompts"})
            stages.append(same)
        return {"init": same.name}
    return {}


def build_graph(recipe: Recipe) -> list[Stage]:
    """All stages of a recipe in a valid execution order (inputs before consumers)."""
    stages: list[Stage] = [Stage("prompts", "prompts", {"prompts": _dump(recipe.prompts), "seed": recipe.seed})]
    teacher_cfg = _dump(recipe.teacher)
    if recipe.teacher.bootstrap:
        stages.append(Stage("teacher", "bootstrap", {"teacher": teacher_cfg}, {"prompts": "prompts"}))
    gen_inputs = {"prompts": "prompts"} | ({"teacher": "teacher"} if recipe.teacher.bootstrap else {})
    stages.append(Stage("generate", "generate", {"teacher": teacher_cfg, "generation": _dump(recipe.generation)},
                        gen_inputs))
    stages.append(Stage("verify", "verify", {"verification": _dump(recipe.verification)},
                        {"samples": "generate", "prompts": "prompts"}))
    stages.append(Stage("datasets", "datasets", {"datasets": _dump(recipe.datasets), "seed": recipe.seed},
                        {"verified": "verify", "prompts": "prompts"}))

    produced = student_stage_names(recipe)
    wiring = Wiring(recipe, stages, produced)
    tracking = {"tracking": _dump(recipe.tracking)} if recipe.tracking.report_to != "none" else {}
    for job in _topological_jobs(recipe):
        cfg = {"job": _dump(job), "teacher_model": recipe.teacher.model} | tracking
        for name, extra, inputs in kinds.stages(job, wiring):
            stages.append(Stage(name, job.kind, cfg | extra, inputs))

    eval_cfg = _dump(recipe.eval)
    eval_cfg.pop("gates")  # gates do not change scores: editing one re-runs only the report
    eval_cfg.pop("budgets")  # nor do budgets: the report reads them from the saved samples
    # Pretrained stand-in bases are scored too: "distillation vs RL" reads as gains over the same start.
    bases = [s.name for s in stages if s.kind == "bootstrap" and s.name != "teacher"]
    evaluated = (["teacher"] if recipe.eval.include_teacher else []) + bases + [
        s for names in produced.values() for s in names]
    for model_stage in evaluated:
        label = model_stage.removeprefix("student.")
        inputs = {"prompts": "prompts"}
        if model_stage != "teacher" or recipe.teacher.bootstrap:
            inputs["model"] = model_stage
        stages.append(Stage(f"eval.{label}", "eval", {"eval": eval_cfg, "label": label,
                                                      "teacher_model": recipe.teacher.model}, inputs))
    lineage = {s.name: {"kind": s.kind, **{k: v for k, v in _dump(s).items()
                                           if k in ("data", "init", "models") or (k == "teacher" and v)}}
               for s in recipe.students}
    report_inputs = {s.name: s.name for s in stages if s.kind == "eval"} | {"datasets": "datasets", "verified": "verify"}
    stages.append(Stage("report", "report", {"gates": [_dump(g) for g in recipe.eval.gates], "recipe": recipe.name,
                                             "lineage": lineage, "produced": produced,
                                             "teacher": teacher_cfg, "budget": _budget_cfg(recipe)}, report_inputs))
    _assign_hashes(stages)
    return stages


def _budget_cfg(recipe: Recipe) -> dict:
    ev = recipe.eval
    return {"budgets": sorted(set(ev.budgets or default_budgets(ev.max_gen_toks))), "max_gen_toks": ev.max_gen_toks,
            "seed": ev.seed}


def _topological_jobs(recipe: Recipe):
    """Jobs with every upstream student first (graphlib); among ready jobs the earliest in the recipe."""
    by_name = {j.name: j for j in recipe.students}
    rank = {name: i for i, name in enumerate(by_name)}
    sorter = TopologicalSorter({j.name: j.upstream_students() for j in recipe.students})
    sorter.prepare()
    ready, order = [], []
    while sorter.is_active():
        ready = sorted(set(ready) | set(sorter.get_ready()), key=rank.__getitem__)
        order.append(ready.pop(0))
        sorter.done(order[-1])
    return [by_name[n] for n in order]


def _assign_hashes(stages: list[Stage]) -> None:
    versions = library_versions()
    by_name = {s.name: s for s in stages}
    for s in stages:  # already in dependency order
        payload = {
            "kind": s.kind,
            "config": s.config,
            "inputs": {role: by_name[up].hash for role, up in sorted(s.inputs.items())},
            "versions": versions,
            "factory": __version__,
        }
        if s.kind in STAGE_FORMATS:
            payload["format"] = STAGE_FORMATS[s.kind]
        s.hash = stable_hash(payload)


def artifact_dir(run_root: Path, stage: Stage) -> Path:
    return run_root / f"{stage.name}-{stage.short}"


def upstream(stages: list[Stage], name: str) -> set[str]:
    by_name = {s.name: s for s in stages}
    out, frontier = {name}, [name]
    while frontier:
        for up in by_name[frontier.pop()].inputs.values():
            if up not in out:
                out.add(up)
                frontier.append(up)
    return out
