"""Resource estimate per stage: GPU-hours and wall time on the recipe's `hardware` (`factory plan --estimate`).

    factory plan recipes/r1-distill-qwen-7b.yaml --estimate

Formulas (every constant below says where it comes from; no GPU was available here to calibrate them, so
measure on your cluster and put the figures in the recipe's `hardware:` section, which overrides them):
- generation: prompts × n × expected completion tokens ÷ teacher output tokens/s per GPU;
  through an OpenAI-compatible API: tokens ÷ (per-request tokens/s × teacher.max_concurrency), 0 GPU-hours;
- training: 6 · parameters · trained tokens ÷ (peak bf16 FLOP/s × MFU) (DPO adds 2 · N per token for the
  reference model's forward; GRPO adds its rollouts at the sampling rate);
- eval: models × tasks × prompts × k × expected completion tokens ÷ student sampling tokens/s per GPU.
Expected completion tokens = max_tokens × mean_completion_fraction. Stages run one after another, so the
total wall time is a sum (eval stages could overlap; the total is an upper bound).
"""

from __future__ import annotations

import math
import sys
from dataclasses import dataclass

from factory import memory
from factory.graph import build_graph, student_stage_names
from factory.hardware import HardwareConfig
from factory.model_size import EstimateError, fmt_params, model_params, model_shape, tiny_params, tiny_shape
from factory.recipe import Recipe
from students import kinds
from teachers.config import BootstrapConfig

__all__ = ["EstimateError", "StageEstimate", "estimate", "model_params", "print_estimate"]

DEFAULT_MFU = 0.35  # dense-transformer SFT with ZeRO-3 + Liger + gradient checkpointing. It counts 6N useful
# FLOPs per token: recomputation (checkpointing) is inside the lost 0.65, attention FLOPs (~10 % at 8k tokens
# for a 7B) are not counted.
DEFAULT_COMPLETION_FRACTION = 0.25  # R1 traces on competition math: several thousand of 32k tokens (~8k)
DEFAULT_PASS_RATE = 0.6  # share of teacher samples verified correct (the micro teacher is built for 40–90 %)
SHORTEST_LENGTH_RATIO = 0.5  # Kimi k1.5 on MATH-500: shortest-RS 644 vs long model 1,320 mean tokens
MAX_PROMPT_TOKENS = 256  # competition math prompts are ~100–300 tokens; micro arithmetic prompts ~30–40
VERIFY_S_PER_SAMPLE = {"math": 0.01, "code": 2.0, "procedural": 0.002}  # math-verify ~2 ms/pair (DESIGN.md);
# code: a sandboxed process per stdin test, a few tests per problem (assumed); procedural: an exact scorer.

# Teacher/student output tokens/s per H100 SXM with vLLM, long-CoT sampling (8–32k-token contexts), by size
# (upper bound in billions of parameters). Public third-party vLLM figures for short requests: Llama-3.1-8B
# ~12.5k tok/s on one H100; R1-Distill-Qwen-7B / 14B / 32B 3.4k / 3.0k / 0.58k tok/s on one A100; Llama-3.1-70B
# FP8 ~460 tok/s on one H100 at batch 64 (compiled at morphllm.com/vllm-benchmarks). Long traces fill the KV
# cache and shrink the batch, so we take roughly a third of the short-request peaks. Beyond 100B: DeepSeek-R1
# (671B MoE, 37B active) with vLLM on one 8×H200 / 16×H100 node, ~250 tok/s per GPU (assumed; DeepSeek's
# own expert-parallel serving reports far more). Other GPUs scale by hardware.GPUS[*].decode_factor.
GEN_TOKENS_PER_S_H100 = [(2.0, 8000.0), (9.0, 3000.0), (16.0, 1800.0), (35.0, 900.0), (75.0, 400.0),
                         (math.inf, 250.0)]
# On the 2-core CPU: vLLM CPU, SmolLM2-135M, n = 8: ~300–320 tokens/s (DESIGN.md compute budget table). Tiny
# models are per-step-overhead bound, not much faster: a 5.2M Qwen2 with HF generate at batch 64 gave 60 tokens/s
# here under a load average of ~10 on 2 cores (≈ 5× oversubscribed), i.e. ~300 tokens/s on an idle machine.
CPU_SAMPLE_TOKENS_PER_S = 300.0

TASK_PROMPTS = {"aime24_r1": 30, "aime24": 30, "aime25": 30, "math500_r1": 500, "math500": 500,
                "gpqa_diamond_r1": 198, "humaneval_r1": 164, "mbpp_r1": 500}
KNOWN_ROWS = {"open-r1/openr1-math-220k": 93733, "ai-mo/numinamath-1.5": 896215, "baai/taco": 25443,
              "huggingfaceh4/math-500": 500, "huggingfaceh4/aime_2024": 30}
UNKNOWN_TASK_PROMPTS = 500


@dataclass
class StageEstimate:
    stage: str
    kind: str
    gpus: int  # accelerators the stage occupies (0: CPU-side or a remote API)
    gpu_hours: float
    wall_hours: float
    tokens: float  # tokens sampled or trained on
    note: str = ""
    peak_gib: float | None = None  # memory per GPU at the stage's peak (factory/memory.py); None: not on a GPU
    warning: str = ""  # set when the stage will not fit its GPUs


def distill_teacher_params(recipe: Recipe, job, hw: HardwareConfig) -> float:
    """The size of the model that scores an on-policy distillation job's tokens: its `teacher` student or the
    recipe's teacher."""
    teacher = getattr(job, "teacher", None)
    return _job_params(recipe, _job(recipe, teacher), hw) if teacher else _teacher_params(recipe, hw)


def _teacher_params(recipe: Recipe, hw: HardwareConfig) -> float:
    t = recipe.teacher
    return _bootstrap_params(t.bootstrap, hw) if t.bootstrap else model_params(t.model, hw, recipe)


def _bootstrap_params(b: BootstrapConfig, hw: HardwareConfig) -> float:
    """A bootstrap's model size: its pretrained start (`init_path`, e.g. SmolLM2-135M) or its tiny spec."""
    return model_params(b.init_path, hw) if b.init_path else tiny_params(b.model)


def _job_params(recipe: Recipe, job, hw: HardwareConfig) -> float:
    ref = getattr(job, "init", None)
    if ref is None:  # a merge: the size of the models it merges
        return _job_params(recipe, _job(recipe, job.upstream_students()[0]), hw)
    if ref.tiny is not None:
        return tiny_params(ref.tiny)
    if ref.bootstrap is not None:
        return _bootstrap_params(ref.bootstrap, hw)
    if ref.student:
        return _job_params(recipe, _job(recipe, ref.student), hw)
    if ref.teacher:
        return _teacher_params(recipe, hw)
    return model_params(ref.hub or ref.path, hw, recipe)


def _job_shape(recipe: Recipe, job):
    """The model shape a job trains (None when unknown: no memory estimate)."""
    if job.kind == "merge":
        return _job_shape(recipe, _job(recipe, job.models[0]))
    ref = job.init
    if ref.tiny is not None or ref.bootstrap is not None:
        return tiny_shape(ref.tiny or ref.bootstrap.model)
    if ref.student:
        return _job_shape(recipe, _job(recipe, ref.student))
    if ref.teacher:
        return None if recipe.teacher.bootstrap else model_shape(recipe.teacher.model, recipe)
    return model_shape(ref.hub or ref.path, recipe)


def _job(recipe: Recipe, name: str):
    return next(j for j in recipe.students if j.name == name)


def _stage_to_job(recipe: Recipe) -> dict[str, str]:
    """Stage name (student.long, student.merge-w050) -> student job name."""
    return {stage: job for job, stages in student_stage_names(recipe).items() for stage in stages}


# ------------------------------------------------------------------ rates
def sample_tokens_per_s(params_b: float, hw: HardwareConfig, measured: float | None = None) -> float:
    """Output tokens/s per GPU (or per CPU machine) when sampling a model of `params_b` billion parameters."""
    if measured:
        return measured
    if hw.gpu == "cpu":
        return CPU_SAMPLE_TOKENS_PER_S * min(1.0, 0.135 / max(params_b, 1e-9))
    rate = next(r for limit, r in GEN_TOKENS_PER_S_H100 if params_b <= limit)
    return rate * hw.spec.decode_factor


def train_gpu_hours(params_b: float, tokens: float, hw: HardwareConfig, flops_per_param_token: float = 6.0) -> float:
    if hw.train_tokens_per_s:
        return tokens * flops_per_param_token / 6.0 / hw.train_tokens_per_s / 3600
    mfu = hw.mfu or (1.0 if hw.gpu == "cpu" else DEFAULT_MFU)
    return flops_per_param_token * params_b * 1e9 * tokens / (hw.spec.peak_flops * mfu) / 3600


def _fraction(hw: HardwareConfig) -> float:
    return hw.mean_completion_fraction or DEFAULT_COMPLETION_FRACTION


# ------------------------------------------------------------------ counts
def _rows(src) -> int:
    if src.size:
        return src.size
    if src.kind == "hub" and src.hub_id.lower() in KNOWN_ROWS:
        return KNOWN_ROWS[src.hub_id.lower()]
    raise EstimateError(f"prompts source '{src.name}': set `size` so the estimate knows how many prompts it gives")


def train_prompts(recipe: Recipe) -> int:
    return sum(_rows(s) for s in recipe.prompts.sources)


def _task_prompts(recipe: Recipe, task: str) -> tuple[int, str]:
    sets = {e.name: e for e in recipe.prompts.eval_sets}
    if task in sets:
        n, note = _rows(sets[task]), ""
    elif task in TASK_PROMPTS:
        n, note = TASK_PROMPTS[task], ""
    else:
        n, note = UNKNOWN_TASK_PROMPTS, f"{task}: {UNKNOWN_TASK_PROMPTS} prompts assumed"
    return (min(n, recipe.eval.limit) if recipe.eval.limit else n), note


def _completion_tokens(recipe: Recipe, hw: HardwareConfig) -> float:
    return recipe.generation.max_tokens * _fraction(hw)


def _prompt_tokens(completion: float) -> float:
    return min(MAX_PROMPT_TOKENS, completion / 2)


# ------------------------------------------------------------------ stages
def _generate(recipe: Recipe, hw: HardwareConfig) -> StageEstimate:
    t = recipe.teacher
    tokens = train_prompts(recipe) * recipe.generation.n * _completion_tokens(recipe, hw)
    if t.backend == "openai":
        wall = tokens / (hw.api_tokens_per_s_per_request * t.max_concurrency) / 3600
        return StageEstimate("generate", "generate", 0, 0.0, wall, tokens,
                             f"remote API: {hw.api_tokens_per_s_per_request:g} tok/s × {t.max_concurrency} requests")
    params = _teacher_params(recipe, hw)
    rate = sample_tokens_per_s(params, hw, hw.generation_tokens_per_s)
    gpu_h = tokens / rate / 3600
    gpus = hw.total_gpus
    note = f"teacher {fmt_params(params)} at {rate:,.0f} tok/s per {'machine' if hw.gpu == 'cpu' else 'GPU'}"
    if t.tensor_parallel_size * t.data_parallel_size > gpus:
        note += f"; tp×dp = {t.tensor_parallel_size * t.data_parallel_size} exceeds the {gpus} GPUs of `hardware`"
    return StageEstimate("generate", "generate", gpus, gpu_h, gpu_h / gpus, tokens, note)


def _verify(recipe: Recipe, hw: HardwareConfig) -> StageEstimate:
    seconds = 0.0
    for src in recipe.prompts.sources:
        task = "procedural" if src.kind == "reasoning_gym" else (src.task or "math").split(":")[0]
        seconds += _rows(src) * recipe.generation.n * VERIFY_S_PER_SAMPLE.get(task, 0.01)
    wall = seconds / recipe.verification.workers / 3600
    return StageEstimate("verify", "verify", 0, 0.0, wall, 0.0, f"CPU, {recipe.verification.workers} workers")


def _bootstrap_config(stage) -> BootstrapConfig:
    """A bootstrap stage's config: the micro teacher's, or a student's stand-in base (`init: {bootstrap: ...}`)."""
    return BootstrapConfig.model_validate(stage.config["base"] if "base" in stage.config else
                                          stage.config["teacher"]["bootstrap"])


def _bootstrap(stage, hw: HardwareConfig) -> StageEstimate:
    b = _bootstrap_config(stage)
    tokens = b.steps * b.batch_size * b.max_length * _fraction(hw)
    params = _bootstrap_params(b, hw)
    gpu_h = train_gpu_hours(params, tokens, hw)
    what = "teacher" if stage.name == "teacher" else "base"
    return StageEstimate(stage.name, "bootstrap", 1, gpu_h, gpu_h, tokens, f"{fmt_params(params)}-parameter {what}")


def trained(recipe: Recipe, stage, job, hw: HardwareConfig, examples: float, per_example: float,
            flops: float, what: str) -> StageEstimate:
    """A job trained on a dataset (SFT, DPO, ...): examples × tokens each, for max_steps or epochs, capped by
    the token budget. The kind module counts its examples (students/<kind>.py `estimate`)."""
    seen = job.max_steps * job.global_batch if job.max_steps > 0 else examples * job.num_train_epochs
    tokens = seen * per_example
    if getattr(job, "token_budget", None):
        tokens = min(tokens, job.token_budget)
    gpu_h = train_gpu_hours(_job_params(recipe, job, hw), tokens, hw, flops)
    return _student(recipe, stage, job, hw, gpu_h, tokens, f"{examples:,.0f} {what} × {per_example:,.0f} tok")


def rollout_trained(recipe: Recipe, stage, job, hw: HardwareConfig, completions: float, completion: float,
                    tokens: float, teacher_forward: bool = False) -> StageEstimate:
    """A job that samples its own completions (GRPO, on-policy distillation): rollouts at the sampling rate plus
    training on prompt + completion tokens (+ the teacher's forward, 2 N_teacher per token, when it scores them)."""
    params = _job_params(recipe, job, hw)
    rollout_h = completions * completion / sample_tokens_per_s(params, hw, hw.eval_tokens_per_s) / 3600
    gpu_h = train_gpu_hours(params, tokens, hw) + rollout_h
    if teacher_forward:
        gpu_h += train_gpu_hours(distill_teacher_params(recipe, job, hw), tokens, hw, 2.0)
    note = f"{completions:,.0f} rollouts of ~{completion:,.0f} tok (rollouts {rollout_h:,.1f} GPU-h)"
    return _student(recipe, stage, job, hw, gpu_h, tokens, note)


def _with_memory(est: StageEstimate, mem, hw: HardwareConfig, advice: str) -> StageEstimate:
    """Attach a factory.memory peak to a stage estimate; a stage that will not fit gets a warning."""
    if mem is None or hw.gpu == "cpu":
        return est
    est.peak_gib = mem.peak_gib
    if not mem.fits:
        est.warning = (f"{est.stage} needs {mem.peak_gib:,.0f} GiB per GPU ({mem.describe()}) but a "
                       f"{hw.gpu.upper()} has {mem.capacity_gib:,.0f}: {advice}")
    if mem.notes:
        est.note += "; " + "; ".join(mem.notes)
    return est


def _student(recipe: Recipe, stage, job, hw: HardwareConfig, gpu_h: float, tokens: float, note: str) -> StageEstimate:
    """The GPUs a trained job occupies, with its size and memory notes."""
    params = _job_params(recipe, job, hw)
    gpus = 1 if hw.gpu == "cpu" else job.num_processes
    note = f"{fmt_params(params)}, {note}"
    if hw.gpu != "cpu" and gpus > hw.total_gpus:
        note += f"; launches {gpus} processes but `hardware` has {hw.total_gpus} GPUs"
    est = StageEstimate(stage.name, stage.kind, gpus, gpu_h, gpu_h / gpus, tokens, note)
    shape = _job_shape(recipe, job)
    teacher = distill_teacher_params(recipe, job, hw) if job.kind == "distill" else 0.0
    mem = shape and memory.student(job, shape, params, hw.spec.memory_gb, MAX_PROMPT_TOKENS, teacher)
    return _with_memory(est, mem, hw, "lower per_device_train_batch_size (raise gradient_accumulation_steps), "
                        "set sequence_parallel_size, use zero3 over more GPUs, or trl: {gradient_checkpointing: true}")


def _eval(recipe: Recipe, stage, hw: HardwareConfig, stages: dict) -> StageEstimate:
    label = stage.config["label"]
    per_task = [_task_prompts(recipe, t) for t in recipe.eval.tasks]
    completion = recipe.eval.max_gen_toks * _fraction(hw)
    tokens = sum(n for n, _ in per_task) * recipe.eval.k * completion
    notes = [n for _, n in per_task if n]
    if label == "teacher":
        if recipe.teacher.backend == "openai":
            t = recipe.teacher
            wall = tokens / (hw.api_tokens_per_s_per_request * t.max_concurrency) / 3600
            return StageEstimate(stage.name, "eval", 0, 0.0, wall, tokens, "; ".join(["remote API"] + notes))
        params = _teacher_params(recipe, hw)
        shape = None if recipe.teacher.bootstrap else model_shape(recipe.teacher.model, recipe)
    elif stage.inputs.get("model", "").startswith("base."):  # a pretrained stand-in base
        cfg = _bootstrap_config(stages[stage.inputs["model"]])
        params, shape = _bootstrap_params(cfg, hw), None if cfg.init_path else tiny_shape(cfg.model)
    else:
        job = _job(recipe, _stage_to_job(recipe)[f"student.{label}"])
        params, shape = _job_params(recipe, job, hw), _job_shape(recipe, job)
    gpu_h = tokens / sample_tokens_per_s(params, hw, hw.eval_tokens_per_s) / 3600
    # the GPUs the stage uses: tensor_parallel_size × data_parallel_size (vllm), one GPU otherwise
    gpus = 1 if hw.gpu == "cpu" or recipe.eval.backend != "vllm" else recipe.eval.gpus
    where = f"{len(per_task)} tasks × k={recipe.eval.k} on {gpus} GPU{'s' * (gpus > 1)}"
    note = "; ".join([f"{fmt_params(params)}, {where}"] + notes)
    est = StageEstimate(stage.name, "eval", gpus, gpu_h, gpu_h / gpus, tokens, note)
    mem = shape and recipe.eval.backend == "vllm" and memory.eval_stage(recipe.eval, shape, params, hw.spec.memory_gb)
    return _with_memory(est, mem or None, hw, "raise eval.tensor_parallel_size or lower max_gen_toks")


def default_hardware(recipe: Recipe) -> HardwareConfig:
    """The recipe's `hardware`, else the 2-core CPU for a bootstrapped (micro) teacher, else one 8×H100 node."""
    if recipe.hardware is not None:
        return recipe.hardware
    return HardwareConfig(gpu="cpu", gpus_per_node=1) if recipe.teacher.bootstrap else HardwareConfig()


def estimate(recipe: Recipe) -> list[StageEstimate]:
    """One StageEstimate per stage of the plan, in plan order. Raises EstimateError for an unknown size."""
    hw = default_hardware(recipe)
    jobs = {j.name: j for j in recipe.students}
    stage_jobs = _stage_to_job(recipe)
    out, stages = [], {s.name: s for s in build_graph(recipe)}
    for stage in stages.values():
        if stage.kind == "generate":
            out.append(_generate(recipe, hw))
        elif stage.kind == "verify":
            out.append(_verify(recipe, hw))
        elif stage.kind == "bootstrap":
            out.append(_bootstrap(stage, hw))
        elif stage.name in stage_jobs:
            out.append(kinds.estimate(recipe, stage, jobs[stage_jobs[stage.name]], hw, sys.modules[__name__]))
        elif stage.kind == "eval":
            out.append(_eval(recipe, stage, hw, stages))
        else:  # prompts, datasets, base.*, report: CPU bookkeeping
            out.append(StageEstimate(stage.name, stage.kind, 0, 0.0, 0.0, 0.0, "negligible"))
    return out


def format_hours(hours: float) -> str:
    if hours <= 0:
        return "-"
    if hours < 1 / 60:
        return f"{hours * 3600:.0f} s"
    if hours < 1:
        return f"{hours * 60:.0f} min"
    return f"{hours:,.1f} h" if hours < 48 else f"{hours / 24:,.1f} d"


def print_estimate(recipe: Recipe) -> None:
    """Print the estimate as a table (what `factory plan --estimate` shows)."""
    from rich.table import Table

    from factory.progress import console

    hw = default_hardware(recipe)
    try:
        rows = estimate(recipe)
    except EstimateError as e:  # a recipe problem: one line, exit 2 like `factory validate`
        console.print(f"[red]estimate:[/red] {e}")
        raise SystemExit(2) from None
    where = "2-core CPU (measured rates)" if hw.gpu == "cpu" else f"{hw.nodes} × {hw.gpus_per_node} {hw.gpu.upper()}"
    assumed = "" if recipe.hardware else " (no `hardware:`; assumed)"
    table = Table(title=f"estimate: {recipe.name} on {where}{assumed}")
    unit = "machine" if hw.gpu == "cpu" else "GPU"
    for col in ("stage", f"{unit}s", "tokens", f"{unit}-hours", "wall", "GiB/GPU", "basis"):
        table.add_column(col, justify="left" if col in ("stage", "basis") else "right", no_wrap=col != "basis",
                         ratio=1 if col == "basis" else None)
    for r in rows:
        peak = "-" if r.peak_gib is None else f"{'[red]' if r.warning else ''}{r.peak_gib:,.0f}"
        table.add_row(r.stage, str(r.gpus or "-"), f"{r.tokens / 1e6:,.1f}M" if r.tokens else "-",
                      f"{r.gpu_hours:,.1f}" if r.gpu_hours >= 0.05 else ("<0.1" if r.gpu_hours else "-"),
                      format_hours(r.wall_hours), peak, r.note)
    total_gpu, total_wall = sum(r.gpu_hours for r in rows), sum(r.wall_hours for r in rows)
    table.add_row("[bold]total[/bold]", "", "", f"[bold]{total_gpu:,.1f}[/bold]",
                  f"[bold]{format_hours(total_wall)}[/bold]", "", "stages in sequence (upper bound)")
    console.print(table)
    for r in rows:
        if r.warning:
            console.print(f"[yellow]warning:[/yellow] {r.warning}")
    if hw.gpu != "cpu":  # said at plan time, not found at a GPU stage's start (students/scale.py stops it there)
        from students.scale import INSTALL, missing_gpu_packages

        for problem in (p for job in recipe.students if job.kind != "merge" for p in missing_gpu_packages(job)):
            console.print(f"[yellow]not installed here:[/yellow] {problem} ({INSTALL} on the GPU nodes)")
    mfu = hw.mfu or (1.0 if hw.gpu == "cpu" else DEFAULT_MFU)
    console.print(f"assumptions: MFU {mfu}, mean completion {_fraction(hw):g} × max tokens, pass rate "
                  f"{hw.pass_rate or DEFAULT_PASS_RATE}; constants and their sources in factory/estimate.py; "
                  "measured rates go in the recipe's `hardware:` section")
