"""Load a student's weights *after* its trainer config exists, so ZeRO-3 and FSDP load them partitioned.

Why the order matters (transformers 5.19 / accelerate 1.15):
- ZeRO-3: `from_pretrained` builds the model inside `deepspeed.zero.Init` (each rank keeps only its shard)
  only when `transformers.integrations.is_deepspeed_zero3_enabled()` is True at that moment. That flag is
  set by `TrainingArguments.__post_init__` (under `accelerate launch` with a DeepSpeed config it makes a
  `DeepSpeedPlugin` and registers its `HfDeepSpeedConfig`). Loading first puts the whole model on every
  rank: 70B in bf16 is 141 GB of host RAM per rank, then moved whole onto each GPU.
- FSDP (`fsdp_cpu_ram_efficient_loading`): ranks > 0 load on the meta device only when the process group is
  initialised (`transformers.distributed.fsdp.is_fsdp_enabled`); the config's `distributed_state` does that.

So every job builds its TRL config first and hands it here: `tokenizer, model = load_for_training(path,
job, args)`. The one place that calls `AutoModelForCausalLM.from_pretrained` for training.
"""

from __future__ import annotations

import importlib.util

from students import common, scale

ATTENTION = ("flash_attention_2", "sdpa", "eager")


def flash_attn_installed() -> bool:
    return importlib.util.find_spec("flash_attn") is not None


def attn_implementation(job) -> str:
    """The job's `attn_implementation`, or the best available: flash_attention_2 on CUDA with flash-attn
    installed (no (seq × seq) score matrix: needed at 32k tokens), else PyTorch SDPA."""
    wanted = getattr(job, "attn_implementation", None)
    if wanted and wanted != "auto":
        if wanted == "flash_attention_2" and not (flash_attn_installed() and common.has_cuda()):
            raise ValueError(f"student '{job.name}': attn_implementation flash_attention_2 needs CUDA and the "
                             "flash-attn package (make setup-gpu)")
        return wanted
    return "flash_attention_2" if flash_attn_installed() and common.has_cuda() else "sdpa"


def _prepare_distributed(args) -> None:
    """Register the DeepSpeed config / start the process group before any weight is read."""
    from transformers import TrainingArguments

    if not isinstance(args, TrainingArguments):
        raise TypeError("load_for_training needs the job's TRL config (a TrainingArguments) built first")
    _ = args.distributed_state  # initialises torch.distributed under accelerate launch (FSDP meta loading)


def from_pretrained(path: str, job):
    """The one `from_pretrained` of a student: fp32 (bf16 when the job asks and CUDA exists), the job's
    stretched context, the attention kernel."""
    import torch
    from transformers import AutoModelForCausalLM

    dtype = torch.bfloat16 if common.use_bf16(job) else torch.float32
    return AutoModelForCausalLM.from_pretrained(path, dtype=dtype, config=common.stretched_config(path, job),
                                                attn_implementation=attn_implementation(job))


def load_model(path: str, job, tokenizer):
    """AutoModelForCausalLM in fp32 (bf16 only when the job asks and CUDA exists); pad != turn end enforced.
    Outside a trainer only: jobs load through load_for_training, after their config."""
    model = from_pretrained(path, job)
    common.ensure_distinct_pad(tokenizer, model)
    return model


def load_for_training(path: str, job, args):
    """(tokenizer, model) for a job whose trainer config `args` is already built; pad != eos enforced."""
    scale.check_gpu_stack(job)
    _prepare_distributed(args)
    tokenizer = common.load_tokenizer(path)
    model = from_pretrained(path, job)
    common.ensure_distinct_pad(tokenizer, model)
    return tokenizer, model
