"""Stage `sft`: supervised fine-tuning of a student on teacher traces with TRL's SFTTrainer.

Distillation as in DeepSeek-R1 (2025, sec. 2.4): plain SFT on verified teacher samples
(`messages` = [user, assistant `<think>reasoning</think>answer`]). Kimi k1.5's "shortest rejection
sampling" long2short student is the same job on the `shortest` dataset.

What this wrapper guarantees (and tests check):
- the ChatML template keeps `<think>…</think>` verbatim and wraps the assistant turn in
  `{% generation %}`, so `assistant_only_loss=True` puts loss on the assistant tokens only, the final
  `<|im_end|>` (EOS) included — pad differs from EOS (open-r1 #492);
- packing with TRL's best-fit-decreasing strategy when `job.packing`;
- checkpoints under `ctx.out/checkpoints/` every `job.save_steps`; a killed run resumes from the
  latest; they are deleted once `ctx.out/model/` is saved.

Run alone: `python -m students.job_main <context.json>` (see students/launch.py).
"""

from __future__ import annotations

from students import common, launch, loading
from students.config import SFTJob


def sft_config(job: SFTJob, out, **overrides):
    """TRL SFTConfig for a job: common trainer arguments + SFT-specific fields."""
    from trl import SFTConfig

    kwargs = common.common_args(job, out) | dict(
        max_length=job.max_length,
        packing=job.packing,
        packing_strategy="bfd",
        assistant_only_loss=True,
        lr_scheduler_type=job.scheduler,
        warmup_steps=job.warmup_ratio,  # transformers 5: a float < 1 is a ratio of the total steps
        dataset_num_proc=None,
    )
    if job.min_lr_ratio is not None:  # cosine decaying to a floor (open-r1: min-lr ratio 0.1)
        kwargs |= dict(lr_scheduler_type="cosine_with_min_lr", lr_scheduler_kwargs={"min_lr_rate": job.min_lr_ratio})
    return SFTConfig(**(kwargs | overrides))


def build_trainer(job: SFTJob, model_path: str, dataset, out, **overrides):
    """Model + tokenizer + SFTTrainer, ready to train (also used by the packing benchmark)."""
    from trl import SFTTrainer

    config = sft_config(job, out, **overrides)  # before the weights: ZeRO-3 / FSDP load partitioned
    tokenizer, model = loading.load_for_training(model_path, job, config)
    trainer = SFTTrainer(model=model, args=config, train_dataset=dataset, processing_class=tokenizer)
    return trainer, tokenizer


def run(ctx) -> dict:
    job = SFTJob.model_validate(ctx.config["job"])
    if launch.should_launch(job):
        return launch.launch(ctx, job)
    dataset = common.load_split(ctx, job.data)
    if "messages" not in dataset.column_names:
        raise ValueError(f"dataset '{job.data}' has no 'messages' column (has {dataset.column_names})")
    dataset = dataset.select_columns(["messages"])
    trainer, tokenizer = build_trainer(job, common.resolve_init(ctx, job), dataset, ctx.out)
    result, wall_s = common.train(trainer, ctx.out, ctx, job.token_budget)
    common.save_final(trainer, tokenizer, ctx.out)
    return common.summary(trainer, result, wall_s, "loss") | {"examples": len(dataset),
                                                                "packing": job.packing}
