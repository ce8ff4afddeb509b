"""The keyword arguments of a job's TRL config, shared by every trained kind (sft, dpo, grpo, distill).

Its own module, above students/common.py, loading.py and scale.py: it needs all three (the factory's
defaults, the attention kernel, sequence parallelism at size), and they need common, so it cannot live there
without an import cycle.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from students import common, loading, scale  # scale: sequence parallelism at size
from students import tracking as tracking_mod


def common_args(job, out: Path, save_steps: int | None = None, defaults: dict | None = None,
                tracking: dict | None = None) -> dict[str, Any]:
    """Keyword arguments for a job's TRL config: factory defaults < the kind's `defaults` < the job's top-level
    fields < its `trl:` block; then what the factory manages (students/job_base.py MANAGED). bf16 and Liger
    need CUDA: without it they are switched off (the same recipe runs on a laptop)."""
    cuda = common.has_cuda()
    args = common.FACTORY_DEFAULTS | scale.trainer_kwargs(job, loading.attn_implementation(job)) | (defaults or {}) | dict(
        learning_rate=job.learning_rate,
        per_device_train_batch_size=job.per_device_train_batch_size,
        gradient_accumulation_steps=job.gradient_accumulation_steps,
        max_steps=job.max_steps,
        num_train_epochs=job.num_train_epochs,
        seed=job.seed,
    ) | dict(job.trl)
    if save_steps:
        args["save_steps"] = save_steps
    if not cuda:
        args["bf16"] = args["use_liger_kernel"] = False
    return args | tracking_mod.trainer_args(tracking, out) | dict(
        output_dir=str(Path(out) / common.CHECKPOINTS),
        use_cpu=not cuda,
        disable_tqdm=True,
        save_strategy="steps",
        save_total_limit=1,
        include_num_input_tokens_seen="non_padding",
        ddp_backend="gloo" if common.distributed() and not cuda else None,
    )
