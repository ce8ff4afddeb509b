"""What a student job needs at size beyond its TRL config: sequence parallelism and a GPU-stack check.

- Sequence parallelism (DeepSpeed Ulysses / ALST): `sequence_parallel_size: N` becomes accelerate 1.15's
  `ParallelismConfig(sp_backend="deepspeed", sp_size=N)` on the TrainingArguments; transformers 5.19's Trainer
  then shards each batch along the sequence and computes the LM loss across the group. Needs a DeepSpeed
  launch (zero2 / zero3) and the SFT loss; the recipe schema enforces both.
- `check_gpu_stack`: on a CUDA machine a job that asks for Liger kernels, flash-attention or vLLM rollouts
  stops before loading anything when the package is missing (`make setup-gpu` installs them), instead of
  crashing mid-run or, for GRPO, quietly sampling with transformers `generate` 10-50x slower. On CPU these
  options are ignored (tests, the micro recipe), as before.
"""

from __future__ import annotations

import importlib.util

from students import common

INSTALL = "install the GPU stack: make setup-gpu (requirements-gpu.lock)"


def trainer_kwargs(job, attn_implementation: str = "sdpa") -> dict:
    """Extra TrainingArguments for a job (empty unless it uses sequence parallelism)."""
    sp = getattr(job, "sequence_parallel_size", 1)
    if sp <= 1:
        return {}
    from accelerate.parallelism_config import ParallelismConfig
    from accelerate.utils import DeepSpeedSequenceParallelConfig

    handler = DeepSpeedSequenceParallelConfig(sp_seq_length_is_variable=True,
                                              sp_attn_implementation=attn_implementation)
    return {"parallelism_config": ParallelismConfig(sp_backend="deepspeed", sp_size=sp, sp_handler=handler)}


def installed(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


def missing_gpu_packages(job) -> list[str]:
    """One line per package the job asks for that this CUDA machine lacks."""
    problems = []
    if job.trl.get("use_liger_kernel") and not installed("liger_kernel"):
        problems.append(f"student '{job.name}': trl.use_liger_kernel: true but liger-kernel is not installed")
    if getattr(job, "attn_implementation", "auto") == "flash_attention_2" and not installed("flash_attn"):
        problems.append(f"student '{job.name}': attn_implementation flash_attention_2 but flash-attn is not installed")
    if job.launch in ("zero2", "zero3") and not installed("deepspeed"):
        problems.append(f"student '{job.name}': launch {job.launch} but deepspeed is not installed")
    if wants_vllm(job) and not installed("vllm"):
        problems.append(f"student '{job.name}': GRPO rollouts with vLLM (trl.use_vllm) but vllm is not installed; "
                        "set trl.use_vllm: false to sample with transformers generate (10-50x slower)")
    return problems


def wants_vllm(job) -> bool:
    """GRPO on GPU rolls out with vLLM unless the recipe says `trl: {use_vllm: false}`."""
    return getattr(job, "kind", None) == "grpo" and bool((getattr(job, "trl", None) or {}).get("use_vllm", True))


def check_gpu_stack(job) -> None:
    """Raise one clear error, before any weight is read, when a CUDA run lacks a package the job asks for."""
    if not common.has_cuda():
        return
    problems = missing_gpu_packages(job)
    if problems:
        raise RuntimeError("; ".join(problems) + f" ({INSTALL})")
