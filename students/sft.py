"""Stage `sft`: supervised fine-tuning of a student on teacher traces with TRL's SFTTrainer.

Distillation as in DeepSeek-R1 (2025, sec. 2.4): plain SFT on verified teacher samples
(`messages` = [user, assistant `<think>reasoning</think>answer`]). Kimi k1.5's "shortest rejection
sampling" long2short student is the same job on the `shortest` dataset.

What this wrapper guarantees (and tests check):
- the ChatML template keeps `<think>…</think>` verbatim and wraps the assistant turn in
  `{% generation %}`, so `assistant_only_loss=True` puts loss on the assistant tokens only, the final
  `<|im_end|>` (EOS) included — pad differs from EOS (open-r1 #492);
- packing with TRL's best-fit-decreasing strategy when `trl: {packing: true}`;
- checkpoints under `ctx.out/checkpoints/` every `trl.save_steps` (100); a killed run resumes from the
  latest; they are deleted once `ctx.out/model/` is saved.

Fields: `packing`, the scheduler, warm-up, weight decay, ... are SFTConfig's, set in the job's `trl:` block
(`trl: {lr_scheduler_type: cosine_with_min_lr, lr_scheduler_kwargs: {min_lr_rate: 0.1}}` for open-r1's floor).

Run alone: `python -m students.job_main <context.json>` (see students/launch.py).
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from students import common, job_base, launch, loading, trainer_args

# The factory's SFTConfig defaults (a job's `trl:` overrides them): loss on the assistant turn only (EOS
# included), best-fit-decreasing packing when `packing: true`, cosine with 3 % warm-up (open-r1 distill;
# transformers 5: a float warmup_steps < 1 is a ratio of the total steps).
DEFAULTS = dict(packing_strategy="bfd", assistant_only_loss=True, lr_scheduler_type="cosine", warmup_steps=0.03,
                dataset_num_proc=None)


class SFTJob(job_base.TrainJob):
    TRL_CONFIG = "trl:SFTConfig"

    kind: Literal["sft"]
    data: Literal["sft", "shortest"] = "sft"
    token_budget: int | None = job_base.token_budget()
    max_length: int = Field(2048, gt=0)
    rope_theta: float | None = Field(
        None, gt=0, description="override the base model's RoPE theta before training, to fit traces longer than "
        "its native context (Qwen2.5-Math-1.5B/7B: 4k native; open-r1 raises theta to 300k for 32k traces)")
    max_position_embeddings: int | None = Field(
        None, gt=0, description="override the base model's context length together with rope_theta")


Job = SFTJob


def stages(job: SFTJob, wiring):
    return job_base.train_stages(job, wiring, ("data",))


def sft_config(job: SFTJob, out, tracking: dict | None = None, **overrides):
    """TRL SFTConfig for a job: factory defaults, the job's fields and its `trl:` block."""
    from trl import SFTConfig

    kwargs = trainer_args.common_args(job, out, defaults=DEFAULTS, tracking=tracking) | dict(max_length=job.max_length)
    return SFTConfig(**(kwargs | overrides))


def build_trainer(job: SFTJob, model_path: str, dataset, out, tracking: dict | None = None, **overrides):
    """Model + tokenizer + SFTTrainer, ready to train (also used by the packing benchmark)."""
    from trl import SFTTrainer

    config = sft_config(job, out, tracking, **overrides)  # before the weights: ZeRO-3 / FSDP load partitioned
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
    trainer, tokenizer = build_trainer(job, common.resolve_init(ctx, job), dataset, ctx.out, ctx.config.get("tracking"))
    result, wall_s = common.train(trainer, ctx.out, ctx, job.token_budget)
    common.save_final(trainer, tokenizer, ctx.out)
    return common.summary(trainer, result, wall_s, "loss") | {"examples": len(dataset),
                                                                "packing": bool(trainer.args.packing)}


def estimate(recipe, stage, job: SFTJob, hw, E):
    """Examples × tokens: rejection-sampled (capped per prompt) or one shortest-correct sample per prompt."""
    prompts, n, p = E.train_prompts(recipe), recipe.generation.n, hw.pass_rate or E.DEFAULT_PASS_RATE
    completion = E._completion_tokens(recipe, hw)
    prompt = E._prompt_tokens(completion)
    if job.data == "shortest":
        examples, completion = prompts * (1 - (1 - p) ** n), completion * E.SHORTEST_LENGTH_RATIO
    else:
        examples = prompts * min(n * p, recipe.datasets.sft.max_per_prompt)
    per_example = min(prompt + completion, job.max_length)
    return E.trained(recipe, stage, job, hw, examples, per_example, 6.0, "examples")
